//! "Your card was removed — nothing was sent": closes by itself, or with a new card.

use super::{to, Cx, Next, OnRemoval, StageInput, StageLogic, Timeout, Welcome};
use crate::session::{Intent, Screen};

pub struct CardRemoved;

impl StageLogic for CardRemoved {
    fn screen(&self) -> Screen {
        Screen::CardRemoved
    }

    fn handle(self, input: StageInput, _: &mut Cx) -> Next {
        match input {
            StageInput::Intent(Intent::Finish | Intent::Back) => Next::Wipe(Welcome.into()),
            _ => to(self),
        }
    }

    fn on_removal(&self) -> OnRemoval {
        OnRemoval::Ignore
    }

    fn timeout(&self) -> Timeout {
        Timeout::Notice
    }

    fn awaits_card(&self) -> bool {
        true
    }
}
