//! The procedures the resident's municipality takes at this counter.

use super::{to, Cx, Municipality, Next, Question, Review, StageInput, StageLogic, ViewCx};
use crate::session::application::{Application, Route};
use crate::session::{Intent, Screen, View};

pub struct Procedures(pub Route);

impl StageLogic for Procedures {
    fn screen(&self) -> Screen {
        Screen::Procedures
    }

    fn step(&self) -> usize {
        5
    }

    fn handle(self, input: StageInput, cx: &mut Cx) -> Next {
        match input {
            StageInput::Intent(Intent::Back) => to(Municipality(self.0)),
            StageInput::Intent(Intent::ChooseProcedure(i)) => {
                match Application::start(self.0, i, cx.world, cx.now.today) {
                    Ok(app) if app.answers.is_empty() => to(Review(app)),
                    Ok(app) => to(Question(app)),
                    Err(route) => to(Procedures(route)),
                }
            }
            _ => to(self),
        }
    }

    fn render(&self, v: &mut View, cx: &ViewCx) {
        let m = self.0.municipality(cx.world);
        let l = cx.lang.code();
        v.municipality_name = m.name(cx.lang).to_owned();
        v.procedures = m
            .catalogue
            .procedures
            .iter()
            .map(|p| (p.title.get(l).to_owned(), p.summary.get(l).to_owned()))
            .collect();
    }
}
