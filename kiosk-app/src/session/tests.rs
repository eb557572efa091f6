//! The resident flow's rules, driven through `Flow::handle` with a hand-held clock.

use super::*;
use crate::card::basic4;
use crate::card::ops::CardKind;
use crate::card::CardError;
use crate::catalogue::Catalogue;
use crate::domain::{CardEvent, CardInsertion, ErrorCode, PrintProblem, PrinterState};
use crate::routing::{MunicipalityEntry, Router};
use counter_core::hours::OpeningHours;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn world() -> Arc<World> {
    let cat = Catalogue::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/catalogues/saitama-iruma.toml"),
    )
    .unwrap();
    let entry = |code: &str, name: &str| MunicipalityEntry {
        code: code.into(),
        prefecture: "埼玉県".into(),
        district: "入間郡".into(),
        name_ja: name.into(),
        name_en: name.into(),
        names: Default::default(),
    };
    Arc::new(World {
        router: Router::from_entries(vec![entry("113263", "毛呂山町"), entry("113271", "越生町")]),
        municipalities: vec![MunicipalityInfo {
            code: "113263".into(),
            name_ja: "毛呂山町".into(),
            name_en: "Moroyama".into(),
            names: Default::default(),
            catalogue: cat,
            hours: OpeningHours::parse(&["mon-fri 09:00-17:00".into()], &[]).unwrap(),
        }],
    })
}

const TIMES: FlowTimes = FlowTimes {
    idle_warning: Duration::from_secs(45),
    idle_countdown: Duration::from_secs(15),
    card_removed: Duration::from_secs(5),
};

struct T {
    flow: Flow,
    now: Now,
}

impl T {
    fn new() -> Self {
        let now = Now {
            instant: Instant::now(),
            today: time::macros::date!(2026 - 11 - 21),
            wall: time::macros::datetime!(2026-11-21 10:00 +09:00), // a Saturday
        };
        let mut t = T {
            flow: Flow::new(world(), TIMES, Lang::JA, now),
            now,
        };
        t.input(Input::Card(CardEvent::NoCard));
        t
    }
    fn input(&mut self, i: Input) -> Vec<Effect> {
        self.flow.handle(i, self.now)
    }
    fn intent(&mut self, i: Intent) -> Vec<Effect> {
        self.input(Input::Intent(i))
    }
    fn wait(&mut self, secs: u64) -> Vec<Effect> {
        self.now.instant += Duration::from_secs(secs);
        self.input(Input::Tick)
    }
    fn insert(&mut self, tries: u8) {
        self.input(Input::Card(CardEvent::Inserted {
            kind: CardKind::MyNumberCard,
            text_pin_tries: Some(tries),
            error: None,
            insertion: insertion(4),
        }));
    }
    fn pin(&mut self, digits: &[u8]) -> Vec<Effect> {
        for d in digits {
            self.intent(Intent::PinDigit(*d));
        }
        self.intent(Intent::PinSubmit)
    }
    fn identity(&mut self, address: &str) {
        let b = basic4::parse(&basic4::encode("山田　太郎", address, "19800217", "1")).unwrap();
        self.input(Input::Card(CardEvent::Read(Ok(b))));
    }
}

const HOME: &str = "埼玉県入間郡毛呂山町中央２丁目１番地";

fn insertion(event_count: u32) -> CardInsertion {
    CardInsertion {
        reader: "Virtual PCD 00 00".into(),
        event_count,
    }
}

#[test]
fn card_swapped_before_verify_reads_only_the_card_whose_tries_were_shown() {
    let mut t = T::new();
    t.intent(Intent::Start);
    t.insert(3);
    let fx = t.pin(&[1, 2, 3, 4]);
    assert!(matches!(fx.as_slice(), [Effect::ReadCard(_)]));
    assert_eq!(t.flow.pin_card(), Some((insertion(4), 3)));
    // The card service found another card where the tries were read: the session ends.
    let fx = t.input(Input::Card(CardEvent::Read(Err(CardError::CardChanged))));
    assert_eq!(t.flow.screen(), Screen::CardRemoved);
    assert!(fx.iter().any(|e| matches!(e, Effect::Wiped)));
    assert_eq!(t.flow.pin_card(), None, "no PIN goes anywhere now");
    // The watcher reports the swap; the new card is its own insertion with its own tries.
    t.input(Input::Card(CardEvent::Removed));
    t.input(Input::Card(CardEvent::Inserted {
        kind: CardKind::MyNumberCard,
        text_pin_tries: Some(2),
        error: None,
        insertion: insertion(6),
    }));
    assert_eq!(t.flow.screen(), Screen::Pin);
    assert_eq!(t.flow.pin_card(), Some((insertion(6), 2)));
    // After a wrong PIN the tries shown (and required) are the card's new count.
    t.pin(&[9, 9, 9, 9]);
    t.input(Input::Card(CardEvent::Read(Err(CardError::WrongPin {
        tries_left: 1,
    }))));
    assert_eq!(t.flow.screen(), Screen::PinLastTry);
    assert_eq!(t.flow.pin_card(), Some((insertion(6), 1)));
}

#[test]
fn happy_path_submits_once() {
    let mut t = T::new();
    t.intent(Intent::Start);
    assert_eq!(t.flow.screen(), Screen::InsertCard);
    t.insert(3);
    assert_eq!(t.flow.screen(), Screen::Pin);
    assert_eq!(t.flow.view(t.now.instant).tries_left, 3);
    let fx = t.pin(&[1, 2, 3, 4]);
    assert!(matches!(fx.as_slice(), [Effect::ReadCard(p)] if p.as_bytes() == b"1234"));
    assert_eq!(
        t.flow.view(t.now.instant).pin_length,
        0,
        "PIN buffer cleared once sent"
    );
    t.identity(HOME);
    assert_eq!(t.flow.screen(), Screen::Confirm);
    assert_eq!(
        t.flow.view(t.now.instant).holder.unwrap().name.expose(),
        "山田　太郎"
    );
    t.intent(Intent::Next);
    assert_eq!(t.flow.screen(), Screen::Municipality);
    assert!(
        t.flow
            .view(t.now.instant)
            .opening_note
            .contains("11月23日（月）9時から処理されます"),
        "closed on Saturday: the resident is told when processing starts"
    );
    t.intent(Intent::Next);
    t.intent(Intent::ChooseProcedure(1)); // 印鑑登録証明書: number, choice
    assert_eq!(t.flow.screen(), Screen::Question);
    t.intent(Intent::Adjust(Field::Number, 10));
    assert_eq!(
        t.flow.view(t.now.instant).question.unwrap().number,
        5,
        "clamped to the catalogue's max"
    );
    t.intent(Intent::Next);
    t.intent(Intent::Next);
    assert_eq!(
        t.flow.screen(),
        Screen::Question,
        "a choice must be made first"
    );
    t.intent(Intent::Choose(1));
    t.intent(Intent::Next);
    assert_eq!(t.flow.screen(), Screen::Review);
    let fx = t.intent(Intent::Submit);
    let [Effect::Submit(s)] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(s.municipality_code, "113263");
    assert_eq!(
        s.answers,
        vec![
            ("copies".to_string(), "5".to_string()),
            ("purpose".to_string(), "vehicle".to_string())
        ]
    );
    assert!(
        t.intent(Intent::Submit).is_empty(),
        "a second press submits nothing"
    );
    let fx = t.input(Input::Submitted(Ok(Submitted {
        receipt_number: "K01-261121-0001".into(),
        // A Saturday: the municipality (mon-fri 09:00-17:00) is closed.
        submitted_at: time::macros::datetime!(2026-11-21 10:00 +09:00),
    })));
    assert!(
        matches!(fx.as_slice(), [Effect::Print(job)] if job.receipt_number == "K01-261121-0001" && job.procedure_ja == "印鑑登録証明書の交付申請" && job.processing_from.is_some())
    );
    t.input(Input::Printed(Err(PrintProblem::PaperOut)));
    assert_eq!(t.flow.screen(), Screen::Done);
    let r = t.flow.view(t.now.instant).receipt.unwrap();
    assert!(!r.printed && r.problem == Some(PrintProblem::PaperOut));
    assert!(
        r.processing_note
            .contains("11月23日（月）9時から処理されます"),
        "the closed municipality's next opening is shown: {}",
        r.processing_note
    );
    t.intent(Intent::Finish);
    assert_eq!(t.flow.screen(), Screen::TakeCard);
    t.input(Input::Card(CardEvent::Removed));
    assert_eq!(t.flow.screen(), Screen::Welcome);
}

#[test]
fn removal_wipes_everything_before_submission() {
    let mut t = T::new();
    t.intent(Intent::SetLanguage(Lang::EN));
    t.intent(Intent::Start);
    t.insert(3);
    t.pin(&[1, 2, 3, 4]);
    t.identity(HOME);
    let fx = t.input(Input::Card(CardEvent::Removed));
    assert!(fx.iter().any(|e| matches!(e, Effect::Wiped)));
    assert_eq!(t.flow.screen(), Screen::CardRemoved);
    let v = t.flow.view(t.now.instant);
    assert!(v.holder.is_none() && v.municipality_name.is_empty());
    assert_eq!(v.lang, Lang::JA, "language resets for the next resident");
    t.wait(5);
    assert_eq!(t.flow.screen(), Screen::Welcome);
    // A late card answer for the wiped session is dropped, not shown.
    t.input(Input::Card(CardEvent::Read(Ok(basic4::parse(
        &basic4::encode("x", HOME, "19800217", "1"),
    )
    .unwrap()))));
    assert_eq!(t.flow.screen(), Screen::Welcome);
}

#[test]
fn idle_countdown_then_wipe() {
    let mut t = T::new();
    t.intent(Intent::Start);
    t.insert(3);
    t.intent(Intent::PinDigit(1));
    t.wait(44);
    assert_eq!(t.flow.view(t.now.instant).idle_seconds_left, None);
    t.wait(1);
    assert_eq!(t.flow.view(t.now.instant).idle_seconds_left, Some(15));
    t.intent(Intent::StillHere);
    assert_eq!(t.flow.view(t.now.instant).idle_seconds_left, None);
    t.wait(45);
    t.wait(14);
    assert_eq!(t.flow.screen(), Screen::Pin);
    let fx = t.wait(1);
    assert!(fx.iter().any(|e| matches!(e, Effect::Wiped)));
    assert_eq!(t.flow.screen(), Screen::Welcome);
    assert_eq!(t.flow.view(t.now.instant).pin_length, 0);
    // The card left in the reader does not restart a session by itself.
    t.wait(100);
    assert_eq!(t.flow.screen(), Screen::Welcome);
}

#[test]
fn pin_safety() {
    let mut t = T::new();
    t.intent(Intent::Start);
    t.insert(2);
    assert!(t.pin(&[1, 2, 3]).is_empty(), "3 digits are never sent");
    t.intent(Intent::PinDelete);
    t.intent(Intent::PinDelete);
    t.intent(Intent::PinDelete);
    assert!(
        t.intent(Intent::PinSubmit).is_empty(),
        "an empty PIN is never sent"
    );
    t.pin(&[9, 9, 9, 9]);
    t.input(Input::Card(CardEvent::Read(Err(CardError::WrongPin {
        tries_left: 1,
    }))));
    assert_eq!(
        t.flow.screen(),
        Screen::PinLastTry,
        "one try left needs a separate confirmation"
    );
    assert!(
        t.pin(&[1, 2, 3, 4]).is_empty(),
        "no PIN entry before confirming"
    );
    t.intent(Intent::ConfirmLastTry);
    assert_eq!(t.flow.screen(), Screen::Pin);
    assert!(t.flow.view(t.now.instant).pin_wrong);
    t.pin(&[9, 9, 9, 9]);
    t.input(Input::Card(CardEvent::Read(Err(CardError::PinLocked))));
    assert_eq!(t.flow.screen(), Screen::PinLocked);
    t.intent(Intent::Finish);
    assert_eq!(t.flow.screen(), Screen::TakeCard);
    t.input(Input::Card(CardEvent::Removed));
    t.insert(0);
    assert_eq!(
        t.flow.screen(),
        Screen::PinLocked,
        "a locked card goes straight to the explanation"
    );
}

#[test]
fn unusable_cards_and_routing_failures() {
    let mut t = T::new();
    t.input(Input::Card(CardEvent::Inserted {
        kind: CardKind::JukiCard,
        text_pin_tries: None,
        error: Some(CardError::JukiCard),
        insertion: insertion(2),
    }));
    assert_eq!(
        (t.flow.screen(), t.flow.view(t.now.instant).error_code),
        (Screen::Error, Some(ErrorCode::JukiCard))
    );
    t.input(Input::Card(CardEvent::Removed));
    assert_eq!(t.flow.screen(), Screen::CardRemoved);
    t.intent(Intent::Finish);
    t.insert(3);
    t.pin(&[1, 2, 3, 4]);
    t.identity("埼玉県入間郡越生町大字越生９００番地");
    t.intent(Intent::Next);
    assert_eq!(t.flow.screen(), Screen::NotParticipating);
    assert_eq!(t.flow.view(t.now.instant).municipality_name, "越生町");
    t.intent(Intent::Back);
    assert_eq!(t.flow.screen(), Screen::Confirm);
    t.intent(Intent::Back);
    t.intent(Intent::Start);
    t.pin(&[1, 2, 3, 4]);
    t.identity("東京都千代田区千代田１番１号");
    t.intent(Intent::Next);
    assert_eq!(
        (t.flow.screen(), t.flow.view(t.now.instant).error_code),
        (Screen::Error, Some(ErrorCode::UnknownAddress))
    );
}

#[test]
fn outbox_failure_is_an_error_not_a_receipt() {
    let mut t = T::new();
    t.intent(Intent::Start);
    t.insert(3);
    t.pin(&[1, 2, 3, 4]);
    t.identity(HOME);
    t.intent(Intent::Next);
    t.intent(Intent::Next);
    t.intent(Intent::ChooseProcedure(0));
    for _ in 0..4 {
        t.intent(Intent::Choose(0));
        t.intent(Intent::Next);
    }
    assert_eq!(t.flow.screen(), Screen::Review);
    t.intent(Intent::Submit);
    let fx = t.input(Input::Submitted(Err("disk full".into())));
    assert!(fx.is_empty(), "nothing printed");
    assert_eq!(
        (t.flow.screen(), t.flow.view(t.now.instant).error_code),
        (Screen::Error, Some(ErrorCode::OutboxError))
    );
}

#[test]
fn dates_stay_in_the_allowed_range() {
    let mut t = T::new();
    t.intent(Intent::Start);
    t.insert(3);
    t.pin(&[1, 2, 3, 4]);
    t.identity(HOME);
    t.intent(Intent::Next);
    t.intent(Intent::Next);
    t.intent(Intent::ChooseProcedure(2)); // 転出届: date first
    t.intent(Intent::Adjust(Field::Month, 1));
    assert_eq!(
        t.flow.view(t.now.instant).question.unwrap().date,
        Some(time::macros::date!(2026 - 12 - 05)),
        "clamped to +14 days"
    );
    t.intent(Intent::Adjust(Field::Year, -1));
    assert_eq!(
        t.flow.view(t.now.instant).question.unwrap().date,
        Some(time::macros::date!(2026 - 11 - 07))
    );
    t.intent(Intent::Adjust(Field::Day, 3));
    assert_eq!(
        t.flow.view(t.now.instant).question.unwrap().date_text,
        "2026年（令和8年）11月10日"
    );
}

#[test]
fn staff_lockout_survives_a_restart() {
    use crate::staff_lockout;
    let dir = tempfile::tempdir().unwrap();
    let path = staff_lockout::path_for(&dir.path().join("outbox.sqlite"));
    // What the runner does: load at start, save on the effect.
    let start = |t: &mut T| {
        let saved = staff_lockout::load(&path, t.now.wall.unix_timestamp());
        t.flow.restore_staff_lockout(saved, t.now);
    };
    let run = |fx: Vec<Effect>| {
        for e in fx {
            if let Effect::SaveStaffLockout(state) = e {
                staff_lockout::save(&path, &state).unwrap();
            }
        }
    };
    let mut t = T::new();
    start(&mut t);
    t.intent(Intent::StaffMode);
    for _ in 0..5 {
        let fx = t.pin(&[1, 2, 3, 4, 5, 6]);
        assert!(matches!(fx.as_slice(), [Effect::CheckStaffPin(_)]));
        run(t.input(Input::StaffPinChecked(false)));
    }
    assert!(t.flow.view(t.now.instant).staff.unwrap().locked);

    // Power cycle: a new kiosk over the same files, a minute later.
    let mut t = T::new();
    t.now.wall += Duration::from_secs(60);
    start(&mut t);
    t.intent(Intent::StaffMode);
    assert!(t.flow.view(t.now.instant).staff.unwrap().locked);
    let fx = t.pin(&[1, 2, 3, 4, 5, 6]);
    assert!(fx.is_empty(), "the sixth attempt is refused: {fx:?}");
    // The rest of the five minutes later, staff mode takes a PIN again.
    t.now.instant += Duration::from_secs(240);
    let fx = t.pin(&[1, 2, 3, 4, 5, 6]);
    assert!(matches!(fx.as_slice(), [Effect::CheckStaffPin(_)]));
}

#[test]
fn staff_pin_mistakes_count_even_when_staff_mode_was_left() {
    let mut t = T::new();
    for _ in 0..5 {
        t.intent(Intent::StaffMode);
        t.pin(&[1, 2, 3, 4, 5, 6]);
        t.intent(Intent::Back); // left before the answer comes
        let fx = t.input(Input::StaffPinChecked(false));
        assert!(fx.iter().any(|e| matches!(e, Effect::SaveStaffLockout(_))));
    }
    t.intent(Intent::StaffMode);
    assert!(t.flow.view(t.now.instant).staff.unwrap().locked);
}

#[test]
fn staff_mode_checks_the_pin_lists_and_reprints_then_leaves_no_trace() {
    let mut t = T::new();
    t.insert(3);
    t.intent(Intent::Start);
    assert_eq!(t.flow.screen(), Screen::Pin);
    t.intent(Intent::StaffMode);
    assert_eq!(
        t.flow.screen(),
        Screen::Pin,
        "never in the middle of a session"
    );
    t.intent(Intent::Back);
    assert_eq!(t.flow.screen(), Screen::Welcome);

    t.intent(Intent::StaffMode);
    assert_eq!(t.flow.screen(), Screen::StaffPin);
    assert_eq!(t.flow.view(t.now.instant).pin_max, 6);
    t.pin(&[1, 2, 3, 4, 5]);
    assert!(t.intent(Intent::PinSubmit).is_empty(), "six digits needed");
    t.intent(Intent::PinDigit(6));
    t.intent(Intent::PinDigit(7)); // a seventh is ignored
    let fx = t.intent(Intent::PinSubmit);
    assert!(matches!(fx.as_slice(), [Effect::CheckStaffPin(p)] if p.expose() == b"123456"));
    assert_eq!(
        t.flow.view(t.now.instant).pin_length,
        0,
        "the PIN left the flow"
    );
    t.input(Input::StaffPinChecked(false));
    assert_eq!(t.flow.screen(), Screen::StaffPin);
    assert!(t.flow.view(t.now.instant).pin_wrong);

    t.pin(&[1, 2, 3, 4, 5, 6]);
    t.intent(Intent::PinSubmit);
    let fx = t.input(Input::StaffPinChecked(true));
    assert_eq!(t.flow.screen(), Screen::Staff);
    assert!(matches!(fx.as_slice(), [Effect::LoadStaffPanel]));
    let receipt = UnconfirmedReceipt {
        number: "K01-261121-0003".into(),
        submitted: "11/21 10:00".into(),
        municipality: "毛呂山町".into(),
        procedure: "転出届".into(),
        problem: Some(PrintProblem::PaperOut),
    };
    t.input(Input::StaffPanel(StaffPanel {
        printer: Some(PrinterState::Ready),
        receipts: vec![receipt.clone()],
    }));
    let v = t.flow.view(t.now.instant).staff.unwrap();
    assert_eq!(v.panel.receipts, vec![receipt]);
    assert!(t.intent(Intent::Reprint(5)).is_empty(), "no such row");
    let fx = t.intent(Intent::Reprint(0));
    assert!(matches!(fx.as_slice(), [Effect::Reprint(n)] if n == "K01-261121-0003"));
    assert!(
        t.intent(Intent::Reprint(0)).is_empty(),
        "one reprint at a time"
    );
    assert!(t.flow.view(t.now.instant).busy);
    let fx = t.input(Input::Reprinted(Err(PrintProblem::PaperOut)));
    assert_eq!(
        t.flow.view(t.now.instant).staff.unwrap().result,
        Some(Err(PrintProblem::PaperOut))
    );
    assert!(matches!(fx.as_slice(), [Effect::LoadStaffPanel]));
    t.intent(Intent::Reprint(0));
    t.input(Input::Reprinted(Ok(())));
    assert_eq!(
        t.flow.view(t.now.instant).staff.unwrap().result,
        Some(Ok(()))
    );

    // Left alone, staff mode closes like a resident session; nothing of it remains.
    t.wait(61);
    assert_eq!(t.flow.screen(), Screen::Welcome);
    assert!(t.flow.view(t.now.instant).staff.is_none());
    t.intent(Intent::StaffMode);
    assert_eq!(
        t.flow.view(t.now.instant).staff.unwrap().panel,
        StaffPanel::default()
    );
    // A late answer after leaving is dropped.
    t.intent(Intent::Back);
    t.input(Input::StaffPinChecked(true));
    assert_eq!(t.flow.screen(), Screen::Welcome);
}
