//! Carries out the session's effects on the devices: the card service, the outbox and the
//! printer. Each effect is one method; what an outcome means is decided in [`super::outcome`].

use super::outcome::{panel_printer, print_problem};
use super::worker::worker;
use crate::card::pcsc_reader::{CardCommand, CardService};
use crate::card::CardError;
use crate::domain::{CardEvent, CardInsertion, PrintProblem};
use crate::receipt::printer::{PrinterError, PrinterStatus};
use crate::receipt::service::{self, ReceiptPrinter, ReprintError};
use crate::secret::{Pin, Secret};
use crate::session::{Effect, Input, ReceiptJob, StaffLockout, StaffPanel, Submission, World};
use crate::submit::Submitter;
use crate::watchdog::Outcome;
use counter_core::outbox::{Outbox, OutboxError};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;

/// Everything the effects act on, owned by the session thread.
pub struct Devices {
    pub card: CardService,
    pub submitter: Submitter,
    pub printer: ReceiptPrinter,
    pub staff_pin_hash: Option<String>,
    pub outbox_path: PathBuf,
    pub lockout_path: PathBuf,
    pub world: Arc<World>,
    /// The session's own input queue: results come back through it.
    pub tx: Sender<Input>,
}

impl Devices {
    /// Carries out `effect`. `pin_card` is the card (and tries shown) a PIN read is for.
    pub fn run(&mut self, effect: Effect, pin_card: Option<(CardInsertion, u8)>) {
        match effect {
            Effect::ReadCard(pin) => self.read_card(pin, pin_card),
            Effect::Submit(submission) => self.submit(submission),
            Effect::Print(job) => self.print(job),
            Effect::CheckStaffPin(pin) => self.check_staff_pin(pin),
            Effect::LoadStaffPanel => self.load_staff_panel(),
            Effect::Reprint(receipt) => self.reprint(receipt),
            Effect::SaveStaffLockout(state) => self.save_lockout(&state),
            Effect::AlertStaff(alert) => tracing::warn!(alert = ?alert, "staff alert"),
            Effect::Wiped => tracing::info!("session wiped"),
        }
    }

    fn answer(&self, input: Input) {
        let _ = self.tx.send(input);
    }

    fn read_card(&self, pin: Pin, pin_card: Option<(CardInsertion, u8)>) {
        match pin_card {
            Some((insertion, tries_shown)) => self.card.send(CardCommand::ReadBasic4 {
                pin,
                insertion,
                tries_shown,
            }),
            // No card with tries shown: the PIN goes nowhere.
            None => self.answer(Input::Card(CardEvent::Read(Err(CardError::CardChanged)))),
        }
    }

    fn submit(&mut self, submission: Submission) {
        let result = self.submitter.submit(submission).map_err(|e| {
            tracing::error!(error = %e, "application could not be saved");
            e.to_string()
        });
        self.answer(Input::Submitted(result));
    }

    fn print(&self, job: ReceiptJob) {
        let (printer, path) = (self.printer.clone(), self.outbox_path.clone());
        let receipt = job.receipt_number.clone();
        worker(
            &self.tx,
            "print",
            Some(printer.deadline()),
            Input::Printed(Err(PrintProblem::Error)),
            move || printer.print(&job),
            move |outcome| record_print(&path, &receipt, outcome),
        );
    }

    fn check_staff_pin(&self, pin: Secret<Vec<u8>>) {
        let hash = self.staff_pin_hash.clone();
        worker(
            &self.tx,
            "staff-pin",
            None,
            Input::StaffPinChecked(false),
            move || crate::staff_pin::verify_pin(hash.as_deref(), pin.expose()),
            |outcome| {
                let ok = outcome == Outcome::Done(true);
                tracing::info!(ok, "staff PIN checked");
                Input::StaffPinChecked(ok)
            },
        );
    }

    fn load_staff_panel(&self) {
        let (printer, world) = (self.printer.clone(), self.world.clone());
        let path = self.outbox_path.clone();
        worker(
            &self.tx,
            "staff-panel",
            Some(printer.deadline()),
            Input::StaffPanel(StaffPanel::default()),
            move || service::printer_state(&printer),
            move |outcome| {
                let receipts = Outbox::attach(&path)
                    .and_then(|o| service::unconfirmed(&o, &world))
                    .unwrap_or_else(|e| {
                        tracing::error!(error = %e, "cannot read the reprint list");
                        vec![]
                    });
                Input::StaffPanel(StaffPanel {
                    printer: Some(panel_printer(outcome)),
                    receipts,
                })
            },
        );
    }

    fn reprint(&self, receipt: String) {
        let (printer, world) = (self.printer.clone(), self.world.clone());
        let (path, record_path) = (self.outbox_path.clone(), self.outbox_path.clone());
        let number = receipt.clone();
        worker(
            &self.tx,
            "reprint",
            Some(printer.deadline()),
            Input::Reprinted(Err(PrintProblem::Error)),
            move || {
                let job = Outbox::attach(&path)
                    .map_err(ReprintError::from)
                    .and_then(|o| service::reissue(&o, &world, &receipt))?;
                Ok::<_, ReprintError>(printer.print(&job))
            },
            move |outcome| {
                let printed = match outcome {
                    Outcome::Done(Ok(result)) => Outcome::Done(result),
                    Outcome::Done(Err(e)) => {
                        tracing::error!(receipt = %number, error = %e, "staff reprint failed");
                        return Input::Reprinted(Err(PrintProblem::Error));
                    }
                    Outcome::Late => Outcome::Late,
                    Outcome::Crashed => Outcome::Crashed,
                };
                let problem = print_problem(&number, printed);
                if let Err(e) = record(&record_path, &number, problem) {
                    tracing::error!(receipt = %number, error = %e, "cannot record the reprint's outcome");
                    return Input::Reprinted(Err(PrintProblem::Error));
                }
                if problem.is_none() {
                    tracing::info!(receipt = %number, "receipt reprinted by staff and confirmed");
                }
                Input::Reprinted(problem.map_or(Ok(()), Err))
            },
        );
    }

    fn save_lockout(&self, state: &StaffLockout) {
        if let Err(e) = crate::staff_lockout::save(&self.lockout_path, state) {
            tracing::error!(path = %self.lockout_path.display(), error = %e, "cannot save the staff PIN lockout state");
        }
    }
}

/// Records a print's outcome in its outbox row and tells the session. This runs on the
/// supervising thread, not in the worker, so that a worker answering after the deadline
/// changes nothing: an unconfirmed receipt stays on the reprint list.
pub(super) fn record_print(
    outbox: &Path,
    receipt: &str,
    outcome: Outcome<Result<PrinterStatus, PrinterError>>,
) -> Input {
    let problem = print_problem(receipt, outcome);
    if let Err(e) = record(outbox, receipt, problem) {
        tracing::error!(receipt = %receipt, error = %e, "cannot record the receipt's print outcome");
    }
    Input::Printed(problem.map_or(Ok(()), Err))
}

/// Writes a print's outcome into the receipt's outbox row.
fn record(outbox: &Path, receipt: &str, problem: Option<PrintProblem>) -> Result<(), OutboxError> {
    Outbox::attach(outbox).and_then(|mut o| service::record(&mut o, receipt, problem))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::printed;
    use counter_core::outbox::NewApplication;
    use std::sync::mpsc;
    use std::time::Duration;

    const SOON: Duration = Duration::from_millis(100);
    const PATIENCE: Duration = Duration::from_secs(10);

    /// A print worker stuck past the deadline: the session hears "unconfirmed" then, the
    /// outbox row says so, and the worker's late confirmation is neither heard nor recorded.
    #[test]
    fn print_worker_stuck_past_the_deadline_leaves_the_receipt_unconfirmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let receipt = Outbox::open(&path)
            .unwrap()
            .enqueue(
                &NewApplication {
                    application_id: uuid::Uuid::new_v4(),
                    kiosk_id: "K01".into(),
                    municipality_code: "113263".into(),
                    procedure_code: "juminhyo-copy".into(),
                    submitted_at: time::macros::datetime!(2026-11-21 10:00 UTC),
                    receipt_lang: "ja".into(),
                    sealed: "a.b.c.d.e".into(),
                },
                0,
            )
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let (release, stuck) = mpsc::channel::<()>();
        let (ended_tx, ended) = mpsc::channel();
        let (p, r) = (path.clone(), receipt.clone());
        worker(
            &tx,
            "print",
            Some(SOON),
            Input::Printed(Err(PrintProblem::Error)),
            move || {
                let _ = stuck.recv();
                let _ = ended_tx.send(());
                Ok(PrinterStatus::default())
            },
            move |outcome| record_print(&p, &r, outcome),
        );
        assert_eq!(
            printed(rx.recv_timeout(PATIENCE).unwrap()),
            Err(PrintProblem::Unconfirmed)
        );
        release.send(()).unwrap();
        ended.recv_timeout(PATIENCE).unwrap();
        drop(tx);
        assert!(rx.recv().is_err(), "the late confirmation is not heard");
        let row = Outbox::open(&path).unwrap().get(&receipt).unwrap();
        assert!(!row.printed);
        assert_eq!(row.print_problem.as_deref(), Some("unconfirmed"));
    }
}
