//! The welcome screen: language choice, start, and the way into staff mode (only here, so
//! that no resident's data is ever on screen with it).

use super::{to, Cx, Next, OnRemoval, StaffPin, StageInput, StageLogic, Timeout};
use crate::session::{Intent, Screen};

pub struct Welcome;

impl StageLogic for Welcome {
    fn screen(&self) -> Screen {
        Screen::Welcome
    }

    fn handle(self, input: StageInput, _: &mut Cx) -> Next {
        match input {
            StageInput::Intent(Intent::Start) => Next::CardFlow { pin_wrong: false },
            StageInput::Intent(Intent::StaffMode) => to(StaffPin::new()),
            _ => to(self),
        }
    }

    fn on_removal(&self) -> OnRemoval {
        OnRemoval::Ignore
    }

    fn timeout(&self) -> Timeout {
        Timeout::Never
    }

    fn awaits_card(&self) -> bool {
        true
    }
}
