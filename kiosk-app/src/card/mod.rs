//! The My Number card: APDUs, BER-TLV, the basic-4 attributes and PIN safety, over a small
//! [`CardTransport`] trait; PC/SC is one implementation of it.

pub mod apdu;
pub mod basic4;
pub mod ber;
pub mod error;
pub mod ops;
pub mod pcsc_reader;

pub use error::CardError;

/// Sends one APDU and returns the raw response (data ‖ SW1 SW2).
pub trait CardTransport {
    /// Sends one APDU and returns the card's answer (data and status word).
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError>;

    /// Called right before a VERIFY with a PIN: fails with [`CardError::CardChanged`] when
    /// the card was removed, reset or replaced since the connection (or the PIN tries shown
    /// to the holder) was made. Transports that cannot tell say `Ok`.
    fn ensure_same_card(&mut self) -> Result<(), CardError> {
        Ok(())
    }
}
