//! The card's 4-digit PIN (券面事項入力補助用): typed on the keypad, sent once, never kept.

use super::{to, Cx, Next, Reading, StageInput, StageLogic, ViewCx, Welcome};
use crate::secret;
use crate::session::keypad::Keypad;
use crate::session::{Effect, Intent, Screen, View};

pub struct Pin {
    keypad: Keypad,
    /// The last PIN was wrong (the message stays until a digit is typed).
    wrong: bool,
}

impl Pin {
    pub fn new(wrong: bool) -> Self {
        Pin {
            keypad: Keypad::new(4),
            wrong,
        }
    }
}

impl StageLogic for Pin {
    fn screen(&self) -> Screen {
        Screen::Pin
    }

    fn step(&self) -> usize {
        2
    }

    fn handle(mut self, input: StageInput, cx: &mut Cx) -> Next {
        let StageInput::Intent(intent) = input else {
            return to(self);
        };
        match intent {
            // A digit taken clears the "wrong PIN" message.
            Intent::PinDigit(d) => self.wrong &= !self.keypad.press(d),
            Intent::PinDelete => self.keypad.delete(),
            Intent::PinSubmit => {
                if let Ok(pin) = secret::Pin::new_4_digits(self.keypad.digits()) {
                    drop(self.keypad.take());
                    cx.fx.push(Effect::ReadCard(pin));
                    return to(Reading);
                }
            }
            Intent::Back => return Next::Wipe(Welcome.into()),
            _ => {}
        }
        to(self)
    }

    fn render(&self, v: &mut View, _: &ViewCx) {
        v.pin_length = self.keypad.len();
        v.pin_max = self.keypad.max();
        v.pin_wrong = self.wrong;
    }
}
