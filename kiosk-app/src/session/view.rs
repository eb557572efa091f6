//! What the UI renders: a plain snapshot of the session, produced by [`super::Flow::view`].

use super::Screen;
use crate::card::basic4::{Basic4, Sex};
use crate::domain::{ErrorCode, Lang, PrintProblem};
use crate::secret::SecretString;

#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub screen: Screen,
    pub step: usize,
    pub steps: usize,
    pub lang: Lang,
    pub busy: bool,
    pub tries_left: u8,
    pub pin_length: usize,
    /// Digits the keypad takes: 4 for the card's PIN, 6 for the staff PIN.
    pub pin_max: usize,
    pub pin_wrong: bool,
    /// Only on the confirmation screen.
    pub holder: Option<HolderView>,
    pub municipality_name: String,
    /// "" when the municipality is open now; else when it will process the application.
    pub opening_note: String,
    pub procedures: Vec<(String, String)>,
    pub procedure_title: String,
    pub question: Option<QuestionView>,
    pub review: Vec<(String, String)>,
    pub receipt: Option<ReceiptView>,
    /// `Some(seconds)` while the idle countdown is showing.
    pub idle_seconds_left: Option<u64>,
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
    pub name: SecretString,
    pub address: SecretString,
    pub birth: SecretString,
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
    pub fn from_card(b: &Basic4, lang: Lang) -> Self {
        HolderView {
            name: b.name.clone(),
            address: b.address.clone(),
            birth: SecretString::new(super::format::format_birth(b.birth.expose(), lang)),
            sex: b.sex,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuestionKind {
    Choice,
    Number,
    Date,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QuestionView {
    pub title: String,
    pub help: String,
    pub kind: QuestionKind,
    pub choices: Vec<(String, bool)>,
    pub number: i64,
    pub unit: String,
    pub date: Option<time::Date>,
    pub date_text: String,
    pub ready: bool,
    pub index: usize,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptView {
    pub number: String,
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
