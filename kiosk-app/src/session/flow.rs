//! The resident flow. Pure: time comes in with every input, effects go out as values.

use super::staff::{StaffPanel, StaffState, STAFF_PIN_LEN};
use super::view::{HolderView, QuestionView, ReceiptView, View};
use super::{Effect, ReceiptJob, Screen, StaffAlert, Submission, Submitted, World};
use crate::card::basic4::Basic4;
use crate::card::ops::CardKind;
use crate::card::CardError;
use crate::catalogue::{Procedure, QuestionKind};
use crate::domain::{CardEvent, CardInsertion, Lang, PrintProblem};
use crate::secret::{Pin, Secret};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The clock, passed in so that the flow is testable without waiting.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub instant: Instant,
    pub today: time::Date,
    /// Wall-clock time, for the municipalities' opening hours.
    pub wall: time::OffsetDateTime,
}

impl Now {
    pub fn system() -> Self {
        let local = counter_core::hours::japan_now();
        Now {
            instant: Instant::now(),
            today: local.date(),
            wall: local,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct FlowTimes {
    pub idle_warning: Duration,
    pub idle_countdown: Duration,
    pub card_removed: Duration,
}

/// What the resident did on screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    SetLanguage(Lang),
    Start,
    PinDigit(u8),
    PinDelete,
    PinSubmit,
    ConfirmLastTry,
    Back,
    Next,
    ChooseProcedure(usize),
    Choose(usize),
    Adjust(String, i32),
    Submit,
    Finish,
    StillHere,
    CallStaff,
    DismissStaff,
    /// Open staff mode (welcome screen only).
    StaffMode,
    /// Reprint the n-th receipt of the staff list.
    Reprint(usize),
}

#[derive(Debug)]
pub enum Input {
    Intent(Intent),
    Card(CardEvent),
    Submitted(Result<Submitted, String>),
    Printed(Result<(), PrintProblem>),
    StaffPinChecked(bool),
    StaffPanel(StaffPanel),
    Reprinted(Result<(), PrintProblem>),
    /// Periodic clock tick for timeouts.
    Tick,
}

#[derive(Debug, Clone, PartialEq)]
enum CardState {
    Unknown,
    Problem,
    Absent,
    Present {
        kind: CardKind,
        tries: Option<u8>,
        error: Option<CardError>,
        /// Which card it is: the PIN typed after seeing `tries` is tried on this card only.
        insertion: CardInsertion,
    },
}

#[derive(Debug, Clone)]
enum Answer {
    Choice(Option<usize>),
    Number(i64),
    Date(time::Date),
}

pub struct Flow {
    world: Arc<World>,
    times: FlowTimes,
    default_lang: Lang,
    lang: Lang,
    screen: Screen,
    card: CardState,
    pin: Secret<Vec<u8>>,
    pin_wrong: bool,
    last_try_confirmed: bool,
    identity: Option<Basic4>,
    municipality: Option<usize>,
    /// Name of a non-participating municipality (or none when the address is unknown).
    other_municipality: Option<String>,
    /// When the resident's municipality is closed now: its next opening.
    opens_at: Option<time::OffsetDateTime>,
    procedure: Option<usize>,
    question: usize,
    answers: Vec<Answer>,
    receipt: Option<ReceiptView>,
    error_code: &'static str,
    last_touch: Instant,
    screen_since: Instant,
    staff_called: bool,
    staff: StaffState,
    today: time::Date,
}

impl Flow {
    pub fn new(world: Arc<World>, times: FlowTimes, default_lang: Lang, now: Now) -> Self {
        Flow {
            world,
            times,
            default_lang,
            lang: default_lang,
            screen: Screen::Welcome,
            card: CardState::Unknown,
            pin: Secret::new(Vec::with_capacity(4)),
            pin_wrong: false,
            last_try_confirmed: false,
            identity: None,
            municipality: None,
            other_municipality: None,
            opens_at: None,
            procedure: None,
            question: 0,
            answers: vec![],
            receipt: None,
            error_code: "",
            last_touch: now.instant,
            screen_since: now.instant,
            staff_called: false,
            staff: StaffState::default(),
            today: now.today,
        }
    }

    pub fn screen(&self) -> Screen {
        self.screen
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Takes over the staff PIN lockout saved before a restart (the runner loads it at start).
    pub fn restore_staff_lockout(&mut self, saved: super::StaffLockout, now: Now) {
        self.staff
            .restore(saved, now.instant, now.wall.unix_timestamp());
    }

    /// The card an [`Effect::ReadCard`] is for, and the PIN tries left the resident was shown
    /// before typing the PIN: the read runs on that card only, and only if its tries are still
    /// those (a card swapped meanwhile, however fast, never sees the PIN).
    pub fn pin_card(&self) -> Option<(CardInsertion, u8)> {
        match &self.card {
            CardState::Present {
                tries: Some(n),
                insertion,
                ..
            } => Some((insertion.clone(), *n)),
            _ => None,
        }
    }

    pub fn handle(&mut self, input: Input, now: Now) -> Vec<Effect> {
        self.today = now.today;
        let mut fx = vec![];
        match input {
            Input::Intent(intent) => {
                self.last_touch = now.instant;
                self.intent(intent, now, &mut fx);
            }
            Input::Card(event) => self.card_event(event, now, &mut fx),
            Input::Submitted(result) => self.submitted(result, now, &mut fx),
            Input::Printed(result) => self.printed(result, now, &mut fx),
            Input::StaffPinChecked(ok) => {
                // Counted even when staff mode was left meanwhile: leaving right after each
                // submit must not make mistakes free.
                let opens = self.staff.checked(ok, now.instant);
                if let Some(record) =
                    self.staff
                        .take_unsaved(now.instant, now.wall.unix_timestamp(), false)
                {
                    fx.push(Effect::SaveStaffLockout(record));
                }
                if self.screen == Screen::StaffPin {
                    if opens {
                        self.go(Screen::Staff, now);
                        fx.push(Effect::LoadStaffPanel);
                    } else {
                        self.pin_wrong = true;
                    }
                }
            }
            Input::StaffPanel(panel) if self.screen == Screen::Staff => {
                self.staff.panel = Some(panel)
            }
            Input::Reprinted(result) if self.screen == Screen::Staff => {
                self.staff.busy = false;
                self.staff.result = result.map_or_else(PrintProblem::code, |()| "reprinted");
                fx.push(Effect::LoadStaffPanel);
            }
            // Staff mode was left meanwhile: nothing to show.
            Input::StaffPanel(_) | Input::Reprinted(_) => {}
            Input::Tick => self.tick(now, &mut fx),
        }
        fx
    }

    fn go(&mut self, screen: Screen, now: Now) {
        if self.screen != screen {
            self.screen = screen;
            self.screen_since = now.instant;
            self.last_touch = now.instant;
        }
    }

    fn fail(&mut self, code: &'static str, now: Now) {
        self.error_code = code;
        self.go(Screen::Error, now);
    }

    /// Drops everything personal and returns to the welcome screen.
    fn wipe(&mut self, to: Screen, now: Now, fx: &mut Vec<Effect>) {
        self.pin = Secret::new(Vec::with_capacity(4));
        self.pin_wrong = false;
        self.last_try_confirmed = false;
        self.identity = None;
        self.municipality = None;
        self.other_municipality = None;
        self.opens_at = None;
        self.procedure = None;
        self.question = 0;
        self.answers.clear();
        self.receipt = None;
        self.error_code = "";
        self.staff_called = false;
        self.staff.close();
        if let Some(record) = self
            .staff
            .take_unsaved(now.instant, now.wall.unix_timestamp(), true)
        {
            fx.push(Effect::SaveStaffLockout(record));
        }
        self.lang = self.default_lang;
        self.go(to, now);
        fx.push(Effect::Wiped);
    }

    /// Where a present card leads: PIN entry, or why not.
    fn enter_card_flow(&mut self, now: Now) {
        match self.card.clone() {
            CardState::Present { error: Some(e), .. } => self.fail(card_error_code(&e), now),
            CardState::Present { kind, .. } if kind != CardKind::MyNumberCard => {
                self.fail(card_error_code(&kind.check_usable().unwrap_err()), now)
            }
            CardState::Present { tries: Some(0), .. } => self.go(Screen::PinLocked, now),
            CardState::Present { tries: Some(1), .. } if !self.last_try_confirmed => {
                self.go(Screen::PinLastTry, now)
            }
            CardState::Present { tries: Some(_), .. } => self.go(Screen::Pin, now),
            CardState::Present { tries: None, .. } => self.fail("card-error", now),
            CardState::Problem => self.fail("reader-missing", now),
            CardState::Absent | CardState::Unknown => self.go(Screen::InsertCard, now),
        }
    }

    fn finish(&mut self, now: Now, fx: &mut Vec<Effect>) {
        let to = if matches!(self.card, CardState::Present { .. }) {
            Screen::TakeCard
        } else {
            Screen::Welcome
        };
        self.wipe(to, now, fx);
    }

    fn intent(&mut self, intent: Intent, now: Now, fx: &mut Vec<Effect>) {
        use Screen as S;
        match (self.screen, intent) {
            (_, Intent::SetLanguage(l)) => self.lang = l,
            (_, Intent::StillHere) => {}
            (_, Intent::CallStaff) => {
                self.staff_called = true;
                fx.push(Effect::AlertStaff(StaffAlert::ResidentCalled));
            }
            (_, Intent::DismissStaff) => self.staff_called = false,
            (S::Welcome, Intent::Start) => self.enter_card_flow(now),
            (S::Welcome, Intent::StaffMode) => {
                self.pin = Secret::new(Vec::with_capacity(STAFF_PIN_LEN));
                self.pin_wrong = false;
                self.go(S::StaffPin, now);
            }
            // The card's PIN and the staff PIN share the keypad; a locked staff mode takes no digits.
            (S::Pin | S::StaffPin, Intent::PinDigit(d))
                if d <= 9
                    && self.pin.expose().len() < self.pin_max()
                    && !(self.screen == S::StaffPin && self.staff.locked(now.instant)) =>
            {
                self.pin.expose_mut().push(b'0' + d);
                self.pin_wrong = false;
            }
            (S::Pin | S::StaffPin, Intent::PinDelete) => {
                self.pin.expose_mut().pop();
            }
            (S::StaffPin, Intent::PinSubmit)
                if self.pin.expose().len() == STAFF_PIN_LEN
                    && !self.staff.busy
                    && !self.staff.locked(now.instant) =>
            {
                self.staff.busy = true;
                let pin = std::mem::replace(
                    &mut self.pin,
                    Secret::new(Vec::with_capacity(STAFF_PIN_LEN)),
                );
                fx.push(Effect::CheckStaffPin(pin));
            }
            (S::Staff, Intent::Reprint(i)) if !self.staff.busy => {
                let number = self
                    .staff
                    .panel
                    .as_ref()
                    .and_then(|p| p.receipts.get(i))
                    .map(|r| r.number.clone());
                if let Some(number) = number {
                    self.staff.busy = true;
                    self.staff.result = "";
                    fx.push(Effect::Reprint(number));
                }
            }
            (S::StaffPin | S::Staff, Intent::Back | Intent::Finish) => {
                self.wipe(S::Welcome, now, fx)
            }
            (S::InsertCard, Intent::Back) => self.wipe(S::Welcome, now, fx),
            (S::Pin, Intent::PinSubmit) => {
                if let Ok(pin) = Pin::new_4_digits(self.pin.expose()) {
                    self.pin = Secret::new(Vec::with_capacity(4));
                    self.go(S::ReadingData, now);
                    fx.push(Effect::ReadCard(pin));
                }
            }
            (S::PinLastTry, Intent::ConfirmLastTry) => {
                self.last_try_confirmed = true;
                self.go(S::Pin, now);
            }
            (S::Pin | S::PinLastTry | S::Confirm, Intent::Back) => self.wipe(S::Welcome, now, fx),
            (S::Confirm, Intent::Next) => self.route(now),
            (S::Municipality, Intent::Next) => self.go(S::Procedures, now),
            (S::Municipality | S::NotParticipating, Intent::Back) => self.go(S::Confirm, now),
            (S::Procedures, Intent::Back) => self.go(S::Municipality, now),
            (S::Procedures, Intent::ChooseProcedure(i)) => self.choose_procedure(i, now),
            (S::Question, Intent::Choose(i)) => {
                if let Some(Answer::Choice(sel)) = self.answers.get_mut(self.question) {
                    *sel = Some(i);
                }
            }
            (S::Question, Intent::Adjust(field, delta)) => self.adjust(&field, delta),
            (S::Question, Intent::Next) if self.answer_ready() => {
                if self.question + 1 < self.answers.len() {
                    self.question += 1;
                } else {
                    self.go(S::Review, now);
                }
            }
            (S::Question, Intent::Back) => {
                if self.question > 0 {
                    self.question -= 1;
                } else {
                    self.go(S::Procedures, now);
                }
            }
            (S::Review, Intent::Back) => {
                if self.answers.is_empty() {
                    self.go(S::Procedures, now);
                } else {
                    self.question = self.answers.len() - 1;
                    self.go(S::Question, now);
                }
            }
            (S::Review, Intent::Submit) => self.submit(now, fx),
            (S::Done | S::Error | S::PinLocked | S::NotParticipating, Intent::Finish) => {
                self.finish(now, fx)
            }
            (S::Done | S::Error | S::PinLocked, Intent::Back) => self.finish(now, fx),
            (S::CardRemoved, Intent::Finish | Intent::Back) => self.wipe(S::Welcome, now, fx),
            (S::TakeCard, Intent::Finish) if !matches!(self.card, CardState::Present { .. }) => {
                self.wipe(S::Welcome, now, fx)
            }
            _ => {}
        }
    }

    fn card_event(&mut self, event: CardEvent, now: Now, fx: &mut Vec<Effect>) {
        use Screen as S;
        match event {
            CardEvent::ReaderProblem(_) => {
                let had_card = matches!(self.card, CardState::Present { .. });
                self.card = CardState::Problem;
                if had_card {
                    self.removed(now, fx);
                } else if self.screen == S::InsertCard {
                    self.fail("reader-missing", now);
                }
            }
            CardEvent::NoCard => {
                let had_card = matches!(self.card, CardState::Present { .. });
                self.card = CardState::Absent;
                if had_card {
                    self.removed(now, fx);
                } else if self.screen == S::Error && self.error_code == "reader-missing" {
                    self.wipe(S::Welcome, now, fx);
                }
            }
            CardEvent::Inserted {
                kind,
                text_pin_tries,
                error,
                insertion,
            } => {
                // A card already in the reader when the kiosk starts waits for "Start".
                let first_sight = self.card == CardState::Unknown;
                self.card = CardState::Present {
                    kind,
                    tries: text_pin_tries,
                    error,
                    insertion,
                };
                self.last_try_confirmed = false;
                if first_sight {
                    return;
                }
                if matches!(self.screen, S::Welcome | S::InsertCard | S::CardRemoved)
                    || (self.screen == S::Error && self.error_code == "reader-missing")
                {
                    self.enter_card_flow(now);
                }
            }
            CardEvent::Removed => {
                self.card = CardState::Absent;
                self.removed(now, fx);
            }
            CardEvent::Read(result) => self.read_done(result, now, fx),
        }
    }

    fn removed(&mut self, now: Now, fx: &mut Vec<Effect>) {
        use Screen as S;
        match self.screen {
            S::Welcome | S::InsertCard | S::CardRemoved => {}
            S::TakeCard => self.wipe(S::Welcome, now, fx),
            // The application is already durable: just make sure nothing personal remains.
            S::Submitting | S::Done => {
                self.identity = None;
                fx.push(Effect::Wiped);
            }
            _ => self.wipe(S::CardRemoved, now, fx),
        }
    }

    fn read_done(&mut self, result: Result<Basic4, CardError>, now: Now, fx: &mut Vec<Effect>) {
        if self.screen != Screen::ReadingData {
            return; // stale answer (session wiped meanwhile): drop it unread
        }
        let set_tries = |card: &mut CardState, n: u8| {
            if let CardState::Present { tries, .. } = card {
                *tries = Some(n);
            }
        };
        match result {
            Ok(identity) => {
                set_tries(&mut self.card, 3);
                self.identity = Some(identity);
                self.go(Screen::Confirm, now);
            }
            Err(CardError::WrongPin { tries_left }) => {
                set_tries(&mut self.card, tries_left);
                self.pin_wrong = true;
                self.last_try_confirmed = false;
                self.enter_card_flow(now);
                self.pin_wrong = true;
            }
            Err(CardError::PinLocked) => {
                set_tries(&mut self.card, 0);
                self.go(Screen::PinLocked, now);
            }
            // Removed, or swapped before the PIN was tried: the session ends either way; the
            // card now in the reader (if any) starts afresh when the watcher reports it.
            Err(CardError::CardRemoved | CardError::NoCard | CardError::CardChanged) => {
                self.card = CardState::Absent;
                self.wipe(Screen::CardRemoved, now, fx);
            }
            Err(e) => self.fail(card_error_code(&e), now),
        }
    }

    fn route(&mut self, now: Now) {
        let Some(identity) = &self.identity else {
            return self.fail("card-error", now);
        };
        let entry = self.world.router.find(identity.address.expose()).cloned();
        match entry {
            None => {
                self.other_municipality = None;
                self.fail("unknown-address", now);
            }
            Some(e) => match self
                .world
                .municipalities
                .iter()
                .position(|m| m.code == e.code)
            {
                Some(i) => {
                    self.municipality = Some(i);
                    self.opens_at = self.world.municipalities[i].hours.reopens_at(now.wall);
                    self.go(Screen::Municipality, now);
                }
                None => {
                    self.other_municipality = Some(if self.lang == Lang::Ja {
                        e.name_ja
                    } else {
                        e.name_en
                    });
                    self.go(Screen::NotParticipating, now);
                }
            },
        }
    }

    /// Digits the keypad takes on this screen: the card's 4, or the staff PIN's 6.
    fn pin_max(&self) -> usize {
        if self.screen == Screen::StaffPin {
            STAFF_PIN_LEN
        } else {
            4
        }
    }

    fn procedure_def(&self) -> Option<&Procedure> {
        let m = &self.world.municipalities[self.municipality?];
        m.catalogue.procedures.get(self.procedure?)
    }

    fn choose_procedure(&mut self, i: usize, now: Now) {
        let Some(m) = self.municipality else { return };
        let Some(p) = self.world.municipalities[m].catalogue.procedures.get(i) else {
            return;
        };
        self.answers = p
            .questions
            .iter()
            .map(|q| match &q.kind {
                QuestionKind::Choice { .. } => Answer::Choice(None),
                QuestionKind::Number { min, default, .. } => {
                    Answer::Number(default.unwrap_or(*min))
                }
                QuestionKind::Date { .. } => Answer::Date(self.today),
            })
            .collect();
        self.procedure = Some(i);
        self.question = 0;
        self.go(
            if self.answers.is_empty() {
                Screen::Review
            } else {
                Screen::Question
            },
            now,
        );
    }

    fn answer_ready(&self) -> bool {
        !matches!(
            self.answers.get(self.question),
            Some(Answer::Choice(None)) | None
        )
    }

    fn adjust(&mut self, field: &str, delta: i32) {
        let Some(q) = self
            .procedure_def()
            .and_then(|p| p.questions.get(self.question))
            .cloned()
        else {
            return;
        };
        let today = self.today;
        match (self.answers.get_mut(self.question), &q.kind) {
            (Some(Answer::Number(n)), QuestionKind::Number { min, max, .. })
                if field == "number" =>
            {
                *n = (*n + delta as i64).clamp(*min, *max);
            }
            (Some(Answer::Date(d)), QuestionKind::Date { min_days, max_days }) => {
                let lo = today + time::Duration::days(*min_days);
                let hi = today + time::Duration::days(*max_days);
                let moved = match field {
                    "day" => Some(*d + time::Duration::days(delta as i64)),
                    "month" => shift_months(*d, delta),
                    "year" => shift_months(*d, delta * 12),
                    _ => None,
                };
                if let Some(m) = moved {
                    *d = m.clamp(lo, hi);
                }
            }
            _ => {}
        }
    }

    fn submit(&mut self, now: Now, fx: &mut Vec<Effect>) {
        let (Some(m), Some(p), Some(identity)) = (
            self.municipality,
            self.procedure_def().cloned(),
            self.identity.clone(),
        ) else {
            return self.fail("outbox-error", now);
        };
        let answers = p
            .questions
            .iter()
            .zip(&self.answers)
            .map(|(q, a)| (q.id.clone(), machine_value(q, a)))
            .collect();
        self.go(Screen::Submitting, now);
        fx.push(Effect::Submit(Submission {
            municipality_code: self.world.municipalities[m].code.clone(),
            procedure_code: p.code.clone(),
            applicant: identity,
            answers,
            lang: self.lang,
        }));
    }

    fn submitted(&mut self, result: Result<Submitted, String>, now: Now, fx: &mut Vec<Effect>) {
        if self.screen != Screen::Submitting {
            return;
        }
        match result {
            Ok(s) => {
                // Durable now: the personal data is no longer needed in memory.
                self.identity = None;
                let m = &self.world.municipalities[self.municipality.unwrap_or(0)];
                let code = self.procedure_def().map(|p| p.code.as_str()).unwrap_or("");
                let job =
                    ReceiptJob::new(s.receipt_number.clone(), s.submitted_at, self.lang, m, code);
                let processing_note = job
                    .processing_from
                    .map(|t| super::processing_note(t, self.lang, m.name(self.lang)))
                    .unwrap_or_default();
                self.receipt = Some(ReceiptView {
                    number: s.receipt_number,
                    printed: false,
                    problem: "",
                    processing_note,
                });
                fx.push(Effect::Print(job));
            }
            Err(_) => self.fail("outbox-error", now),
        }
    }

    fn printed(&mut self, result: Result<(), PrintProblem>, now: Now, fx: &mut Vec<Effect>) {
        let Some(receipt) = &mut self.receipt else {
            return;
        };
        match result {
            Ok(()) => receipt.printed = true,
            Err(p) => {
                receipt.problem = p.code();
                fx.push(Effect::AlertStaff(StaffAlert::PrinterProblem));
            }
        }
        if self.screen == Screen::Submitting {
            self.go(Screen::Done, now);
        }
    }

    fn idle_exempt(&self) -> bool {
        matches!(
            self.screen,
            Screen::Welcome | Screen::Submitting | Screen::ReadingData | Screen::ReadingCard
        )
    }

    fn tick(&mut self, now: Now, fx: &mut Vec<Effect>) {
        if self.screen == Screen::CardRemoved
            && now.instant.duration_since(self.screen_since) >= self.times.card_removed
        {
            self.wipe(Screen::Welcome, now, fx);
            return;
        }
        if !self.idle_exempt()
            && now.instant.duration_since(self.last_touch)
                >= self.times.idle_warning + self.times.idle_countdown
        {
            tracing::info!(screen = ?self.screen, "idle timeout: session wiped");
            self.wipe(Screen::Welcome, now, fx);
        }
    }

    /// Seconds left in the idle countdown, when it is showing.
    fn idle_left(&self, now: Instant) -> Option<u64> {
        if self.idle_exempt() || self.screen == Screen::CardRemoved {
            return None;
        }
        let idle = now.duration_since(self.last_touch);
        (idle >= self.times.idle_warning).then(|| {
            let left = (self.times.idle_warning + self.times.idle_countdown).saturating_sub(idle);
            left.as_secs() + u64::from(left.subsec_nanos() > 0)
        })
    }

    /// What the UI shows now.
    pub fn view(&self, now: Instant) -> View {
        use Screen as S;
        let lang = self.lang;
        let step = match self.screen {
            S::Welcome | S::TakeCard | S::CardRemoved | S::Error | S::StaffPin | S::Staff => 0,
            S::InsertCard | S::ReadingCard => 1,
            S::Pin | S::PinLastTry | S::PinLocked | S::ReadingData => 2,
            S::Confirm => 3,
            S::Municipality | S::NotParticipating => 4,
            S::Procedures => 5,
            S::Question => 6,
            S::Review | S::Submitting => 7,
            S::Done => 8,
        };
        let municipality = self.municipality.map(|i| &self.world.municipalities[i]);
        let procedure = self.procedure_def();
        let tries_left = match &self.card {
            CardState::Present { tries: Some(n), .. } => *n,
            _ => 0,
        };
        let question = procedure.and_then(|p| {
            let q = p.questions.get(self.question)?;
            let a = self.answers.get(self.question)?;
            Some(QuestionView::build(
                q,
                a_ref(a),
                lang,
                self.question + 1,
                p.questions.len(),
            ))
        });
        let review = match (procedure, self.screen) {
            (Some(p), S::Review) => p
                .questions
                .iter()
                .zip(&self.answers)
                .map(|(q, a)| (q.title.get(lang.code()).to_owned(), human_value(q, a, lang)))
                .collect(),
            _ => vec![],
        };
        View {
            screen: self.screen,
            step,
            steps: if step == 0 { 0 } else { 8 },
            lang,
            busy: matches!(self.screen, S::ReadingCard | S::ReadingData | S::Submitting)
                || self.staff.busy,
            pin_max: self.pin_max(),
            staff: matches!(self.screen, S::StaffPin | S::Staff).then(|| self.staff.view(now)),
            tries_left,
            pin_length: self.pin.expose().len(),
            pin_wrong: self.pin_wrong,
            holder: self
                .identity
                .as_ref()
                .filter(|_| self.screen == S::Confirm)
                .map(|b| HolderView::from_card(b, lang)),
            municipality_name: municipality
                .map(|m| m.name(lang).to_owned())
                .or_else(|| self.other_municipality.clone())
                .unwrap_or_default(),
            opening_note: match (municipality, self.opens_at) {
                (Some(m), Some(t)) if self.screen == S::Municipality => {
                    super::processing_note(t, lang, m.name(lang))
                }
                _ => String::new(),
            },
            procedures: municipality
                .map(|m| {
                    m.catalogue
                        .procedures
                        .iter()
                        .map(|p| {
                            (
                                p.title.get(lang.code()).to_owned(),
                                p.summary.get(lang.code()).to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            procedure_title: procedure
                .map(|p| p.title.get(lang.code()).to_owned())
                .unwrap_or_default(),
            question,
            review,
            receipt: self.receipt.clone().filter(|_| self.screen == S::Done),
            idle_seconds_left: self.idle_left(now),
            staff_called: self.staff_called,
            error_code: if self.screen == S::Error {
                self.error_code
            } else {
                ""
            },
        }
    }
}

enum AnswerRef {
    Choice(Option<usize>),
    Number(i64),
    Date(time::Date),
}

fn a_ref(a: &Answer) -> AnswerRef {
    match a {
        Answer::Choice(c) => AnswerRef::Choice(*c),
        Answer::Number(n) => AnswerRef::Number(*n),
        Answer::Date(d) => AnswerRef::Date(*d),
    }
}

impl QuestionView {
    fn build(
        q: &crate::catalogue::Question,
        a: AnswerRef,
        lang: Lang,
        index: usize,
        count: usize,
    ) -> Self {
        let l = lang.code();
        let mut v = QuestionView {
            title: q.title.get(l).to_owned(),
            help: q.help.get(l).to_owned(),
            kind: "",
            choices: vec![],
            number: 0,
            unit: String::new(),
            date: None,
            date_text: String::new(),
            ready: true,
            index,
            count,
        };
        match (&q.kind, a) {
            (QuestionKind::Choice { choices }, AnswerRef::Choice(sel)) => {
                v.kind = "choice";
                v.choices = choices
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.label.get(l).to_owned(), sel == Some(i)))
                    .collect();
                v.ready = sel.is_some();
            }
            (QuestionKind::Number { unit, .. }, AnswerRef::Number(n)) => {
                v.kind = "number";
                v.number = n;
                v.unit = unit.get(l).to_owned();
            }
            (QuestionKind::Date { .. }, AnswerRef::Date(d)) => {
                v.kind = "date";
                v.date = Some(d);
                v.date_text = super::format::format_date(d, lang);
            }
            _ => {}
        }
        v
    }
}

fn machine_value(q: &crate::catalogue::Question, a: &Answer) -> String {
    match (&q.kind, a) {
        (QuestionKind::Choice { choices }, Answer::Choice(Some(i))) => {
            choices.get(*i).map(|c| c.value.clone()).unwrap_or_default()
        }
        (_, Answer::Number(n)) => n.to_string(),
        (_, Answer::Date(d)) => format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day()),
        _ => String::new(),
    }
}

fn human_value(q: &crate::catalogue::Question, a: &Answer, lang: Lang) -> String {
    match (&q.kind, a) {
        (QuestionKind::Choice { choices }, Answer::Choice(Some(i))) => choices
            .get(*i)
            .map(|c| c.label.get(lang.code()).to_owned())
            .unwrap_or_default(),
        (QuestionKind::Number { unit, .. }, Answer::Number(n)) => match lang {
            Lang::Ja => format!("{n}{}", unit.get("ja")),
            _ => format!("{n} {}", unit.get(lang.code())),
        },
        (_, Answer::Date(d)) => super::format::format_date(*d, lang),
        _ => String::new(),
    }
}

fn shift_months(d: time::Date, months: i32) -> Option<time::Date> {
    let total = d.year() * 12 + (d.month() as i32 - 1) + months;
    let (y, m) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u8);
    let month = time::Month::try_from(m).ok()?;
    let day = d.day().min(time::util::days_in_month(month, y));
    time::Date::from_calendar_date(y, month, day).ok()
}

/// The resident-facing error code for a card problem.
pub fn card_error_code(e: &CardError) -> &'static str {
    match e {
        CardError::UnsupportedCard => "unsupported-card",
        CardError::JukiCard => "juki-card",
        CardError::SmartphoneToken => "smartphone-token",
        CardError::NoTextAp => "no-text-ap",
        CardError::NoReader | CardError::NoService => "reader-missing",
        _ => "card-error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::basic4;
    use crate::catalogue::Catalogue;
    use crate::routing::{MunicipalityEntry, Router};
    use crate::session::MunicipalityInfo;
    use crate::session::UnconfirmedReceipt;
    use counter_core::hours::OpeningHours;
    use std::path::Path;

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
        };
        Arc::new(World {
            router: Router::from_entries(vec![
                entry("113263", "毛呂山町"),
                entry("113271", "越生町"),
            ]),
            municipalities: vec![MunicipalityInfo {
                code: "113263".into(),
                name_ja: "毛呂山町".into(),
                name_en: "Moroyama".into(),
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
                flow: Flow::new(world(), TIMES, Lang::Ja, now),
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
        t.intent(Intent::Adjust("number".into(), 10));
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
        assert!(!r.printed && r.problem == "paper-out");
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
        t.intent(Intent::SetLanguage(Lang::En));
        t.intent(Intent::Start);
        t.insert(3);
        t.pin(&[1, 2, 3, 4]);
        t.identity(HOME);
        let fx = t.input(Input::Card(CardEvent::Removed));
        assert!(fx.iter().any(|e| matches!(e, Effect::Wiped)));
        assert_eq!(t.flow.screen(), Screen::CardRemoved);
        let v = t.flow.view(t.now.instant);
        assert!(v.holder.is_none() && v.municipality_name.is_empty());
        assert_eq!(v.lang, Lang::Ja, "language resets for the next resident");
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
            (Screen::Error, "juki-card")
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
            (Screen::Error, "unknown-address")
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
            (Screen::Error, "outbox-error")
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
        t.intent(Intent::Adjust("month".into(), 1));
        assert_eq!(
            t.flow.view(t.now.instant).question.unwrap().date,
            Some(time::macros::date!(2026 - 12 - 05)),
            "clamped to +14 days"
        );
        t.intent(Intent::Adjust("year".into(), -1));
        assert_eq!(
            t.flow.view(t.now.instant).question.unwrap().date,
            Some(time::macros::date!(2026 - 11 - 07))
        );
        t.intent(Intent::Adjust("day".into(), 3));
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
            problem: "paper-out".into(),
        };
        t.input(Input::StaffPanel(StaffPanel {
            printer: "ready",
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
            "paper-out"
        );
        assert!(matches!(fx.as_slice(), [Effect::LoadStaffPanel]));
        t.intent(Intent::Reprint(0));
        t.input(Input::Reprinted(Ok(())));
        assert_eq!(
            t.flow.view(t.now.instant).staff.unwrap().result,
            "reprinted"
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
}
