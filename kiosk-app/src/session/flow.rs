//! The resident flow. Pure: time comes in with every input, effects go out as values.
//!
//! [`Flow`] keeps what holds in every stage — the card in the reader, the language, the idle
//! clock, a call for staff, the staff PIN lockout — and hands everything else to the current
//! [`Stage`](super::stages::Stage), which says where to go next.

use super::staff::{StaffPanel, StaffState};
use super::stages::{
    CardRemoved, Cx, Failed, InsertCard, Next, OnRemoval, Pin, PinLastTry, PinLocked, Stage,
    StageInput, TakeCard, Timeout, ViewCx, Welcome,
};
use super::view::View;
use super::{Effect, Screen, StaffAlert, Submitted, World};
use crate::card::ops::CardKind;
use crate::domain::{CardEvent, CardInsertion, ErrorCode, Lang, PrintProblem};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The clock, passed in so that the flow is testable without waiting.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// For timeouts (monotonic).
    pub instant: Instant,
    /// Japan's date today, for date questions.
    pub today: time::Date,
    /// Wall-clock time, for the municipalities' opening hours.
    pub wall: time::OffsetDateTime,
}

impl Now {
    /// The system's clocks.
    pub fn system() -> Self {
        let local = counter_core::hours::japan_now();
        Now {
            instant: Instant::now(),
            today: local.date(),
            wall: local,
        }
    }
}

/// How long the flow waits for the resident (from the config).
#[derive(Debug, Clone, Copy)]
pub struct FlowTimes {
    /// Without a touch, then the countdown shows.
    pub idle_warning: Duration,
    /// The countdown's length; then the session is wiped.
    pub idle_countdown: Duration,
    /// How long "your card was removed" stays up.
    pub card_removed: Duration,
}

/// What a stepper moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The year of a date.
    Year,
    /// The month of a date.
    Month,
    /// The day of a date.
    Day,
    /// A number question's value.
    Number,
}

/// What the resident did on screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// Show the UI in this language (reset for the next resident).
    SetLanguage(Lang),
    /// "Start" on the welcome screen.
    Start,
    /// One digit on the keypad (0–9).
    PinDigit(u8),
    /// The keypad's delete key.
    PinDelete,
    /// The keypad's OK.
    PinSubmit,
    /// "I understand" on the last-try screen.
    ConfirmLastTry,
    /// Back, or leave.
    Back,
    /// On to the next screen.
    Next,
    /// The n-th procedure of the list.
    ChooseProcedure(usize),
    /// The n-th option of a choice question.
    Choose(usize),
    /// Move a number or a date field by a delta.
    Adjust(Field, i32),
    /// Send the application.
    Submit,
    /// End the session.
    Finish,
    /// A touch on the idle countdown.
    StillHere,
    /// "Call staff".
    CallStaff,
    /// Staff came: close the overlay.
    DismissStaff,
    /// Open staff mode (welcome screen only).
    StaffMode,
    /// Reprint the n-th receipt of the staff list.
    Reprint(usize),
}

/// Everything the flow takes: the resident's intents, the card service's events and the workers' answers.
#[derive(Debug)]
pub enum Input {
    /// The resident did something.
    Intent(Intent),
    /// The card service saw something.
    Card(CardEvent),
    /// The outbox saved (or could not save) the application.
    Submitted(Result<Submitted, String>),
    /// The printer printed the receipt, or why not.
    Printed(Result<(), PrintProblem>),
    /// The staff PIN was right or not.
    StaffPinChecked(bool),
    /// Staff mode's printer state and reprint list.
    StaffPanel(StaffPanel),
    /// A reprint's outcome.
    Reprinted(Result<(), PrintProblem>),
    /// Periodic clock tick for timeouts.
    Tick,
}

/// The card in the reader, as the card service last reported it.
#[derive(Debug, Clone, PartialEq)]
pub enum CardState {
    Unknown,
    Problem,
    Absent,
    Present {
        kind: CardKind,
        tries: Option<u8>,
        error: Option<crate::card::CardError>,
        /// Which card it is: the PIN typed after seeing `tries` is tried on this card only.
        insertion: CardInsertion,
    },
}

impl CardState {
    pub fn is_present(&self) -> bool {
        matches!(self, CardState::Present { .. })
    }

    /// What the card said of its PIN tries after a read.
    pub fn set_tries(&mut self, n: u8) {
        if let CardState::Present { tries, .. } = self {
            *tries = Some(n);
        }
    }

    /// Where this card leads: PIN entry, or why not.
    fn leads_to(&self, pin_wrong: bool) -> Stage {
        match self {
            CardState::Present { error: Some(e), .. } => Failed(ErrorCode::of_card(e)).into(),
            CardState::Present { kind, .. } if *kind != CardKind::MyNumberCard => {
                let refusal = kind.check_usable().err();
                Failed(refusal.map_or(ErrorCode::CardError, |e| ErrorCode::of_card(&e))).into()
            }
            CardState::Present { tries: Some(0), .. } => PinLocked.into(),
            CardState::Present { tries: Some(1), .. } => PinLastTry { wrong: pin_wrong }.into(),
            CardState::Present { tries: Some(_), .. } => Pin::new(pin_wrong).into(),
            CardState::Present { tries: None, .. } => Failed(ErrorCode::CardError).into(),
            CardState::Problem => Failed(ErrorCode::ReaderMissing).into(),
            CardState::Absent | CardState::Unknown => InsertCard.into(),
        }
    }
}

/// The resident flow: the rules that hold in every stage, and the current stage.
pub struct Flow {
    world: Arc<World>,
    times: FlowTimes,
    default_lang: Lang,
    lang: Lang,
    stage: Stage,
    card: CardState,
    last_touch: Instant,
    stage_since: Instant,
    staff_called: bool,
    /// Outlives staff mode: mistakes count even after leaving, and survive restarts.
    lockout: StaffState,
}

impl Flow {
    /// A flow on the welcome screen in `default_lang`.
    pub fn new(world: Arc<World>, times: FlowTimes, default_lang: Lang, now: Now) -> Self {
        Flow {
            world,
            times,
            default_lang,
            lang: default_lang,
            stage: Welcome.into(),
            card: CardState::Unknown,
            last_touch: now.instant,
            stage_since: now.instant,
            staff_called: false,
            lockout: StaffState::default(),
        }
    }

    /// The screen the resident sees.
    pub fn screen(&self) -> Screen {
        self.stage.screen()
    }

    /// The resident's language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Takes over the staff PIN lockout saved before a restart (the runner loads it at start).
    pub fn restore_staff_lockout(&mut self, saved: super::StaffLockout, now: Now) {
        self.lockout
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

    /// Takes one input at `now` and returns what the outside world must do.
    pub fn handle(&mut self, input: Input, now: Now) -> Vec<Effect> {
        let mut fx = vec![];
        let to_stage = match input {
            Input::Intent(intent) => {
                self.last_touch = now.instant;
                match intent {
                    Intent::SetLanguage(l) => self.lang = l,
                    Intent::StillHere => {}
                    Intent::CallStaff => {
                        self.staff_called = true;
                        fx.push(Effect::AlertStaff(StaffAlert::ResidentCalled));
                    }
                    Intent::DismissStaff => self.staff_called = false,
                    // Everything else is the stage's.
                    other => return self.dispatch(StageInput::Intent(other), now, fx),
                }
                None
            }
            Input::Card(CardEvent::Read(result)) => Some(StageInput::Read(result)),
            Input::Card(event) => {
                self.card_event(event, now, &mut fx);
                None
            }
            Input::Submitted(result) => Some(StageInput::Submitted(result)),
            Input::Printed(result) => Some(StageInput::Printed(result)),
            Input::StaffPinChecked(ok) => {
                // Counted even when staff mode was left meanwhile: leaving right after each
                // submit must not make mistakes free.
                let opens = self.lockout.checked(ok, now.instant);
                let unix = now.wall.unix_timestamp();
                if let Some(record) = self.lockout.take_unsaved(now.instant, unix, false) {
                    fx.push(Effect::SaveStaffLockout(record));
                }
                Some(StageInput::StaffPinChecked { opens })
            }
            Input::StaffPanel(panel) => Some(StageInput::StaffPanel(panel)),
            Input::Reprinted(result) => Some(StageInput::Reprinted(result)),
            Input::Tick => {
                self.tick(now, &mut fx);
                None
            }
        };
        match to_stage {
            Some(input) => self.dispatch(input, now, fx),
            None => fx,
        }
    }

    /// Lets the current stage take `input`, then goes where it says.
    fn dispatch(&mut self, input: StageInput, now: Now, mut fx: Vec<Effect>) -> Vec<Effect> {
        let before = self.stage.screen();
        let stage = std::mem::replace(&mut self.stage, Welcome.into());
        let mut cx = Cx {
            world: &self.world,
            lang: self.lang,
            now,
            card: &mut self.card,
            staff_locked: self.lockout.locked(now.instant),
            fx: &mut fx,
        };
        match stage.handle(input, &mut cx) {
            Next::To(stage) => self.go(before, stage, now),
            Next::Wipe(to) => self.wipe(before, to, now, &mut fx),
            Next::Finish => {
                let to = self.after_session();
                self.wipe(before, to, now, &mut fx);
            }
            Next::CardFlow { pin_wrong } => {
                let to = self.card.leads_to(pin_wrong);
                self.go(before, to, now);
            }
        }
        fx
    }

    /// Where the resident goes when a session ends: the card back first, if it is in.
    fn after_session(&self) -> Stage {
        if self.card.is_present() {
            TakeCard.into()
        } else {
            Welcome.into()
        }
    }

    /// Goes to `stage` from screen `from`; a new screen restarts the screen's clocks.
    fn go(&mut self, from: Screen, stage: Stage, now: Now) {
        self.stage = stage;
        if self.stage.screen() != from {
            self.stage_since = now.instant;
            self.last_touch = now.instant;
        }
    }

    /// Drops everything personal (the stage and its data) and goes to `to`.
    fn wipe(&mut self, from: Screen, to: Stage, now: Now, fx: &mut Vec<Effect>) {
        self.staff_called = false;
        let unix = now.wall.unix_timestamp();
        if let Some(record) = self.lockout.take_unsaved(now.instant, unix, true) {
            fx.push(Effect::SaveStaffLockout(record));
        }
        self.lang = self.default_lang;
        self.go(from, to, now);
        fx.push(Effect::Wiped);
    }

    /// The card rules: they hold whatever the stage.
    fn card_event(&mut self, event: CardEvent, now: Now, fx: &mut Vec<Effect>) {
        let had_card = self.card.is_present();
        let from = self.stage.screen();
        match event {
            CardEvent::ReaderProblem(_) => {
                self.card = CardState::Problem;
                if had_card {
                    self.removed(now, fx);
                } else if self.stage.screen() == Screen::InsertCard {
                    self.go(from, Failed(ErrorCode::ReaderMissing).into(), now);
                }
            }
            CardEvent::NoCard => {
                self.card = CardState::Absent;
                if had_card {
                    self.removed(now, fx);
                } else if matches!(self.stage, Stage::Failed(Failed(ErrorCode::ReaderMissing))) {
                    self.wipe(from, Welcome.into(), now, fx);
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
                if !first_sight && self.stage.awaits_card() {
                    self.go(from, self.card.leads_to(false), now);
                }
            }
            CardEvent::Removed => {
                self.card = CardState::Absent;
                self.removed(now, fx);
            }
            CardEvent::Read(_) => unreachable!("a read result goes to the stage"),
        }
    }

    fn removed(&mut self, now: Now, fx: &mut Vec<Effect>) {
        let from = self.stage.screen();
        match self.stage.on_removal() {
            OnRemoval::Ignore => {}
            OnRemoval::Done => self.wipe(from, Welcome.into(), now, fx),
            // The application is already durable and the stage holds nothing personal; the
            // screen is cleared of anything that was on it.
            OnRemoval::Keep => fx.push(Effect::Wiped),
            OnRemoval::Abort => self.wipe(from, CardRemoved.into(), now, fx),
        }
    }

    fn tick(&mut self, now: Now, fx: &mut Vec<Effect>) {
        let from = self.stage.screen();
        match self.stage.timeout() {
            Timeout::Never => {}
            Timeout::Notice => {
                if now.instant.duration_since(self.stage_since) >= self.times.card_removed {
                    self.wipe(from, Welcome.into(), now, fx);
                }
            }
            Timeout::Idle => {
                let limit = self.times.idle_warning + self.times.idle_countdown;
                if now.instant.duration_since(self.last_touch) >= limit {
                    tracing::info!(screen = ?from, "idle timeout: session wiped");
                    self.wipe(from, Welcome.into(), now, fx);
                }
            }
        }
    }

    /// Seconds left in the idle countdown, when it is showing.
    fn idle_left(&self, now: Instant) -> Option<u64> {
        if self.stage.timeout() != Timeout::Idle {
            return None;
        }
        let idle = now.duration_since(self.last_touch);
        (idle >= self.times.idle_warning).then(|| {
            let left = (self.times.idle_warning + self.times.idle_countdown).saturating_sub(idle);
            left.as_secs() + u64::from(left.subsec_nanos() > 0)
        })
    }

    /// What the UI shows now: the common part here, the rest from the stage.
    pub fn view(&self, now: Instant) -> View {
        let step = self.stage.step();
        let mut v = View {
            screen: self.stage.screen(),
            step,
            steps: if step == 0 { 0 } else { 8 },
            lang: self.lang,
            busy: false,
            tries_left: match &self.card {
                CardState::Present { tries: Some(n), .. } => *n,
                _ => 0,
            },
            pin_length: 0,
            pin_max: 4,
            pin_wrong: false,
            holder: None,
            municipality_name: String::new(),
            opening_note: String::new(),
            procedures: vec![],
            procedure_title: String::new(),
            question: None,
            review: vec![],
            receipt: None,
            idle_seconds_left: self.idle_left(now),
            staff_called: self.staff_called,
            error_code: None,
            staff: None,
        };
        let cx = ViewCx {
            world: &self.world,
            lang: self.lang,
            staff_locked: self.lockout.locked(now),
        };
        self.stage.render(&mut v, &cx);
        v
    }
}
