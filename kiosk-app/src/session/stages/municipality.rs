//! "Your application goes to …", and when a closed municipality will process it.

use super::{to, Confirm, Cx, Next, Procedures, StageInput, StageLogic, ViewCx};
use crate::session::application::Route;
use crate::session::{processing_note, Intent, Screen, View};

pub struct Municipality(pub Route);

impl StageLogic for Municipality {
    fn screen(&self) -> Screen {
        Screen::Municipality
    }

    fn step(&self) -> usize {
        4
    }

    fn handle(self, input: StageInput, _: &mut Cx) -> Next {
        match input {
            StageInput::Intent(Intent::Next) => to(Procedures(self.0)),
            StageInput::Intent(Intent::Back) => to(Confirm {
                identity: self.0.identity,
            }),
            _ => to(self),
        }
    }

    fn render(&self, v: &mut View, cx: &ViewCx) {
        let m = self.0.municipality(cx.world);
        v.municipality_name = m.name(cx.lang).to_owned();
        if let Some(t) = self.0.opens_at {
            v.opening_note = processing_note(t, cx.lang, m.name(cx.lang));
        }
    }
}
