//! The application is being sealed and saved in the outbox; nothing personal stays here.

use super::ViewCx;
use super::{to, Cx, Failed, Next, OnRemoval, Printing, StageInput, StageLogic, Timeout};
use crate::domain::ErrorCode;
use crate::session::view::ReceiptView;
use crate::session::{processing_note, Effect, ReceiptJob, Screen, View};

pub struct Submitting {
    /// Index into `World::municipalities`.
    pub municipality: usize,
    /// Index into its catalogue.
    pub procedure: usize,
}

impl StageLogic for Submitting {
    fn screen(&self) -> Screen {
        Screen::Submitting
    }

    fn step(&self) -> usize {
        7
    }

    fn handle(self, input: StageInput, cx: &mut Cx) -> Next {
        match input {
            StageInput::Submitted(Ok(s)) => {
                let m = &cx.world.municipalities[self.municipality];
                let code = &m.catalogue.procedures[self.procedure].code;
                let job =
                    ReceiptJob::new(s.receipt_number.clone(), s.submitted_at, cx.lang, m, code);
                let note = job
                    .processing_from
                    .map(|t| processing_note(t, cx.lang, m.name(cx.lang)))
                    .unwrap_or_default();
                cx.fx.push(Effect::Print(job));
                to(Printing {
                    receipt: ReceiptView {
                        number: s.receipt_number,
                        printed: false,
                        problem: None,
                        processing_note: note,
                    },
                })
            }
            StageInput::Submitted(Err(_)) => to(Failed(ErrorCode::OutboxError)),
            _ => to(self),
        }
    }

    fn render(&self, v: &mut View, _: &ViewCx) {
        v.busy = true;
    }

    fn on_removal(&self) -> OnRemoval {
        OnRemoval::Keep
    }

    fn timeout(&self) -> Timeout {
        Timeout::Never
    }
}
