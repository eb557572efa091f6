//! The resident flow's stages, one module each (as mini-redis has one module per command):
//! each stage holds only the data that exists at that point, takes the inputs it cares about
//! and says what comes next, and renders its part of the [`View`]. The rules that hold in
//! every stage (card removal, idle, language, calling staff) stay in [`super::Flow`].
//!
//! A new screen is a new module here and one line in the `stages!` list below.

mod card_removed;
mod confirm;
mod done;
mod failed;
mod insert_card;
mod municipality;
mod not_participating;
mod pin;
mod pin_last_try;
mod pin_locked;
mod printing;
mod procedures;
mod question;
mod reading;
mod review;
mod staff;
mod staff_pin;
mod submitting;
mod take_card;
mod welcome;

pub use card_removed::CardRemoved;
pub use confirm::Confirm;
pub use done::Done;
pub use failed::Failed;
pub use insert_card::InsertCard;
pub use municipality::Municipality;
pub use not_participating::NotParticipating;
pub use pin::Pin;
pub use pin_last_try::PinLastTry;
pub use pin_locked::PinLocked;
pub use printing::Printing;
pub use procedures::Procedures;
pub use question::Question;
pub use reading::Reading;
pub use review::Review;
pub use staff::Staff;
pub use staff_pin::StaffPin;
pub use submitting::Submitting;
pub use take_card::TakeCard;
pub use welcome::Welcome;

use super::flow::{CardState, Now};
use super::staff::StaffPanel;
use super::view::View;
use super::{Effect, Intent, Screen, Submitted, World};
use crate::card::basic4::Basic4;
use crate::card::CardError;
use crate::domain::{Lang, PrintProblem};

/// What a stage is told: the inputs that are not the same everywhere.
#[derive(Debug)]
pub enum StageInput {
    Intent(Intent),
    Read(Result<Basic4, CardError>),
    Submitted(Result<Submitted, String>),
    Printed(Result<(), PrintProblem>),
    /// A staff PIN check came back (already counted against the lockout).
    StaffPinChecked {
        opens: bool,
    },
    StaffPanel(StaffPanel),
    Reprinted(Result<(), PrintProblem>),
}

/// What a stage sees while it handles an input.
pub struct Cx<'a> {
    pub world: &'a World,
    pub lang: Lang,
    pub now: Now,
    pub card: &'a mut CardState,
    pub staff_locked: bool,
    pub fx: &'a mut Vec<Effect>,
}

/// What a stage sees while it renders.
pub struct ViewCx<'a> {
    pub world: &'a World,
    pub lang: Lang,
    pub staff_locked: bool,
}

/// Where the flow goes after an input.
pub enum Next {
    /// To this stage (the same one to stay).
    To(Stage),
    /// Drop everything personal, then to this stage.
    Wipe(Stage),
    /// The session is over: wipe, and ask for the card back if it is still in the reader.
    Finish,
    /// Wherever the card in the reader leads (PIN entry, or why not).
    CardFlow { pin_wrong: bool },
}

/// What the card leaving the reader means in a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRemoval {
    /// Nothing: no session is open.
    Ignore,
    /// The card was asked back: the session is over.
    Done,
    /// The application is already durable: stay, keep nothing personal.
    Keep,
    /// The session ends unsent; the resident is told so.
    Abort,
}

/// Which clock may end a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// The idle countdown.
    Idle,
    /// None: the kiosk is waiting for a device or at rest.
    Never,
    /// A notice that closes by itself after `FlowTimes::card_removed`.
    Notice,
}

/// One stage's logic. Defaults fit a screen in the middle of a session.
pub trait StageLogic: Sized + Into<Stage> {
    fn screen(&self) -> Screen;
    /// Position in the header's progress ("3 / 8"); 0 hides it.
    fn step(&self) -> usize {
        0
    }
    fn handle(self, input: StageInput, cx: &mut Cx) -> Next {
        let _ = (input, cx);
        to(self)
    }
    /// Fills this stage's part of the view (the flow fills the common part).
    fn render(&self, v: &mut View, cx: &ViewCx) {
        let _ = (v, cx);
    }
    fn on_removal(&self) -> OnRemoval {
        OnRemoval::Abort
    }
    fn timeout(&self) -> Timeout {
        Timeout::Idle
    }
    /// A card inserted now starts (or restarts) the card flow.
    fn awaits_card(&self) -> bool {
        false
    }
}

macro_rules! stages {
    ($($name:ident),* $(,)?) => {
        /// Where the resident is, with exactly the data that exists there.
        pub enum Stage {
            $($name($name)),*
        }

        $(impl From<$name> for Stage {
            fn from(s: $name) -> Self {
                Stage::$name(s)
            }
        })*

        impl Stage {
            pub fn screen(&self) -> Screen {
                match self { $(Stage::$name(s) => s.screen()),* }
            }
            pub fn step(&self) -> usize {
                match self { $(Stage::$name(s) => s.step()),* }
            }
            pub fn handle(self, input: StageInput, cx: &mut Cx) -> Next {
                match self { $(Stage::$name(s) => s.handle(input, cx)),* }
            }
            pub fn render(&self, v: &mut View, cx: &ViewCx) {
                match self { $(Stage::$name(s) => s.render(v, cx)),* }
            }
            pub fn on_removal(&self) -> OnRemoval {
                match self { $(Stage::$name(s) => s.on_removal()),* }
            }
            pub fn timeout(&self) -> Timeout {
                match self { $(Stage::$name(s) => s.timeout()),* }
            }
            pub fn awaits_card(&self) -> bool {
                match self { $(Stage::$name(s) => s.awaits_card()),* }
            }
        }
    };
}

stages! {
    Welcome,
    InsertCard,
    Pin,
    PinLastTry,
    PinLocked,
    Reading,
    Confirm,
    Municipality,
    NotParticipating,
    Procedures,
    Question,
    Review,
    Submitting,
    Printing,
    Done,
    TakeCard,
    CardRemoved,
    Failed,
    StaffPin,
    Staff,
}

impl std::fmt::Debug for Stage {
    /// The screen only: stages hold personal data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.screen())
    }
}

/// To `stage` (or stay in it: the answer to every input a stage does not take).
pub fn to(stage: impl Into<Stage>) -> Next {
    Next::To(stage.into())
}
