//! The session thread: owns the [`Flow`], feeds it inputs (UI intents, card events, results,
//! clock ticks) and carries out its effects on the card service, the outbox and the printer.

use crate::card::pcsc_reader::{CardCommand, CardService};
use crate::card::CardError;
use crate::config::KioskConfig;
use crate::domain::CardEvent;
use crate::domain::{Lang, PrintProblem};
use crate::receipt::printer::{PrinterError, PrinterStatus};
use crate::receipt::service::{self, ReceiptPrinter};
use crate::session::{Effect, Flow, FlowTimes, Input, Now, StaffPanel, View, World};
use crate::submit::Submitter;
use crate::watchdog::{self, Outcome};
use counter_core::outbox::Outbox;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

/// How often the flow sees the clock (idle countdown resolution).
const TICK: Duration = Duration::from_millis(250);

/// Handle to the running session: send it inputs.
#[derive(Clone)]
pub struct SessionHandle {
    tx: Sender<Input>,
}

impl SessionHandle {
    pub fn send(&self, input: Input) {
        let _ = self.tx.send(input);
    }
}

/// Starts the card service and the session thread. `render` is called with every new view.
pub fn start(
    cfg: &KioskConfig,
    world: World,
    render: impl Fn(View) + Send + 'static,
) -> anyhow::Result<SessionHandle> {
    let mut submitter = Submitter::open(cfg)?;
    let (tx, rx) = mpsc::channel::<Input>();
    let card_tx = tx.clone();
    let card = CardService::spawn(cfg.card.reader.clone(), move |ev| {
        let _ = card_tx.send(Input::Card(ev));
    });
    let times = FlowTimes {
        idle_warning: Duration::from_secs(cfg.ui.idle_warning_secs),
        idle_countdown: Duration::from_secs(cfg.ui.idle_countdown_secs),
        card_removed: Duration::from_secs(cfg.ui.card_removed_secs),
    };
    let lang = Lang::from_code(&cfg.ui.default_language).unwrap_or(Lang::Ja);
    let receipt_printer = ReceiptPrinter::from_config(cfg);
    let staff_pin_hash = cfg.staff.pin_hash.clone();
    let outbox_path = cfg.sync.outbox.path.clone();
    let lockout_path = crate::staff_lockout::path_for(&outbox_path);
    let world = Arc::new(world);
    let self_tx = tx.clone();
    std::thread::Builder::new().name("session".into()).spawn(move || {
        let now = Now::system();
        let mut flow = Flow::new(world.clone(), times, lang, now);
        flow.restore_staff_lockout(crate::staff_lockout::load(&lockout_path, now.wall.unix_timestamp()), now);
        render(flow.view(std::time::Instant::now()));
        loop {
            let input = match rx.recv_timeout(TICK) {
                Ok(i) => i,
                Err(RecvTimeoutError::Timeout) => Input::Tick,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            for effect in flow.handle(input, Now::system()) {
                match effect {
                    Effect::ReadCard(pin) => match flow.pin_card() {
                        Some((insertion, tries_shown)) => card.send(CardCommand::ReadBasic4 { pin, insertion, tries_shown }),
                        // No card with tries shown: the PIN goes nowhere.
                        None => drop(self_tx.send(Input::Card(CardEvent::Read(Err(CardError::CardChanged))))),
                    },
                    Effect::Submit(submission) => {
                        let result = submitter.submit(submission).map_err(|e| {
                            tracing::error!(error = %e, "application could not be saved");
                            e.to_string()
                        });
                        let _ = self_tx.send(Input::Submitted(result));
                    }
                    Effect::Print(job) => {
                        let (receipt_printer, path) = (receipt_printer.clone(), outbox_path.clone());
                        let receipt = job.receipt_number.clone();
                        worker(
                            &self_tx,
                            "print",
                            Some(receipt_printer.deadline()),
                            Input::Printed(Err(PrintProblem::Error)),
                            move || receipt_printer.print(&job),
                            move |outcome| record_print(&path, &receipt, outcome),
                        );
                    }
                    Effect::CheckStaffPin(pin) => {
                        let hash = staff_pin_hash.clone();
                        worker(
                            &self_tx,
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
                    Effect::LoadStaffPanel => {
                        let (receipt_printer, world, path) = (receipt_printer.clone(), world.clone(), outbox_path.clone());
                        worker(
                            &self_tx,
                            "staff-panel",
                            Some(receipt_printer.deadline()),
                            Input::StaffPanel(StaffPanel::default()),
                            move || service::printer_state(&receipt_printer),
                            move |outcome| {
                                let printer = match outcome {
                                    Outcome::Done(state) => state,
                                    Outcome::Late => PrintProblem::Offline.code(),
                                    Outcome::Crashed => PrintProblem::Error.code(),
                                };
                                let receipts = Outbox::attach(&path)
                                    .and_then(|o| service::unconfirmed(&o, &world))
                                    .unwrap_or_else(|e| {
                                        tracing::error!(error = %e, "cannot read the reprint list");
                                        vec![]
                                    });
                                Input::StaffPanel(StaffPanel { printer, receipts })
                            },
                        );
                    }
                    Effect::Reprint(receipt) => {
                        let (receipt_printer, world, path) = (receipt_printer.clone(), world.clone(), outbox_path.clone());
                        let (number, path2) = (receipt.clone(), outbox_path.clone());
                        worker(
                            &self_tx,
                            "reprint",
                            Some(receipt_printer.deadline()),
                            Input::Reprinted(Err(PrintProblem::Error)),
                            move || {
                                let job = Outbox::attach(&path)
                                    .map_err(service::ReprintError::from)
                                    .and_then(|o| service::reissue(&o, &world, &receipt))?;
                                Ok::<_, service::ReprintError>((job.receipt_number.clone(), receipt_printer.print(&job)))
                            },
                            move |outcome| {
                                let (number, printed) = match outcome {
                                    Outcome::Done(Ok((number, result))) => (number, Outcome::Done(result)),
                                    Outcome::Done(Err(e)) => {
                                        tracing::error!(receipt = %number, error = %e, "staff reprint failed");
                                        return Input::Reprinted(Err(PrintProblem::Error));
                                    }
                                    Outcome::Late => (number, Outcome::Late),
                                    Outcome::Crashed => (number, Outcome::Crashed),
                                };
                                let problem = print_problem(&number, printed);
                                if let Err(e) = Outbox::attach(&path2).and_then(|mut o| service::record(&mut o, &number, problem)) {
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
                    Effect::SaveStaffLockout(state) => {
                        if let Err(e) = crate::staff_lockout::save(&lockout_path, &state) {
                            tracing::error!(path = %lockout_path.display(), error = %e, "cannot save the staff PIN lockout state");
                        }
                    }
                    Effect::AlertStaff(alert) => tracing::warn!(alert = ?alert, "staff alert"),
                    Effect::Wiped => tracing::info!("session wiped"),
                }
            }
            render(flow.view(std::time::Instant::now()));
        }
    })?;
    Ok(SessionHandle { tx })
}

/// Runs `job` on its own thread (printers and PIN hashing block) under [`watchdog::run`], on a
/// supervising thread, and sends the session exactly one input: `finish` of the outcome
/// (`limit` passed or the job panicked included), or `fallback` when not even that could be
/// done (no thread could be started, or `finish` itself panicked).
fn worker<T: Send + 'static>(
    tx: &Sender<Input>,
    name: &'static str,
    limit: Option<Duration>,
    fallback: Input,
    job: impl FnOnce() -> T + Send + 'static,
    finish: impl FnOnce(Outcome<T>) -> Input + Send + 'static,
) {
    let answer = Answer {
        tx: tx.clone(),
        fallback: Some(fallback),
    };
    let spawned = std::thread::Builder::new()
        .name(format!("{name}-watch"))
        .spawn(move || {
            let outcome = watchdog::run(name, limit, job);
            answer.send(finish(outcome));
        });
    if let Err(e) = spawned {
        // The closure was dropped unrun, and with it `answer`: the fallback is on its way.
        tracing::error!(error = %e, thread = name, "cannot start a worker thread");
    }
}

/// A worker's one answer to the session: sent, or else the fallback when dropped.
struct Answer {
    tx: Sender<Input>,
    fallback: Option<Input>,
}

impl Answer {
    fn send(mut self, input: Input) {
        self.fallback = None;
        let _ = self.tx.send(input);
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some(fallback) = self.fallback.take() {
            let _ = self.tx.send(fallback);
        }
    }
}

/// Records a print's outcome in its outbox row and tells the session. This runs on the
/// supervising thread, not in the worker, so that a worker answering after the deadline
/// changes nothing: an unconfirmed receipt stays on the reprint list.
fn record_print(
    outbox: &Path,
    receipt: &str,
    outcome: Outcome<Result<PrinterStatus, PrinterError>>,
) -> Input {
    let problem = print_problem(receipt, outcome);
    if let Err(e) =
        Outbox::attach(outbox).and_then(|mut o| service::record(&mut o, receipt, problem))
    {
        tracing::error!(receipt = %receipt, error = %e, "cannot record the receipt's print outcome");
    }
    Input::Printed(problem.map_or(Ok(()), Err))
}

/// What the resident and the outbox are told of a print: `None` when the printer confirmed it.
/// A print that did not end in time is unconfirmed (it may yet come out of the printer); one
/// whose worker crashed is an error.
fn print_problem(
    receipt: &str,
    outcome: Outcome<Result<PrinterStatus, PrinterError>>,
) -> Option<PrintProblem> {
    match outcome {
        Outcome::Done(Ok(status)) => {
            if status.paper_near_end {
                tracing::warn!(alert = "paper_near_end", "printer paper is nearly out");
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

#[cfg(test)]
mod tests {
    use super::*;
    use counter_core::outbox::NewApplication;

    const SOON: Duration = Duration::from_millis(100);
    const PATIENCE: Duration = Duration::from_secs(10);

    fn printed(input: Input) -> Result<(), PrintProblem> {
        match input {
            Input::Printed(r) => r,
            _ => panic!("not a print answer"),
        }
    }

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

    /// A worker that panics answers with an error at once; so does one whose answer could not
    /// be made.
    #[test]
    fn panicking_worker_becomes_an_error_input() {
        let (tx, rx) = mpsc::channel();
        let finish = |outcome: Outcome<()>| {
            Input::Printed(match outcome {
                Outcome::Done(()) => Ok(()),
                Outcome::Late => Err(PrintProblem::Unconfirmed),
                Outcome::Crashed => Err(PrintProblem::Error),
            })
        };
        let fallback = || Input::Printed(Err(PrintProblem::Offline));
        worker(
            &tx,
            "print",
            None,
            fallback(),
            || panic!("worker bug"),
            finish,
        );
        assert_eq!(
            printed(rx.recv_timeout(PATIENCE).unwrap()),
            Err(PrintProblem::Error)
        );
        worker(
            &tx,
            "print",
            Some(PATIENCE),
            fallback(),
            || (),
            |_| -> Input { panic!("answer bug") },
        );
        assert_eq!(
            printed(rx.recv_timeout(PATIENCE).unwrap()),
            Err(PrintProblem::Offline),
            "the fallback"
        );
        drop(tx);
        assert!(rx.recv().is_err(), "one answer each");
    }
}
