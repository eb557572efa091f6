//! One PIN try left: a separate confirmation before the keypad, since a wrong PIN now locks
//! the card until the municipal office resets it.

use super::{to, Cx, Next, Pin, StageInput, StageLogic, ViewCx, Welcome};
use crate::session::{Intent, Screen, View};

pub struct PinLastTry {
    /// Reached after a wrong PIN (carried to the keypad's message).
    pub wrong: bool,
}

impl StageLogic for PinLastTry {
    fn screen(&self) -> Screen {
        Screen::PinLastTry
    }

    fn step(&self) -> usize {
        2
    }

    fn handle(self, input: StageInput, _: &mut Cx) -> Next {
        match input {
            StageInput::Intent(Intent::ConfirmLastTry) => to(Pin::new(self.wrong)),
            StageInput::Intent(Intent::Back) => Next::Wipe(Welcome.into()),
            _ => to(self),
        }
    }

    fn render(&self, v: &mut View, _: &ViewCx) {
        v.pin_wrong = self.wrong;
    }
}
