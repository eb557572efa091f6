//! What the session and the outbox are told of a worker's outcome: decisions only, no IO,
//! so that each rule has a unit test (as `counter_core::client::classify` does for replies).

use crate::domain::{PrintProblem, PrinterState};
use crate::receipt::printer::{PrinterError, PrinterStatus};
use crate::watchdog::Outcome;

/// What the resident and the outbox are told of a print: `None` when the printer confirmed
/// it. A print that did not end in time is unconfirmed (it may yet come out of the printer);
/// one whose worker crashed is an error.
pub fn print_problem(
    receipt: &str,
    outcome: Outcome<Result<PrinterStatus, PrinterError>>,
) -> Option<PrintProblem> {
    match outcome {
        Outcome::Done(Ok(status)) => {
            if status.paper_near_end {
                tracing::warn!(alert = "paper-near-end", "printer paper is nearly out");
            }
            tracing::info!(receipt = %receipt, "receipt printed and confirmed");
            None
        }
        Outcome::Done(Err(e)) => {
            tracing::error!(receipt = %receipt, error = %e, "receipt not printed; shown on screen");
            Some(e.problem())
        }
        Outcome::Late => {
            tracing::error!(receipt = %receipt, "the printer did not finish in time; receipt unconfirmed");
            Some(PrintProblem::Unconfirmed)
        }
        Outcome::Crashed => {
            tracing::error!(receipt = %receipt, "the print worker crashed; receipt not confirmed");
            Some(PrintProblem::Error)
        }
    }
}

/// The printer as staff mode shows it: a printer that does not answer in time is offline.
pub fn panel_printer(outcome: Outcome<PrinterState>) -> PrinterState {
    match outcome {
        Outcome::Done(state) => state,
        Outcome::Late => PrinterState::Problem(PrintProblem::Offline),
        Outcome::Crashed => PrinterState::Problem(PrintProblem::Error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_print_is_confirmed_only_by_the_printer() {
        let near_end = PrinterStatus {
            paper_near_end: true,
            ..PrinterStatus::default()
        };
        assert_eq!(print_problem("R", Outcome::Done(Ok(near_end))), None);
        assert_eq!(
            print_problem("R", Outcome::Done(Err(PrinterError::Silent))),
            Some(PrintProblem::Offline)
        );
        assert_eq!(
            print_problem("R", Outcome::Done(Err(PrinterError::Unconfirmed))),
            Some(PrintProblem::Unconfirmed)
        );
        assert_eq!(
            print_problem("R", Outcome::Late),
            Some(PrintProblem::Unconfirmed)
        );
        assert_eq!(
            print_problem("R", Outcome::Crashed),
            Some(PrintProblem::Error)
        );
    }

    #[test]
    fn a_printer_that_does_not_answer_is_offline_to_staff() {
        assert_eq!(
            panel_printer(Outcome::Done(PrinterState::NearEnd)),
            PrinterState::NearEnd
        );
        assert_eq!(
            panel_printer(Outcome::Late),
            PrinterState::Problem(PrintProblem::Offline)
        );
        assert_eq!(
            panel_printer(Outcome::Crashed),
            PrinterState::Problem(PrintProblem::Error)
        );
    }
}
