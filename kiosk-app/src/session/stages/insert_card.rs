//! "Insert your My Number card": waits for the card watcher.

use super::{to, Cx, Next, OnRemoval, StageInput, StageLogic, Welcome};
use crate::session::{Intent, Screen};

pub struct InsertCard;

impl StageLogic for InsertCard {
    fn screen(&self) -> Screen {
        Screen::InsertCard
    }

    fn step(&self) -> usize {
        1
    }

    fn handle(self, input: StageInput, _: &mut Cx) -> Next {
        match input {
            StageInput::Intent(Intent::Back) => Next::Wipe(Welcome.into()),
            _ => to(self),
        }
    }

    fn on_removal(&self) -> OnRemoval {
        OnRemoval::Ignore
    }

    fn awaits_card(&self) -> bool {
        true
    }
}
