//! Card errors, each with a stable code for `kioskctl --json` and the staff view.

use serde::Serialize;

/// What can go wrong with the card or the reader; `code` gives each its stable spelling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum CardError {
    /// pcscd is not running.
    #[error("the PC/SC service (pcscd) is not running")]
    NoService,
    /// No reader is connected.
    #[error("no card reader is connected")]
    NoReader,
    /// The reader is empty.
    #[error("no card is in the reader")]
    NoCard,
    /// The card left during an operation.
    #[error("the card was removed during the operation")]
    CardRemoved,
    /// The card was taken out or swapped after its PIN tries were read (or its tries are not
    /// the ones shown): the PIN was not tried on whatever card is in the reader now.
    #[error(
        "the card was removed or replaced after its PIN tries were read; the PIN was not tried"
    )]
    CardChanged,
    /// Not a My Number card.
    #[error("this is not a My Number card")]
    UnsupportedCard,
    /// A Basic Resident Register card (住基カード).
    #[error("this is an old 住基カード (Basic Resident Register card), not a My Number card")]
    JukiCard,
    /// A smartphone's My Number function.
    #[error("this is a smartphone JPKI token, not the physical card")]
    SmartphoneToken,
    /// No card information input support application on the card.
    #[error("the card has no 券面事項入力補助 application")]
    NoTextAp,
    /// The PIN was wrong.
    #[error("wrong PIN: {tries_left} tries left")]
    WrongPin {
        /// Tries the card has left.
        tries_left: u8,
    },
    /// The PIN is locked.
    #[error("the PIN is locked; it must be reset at the municipal office")]
    PinLocked,
    /// One try left and no explicit consent to use it: a wrong PIN would lock the card.
    #[error("only one PIN try is left: a wrong PIN would lock the card, so it was not tried")]
    PinLastTry,
    /// The card refused a command.
    #[error("the card answered {sw:04X} to {operation}")]
    CardStatus {
        /// What was asked.
        operation: String,
        /// What the card answered.
        sw: u16,
    },
    /// An answer the kiosk cannot read.
    #[error("the card sent a malformed answer: {detail}")]
    Malformed {
        /// What was wrong.
        detail: String,
    },
    /// The reader or pcscd failed.
    #[error("card reader error: {detail}")]
    Reader {
        /// What it said.
        detail: String,
    },
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
