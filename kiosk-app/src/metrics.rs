//! The kiosk's Prometheus metrics (`ui.metrics_listen`), for the fleet's Prometheus and the
//! alert rules in `deploy/prometheus`: the UI's heartbeat, starts and restarts, the printer
//! and the card reader as last seen, sessions by how they ended, the clock and the disk.
//! Nothing personal: counts and states only.

use crate::domain::{PrintProblem, PrinterState};
use crate::session::Screen;
use crate::ui::liveness::Heartbeat;
use counter_core::outbox::ProcessRuns;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionEnd {
    outcome: String,
    last_screen: String,
}

/// What the kiosk knows of itself, shared by the session thread, the device monitor and the
/// metrics endpoint.
pub struct KioskState {
    /// On the welcome screen: no session, no print, so the devices may be polled.
    pub idle: AtomicBool,
    registry: Registry,
    heartbeat: Heartbeat,
    heartbeat_seconds: Gauge<f64, AtomicU64>,
    starts: Counter,
    unclean_restarts: Counter,
    printer_ready: Gauge,
    paper_out: Gauge,
    paper_near_end: Gauge,
    reader_present: Gauge,
    sessions: Family<SessionEnd, Counter>,
    clock_synchronised: Gauge,
    disk_free: Gauge,
    outbox: PathBuf,
}

/// How a session ended, from the last screen it reached.
pub fn outcome(last: Screen) -> &'static str {
    match last {
        Screen::Done => "completed",
        Screen::Error | Screen::PinLocked | Screen::NotParticipating => "stopped",
        _ => "abandoned",
    }
}

impl KioskState {
    /// The metrics of a kiosk whose outbox is at `outbox`.
    pub fn new(outbox: PathBuf) -> Self {
        let mut registry = Registry::with_prefix("madoguchi_kiosk");
        let heartbeat_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "ui_heartbeat_timestamp_seconds",
            "When the UI event loop last turned (Unix time)",
            heartbeat_seconds.clone(),
        );
        let starts = Counter::default();
        registry.register(
            "process_starts",
            "Starts of kiosk-app on this kiosk, ever",
            starts.clone(),
        );
        let unclean_restarts = Counter::default();
        registry.register(
            "process_unclean_restarts",
            "Starts of kiosk-app after a run that did not stop cleanly (crash, watchdog kill, power cut)",
            unclean_restarts.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let printer_ready = gauge(
            &mut registry,
            "printer_ready",
            "1 when the receipt printer last answered ready (-1 before it was asked)",
        );
        let paper_out = gauge(
            &mut registry,
            "printer_paper_out",
            "1 when the receipt printer last reported no paper",
        );
        let paper_near_end = gauge(
            &mut registry,
            "printer_paper_near_end",
            "1 when the receipt paper is nearly out",
        );
        let reader_present = gauge(
            &mut registry,
            "card_reader_present",
            "1 when a card reader is connected and pcscd answers (-1 before it was asked)",
        );
        let clock_synchronised = gauge(
            &mut registry,
            "clock_synchronised",
            "1 when the system clock is NTP-synchronised",
        );
        let disk_free = gauge(
            &mut registry,
            "data_disk_free_bytes",
            "Free bytes on the filesystem of the outbox",
        );
        let sessions = Family::<SessionEnd, Counter>::default();
        registry.register(
            "sessions",
            "Resident sessions by outcome (completed, stopped, abandoned) and the last screen reached",
            sessions.clone(),
        );
        printer_ready.set(-1);
        reader_present.set(-1);
        Self {
            idle: AtomicBool::new(true),
            registry,
            heartbeat: Heartbeat::default(),
            heartbeat_seconds,
            starts,
            unclean_restarts,
            printer_ready,
            paper_out,
            paper_near_end,
            reader_present,
            sessions,
            clock_synchronised,
            disk_free,
            outbox,
        }
    }

    /// The UI thread's heartbeat, to hand to [`crate::ui::liveness::start`].
    pub fn heartbeat(&self) -> Heartbeat {
        self.heartbeat.clone()
    }

    /// This run's start, as counted in the outbox.
    pub fn started(&self, runs: ProcessRuns) {
        self.starts.inc_by(runs.starts);
        self.unclean_restarts.inc_by(runs.unclean_restarts);
    }

    /// A session ended after reaching `last`.
    pub fn session_ended(&self, last: Screen) {
        self.sessions
            .get_or_create(&SessionEnd {
                outcome: outcome(last).into(),
                last_screen: format!("{last:?}"),
            })
            .inc();
    }

    /// The printer as last asked.
    pub fn printer(&self, state: &PrinterState) {
        let (ready, out, near) = match state {
            PrinterState::Ready | PrinterState::WriteOnly => (1, 0, 0),
            PrinterState::NearEnd => (1, 0, 1),
            PrinterState::Problem(PrintProblem::PaperOut) => (0, 1, 0),
            PrinterState::Problem(_) => (0, 0, 0),
        };
        self.printer_ready.set(ready);
        self.paper_out.set(out);
        self.paper_near_end.set(near);
    }

    /// Whether a card reader was found.
    pub fn reader(&self, present: bool) {
        self.reader_present.set(present as i64);
    }

    /// One scrape, in the OpenMetrics text format.
    pub fn render(&self) -> String {
        self.heartbeat_seconds
            .set(self.heartbeat.last_ms() as f64 / 1000.0);
        if let Ok(synced) = crate::system::clock_synchronised() {
            self.clock_synchronised.set(synced as i64);
        }
        if let Ok(free) = crate::system::free_bytes(&self.outbox) {
            self.disk_free.set(free.min(i64::MAX as u64) as i64);
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "metrics: cannot encode");
        }
        out
    }
}

/// Serves `GET /metrics` for `state` at `addr` on a thread of its own; the bound address
/// (the port, when `addr` asks for port 0) is logged and returned.
pub fn serve(addr: &str, state: Arc<KioskState>) -> anyhow::Result<std::net::SocketAddr> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind(addr))?;
    let bound = listener.local_addr()?;
    tracing::info!(%addr, "metrics at http://{bound}/metrics");
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            let _stop_tx = _stop_tx; // the endpoint lives as long as the process
            rt.block_on(counter_core::metrics_http::serve(
                listener,
                Arc::new(move || state.render()),
                stop,
            ))
        })?;
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(body: &str, line_start: &str) -> String {
        body.lines()
            .find_map(|l| l.strip_prefix(line_start))
            .unwrap_or_else(|| panic!("no {line_start} in\n{body}"))
            .trim()
            .to_owned()
    }

    #[test]
    fn states_and_sessions_as_the_alert_rules_read_them() {
        let state = KioskState::new(std::env::temp_dir().join("outbox.db"));
        let body = state.render();
        assert_eq!(
            value(&body, "madoguchi_kiosk_printer_ready "),
            "-1",
            "not asked yet"
        );
        state.printer(&PrinterState::Problem(PrintProblem::PaperOut));
        state.reader(false);
        state.session_ended(Screen::Done);
        state.session_ended(Screen::Done);
        state.session_ended(Screen::Pin);
        let body = state.render();
        assert_eq!(value(&body, "madoguchi_kiosk_printer_ready "), "0");
        assert_eq!(value(&body, "madoguchi_kiosk_printer_paper_out "), "1");
        assert_eq!(value(&body, "madoguchi_kiosk_card_reader_present "), "0");
        assert_eq!(
            value(
                &body,
                "madoguchi_kiosk_sessions_total{outcome=\"completed\",last_screen=\"Done\"} "
            ),
            "2"
        );
        assert_eq!(
            value(
                &body,
                "madoguchi_kiosk_sessions_total{outcome=\"abandoned\",last_screen=\"Pin\"} "
            ),
            "1"
        );
        state.printer(&PrinterState::NearEnd);
        let body = state.render();
        assert_eq!(value(&body, "madoguchi_kiosk_printer_ready "), "1");
        assert_eq!(value(&body, "madoguchi_kiosk_printer_paper_near_end "), "1");
        assert_eq!(value(&body, "madoguchi_kiosk_printer_paper_out "), "0");
        assert!(
            value(&body, "madoguchi_kiosk_data_disk_free_bytes ")
                .parse::<u64>()
                .unwrap()
                > 0
        );
    }
}
