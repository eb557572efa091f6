//! Receipts: the layout as ESC/POS bytes ([`layout`]), the printer edge with status checks
//! and print confirmation ([`printer`]) over TCP, USB, serial or a file ([`link`]), and
//! [`raster`] for the lines the printer's kanji font cannot print; [`service`] is the
//! configured printer, the print outcome kept in the outbox and reprints. `decode` reads
//! receipts back for the tests and the virtual printer: test code, compiled only for tests
//! and with the `test-support` feature.

#[cfg(any(test, feature = "test-support"))]
pub mod decode;
pub mod layout;
pub mod link;
pub mod printer;
pub mod raster;
pub mod service;
