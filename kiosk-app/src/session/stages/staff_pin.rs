//! Staff mode's door: the 6-digit staff PIN, checked off the session thread against the
//! configured hash; mistakes count against the lockout even after leaving.

use super::{to, Cx, Next, Staff, StageInput, StageLogic, ViewCx, Welcome};
use crate::session::keypad::Keypad;
use crate::session::{Effect, Intent, Screen, StaffView, View, STAFF_PIN_LEN};

pub struct StaffPin {
    keypad: Keypad,
    wrong: bool,
    /// A check is under way: no second one.
    checking: bool,
}

impl StaffPin {
    pub fn new() -> Self {
        StaffPin {
            keypad: Keypad::new(STAFF_PIN_LEN),
            wrong: false,
            checking: false,
        }
    }
}

impl StageLogic for StaffPin {
    fn screen(&self) -> Screen {
        Screen::StaffPin
    }

    fn handle(mut self, input: StageInput, cx: &mut Cx) -> Next {
        match input {
            // A locked staff mode takes no digits; a digit taken clears "wrong PIN".
            StageInput::Intent(Intent::PinDigit(d)) if !cx.staff_locked => {
                self.wrong &= !self.keypad.press(d)
            }
            StageInput::Intent(Intent::PinDelete) => self.keypad.delete(),
            StageInput::Intent(Intent::PinSubmit)
                if self.keypad.is_full() && !self.checking && !cx.staff_locked =>
            {
                self.checking = true;
                cx.fx.push(Effect::CheckStaffPin(self.keypad.take()));
            }
            StageInput::Intent(Intent::Back | Intent::Finish) => return Next::Wipe(Welcome.into()),
            StageInput::StaffPinChecked { opens } => {
                self.checking = false;
                if opens {
                    cx.fx.push(Effect::LoadStaffPanel);
                    return to(Staff::default());
                }
                self.wrong = true;
            }
            _ => {}
        }
        to(self)
    }

    fn render(&self, v: &mut View, cx: &ViewCx) {
        v.pin_length = self.keypad.len();
        v.pin_max = self.keypad.max();
        v.pin_wrong = self.wrong;
        v.busy = self.checking;
        v.staff = Some(StaffView {
            locked: cx.staff_locked,
            busy: self.checking,
            ..StaffView::default()
        });
    }
}
