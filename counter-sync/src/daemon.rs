//! The delivery daemon: one independent worker per municipality, so a backend that hangs,
//! refuses connections or answers slowly never delays another municipality.
//!
//! Each worker claims a batch of due applications, sends them concurrently, and records all
//! outcomes in one transaction. A destination that fails as a whole (every attempt of a batch
//! retryable) gets its own backoff in SQLite and is probed, not hammered; when it answers
//! again its whole backlog is due at once. Outside opening hours a worker sends nothing.

use crate::batch::{self, Attempt, Decision, PAUSE_AFTER_REFUSAL};
use crate::liveness::Liveness;
use crate::metrics::Metrics;
use anyhow::Context;
use counter_core::client::{HttpClient, Outcome};
use counter_core::config::{MunicipalityConfig, SyncConfig};
use counter_core::hours::OpeningHours;
use counter_core::outbox::{Claimed, DestinationUpdate, Horizon, Outbox, OutboxError};
use counter_core::retry::Backoff;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long a destination stays paused after `401`/`403` before one probe is allowed.
/// Longest single sleep, so that a changed clock or a staff `resume` is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// Status questions asked per idle round of one worker.
const STATUS_CHECKS_PER_ROUND: u32 = 16;
/// How often delivered metadata older than the retention period is purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// First and longest wait before a municipality's worker that failed is started again.
const RESTART_FIRST: Duration = Duration::from_secs(1);
const RESTART_CAP: Duration = Duration::from_secs(60);

/// Where the daemon reads the time (unix ms): the system clock, or in tests a clock that
/// jumps, to prove that no stored time can hold work back after the clock is corrected.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Self {
        Clock(Arc::new(counter_core::now_ms))
    }

    /// A clock of the caller's (tests move time on without waiting).
    pub fn new(now_ms: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Clock(Arc::new(now_ms))
    }

    /// Now, in Unix milliseconds (what the outbox's schedule is kept in).
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }

    /// Now, for opening hours.
    pub fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.now_ms()) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
}

/// Held while a daemon runs: only one process may deliver from an outbox, so rows left
/// `sending` by a killed daemon can be put back in line at once instead of waiting out
/// their lease.
pub struct DaemonLock {
    _file: std::fs::File,
    /// The lock file, beside the outbox.
    pub path: PathBuf,
}

impl DaemonLock {
    /// Locks the database's canonical path, so that two spellings of one file (a symlinked
    /// directory, `..`, a link to the file) cannot let two daemons deliver from it.
    pub fn acquire(db: &Path) -> anyhow::Result<Self> {
        let db = &canonical(db)
            .with_context(|| format!("cannot resolve the outbox path {}", db.display()))?;
        let mut name = db.as_os_str().to_owned();
        name.push(".counter-sync.lock");
        let path = PathBuf::from(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "another counter-sync is already delivering from {} (lock {})",
                db.display(),
                path.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }
}

/// The path with every symlink and `..` resolved; a file that does not exist yet is resolved
/// through its directory.
fn canonical(path: &Path) -> std::io::Result<PathBuf> {
    match std::fs::canonicalize(path) {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let name = path.file_name().ok_or(e)?;
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            Ok(std::fs::canonicalize(dir)?.join(name))
        }
        Err(e) => Err(e),
    }
}

/// Runs every worker until `stop` turns true.
pub async fn run(cfg: SyncConfig, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    run_with_clock(cfg, stop, Clock::system()).await
}

/// [`run`] with the time read from `clock`.
pub async fn run_with_clock(
    cfg: SyncConfig,
    stop: watch::Receiver<bool>,
    clock: Clock,
) -> anyhow::Result<()> {
    let _lock = DaemonLock::acquire(&cfg.outbox.path)?;
    // The kiosk's own key serves every municipality: refuse to start if others can read it.
    if let Some(tls) = &cfg.tls {
        counter_core::client::check_private_key_mode(&tls.client_key)?;
    }
    // Fail early, naming the file, if the database cannot be opened or migrated.
    let mut outbox = Outbox::open(&cfg.outbox.path)?;
    let runs = outbox.record_start(PROCESS_NAME)?;
    if runs.unclean_restarts > 0 {
        tracing::warn!(
            starts = runs.starts,
            unclean_restarts = runs.unclean_restarts,
            "counter-sync starts again"
        );
    }
    let released = outbox.release_orphans()?;
    if released > 0 {
        tracing::warn!(
            applications = released,
            "put back in line what a stopped daemon was sending"
        );
    }
    let metrics = Arc::new(Metrics::new(&cfg)?);
    metrics.started(runs);
    let liveness = Arc::new(Liveness::default());
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(addr) = &cfg.sync.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for metrics on {addr}"))?;
        // The bound address, not the configured one: with port 0 the system picks a free
        // port, and this line is how a test (or a technician) learns it.
        let bound = listener
            .local_addr()
            .with_context(|| format!("metrics listener on {addr}"))?;
        tracing::info!(%addr, "metrics at http://{bound}/metrics");
        tasks.spawn(crate::metrics::serve(
            listener,
            metrics.clone(),
            stop.clone(),
        ));
    }
    tasks.spawn(purge_loop(cfg.clone(), stop.clone(), clock.clone()));
    for m in cfg.municipalities.clone() {
        let (code, db) = (m.code.clone(), cfg.outbox.path.clone());
        let (cfg, metrics_w, clock, stop_w, live_w) = (
            cfg.clone(),
            metrics.clone(),
            clock.clone(),
            stop.clone(),
            liveness.clone(),
        );
        let start = move || {
            Worker::new(m.clone(), &cfg, metrics_w.clone(), clock.clone())
                .map(|w| w.run(stop_w.clone(), live_w.clone()))
        };
        tasks.spawn(supervise(code, db, metrics.clone(), stop.clone(), start));
    }
    let watchdog = counter_core::service::keep_alive_interval().map(|every| {
        tokio::spawn(crate::liveness::feed_watchdog(
            liveness.clone(),
            every,
            crate::liveness::round_limit(&cfg),
        ))
    });
    counter_core::service::ready(&format!(
        "delivering to {} municipalities",
        cfg.municipalities.len()
    ));
    while let Some(res) = tasks.join_next().await {
        // Supervisors never give up; the purge or the metrics endpoint failing must not stop
        // delivery either.
        if let Err(e) = res {
            tracing::error!(error = %e, "a daemon task ended unexpectedly");
        }
    }
    counter_core::service::stopping();
    if let Some(w) = watchdog {
        w.abort();
    }
    outbox.record_clean_stop(PROCESS_NAME)?;
    Ok(())
}

/// This daemon's name in the outbox's start counts.
pub const PROCESS_NAME: &str = "counter-sync";

/// Keeps one municipality's worker running: a worker that cannot start (an unreadable CA
/// file, a bad key) or that panics is reported — `status`, `doctor`, the metrics and an
/// `alert` in the journal — and started again with backoff, while the other municipalities
/// go on delivering.
async fn supervise<F, W>(
    code: String,
    db: PathBuf,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
    mut start: F,
) where
    F: FnMut() -> anyhow::Result<W>,
    W: std::future::Future<Output = ()> + Send + 'static,
{
    let mut failures = 0u32;
    while !*stop.borrow() {
        let started = Instant::now();
        let problem = match start() {
            Ok(worker) => {
                record_broken(&db, &code, None).await;
                match tokio::spawn(worker).await {
                    Ok(()) if *stop.borrow() => break,
                    Ok(()) => "worker ended".to_string(),
                    Err(e) if e.is_panic() => format!("worker failed: {}", panic_text(e)),
                    Err(e) => format!("worker ended: {e}"),
                }
            }
            Err(e) => format!("{e:#}"),
        };
        if started.elapsed() > RESTART_CAP {
            failures = 0; // it ran for a while: a new fault, not the same one again
        }
        failures += 1;
        let wait = RESTART_FIRST
            .saturating_mul(1 << (failures - 1).min(16))
            .min(RESTART_CAP);
        metrics.worker_restarted(&code);
        tracing::error!(municipality = %code, alert = "destination-broken", error = %problem, restart_in_s = wait.as_secs(), "cannot deliver to this municipality; the others go on");
        record_broken(&db, &code, Some(problem)).await;
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Stores (or clears) a destination's `broken_reason` for `status`, `doctor` and metrics.
async fn record_broken(db: &Path, code: &str, reason: Option<String>) {
    let (db, c) = (db.to_owned(), code.to_owned());
    let stored =
        tokio::task::spawn_blocking(move || Outbox::attach(&db)?.set_broken(&c, reason.as_deref()))
            .await;
    if !matches!(stored, Ok(Ok(()))) {
        tracing::error!(municipality = %code, "cannot record the destination's state in the outbox");
    }
}

fn panic_text(e: tokio::task::JoinError) -> String {
    let payload = e.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// Deletes delivered metadata older than the retention period, at start and hourly.
async fn purge_loop(cfg: SyncConfig, mut stop: watch::Receiver<bool>, clock: Clock) {
    let keep_ms = i64::from(cfg.outbox.retention_days) * 86_400_000;
    while !*stop.borrow() {
        let path = cfg.outbox.path.clone();
        let before = clock.now_ms() - keep_ms;
        let purged =
            tokio::task::spawn_blocking(move || Outbox::attach(&path)?.purge_delivered(before))
                .await;
        match purged {
            Ok(Ok(n)) if n > 0 => tracing::info!(applications = n, "purged delivered metadata"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "retention purge failed"),
            Err(e) => tracing::error!(error = %e, "retention purge panicked"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PURGE_EVERY) => {}
            _ = stop.changed() => {}
        }
    }
}

struct Worker {
    municipality: MunicipalityConfig,
    hours: OpeningHours,
    db_path: PathBuf,
    outbox: Option<Arc<Mutex<Outbox>>>,
    client: HttpClient,
    backoff: Backoff,
    horizon: Horizon,
    poll: Duration,
    lease: Duration,
    batch: u32,
    status_poll: Duration,
    metrics: Arc<Metrics>,
    clock: Clock,
}

/// What one round of a worker found to do.
enum Round {
    /// It sent something; go on at once.
    Sent,
    /// Nothing to send before this long.
    Idle(Duration),
}

impl Worker {
    fn new(
        municipality: MunicipalityConfig,
        cfg: &SyncConfig,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let t = &cfg.sync;
        let client = HttpClient::for_municipality(
            cfg,
            &municipality,
            Duration::from_secs(t.request_timeout_secs),
            Duration::from_secs(t.connect_timeout_secs),
        )
        .with_context(|| format!("municipality {}", municipality.code))?;
        let hours = municipality
            .hours()
            .with_context(|| format!("municipality {}", municipality.code))?;
        let backoff = Backoff {
            base: Duration::from_millis(t.backoff_base_ms),
            cap: Duration::from_millis(t.backoff_cap_ms),
            max_retry_after: Duration::from_secs(t.max_retry_after_secs),
            probe: Duration::from_millis(t.probe_interval_ms),
        };
        Ok(Self {
            hours,
            municipality,
            db_path: cfg.outbox.path.clone(),
            outbox: None,
            client,
            horizon: Horizon {
                retry: backoff.longest(),
                pause: PAUSE_AFTER_REFUSAL,
                lease: Duration::from_secs(t.lease_secs),
            },
            backoff,
            poll: Duration::from_millis(t.poll_interval_ms),
            lease: Duration::from_secs(t.lease_secs),
            batch: t.batch_size,
            status_poll: Duration::from_secs(t.status_poll_secs),
            metrics,
            clock,
        })
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>, liveness: Arc<Liveness>) {
        let code = self.municipality.code.clone();
        tracing::info!(municipality = %code, endpoint = %self.municipality.endpoint, "worker started");
        while !*stop.borrow() {
            let wait = match self.hours.wait_from(self.clock.now()) {
                Some(Duration::ZERO) => {
                    // A stop abandons requests in flight: their rows stay `sending` and the
                    // next daemon puts them back in line (the key makes a resend safe).
                    let in_round = liveness.round(&code, Instant::now());
                    let round = tokio::select! {
                        r = self.round() => r,
                        _ = stop.changed() => break,
                    };
                    drop(in_round);
                    match round {
                        Ok(Round::Sent) => continue,
                        Ok(Round::Idle(wait)) => wait,
                        Err(e) => {
                            tracing::error!(municipality = %code, error = %e, "outbox error");
                            self.outbox = None; // reopen on the next round
                            self.poll
                        }
                    }
                }
                Some(until_open) => {
                    tracing::debug!(municipality = %code, wait_s = until_open.as_secs(), "closed; waiting for opening hours");
                    until_open
                }
                None => MAX_SLEEP, // never opens: a configuration `doctor` reports
            };
            tokio::select! {
                _ = tokio::time::sleep(wait.min(MAX_SLEEP)) => {}
                _ = stop.changed() => {}
            }
        }
        tracing::info!(municipality = %code, "worker stopped");
    }

    async fn round(&mut self) -> Result<Round, OutboxError> {
        let code = self.municipality.code.clone();
        let (lease, max, horizon, now) =
            (self.lease, self.batch, self.horizon, self.clock.now_ms());
        let claimed = self
            .db(move |ob| {
                let moved = ob.clamp_schedule(&code, now, horizon)?;
                if moved > 0 {
                    tracing::warn!(municipality = %code, times = moved, "retry times lay further ahead than the policy allows (the clock was changed); brought forward");
                }
                ob.claim_batch(&code, now, lease, max)
            })
            .await?;
        if claimed.is_empty() {
            return self.idle().await;
        }
        self.send(claimed).await?;
        Ok(Round::Sent)
    }

    /// Sends one claimed batch concurrently, measures and logs each attempt, and records what
    /// [`batch::decide`] makes of them in one transaction.
    async fn send(&mut self, claimed: Vec<Claimed>) -> Result<(), OutboxError> {
        let code = self.municipality.code.clone();
        let mut inflight = tokio::task::JoinSet::new();
        for c in claimed {
            let client = self.client.clone();
            inflight.spawn(async move {
                let started = Instant::now();
                let outcome = client.post_application(&c.id, c.body).await;
                let took = started.elapsed();
                let attempt = Attempt {
                    id: c.id,
                    attempts: c.attempts,
                    outcome,
                };
                (attempt, c.submitted_ms, took)
            });
        }
        let mut batch = Vec::new();
        while let Some(r) = inflight.join_next().await {
            let (attempt, submitted_ms, took) =
                r.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            self.observe(&attempt, submitted_ms, took);
            batch.push(attempt);
        }
        let now = self.clock.now_ms();
        let Decision { records, update } =
            batch::decide(batch, now, &self.backoff, rand::random::<f64>);
        match &update {
            DestinationUpdate::Backoff { retry_at, error } => {
                tracing::warn!(municipality = %code, retry_in_ms = retry_at - now, %error, "destination unavailable; backing off");
            }
            DestinationUpdate::Pause { reason, .. } => {
                tracing::error!(municipality = %code, %reason, "destination paused; staff must check the kiosk's credentials");
            }
            DestinationUpdate::Healthy | DestinationUpdate::Wait { .. } => {}
        }
        self.db(move |ob| ob.finish_batch(&code, &records, &update, now))
            .await
    }

    /// Metrics and a log line for one attempt.
    fn observe(&self, a: &Attempt, submitted_ms: i64, took: Duration) {
        let (code, id) = (&self.municipality.code, &a.id);
        self.metrics.request(code, a.outcome.label(), took);
        match &a.outcome {
            Outcome::Delivered { status, accepted } => {
                let age = (self.clock.now_ms() - submitted_ms).max(0) as u64;
                self.metrics.delivered(code, Duration::from_millis(age));
                tracing::info!(municipality = %code, application_id = %id, status, reference = %accepted.reference, latency_ms = took.as_millis() as u64, "delivered");
            }
            Outcome::Retry { status, reason, .. } => {
                tracing::warn!(municipality = %code, application_id = %id, ?status, attempt = a.attempts, %reason, "will retry");
            }
            Outcome::Permanent { status, reason } => {
                tracing::error!(municipality = %code, application_id = %id, status, %reason, "failed permanently; kept for staff");
            }
            Outcome::Pause { status, reason } => {
                tracing::error!(municipality = %code, application_id = %id, status, %reason, "the municipality refused this kiosk");
            }
        }
    }

    /// Nothing due: ask the municipality about delivered applications, then say how long to
    /// sleep (until the destination's backoff ends, or the poll interval).
    async fn idle(&mut self) -> Result<Round, OutboxError> {
        let code = self.municipality.code.clone();
        let c = code.clone();
        let destination = self.db(move |ob| ob.destination(&c)).await?;
        let now = self.clock.now_ms();
        if let Some(until) = destination.and_then(|d| d.blocked_until(now)) {
            // Look again each poll: staff may `resume` the destination meanwhile.
            let left = Duration::from_millis((until - now) as u64);
            return Ok(Round::Idle(left.min(self.poll)));
        }
        let asked_before = now - self.status_poll.as_millis() as i64;
        let c = code.clone();
        let due = self
            .db(move |ob| ob.due_status_checks(&c, asked_before, STATUS_CHECKS_PER_ROUND))
            .await?;
        for id in due {
            let answer = self.client.get_status(&id).await;
            let remote = match answer {
                Ok(a) => Some(a.status),
                Err(e) => {
                    tracing::debug!(municipality = %code, application_id = %id, error = %e, "status query failed");
                    None
                }
            };
            let now = self.clock.now_ms();
            self.db(move |ob| ob.set_remote_status(&id, remote, now))
                .await?;
        }
        Ok(Round::Idle(self.poll))
    }

    /// Runs outbox work off the async threads, with this worker's own connection.
    async fn db<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Outbox) -> Result<T, OutboxError> + Send + 'static,
    ) -> Result<T, OutboxError> {
        let outbox = match &self.outbox {
            Some(o) => o.clone(),
            None => {
                let o = Arc::new(Mutex::new(Outbox::attach(&self.db_path)?));
                self.outbox = Some(o.clone());
                o
            }
        };
        tokio::task::spawn_blocking(move || {
            let mut guard = outbox.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }
}

#[cfg(test)]
mod tests;
