//! The PIN was sent: the card service verifies it and reads the four attributes.

use super::{to, CardRemoved, Confirm, Cx, Failed, Next, PinLocked, StageInput, StageLogic};
use super::{Timeout, ViewCx};
use crate::card::CardError;
use crate::domain::ErrorCode;
use crate::session::flow::CardState;
use crate::session::{Screen, View};

pub struct Reading;

impl StageLogic for Reading {
    fn screen(&self) -> Screen {
        Screen::ReadingData
    }

    fn step(&self) -> usize {
        2
    }

    fn handle(self, input: StageInput, cx: &mut Cx) -> Next {
        let StageInput::Read(result) = input else {
            return to(self);
        };
        match result {
            Ok(identity) => {
                cx.card.set_tries(3);
                to(Confirm { identity })
            }
            Err(CardError::WrongPin { tries_left }) => {
                cx.card.set_tries(tries_left);
                Next::CardFlow { pin_wrong: true }
            }
            Err(CardError::PinLocked) => {
                cx.card.set_tries(0);
                to(PinLocked)
            }
            // Removed, or swapped before the PIN was tried: the session ends either way; the
            // card now in the reader (if any) starts afresh when the watcher reports it.
            Err(CardError::CardRemoved | CardError::NoCard | CardError::CardChanged) => {
                *cx.card = CardState::Absent;
                Next::Wipe(CardRemoved.into())
            }
            Err(e) => to(Failed(ErrorCode::of_card(&e))),
        }
    }

    fn render(&self, v: &mut View, _: &ViewCx) {
        v.busy = true;
    }

    fn timeout(&self) -> Timeout {
        Timeout::Never
    }
}
