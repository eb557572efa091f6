//! The session thread: owns the [`Flow`], feeds it inputs (UI intents, card events, results,
//! clock ticks) and carries out its effects on the card service, the outbox and the printer.

use crate::card::pcsc_reader::{CardCommand, CardService};
use crate::config::KioskConfig;
use crate::receipt::service::{self, ReceiptPrinter};
use crate::session::{Effect, Flow, FlowTimes, Input, Lang, Now, View, World};
use crate::submit::Submitter;
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
    let self_tx = tx.clone();
    std::thread::Builder::new().name("session".into()).spawn(move || {
        let mut flow = Flow::new(Arc::new(world), times, lang, Now::system());
        render(flow.view(std::time::Instant::now()));
        let mut printing: Option<String> = None;
        loop {
            let input = match rx.recv_timeout(TICK) {
                Ok(i) => i,
                Err(RecvTimeoutError::Timeout) => Input::Tick,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            if let (Input::Printed(result), Some(receipt)) = (&input, printing.take()) {
                if let Err(e) = service::record(submitter.outbox(), &receipt, result.err()) {
                    tracing::error!(receipt = %receipt, error = %e, "cannot record the receipt's print outcome");
                }
            }
            for effect in flow.handle(input, Now::system()) {
                match effect {
                    Effect::ReadCard(pin) => card.send(CardCommand::ReadBasic4(pin)),
                    Effect::Submit(submission) => {
                        let result = submitter.submit(submission).map_err(|e| {
                            tracing::error!(error = %e, "application could not be saved");
                            e.to_string()
                        });
                        let _ = self_tx.send(Input::Submitted(result));
                    }
                    Effect::Print(job) => {
                        printing = Some(job.receipt_number.clone());
                        let (tx, receipt_printer) = (self_tx.clone(), receipt_printer.clone());
                        let spawned = std::thread::Builder::new().name("print".into()).spawn(move || {
                            let result = match receipt_printer.print(&job) {
                                Ok(status) => {
                                    if status.paper_near_end {
                                        tracing::warn!(alert = "paper_near_end", "printer paper is nearly out");
                                    }
                                    tracing::info!(receipt = %job.receipt_number, "receipt printed and confirmed");
                                    Ok(())
                                }
                                Err(e) => {
                                    tracing::error!(receipt = %job.receipt_number, error = %e, "receipt not printed; shown on screen");
                                    Err(e.problem())
                                }
                            };
                            let _ = tx.send(Input::Printed(result));
                        });
                        if let Err(e) = spawned {
                            tracing::error!(error = %e, "cannot start the print thread");
                            let _ = self_tx.send(Input::Printed(Err(crate::session::PrintProblem::Error)));
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
