//! Card errors, each with a stable code for `kioskctl --json` and the staff view.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum CardError {
    #[error("the PC/SC service (pcscd) is not running")]
    NoService,
    #[error("no card reader is connected")]
    NoReader,
    #[error("no card is in the reader")]
    NoCard,
    #[error("the card was removed during the operation")]
    CardRemoved,
    /// The card was taken out or swapped after its PIN tries were read (or its tries are not
    /// the ones shown): the PIN was not tried on whatever card is in the reader now.
    #[error(
        "the card was removed or replaced after its PIN tries were read; the PIN was not tried"
    )]
    CardChanged,
    #[error("this is not a My Number card")]
    UnsupportedCard,
    #[error("this is an old 住基カード (Basic Resident Register card), not a My Number card")]
    JukiCard,
    #[error("this is a smartphone JPKI token, not the physical card")]
    SmartphoneToken,
    #[error("the card has no 券面事項入力補助 application")]
    NoTextAp,
    #[error("wrong PIN: {tries_left} tries left")]
    WrongPin { tries_left: u8 },
    #[error("the PIN is locked; it must be reset at the municipal office")]
    PinLocked,
    /// One try left and no explicit consent to use it: a wrong PIN would lock the card.
    #[error("only one PIN try is left: a wrong PIN would lock the card, so it was not tried")]
    PinLastTry,
    #[error("the card answered {sw:04X} to {operation}")]
    CardStatus { operation: String, sw: u16 },
    #[error("the card sent a malformed answer: {detail}")]
    Malformed { detail: String },
    #[error("card reader error: {detail}")]
    Reader { detail: String },
}

impl CardError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CardError::NoService => "no_service",
            CardError::NoReader => "no_reader",
            CardError::NoCard => "no_card",
            CardError::CardRemoved => "card_removed",
            CardError::CardChanged => "card_changed",
            CardError::UnsupportedCard => "unsupported_card",
            CardError::JukiCard => "juki_card",
            CardError::SmartphoneToken => "smartphone_token",
            CardError::NoTextAp => "no_text_ap",
            CardError::WrongPin { .. } => "wrong_pin",
            CardError::PinLocked => "pin_locked",
            CardError::PinLastTry => "pin_last_try",
            CardError::CardStatus { .. } => "card_status",
            CardError::Malformed { .. } => "malformed_response",
            CardError::Reader { .. } => "reader_error",
        }
    }
}
