//! One question of the chosen procedure at a time.

use super::{to, Cx, Next, Procedures, Review, StageInput, StageLogic, ViewCx};
use crate::session::application::Application;
use crate::session::{Intent, Screen, View};

pub struct Question(pub Application);

impl StageLogic for Question {
    fn screen(&self) -> Screen {
        Screen::Question
    }

    fn step(&self) -> usize {
        6
    }

    fn handle(mut self, input: StageInput, cx: &mut Cx) -> Next {
        let app = &mut self.0;
        match input {
            StageInput::Intent(Intent::Choose(i)) => app.choose(i),
            StageInput::Intent(Intent::Adjust(field, delta)) => {
                app.adjust(cx.world, field, delta, cx.now.today)
            }
            StageInput::Intent(Intent::Next) if app.answer_ready() => {
                if app.question + 1 < app.answers.len() {
                    app.question += 1;
                } else {
                    return to(Review(self.0));
                }
            }
            StageInput::Intent(Intent::Back) => {
                if app.question > 0 {
                    app.question -= 1;
                } else {
                    return to(Procedures(self.0.route));
                }
            }
            _ => {}
        }
        to(self)
    }

    fn render(&self, v: &mut View, cx: &ViewCx) {
        render_application(&self.0, v, cx);
        v.question = self.0.question_view(cx.world, cx.lang);
    }
}

/// What the question and review screens both show of the application.
pub(super) fn render_application(app: &Application, v: &mut View, cx: &ViewCx) {
    v.municipality_name = app.route.municipality(cx.world).name(cx.lang).to_owned();
    v.procedure_title = app.procedure(cx.world).title.get(cx.lang.code()).to_owned();
}
