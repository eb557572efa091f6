//! The kiosk's shared vocabulary: what the session, the card service and the printer driver
//! tell each other. Each of them imports this module; none imports another's machinery for
//! it (the session knows nothing of PC/SC, the printer driver nothing of the session).

use crate::card::basic4::Basic4;
use crate::card::ops::CardKind;
use crate::card::CardError;

pub use crate::lang::Lang;

/// Why a receipt could not be printed (shown to the resident, alerted to staff).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintProblem {
    /// The printer is out of paper.
    PaperOut,
    /// Its cover is open.
    CoverOpen,
    /// It does not answer.
    Offline,
    /// It reports an error.
    Error,
    /// The job was sent but the printer did not confirm it (it may or may not have printed).
    Unconfirmed,
}

impl PrintProblem {
    /// Every problem.
    pub const ALL: [PrintProblem; 5] = [
        PrintProblem::PaperOut,
        PrintProblem::CoverOpen,
        PrintProblem::Offline,
        PrintProblem::Error,
        PrintProblem::Unconfirmed,
    ];

    /// The problem a code names (as the outbox keeps it).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    /// Its stable code.
    pub fn code(self) -> &'static str {
        match self {
            PrintProblem::PaperOut => "paper-out",
            PrintProblem::CoverOpen => "cover-open",
            PrintProblem::Offline => "offline",
            PrintProblem::Error => "error",
            PrintProblem::Unconfirmed => "unconfirmed",
        }
    }
}

/// The printer as staff mode shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrinterState {
    /// Ready.
    Ready,
    /// Ready, but the paper is nearly out.
    NearEnd,
    /// It reports a problem.
    Problem(PrintProblem),
    /// A printer (or link) that cannot report its state.
    WriteOnly,
}

/// What the card service tells the session.
#[derive(Debug)]
pub enum CardEvent {
    /// No usable reader or no pcscd; the kiosk cannot take cards right now.
    ReaderProblem(CardError),
    /// Readers are fine and empty.
    NoCard,
    /// A card was inserted and identified.
    Inserted {
        /// What card it is.
        kind: CardKind,
        /// The text PIN's tries left, if they could be read.
        text_pin_tries: Option<u8>,
        /// Why it cannot be used, if so.
        error: Option<CardError>,
        /// Which card this is: a PIN read for it names it, and runs on no other card.
        insertion: CardInsertion,
    },
    /// The card left the reader.
    Removed,
    /// Result of a read of the basic 4 attributes (`CardCommand::ReadBasic4`).
    Read(Result<Basic4, CardError>),
}

/// Which insertion of a card an operation is meant for: the reader, and that reader's PC/SC
/// event count (the upper 16 bits of `dwEventState`) when the card was seen and its PIN tries
/// read. pcscd moves the count on at every removal and insertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInsertion {
    /// The reader's name.
    pub reader: String,
    /// The reader's PC/SC event count at insertion.
    pub event_count: u32,
}

/// Why a session cannot go on, as one stable code: the error screen explains it in the
/// resident's language, and logs and `--json` carry the same spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Not a My Number card.
    UnsupportedCard,
    /// A Basic Resident Register card.
    JukiCard,
    /// A smartphone.
    SmartphoneToken,
    /// No card information application.
    NoTextAp,
    /// The card could not be read.
    CardError,
    /// No reader, or pcscd is down.
    ReaderMissing,
    /// The application could not be saved.
    OutboxError,
    /// No municipality found for the address.
    UnknownAddress,
}

impl ErrorCode {
    /// Its stable code.
    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::UnsupportedCard => "unsupported-card",
            ErrorCode::JukiCard => "juki-card",
            ErrorCode::SmartphoneToken => "smartphone-token",
            ErrorCode::NoTextAp => "no-text-ap",
            ErrorCode::CardError => "card-error",
            ErrorCode::ReaderMissing => "reader-missing",
            ErrorCode::OutboxError => "outbox-error",
            ErrorCode::UnknownAddress => "unknown-address",
        }
    }

    /// What a card problem means for the resident.
    pub fn of_card(e: &CardError) -> Self {
        match e {
            CardError::UnsupportedCard => ErrorCode::UnsupportedCard,
            CardError::JukiCard => ErrorCode::JukiCard,
            CardError::SmartphoneToken => ErrorCode::SmartphoneToken,
            CardError::NoTextAp => ErrorCode::NoTextAp,
            CardError::NoReader | CardError::NoService => ErrorCode::ReaderMissing,
            _ => ErrorCode::CardError,
        }
    }
}
