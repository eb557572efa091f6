//! Any problem that ends the session, explained by its code in the resident's language.

use super::{to, Cx, Next, StageInput, StageLogic, ViewCx};
use crate::domain::ErrorCode;
use crate::session::{Intent, Screen, View};

pub struct Failed(pub ErrorCode);

impl StageLogic for Failed {
    fn screen(&self) -> Screen {
        Screen::Error
    }

    fn handle(self, input: StageInput, _: &mut Cx) -> Next {
        match input {
            StageInput::Intent(Intent::Finish | Intent::Back) => Next::Finish,
            _ => to(self),
        }
    }

    fn render(&self, v: &mut View, _: &ViewCx) {
        v.error_code = Some(self.0);
    }

    /// A reader that comes back (with a card) takes the resident on.
    fn awaits_card(&self) -> bool {
        self.0 == ErrorCode::ReaderMissing
    }
}
