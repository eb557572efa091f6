//! What the UI renders: a plain snapshot of the session, produced by [`super::Flow::view`].

use super::Screen;
use crate::card::basic4::{Basic4, Sex};
use crate::domain::{ErrorCode, Lang, PrintProblem};
use crate::secret::SecretString;

/// Everything the UI shows, in one plain value.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Which screen.
    pub screen: Screen,
    /// Progress in the header; 0 hides it.
    pub step: usize,
    /// Steps in all (0 hides the progress).
    pub steps: usize,
    /// The UI language.
    pub lang: Lang,
    /// Waiting for a device: buttons show it.
    pub busy: bool,
    /// PIN tries the card has left.
    pub tries_left: u8,
    /// Digits typed (never the digits).
    pub pin_length: usize,
    /// Digits the keypad takes: 4 for the card's PIN, 6 for the staff PIN.
    pub pin_max: usize,
    /// The last PIN was wrong.
    pub pin_wrong: bool,
    /// Only on the confirmation screen.
    pub holder: Option<HolderView>,
    /// In the UI language.
    pub municipality_name: String,
    /// "" when the municipality is open now; else when it will process the application.
    pub opening_note: String,
    /// (title, summary) of each procedure.
    pub procedures: Vec<(String, String)>,
    /// The chosen procedure.
    pub procedure_title: String,
    /// The question on screen.
    pub question: Option<QuestionView>,
    /// (question, answer) lines to review.
    pub review: Vec<(String, String)>,
    /// Only on the done screen.
    pub receipt: Option<ReceiptView>,
    /// `Some(seconds)` while the idle countdown is showing.
    pub idle_seconds_left: Option<u64>,
    /// The "staff are coming" overlay.
    pub staff_called: bool,
    /// Only on the error screen.
    pub error_code: Option<ErrorCode>,
    /// Only in staff mode.
    pub staff: Option<super::StaffView>,
}

/// The card holder as shown on the confirmation screen; zeroised when dropped, and every
/// field prints `***` in `Debug`.
#[derive(Debug, Clone)]
pub struct HolderView {
    /// As on the card.
    pub name: SecretString,
    /// As on the card.
    pub address: SecretString,
    /// Formatted for the language.
    pub birth: SecretString,
    /// As on the card.
    pub sex: Sex,
}

/// Compared only to tell whether the screen must be redrawn.
impl PartialEq for HolderView {
    fn eq(&self, other: &Self) -> bool {
        self.name.expose() == other.name.expose()
            && self.address.expose() == other.address.expose()
            && self.birth.expose() == other.birth.expose()
            && self.sex == other.sex
    }
}

impl HolderView {
    /// The holder as `lang` shows it.
    pub fn from_card(b: &Basic4, lang: Lang) -> Self {
        HolderView {
            name: b.name.clone(),
            address: b.address.clone(),
            birth: SecretString::new(super::format::format_birth(b.birth.expose(), lang)),
            sex: b.sex,
        }
    }
}

/// What a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuestionKind {
    /// One of several options.
    Choice,
    /// A number within limits.
    Number,
    /// A date within limits.
    Date,
}

/// One question as the UI shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionView {
    /// In the UI language.
    pub title: String,
    /// In the UI language; may be empty.
    pub help: String,
    /// What it asks for.
    pub kind: QuestionKind,
    /// (label, selected) of each option.
    pub choices: Vec<(String, bool)>,
    /// A number question's value.
    pub number: i64,
    /// Its unit ("copies").
    pub unit: String,
    /// A date question's value.
    pub date: Option<time::Date>,
    /// The date, formatted for the language.
    pub date_text: String,
    /// The answer lets the resident go on.
    pub ready: bool,
    /// 1-based.
    pub index: usize,
    /// Questions in all.
    pub count: usize,
}

/// The receipt as the done screen shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptView {
    /// Its number.
    pub number: String,
    /// The printer confirmed it.
    pub printed: bool,
    /// Why it was not printed (or not confirmed).
    pub problem: Option<PrintProblem>,
    /// "" when the municipality is open; else when processing will start.
    pub processing_note: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::basic4;

    #[test]
    fn holder_view_debug_prints_no_personal_value() {
        let b = basic4::parse(&basic4::encode(
            "山田　花子",
            "埼玉県入間郡毛呂山町中央２丁目１番地",
            "19800217",
            "2",
        ))
        .unwrap();
        let h = HolderView::from_card(&b, Lang::JA);
        let printed = format!("{h:?}");
        for value in ["山田", "毛呂山町", "1980", "昭和", "Female", "\"2\""] {
            assert!(!printed.contains(value), "{value} in {printed}");
        }
    }
}
