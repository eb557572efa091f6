//! The receipt number, and the receipt on screen (with its QR) when the printer failed.

use super::{to, Cx, Next, OnRemoval, StageInput, StageLogic, ViewCx};
use crate::session::view::ReceiptView;
use crate::session::{Intent, Screen, View};

pub struct Done {
    pub receipt: ReceiptView,
}

impl StageLogic for Done {
    fn screen(&self) -> Screen {
        Screen::Done
    }

    fn step(&self) -> usize {
        8
    }

    fn handle(self, input: StageInput, _: &mut Cx) -> Next {
        match input {
            StageInput::Intent(Intent::Finish | Intent::Back) => Next::Finish,
            _ => to(self),
        }
    }

    fn render(&self, v: &mut View, _: &ViewCx) {
        v.receipt = Some(self.receipt.clone());
    }

    fn on_removal(&self) -> OnRemoval {
        OnRemoval::Keep
    }
}
