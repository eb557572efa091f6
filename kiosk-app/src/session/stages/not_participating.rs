//! The resident's municipality does not take part: where to apply instead.

use super::{to, Confirm, Cx, Next, StageInput, StageLogic, ViewCx};
use crate::card::basic4::Basic4;
use crate::routing::MunicipalityEntry;
use crate::session::{local_name, Intent, Screen, View};

pub struct NotParticipating {
    pub identity: Basic4,
    pub entry: MunicipalityEntry,
}

impl StageLogic for NotParticipating {
    fn screen(&self) -> Screen {
        Screen::NotParticipating
    }

    fn step(&self) -> usize {
        4
    }

    fn handle(self, input: StageInput, _: &mut Cx) -> Next {
        match input {
            StageInput::Intent(Intent::Finish) => Next::Finish,
            StageInput::Intent(Intent::Back) => to(Confirm {
                identity: self.identity,
            }),
            _ => to(self),
        }
    }

    fn render(&self, v: &mut View, cx: &ViewCx) {
        let e = &self.entry;
        v.municipality_name = local_name(cx.lang, &e.name_ja, &e.name_en, &e.names).to_owned();
    }
}
