//! Saved: the receipt is printing. The screen stays "submitting" until the printer answers.

use super::{to, Cx, Done, Next, OnRemoval, StageInput, StageLogic, Timeout, ViewCx};
use crate::session::view::ReceiptView;
use crate::session::{Effect, Screen, StaffAlert, View};

pub struct Printing {
    pub receipt: ReceiptView,
}

impl StageLogic for Printing {
    fn screen(&self) -> Screen {
        Screen::Submitting
    }

    fn step(&self) -> usize {
        7
    }

    fn handle(mut self, input: StageInput, cx: &mut Cx) -> Next {
        let StageInput::Printed(result) = input else {
            return to(self);
        };
        match result {
            Ok(()) => self.receipt.printed = true,
            Err(p) => {
                self.receipt.problem = Some(p);
                cx.fx.push(Effect::AlertStaff(StaffAlert::PrinterProblem));
            }
        }
        to(Done {
            receipt: self.receipt,
        })
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
