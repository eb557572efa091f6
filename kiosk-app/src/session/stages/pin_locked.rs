//! The PIN is locked: where to have it reset.

use super::{to, Cx, Next, StageInput, StageLogic};
use crate::session::{Intent, Screen};

pub struct PinLocked;

impl StageLogic for PinLocked {
    fn screen(&self) -> Screen {
        Screen::PinLocked
    }

    fn step(&self) -> usize {
        2
    }

    fn handle(self, input: StageInput, _: &mut Cx) -> Next {
        match input {
            StageInput::Intent(Intent::Finish | Intent::Back) => Next::Finish,
            _ => to(self),
        }
    }
}
