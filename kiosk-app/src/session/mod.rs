//! The resident session as a state machine that knows nothing of Slint: inputs in
//! (intents, card events, results), effects out (read the card, submit, print), and a
//! [`View`] that the UI renders.

mod application;
mod flow;
mod format;
mod keypad;
mod staff;
mod stages;
#[cfg(test)]
mod tests;
mod view;

pub use flow::{Field, Flow, FlowTimes, Input, Intent, Now};
pub use format::{format_birth, format_date, processing_note};
pub use staff::{StaffLockout, StaffPanel, StaffView, UnconfirmedReceipt, STAFF_PIN_LEN};
pub use view::{HolderView, QuestionKind, QuestionView, ReceiptView, View};

use crate::domain::Lang;

use crate::card::basic4::Basic4;
use crate::catalogue::Catalogue;
use crate::routing::Router;

/// The screens, as the UI knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Language choice and "Start".
    Welcome,
    /// "Insert your My Number card".
    InsertCard,
    /// The card's 4-digit PIN.
    Pin,
    /// One try left: a separate confirmation.
    PinLastTry,
    /// The PIN is locked: where to reset it.
    PinLocked,
    /// The card is being read.
    ReadingData,
    /// The holder's data to confirm.
    Confirm,
    /// Where the application goes.
    Municipality,
    /// The municipality does not take part.
    NotParticipating,
    /// The procedures of the municipality.
    Procedures,
    /// One question of the procedure.
    Question,
    /// All answers, and "submit".
    Review,
    /// Saving and printing.
    Submitting,
    /// The receipt number (and the receipt on screen if not printed).
    Done,
    /// "Please take your card".
    TakeCard,
    /// "Your card was removed".
    CardRemoved,
    /// Any other problem, by its code.
    Error,
    /// Staff mode: the staff PIN, then the reprint list.
    StaffPin,
    /// Staff mode: printer state and reprint list.
    Staff,
}

/// The configured municipalities with their catalogues, and the router.
#[derive(Debug, Clone)]
pub struct World {
    /// Address → municipality, from the national code list.
    pub router: Router,
    /// The participating municipalities.
    pub municipalities: Vec<MunicipalityInfo>,
}

/// A participating municipality as the resident meets it.
#[derive(Debug, Clone)]
pub struct MunicipalityInfo {
    /// 6-digit 全国地方公共団体コード.
    pub code: String,
    /// As the municipality writes it.
    pub name_ja: String,
    /// Romanised.
    pub name_en: String,
    /// Its name in other languages, by language code (from the config).
    pub names: std::collections::BTreeMap<String, String>,
    /// Its procedures.
    pub catalogue: Catalogue,
    /// When it processes applications.
    pub hours: counter_core::hours::OpeningHours,
}

impl MunicipalityInfo {
    /// Its name in `lang`: Japanese as written, another language's own name when the config
    /// has one, else the romanised English name (more readable to a foreign resident than
    /// kanji).
    pub fn name(&self, lang: Lang) -> &str {
        local_name(lang, &self.name_ja, &self.name_en, &self.names)
    }
}

/// A municipality's name in `lang`, from its Japanese and English names and those in other
/// languages.
pub fn local_name<'a>(
    lang: Lang,
    ja: &'a str,
    en: &'a str,
    others: &'a std::collections::BTreeMap<String, String>,
) -> &'a str {
    match lang {
        Lang::JA => ja,
        Lang::EN => en,
        other => others.get(other.code()).map_or(en, String::as_str),
    }
}

/// What the session asks the outside world to do.
#[derive(Debug)]
pub enum Effect {
    /// Verify the PIN and read the basic 4 attributes (the PIN is zeroised after use).
    ReadCard(crate::secret::Pin),
    /// Seal and durably enqueue the application; answer with [`Input::Submitted`].
    Submit(Submission),
    /// Print the receipt; answer with [`Input::Printed`].
    Print(ReceiptJob),
    /// Tell staff (staff console, log) that something needs them.
    AlertStaff(StaffAlert),
    /// The session's personal data has been dropped; clear it from the screen too.
    Wiped,
    /// Check the staff PIN (zeroised after use); answer with [`Input::StaffPinChecked`].
    CheckStaffPin(crate::secret::Secret<Vec<u8>>),
    /// Save the staff PIN lockout state durably (it must survive a restart) before anything
    /// else happens.
    SaveStaffLockout(StaffLockout),
    /// Read the printer's state and the reprint list; answer with [`Input::StaffPanel`].
    LoadStaffPanel,
    /// Reprint this receipt and record the outcome; answer with [`Input::Reprinted`].
    Reprint(String),
}

/// What staff are alerted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffAlert {
    /// A resident pressed "Call staff".
    ResidentCalled,
    /// A receipt was not printed.
    PrinterProblem,
}

/// Everything the outbox needs; `applicant` is secret and dropped after sealing.
#[derive(Debug)]
pub struct Submission {
    /// Where it goes.
    pub municipality_code: String,
    /// The catalogue's code of the procedure.
    pub procedure_code: String,
    /// The card's four attributes.
    pub applicant: Basic4,
    /// (question id, machine value) pairs.
    pub answers: Vec<(String, String)>,
    /// The resident's language (the receipt's second language).
    pub lang: Lang,
}

/// A receipt carries no personal data.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptJob {
    /// The number printed and shown.
    pub receipt_number: String,
    /// When it was saved.
    pub submitted_at: time::OffsetDateTime,
    /// Its second language besides Japanese.
    pub lang: Lang,
    /// The municipality's name in Japanese.
    pub municipality_ja: String,
    /// …and in the resident's language.
    pub municipality_local: String,
    /// The procedure's title in Japanese.
    pub procedure_ja: String,
    /// …and in the resident's language.
    pub procedure_local: String,
    /// When the municipality is closed now: when its systems open again.
    pub processing_from: Option<time::OffsetDateTime>,
    /// Printed again by staff (the receipt says 再発行 / Reissued).
    pub reissue: bool,
}

impl ReceiptJob {
    /// The receipt of an application to `m`: the procedure's title from its catalogue, in
    /// Japanese and in `lang`, and when a closed municipality will process it. The same for
    /// the first print and for a reprint from the outbox row.
    pub fn new(
        receipt_number: String,
        submitted_at: time::OffsetDateTime,
        lang: Lang,
        m: &MunicipalityInfo,
        procedure_code: &str,
    ) -> Self {
        let p = m
            .catalogue
            .procedures
            .iter()
            .find(|p| p.code == procedure_code);
        let title = |lang: &str| {
            p.map(|p| p.title.get(lang).to_owned())
                .unwrap_or_else(|| procedure_code.to_owned())
        };
        ReceiptJob {
            receipt_number,
            submitted_at,
            lang,
            municipality_ja: m.name_ja.clone(),
            municipality_local: m.name(lang).to_owned(),
            procedure_ja: title("ja"),
            procedure_local: title(lang.code()),
            processing_from: m.hours.reopens_at(submitted_at),
            reissue: false,
        }
    }
}

/// Result of [`Effect::Submit`].
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The receipt number the outbox gave it.
    pub receipt_number: String,
    /// When it was saved.
    pub submitted_at: time::OffsetDateTime,
}
