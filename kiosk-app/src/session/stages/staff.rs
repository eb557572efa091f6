//! Staff mode: the printer's state and the receipts the printer never confirmed, each of
//! which can be reprinted (one at a time).

use super::{to, Cx, Next, StageInput, StageLogic, ViewCx, Welcome};
use crate::domain::PrintProblem;
use crate::session::{Effect, Intent, Screen, StaffPanel, StaffView, View};

#[derive(Default)]
pub struct Staff {
    /// `None` until the panel has been read.
    panel: Option<StaffPanel>,
    /// A reprint is under way.
    busy: bool,
    /// The outcome of the last reprint.
    result: Option<Result<(), PrintProblem>>,
}

impl StageLogic for Staff {
    fn screen(&self) -> Screen {
        Screen::Staff
    }

    fn handle(mut self, input: StageInput, cx: &mut Cx) -> Next {
        match input {
            StageInput::Intent(Intent::Reprint(i)) if !self.busy => {
                let number = self.panel.as_ref().and_then(|p| p.receipts.get(i));
                if let Some(number) = number.map(|r| r.number.clone()) {
                    self.busy = true;
                    self.result = None;
                    cx.fx.push(Effect::Reprint(number));
                }
            }
            StageInput::Intent(Intent::Back | Intent::Finish) => return Next::Wipe(Welcome.into()),
            StageInput::StaffPanel(panel) => self.panel = Some(panel),
            StageInput::Reprinted(result) => {
                self.busy = false;
                self.result = Some(result);
                cx.fx.push(Effect::LoadStaffPanel);
            }
            _ => {}
        }
        to(self)
    }

    fn render(&self, v: &mut View, cx: &ViewCx) {
        v.busy = self.busy;
        v.staff = Some(StaffView {
            locked: cx.staff_locked,
            busy: self.busy,
            panel: self.panel.clone().unwrap_or_default(),
            result: self.result,
        });
    }
}
