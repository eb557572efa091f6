//! Madoguchi kiosk: the resident flow, the card, the receipt and the Slint UI.
//!
//! Data flow: card ([`card`]) → session ([`session`], a pure state machine) → outbox
//! ([`submit`], sealed, via `counter_core`) and session → receipt ([`receipt`]) → printer.
//! [`runner`] executes the session's effects; [`ui`] renders its views. [`domain`] holds the
//! types they all share.

#![warn(missing_docs)]

pub mod card;
pub mod catalogue;
pub mod config;
pub mod config_check;
pub mod display;
pub mod domain;
pub mod lang;
pub mod metrics;
pub mod monitor;
pub mod receipt;
pub mod routing;
pub mod runner;
pub mod secret;
pub mod session;
pub mod staff_lockout;
pub mod staff_pin;
pub mod submit;
pub mod system;
pub mod tls_request;
pub mod trail;
pub mod ui;
pub mod watchdog;

/// Logging for the binaries: see [`counter_core::logging`].
pub fn init_logging() {
    counter_core::logging::init();
}
