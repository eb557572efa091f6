//! Card errors, each with a stable code for `kioskctl --json` and the staff view.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
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
    /// Stable machine-readable code (kebab-case, like every code of the kiosk).
    pub fn code(&self) -> &'static str {
        match self {
            CardError::NoService => "no-service",
            CardError::NoReader => "no-reader",
            CardError::NoCard => "no-card",
            CardError::CardRemoved => "card-removed",
            CardError::CardChanged => "card-changed",
            CardError::UnsupportedCard => "unsupported-card",
            CardError::JukiCard => "juki-card",
            CardError::SmartphoneToken => "smartphone-token",
            CardError::NoTextAp => "no-text-ap",
            CardError::WrongPin { .. } => "wrong-pin",
            CardError::PinLocked => "pin-locked",
            CardError::PinLastTry => "pin-last-try",
            CardError::CardStatus { .. } => "card-status",
            CardError::Malformed { .. } => "malformed-response",
            CardError::Reader { .. } => "reader-error",
        }
    }
}
