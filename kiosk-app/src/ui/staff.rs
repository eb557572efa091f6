//! The `Staff` global's controller: renders staff mode from the view and forwards its two
//! callbacks as intents (the keypad and "back" go through the `Kiosk` global).

use super::generated::{AppWindow, Staff, StaffReceipt};
use crate::runner::SessionHandle;
use crate::session::{Input, Intent, View};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

pub fn wire(app: &AppWindow, session: SessionHandle) {
    let staff = app.global::<Staff>();
    let s = session.clone();
    staff.on_open(move || s.send(Input::Intent(Intent::StaffMode)));
    staff.on_reprint(move |i| session.send(Input::Intent(Intent::Reprint(i.max(0) as usize))));
}

pub fn apply(app: &AppWindow, v: &View) {
    let staff = app.global::<Staff>();
    let view = v.staff.clone().unwrap_or_default();
    staff.set_locked(view.locked);
    staff.set_printer_state(view.panel.printer.into());
    staff.set_last_result(view.result.into());
    staff.set_receipts(ModelRc::new(VecModel::from(
        view.panel
            .receipts
            .iter()
            .map(|r| StaffReceipt {
                number: SharedString::from(r.number.as_str()),
                submitted: SharedString::from(r.submitted.as_str()),
                municipality: SharedString::from(r.municipality.as_str()),
                procedure: SharedString::from(r.procedure.as_str()),
                problem: SharedString::from(r.problem.as_str()),
            })
            .collect::<Vec<_>>(),
    )));
}
