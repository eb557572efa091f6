//! The `Staff` global: staff mode's printer state, reprint list and last reprint.

use super::print_problem;
use crate::domain::{PrintProblem, PrinterState};
use crate::runner::SessionHandle;
use crate::session::{Input, Intent, View};
use crate::ui::generated::{self as ui, AppWindow, Staff, StaffReceipt};
use crate::ui::rows;
use slint::ComponentHandle;

pub fn wire(app: &AppWindow, session: SessionHandle) {
    let g = app.global::<Staff>();
    g.set_receipts(rows::model());
    let s = session.clone();
    g.on_open(move || s.send(Input::Intent(Intent::StaffMode)));
    g.on_reprint(move |i| session.send(Input::Intent(Intent::Reprint(i.max(0) as usize))));
}

pub fn apply(app: &AppWindow, v: &View) {
    let g = app.global::<Staff>();
    let view = v.staff.clone().unwrap_or_default();
    g.set_locked(view.locked);
    g.set_printer_state(match view.panel.printer {
        None => ui::PrinterState::Unknown,
        Some(PrinterState::Ready) => ui::PrinterState::Ready,
        Some(PrinterState::NearEnd) => ui::PrinterState::NearEnd,
        Some(PrinterState::WriteOnly) => ui::PrinterState::WriteOnly,
        Some(PrinterState::Problem(p)) => match p {
            PrintProblem::PaperOut => ui::PrinterState::PaperOut,
            PrintProblem::CoverOpen => ui::PrinterState::CoverOpen,
            PrintProblem::Offline => ui::PrinterState::Offline,
            PrintProblem::Unconfirmed => ui::PrinterState::Unconfirmed,
            PrintProblem::Error => ui::PrinterState::Error,
        },
    });
    let (result, problem) = match view.result {
        None => (ui::ReprintResult::None, None),
        Some(Ok(())) => (ui::ReprintResult::Reprinted, None),
        Some(Err(p)) => (ui::ReprintResult::Failed, Some(p)),
    };
    g.set_last_result(result);
    g.set_last_problem(print_problem(problem));
    let receipts: Vec<_> = view
        .panel
        .receipts
        .iter()
        .map(|r| StaffReceipt {
            number: r.number.as_str().into(),
            submitted: r.submitted.as_str().into(),
            municipality: r.municipality.as_str().into(),
            procedure: r.procedure.as_str().into(),
            problem: print_problem(r.problem),
        })
        .collect();
    rows::sync(&g.get_receipts(), &receipts);
}
