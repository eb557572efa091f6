//! The session thread: owns the [`Flow`], feeds it inputs (UI intents, card events, results,
//! clock ticks), hands its effects to [`effects::Devices`] and renders each view that differs
//! from the last.

mod effects;
mod outcome;
mod worker;

use crate::card::pcsc_reader::CardService;
use crate::config::KioskConfig;
use crate::domain::Lang;
use crate::metrics::KioskState;
use crate::receipt::service::ReceiptPrinter;
use crate::session::{Flow, FlowTimes, Input, Now, Screen, View, World};
use crate::submit::Submitter;
use crate::trail::Step;
use effects::Devices;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the flow sees the clock (idle countdown resolution).
const TICK: Duration = Duration::from_millis(250);

/// Handle to the running session: send it inputs.
#[derive(Clone)]
pub struct SessionHandle {
    tx: Sender<Input>,
    state: Arc<KioskState>,
}

impl SessionHandle {
    /// What the kiosk knows of itself, for the metrics.
    pub fn state(&self) -> Arc<KioskState> {
        self.state.clone()
    }

    /// Queues one input for the session thread.
    pub fn send(&self, input: Input) {
        let _ = self.tx.send(input);
    }
}

/// Starts the card service and the session thread. `render` is called with every view that
/// differs from the one before (not at every clock tick).
pub fn start(
    cfg: &KioskConfig,
    world: World,
    render: impl Fn(View) + Send + 'static,
) -> anyhow::Result<SessionHandle> {
    let submitter = Submitter::open(cfg)?;
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
    let lang = Lang::from_code(&cfg.ui.default_language).unwrap_or(Lang::JA);
    let world = Arc::new(world);
    let state = Arc::new(KioskState::new(cfg.sync.outbox.path.clone()));
    let session_state = state.clone();
    let mut devices = Devices {
        card,
        submitter,
        printer: ReceiptPrinter::from_config(cfg),
        staff_pin_hash: cfg.staff.pin_hash.clone(),
        lockout_path: crate::staff_lockout::path_for(&cfg.sync.outbox.path),
        outbox_path: cfg.sync.outbox.path.clone(),
        world: world.clone(),
        tx: tx.clone(),
    };
    std::thread::Builder::new()
        .name("session".into())
        .spawn(move || {
            let now = Now::system();
            let mut flow = Flow::new(world, times, lang, now);
            let saved =
                crate::staff_lockout::load(&devices.lockout_path, now.wall.unix_timestamp());
            flow.restore_staff_lockout(saved, now);
            let mut shown = flow.view(Instant::now());
            let mut trail = crate::trail::Trail::default();
            let mut seen = |screen: Screen| {
                session_state
                    .idle
                    .store(screen == Screen::Welcome, Ordering::Relaxed);
                if let Some(Step::Ended { last, .. }) = trail.log(screen) {
                    session_state.session_ended(last);
                }
            };
            seen(shown.screen);
            render(shown.clone());
            loop {
                let input = match rx.recv_timeout(TICK) {
                    Ok(i) => i,
                    Err(RecvTimeoutError::Timeout) => Input::Tick,
                    Err(RecvTimeoutError::Disconnected) => return,
                };
                for effect in flow.handle(input, Now::system()) {
                    devices.run(effect, flow.pin_card());
                }
                let view = flow.view(Instant::now());
                if view != shown {
                    seen(view.screen);
                    shown = view.clone();
                    render(view);
                }
            }
        })?;
    Ok(SessionHandle { tx, state })
}

/// A print answer's result (tests).
#[cfg(test)]
fn printed(input: Input) -> Result<(), crate::domain::PrintProblem> {
    match input {
        Input::Printed(r) => r,
        _ => panic!("not a print answer"),
    }
}
