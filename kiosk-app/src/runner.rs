//! The session thread: owns the [`Flow`], feeds it inputs (UI intents, card events, results,
//! clock ticks) and carries out its effects on the card service, the outbox and the printer.

use crate::card::pcsc_reader::{CardCommand, CardEvent, CardService};
use crate::card::CardError;
use crate::config::KioskConfig;
use crate::receipt::service::{self, ReceiptPrinter};
use crate::session::{
    Effect, Flow, FlowTimes, Input, Lang, Now, PrintProblem, StaffPanel, View, World,
};
use crate::submit::Submitter;
use counter_sync::outbox::Outbox;
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
                        worker(&self_tx, "print", Input::Printed(Err(PrintProblem::Error)), move || {
                            let result = receipt_printer.print(&job);
                            match &result {
                                Ok(status) => {
                                    if status.paper_near_end {
                                        tracing::warn!(alert = "paper_near_end", "printer paper is nearly out");
                                    }
                                    tracing::info!(receipt = %job.receipt_number, "receipt printed and confirmed");
                                }
                                Err(e) => tracing::error!(receipt = %job.receipt_number, error = %e, "receipt not printed; shown on screen"),
                            }
                            let problem = result.err().map(|e| e.problem());
                            // The outcome goes in the outbox row: an unconfirmed receipt stays on the reprint list.
                            if let Err(e) = Outbox::attach(&path).and_then(|mut o| service::record(&mut o, &job.receipt_number, problem)) {
                                tracing::error!(receipt = %job.receipt_number, error = %e, "cannot record the receipt's print outcome");
                            }
                            Input::Printed(problem.map_or(Ok(()), Err))
                        });
                    }
                    Effect::CheckStaffPin(pin) => {
                        let hash = staff_pin_hash.clone();
                        worker(&self_tx, "staff-pin", Input::StaffPinChecked(false), move || {
                            let ok = crate::staff_pin::verify_pin(hash.as_deref(), pin.expose());
                            tracing::info!(ok, "staff PIN checked");
                            Input::StaffPinChecked(ok)
                        });
                    }
                    Effect::LoadStaffPanel => {
                        let (receipt_printer, world, path) = (receipt_printer.clone(), world.clone(), outbox_path.clone());
                        worker(&self_tx, "staff-panel", Input::StaffPanel(StaffPanel::default()), move || {
                            let receipts = Outbox::attach(&path)
                                .and_then(|o| service::unconfirmed(&o, &world))
                                .unwrap_or_else(|e| {
                                    tracing::error!(error = %e, "cannot read the reprint list");
                                    vec![]
                                });
                            Input::StaffPanel(StaffPanel { printer: service::printer_state(&receipt_printer), receipts })
                        });
                    }
                    Effect::Reprint(receipt) => {
                        let (receipt_printer, world, path) = (receipt_printer.clone(), world.clone(), outbox_path.clone());
                        worker(&self_tx, "reprint", Input::Reprinted(Err(PrintProblem::Error)), move || {
                            let result = Outbox::attach(&path)
                                .map_err(service::ReprintError::from)
                                .and_then(|mut o| service::reprint(&mut o, &world, &receipt_printer, &receipt));
                            match &result {
                                Ok(_) => tracing::info!(receipt = %receipt, "receipt reprinted by staff and confirmed"),
                                Err(e) => tracing::error!(receipt = %receipt, error = %e, "staff reprint failed"),
                            }
                            Input::Reprinted(result.map(|_| ()).map_err(|e| match e {
                                service::ReprintError::Printer(p) => p.problem(),
                                _ => PrintProblem::Error,
                            }))
                        });
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

/// Runs `job` on its own thread (printers and PIN hashing block) and feeds its answer back to
/// the session; if no thread can be started, the session hears an error at once.
fn worker(
    tx: &Sender<Input>,
    name: &str,
    fallback: Input,
    job: impl FnOnce() -> Input + Send + 'static,
) {
    let answer = tx.clone();
    if let Err(e) = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = answer.send(job());
        })
    {
        tracing::error!(error = %e, thread = name, "cannot start a worker thread");
        let _ = tx.send(fallback);
    }
}
