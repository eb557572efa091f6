//! "Please take your card": the session is over once the card is out.

use super::{to, Cx, Next, OnRemoval, StageInput, StageLogic, Welcome};
use crate::session::{Intent, Screen};

pub struct TakeCard;

impl StageLogic for TakeCard {
    fn screen(&self) -> Screen {
        Screen::TakeCard
    }

    fn handle(self, input: StageInput, cx: &mut Cx) -> Next {
        match input {
            StageInput::Intent(Intent::Finish) if !cx.card.is_present() => {
                Next::Wipe(Welcome.into())
            }
            _ => to(self),
        }
    }

    fn on_removal(&self) -> OnRemoval {
        OnRemoval::Done
    }
}
