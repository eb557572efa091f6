//! Prometheus metrics for the fleet dashboard, served on a local port (`sync.metrics_listen`).
//!
//! Queue depth and destination state are read from the outbox at each scrape, so they are
//! true even right after a restart; attempt counts and latencies are counted by the workers.

use counter_core::config::SyncConfig;
use counter_core::hours::{HoursError, OpeningHours};
use counter_core::outbox::Outbox;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Municipality {
    municipality: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Attempt {
    municipality: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Queue {
    municipality: String,
    state: String,
}

type HistogramFamily = Family<Municipality, Histogram, fn() -> Histogram>;

/// The daemon's metrics; cheap to update from any worker.
pub struct Metrics {
    registry: Registry,
    attempts: Family<Attempt, Counter>,
    request_seconds: HistogramFamily,
    delivery_seconds: HistogramFamily,
    queue: Family<Queue, Gauge>,
    blocked: Family<Municipality, Gauge>,
    broken: Family<Municipality, Gauge>,
    restarts: Family<Municipality, Counter>,
    open: Family<Municipality, Gauge>,
    scrape_errors: Counter,
    starts: Counter,
    unclean_restarts: Counter,
    /// What a scrape reads: the outbox (one connection, reopened after an error) and each
    /// municipality's opening hours (parsed once).
    db_path: PathBuf,
    outbox: Mutex<Option<Outbox>>,
    hours: Vec<(String, OpeningHours)>,
}

fn request_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14)) // 5 ms … 41 s
}

fn delivery_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.1, 3.0, 14)) // 0.1 s … 18 days
}

impl Metrics {
    /// The registry for `cfg`'s municipalities; their opening hours are checked here too.
    pub fn new(cfg: &SyncConfig) -> Result<Self, HoursError> {
        let hours = cfg
            .municipalities
            .iter()
            .map(|m| Ok((m.code.clone(), m.hours()?)))
            .collect::<Result<_, HoursError>>()?;
        let mut registry = Registry::with_prefix("madoguchi_sync");
        let attempts = Family::<Attempt, Counter>::default();
        registry.register(
            "attempts",
            "Delivery attempts by outcome (delivered, retry, failed, paused)",
            attempts.clone(),
        );
        let request_seconds: HistogramFamily = Family::new_with_constructor(request_buckets);
        registry.register(
            "request_seconds",
            "Duration of one POST to the municipality",
            request_seconds.clone(),
        );
        let delivery_seconds: HistogramFamily = Family::new_with_constructor(delivery_buckets);
        registry.register(
            "delivery_latency_seconds",
            "From the resident's submit to the municipality's confirmation",
            delivery_seconds.clone(),
        );
        let queue = Family::<Queue, Gauge>::default();
        registry.register(
            "outbox_applications",
            "Applications in the outbox by municipality and state",
            queue.clone(),
        );
        let blocked = Family::<Municipality, Gauge>::default();
        registry.register(
            "destination_blocked",
            "1 while the destination is paused (401/403) or backing off after failures",
            blocked.clone(),
        );
        let broken = Family::<Municipality, Gauge>::default();
        registry.register(
            "destination_broken",
            "1 while the daemon cannot deliver to the destination at all (its TLS files, its worker)",
            broken.clone(),
        );
        let restarts = Family::<Municipality, Counter>::default();
        registry.register(
            "worker_restarts",
            "Restarts of a municipality's worker after it could not start or failed",
            restarts.clone(),
        );
        let open = Family::<Municipality, Gauge>::default();
        registry.register(
            "destination_open",
            "1 while the destination is within its opening hours",
            open.clone(),
        );
        let scrape_errors = Counter::default();
        registry.register(
            "scrape_errors",
            "Scrapes that could not read the outbox",
            scrape_errors.clone(),
        );
        let starts = Counter::default();
        registry.register(
            "process_starts",
            "Starts of counter-sync on this kiosk, ever",
            starts.clone(),
        );
        let unclean_restarts = Counter::default();
        registry.register(
            "process_unclean_restarts",
            "Starts of counter-sync after a run that did not stop cleanly (crash, watchdog kill, power cut)",
            unclean_restarts.clone(),
        );
        Ok(Self {
            registry,
            starts,
            unclean_restarts,
            attempts,
            request_seconds,
            delivery_seconds,
            queue,
            blocked,
            broken,
            restarts,
            open,
            scrape_errors,
            db_path: cfg.outbox.path.clone(),
            outbox: Mutex::new(None),
            hours,
        })
    }

    /// One request to a municipality: its outcome and how long it took.
    pub fn request(&self, municipality: &str, outcome: &str, took: Duration) {
        self.attempts
            .get_or_create(&Attempt {
                municipality: municipality.into(),
                outcome: outcome.into(),
            })
            .inc();
        self.request_seconds
            .get_or_create(&Municipality {
                municipality: municipality.into(),
            })
            .observe(took.as_secs_f64());
    }

    /// One application delivered, `since_submit` after the resident pressed "submit".
    pub fn delivered(&self, municipality: &str, since_submit: Duration) {
        self.delivery_seconds
            .get_or_create(&Municipality {
                municipality: municipality.into(),
            })
            .observe(since_submit.as_secs_f64());
    }

    /// This run's start, as counted in the outbox.
    pub fn started(&self, runs: counter_core::outbox::ProcessRuns) {
        self.starts.inc_by(runs.starts);
        self.unclean_restarts.inc_by(runs.unclean_restarts);
    }

    /// A municipality's worker is restarted by its supervisor.
    pub fn worker_restarted(&self, municipality: &str) {
        self.restarts
            .get_or_create(&Municipality {
                municipality: municipality.into(),
            })
            .inc();
    }

    /// Reads the outbox and renders every metric in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let codes: Vec<String> = self.hours.iter().map(|(c, _)| c.clone()).collect();
        let now = time::OffsetDateTime::now_utc();
        let now_ms = counter_core::now_ms();
        let read = {
            let mut outbox = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
            let read = match &*outbox {
                Some(ob) => Ok(ob),
                None => Outbox::attach(&self.db_path).map(|ob| &*outbox.insert(ob)),
            }
            .and_then(|ob| Ok((ob.counts(&codes)?, ob.destinations()?)));
            if read.is_err() {
                *outbox = None; // reopen on the next scrape
            }
            read
        };
        match read {
            Ok((counts, destinations)) => {
                for c in counts {
                    self.queue
                        .get_or_create(&Queue {
                            municipality: c.municipality_code,
                            state: c.state.as_str().into(),
                        })
                        .set(c.count as i64);
                }
                for (code, hours) in &self.hours {
                    let label = Municipality {
                        municipality: code.clone(),
                    };
                    let destination = destinations.iter().find(|d| &d.municipality_code == code);
                    let blocked = destination.and_then(|d| d.blocked_until(now_ms)).is_some();
                    self.blocked.get_or_create(&label).set(blocked as i64);
                    let broken = destination.is_some_and(|d| d.broken_reason.is_some());
                    self.broken.get_or_create(&label).set(broken as i64);
                    self.open
                        .get_or_create(&label)
                        .set(hours.is_open(now) as i64);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "metrics: cannot read the outbox");
                self.scrape_errors.inc();
            }
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "metrics: cannot encode");
        }
        out
    }
}

/// Serves `GET /metrics` until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) {
    counter_core::metrics_http::serve(listener, Arc::new(move || metrics.render()), stop).await
}
