//! The kiosk under systemd: `READY=1` once the event loop runs, then keep-alives sent by a
//! timer on the UI thread itself, so that a hung event loop (not only a dead process) stops
//! them and systemd's `WatchdogSec=` restarts the kiosk. SIGTERM ends the event loop, so that
//! a stop is told from a death in the restart counts.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// When the UI thread last proved alive (Unix ms), for the metrics.
#[derive(Clone, Default)]
pub struct Heartbeat(Arc<AtomicI64>);

impl Heartbeat {
    /// The last beat, Unix ms (0 before the first).
    pub fn last_ms(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }

    fn beat(&self) {
        self.0.store(counter_core::now_ms(), Ordering::Relaxed);
    }
}

/// How often the UI thread beats when systemd has no watchdog for it (the metrics still
/// show its heartbeat).
const BEAT_WITHOUT_WATCHDOG: Duration = Duration::from_secs(5);

/// Starts the beats; keep the returned timer for the life of the event loop.
pub fn start(heartbeat: Heartbeat) -> slint::Timer {
    let ready = heartbeat.clone();
    slint::Timer::single_shot(Duration::ZERO, move || {
        ready.beat();
        counter_core::service::ready("welcome screen shown");
    });
    let watchdog = counter_core::service::keep_alive_interval();
    let timer = slint::Timer::default();
    timer.start(
        slint::TimerMode::Repeated,
        watchdog.unwrap_or(BEAT_WITHOUT_WATCHDOG),
        move || {
            heartbeat.beat();
            if watchdog.is_some() {
                counter_core::service::keep_alive();
            }
        },
    );
    timer
}

/// Ends the event loop on SIGTERM or SIGINT (`systemctl stop`, Ctrl-C). In test builds,
/// SIGUSR1 hangs the UI thread, which is how the watchdog test makes a hung kiosk.
pub fn quit_on_signals() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let (mut term, mut int) = rt.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })?;
    #[cfg(feature = "test-support")]
    let mut hang = rt.block_on(async { signal(SignalKind::user_defined1()) })?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            rt.block_on(async {
                #[cfg(feature = "test-support")]
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                    _ = hang.recv() => {
                        tracing::warn!("test build: SIGUSR1 hangs the UI thread");
                        let _ = slint::invoke_from_event_loop(|| loop {
                            std::thread::park();
                        });
                        std::future::pending::<()>().await;
                    }
                }
                #[cfg(not(feature = "test-support"))]
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            });
            tracing::info!("stopping on request");
            counter_core::service::stopping();
            let _ = slint::invoke_from_event_loop(|| {
                let _ = slint::quit_event_loop();
            });
        })?;
    Ok(())
}
