//! Simulators for the devices and backends around the kiosk, and the tools the end-to-end
//! tests and the demo use to drive the real stack.

pub mod driver;
pub mod emupos;
pub mod harness;
pub mod package;
pub mod pcscd;
pub mod refbackend;
pub mod service;
pub mod testpki;
pub mod vcard;
pub mod vprinter;
