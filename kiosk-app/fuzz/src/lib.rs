//! The kiosk's parsers of untrusted bytes, compiled straight from kiosk-app's sources.

#[path = "../../src/secret.rs"]
pub mod secret;

pub mod card;
pub mod receipt;
