//! Receipts: the layout as ESC/POS bytes ([`layout`]), the printer edge with status checks
//! and print confirmation ([`printer`]), and a decoder of ESC/POS bytes ([`decode`]) used by
//! the tests and the virtual printer to read receipts back, and [`raster`] for the lines the
//! printer's kanji font cannot print.

pub mod decode;
pub mod layout;
pub mod printer;
pub mod raster;
