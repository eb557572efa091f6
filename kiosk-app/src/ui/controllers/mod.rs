//! One controller per `export global` of `ui/api.slint`: `wire` connects its callbacks to
//! the session, `apply` renders its part of the view.

pub mod application;
pub mod holder;
pub mod pin_pad;
pub mod receipt;
pub mod session;
pub mod staff;

pub use receipt::qr_image;

use super::generated as ui;
use crate::domain::PrintProblem;

/// The UI's spelling of a print problem (`none` when there was none).
fn print_problem(p: Option<PrintProblem>) -> ui::PrintProblem {
    match p {
        None => ui::PrintProblem::None,
        Some(PrintProblem::PaperOut) => ui::PrintProblem::PaperOut,
        Some(PrintProblem::CoverOpen) => ui::PrintProblem::CoverOpen,
        Some(PrintProblem::Offline) => ui::PrintProblem::Offline,
        Some(PrintProblem::Error) => ui::PrintProblem::Error,
        Some(PrintProblem::Unconfirmed) => ui::PrintProblem::Unconfirmed,
    }
}
