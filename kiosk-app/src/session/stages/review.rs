//! All answers on one screen, and the button that sends the application.

use super::question::render_application;
use super::{to, Cx, Next, Procedures, Question, StageInput, StageLogic, Submitting, ViewCx};
use crate::session::application::{Application, Route};
use crate::session::{Effect, Intent, Screen, Submission, View};

pub struct Review(pub Application);

impl StageLogic for Review {
    fn screen(&self) -> Screen {
        Screen::Review
    }

    fn step(&self) -> usize {
        7
    }

    fn handle(mut self, input: StageInput, cx: &mut Cx) -> Next {
        match input {
            StageInput::Intent(Intent::Back) if self.0.answers.is_empty() => {
                to(Procedures(self.0.route))
            }
            StageInput::Intent(Intent::Back) => {
                self.0.question = self.0.answers.len() - 1;
                to(Question(self.0))
            }
            StageInput::Intent(Intent::Submit) => submit(self.0, cx),
            _ => to(self),
        }
    }

    fn render(&self, v: &mut View, cx: &ViewCx) {
        render_application(&self.0, v, cx);
        v.review = self.0.review(cx.world, cx.lang);
    }
}

/// Hands the application to the outbox; the card's data leaves the flow with it.
fn submit(app: Application, cx: &mut Cx) -> Next {
    let answers = app.machine_answers(cx.world);
    let procedure_code = app.procedure(cx.world).code.clone();
    let Application {
        route: Route {
            identity,
            municipality,
            ..
        },
        procedure,
        ..
    } = app;
    cx.fx.push(Effect::Submit(Submission {
        municipality_code: cx.world.municipalities[municipality].code.clone(),
        procedure_code,
        applicant: identity,
        answers,
        lang: cx.lang,
    }));
    to(Submitting {
        municipality,
        procedure,
    })
}
