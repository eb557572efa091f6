//! The delivery daemon: one independent worker per municipality, so a backend that hangs,
//! refuses connections or answers slowly never delays another municipality.
//!
//! Each worker claims a batch of due applications, sends them concurrently, and records all
//! outcomes in one transaction. A destination that fails as a whole (every attempt of a batch
//! retryable) gets its own backoff in SQLite and is probed, not hammered; when it answers
//! again its whole backlog is due at once. Outside opening hours a worker sends nothing.

use crate::client::{HttpClient, Outcome};
use crate::config::{MunicipalityConfig, SyncConfig};
use crate::hours::OpeningHours;
use crate::metrics::Metrics;
use crate::now_ms;
use crate::outbox::{Claimed, DestinationUpdate, Outbox, OutboxError, Record};
use crate::retry::Backoff;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long a destination stays paused after `401`/`403` before one probe is allowed.
const PAUSE_AFTER_REFUSAL: Duration = Duration::from_secs(600);
/// Longest single sleep, so that a changed clock or a staff `resume` is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// Status questions asked per idle round of one worker.
const STATUS_CHECKS_PER_ROUND: u32 = 16;
/// How often delivered metadata older than the retention period is purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Held while a daemon runs: only one process may deliver from an outbox, so rows left
/// `sending` by a killed daemon can be put back in line at once instead of waiting out
/// their lease.
pub struct DaemonLock {
    _file: std::fs::File,
    pub path: PathBuf,
}

impl DaemonLock {
    pub fn acquire(db: &Path) -> anyhow::Result<Self> {
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

/// Runs every worker until `stop` turns true.
pub async fn run(cfg: SyncConfig, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let _lock = DaemonLock::acquire(&cfg.outbox.path)?;
    // Fail early, naming the file, if the database cannot be opened or migrated.
    let released = Outbox::open(&cfg.outbox.path)?.release_orphans()?;
    if released > 0 {
        tracing::warn!(
            applications = released,
            "put back in line what a stopped daemon was sending"
        );
    }
    let metrics = Arc::new(Metrics::new(&cfg)?);
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(addr) = &cfg.sync.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for metrics on {addr}"))?;
        tracing::info!(%addr, "metrics at http://{addr}/metrics");
        tasks.spawn(crate::metrics::serve(
            listener,
            metrics.clone(),
            stop.clone(),
        ));
    }
    tasks.spawn(purge_loop(cfg.clone(), stop.clone()));
    for m in cfg.municipalities.clone() {
        let worker = Worker::new(m, &cfg, metrics.clone())?;
        tasks.spawn(worker.run(stop.clone()));
    }
    while let Some(res) = tasks.join_next().await {
        res?;
    }
    Ok(())
}

/// Deletes delivered metadata older than the retention period, at start and hourly.
async fn purge_loop(cfg: SyncConfig, mut stop: watch::Receiver<bool>) {
    let keep_ms = i64::from(cfg.outbox.retention_days) * 86_400_000;
    while !*stop.borrow() {
        let path = cfg.outbox.path.clone();
        let purged = tokio::task::spawn_blocking(move || {
            Outbox::attach(&path)?.purge_delivered(now_ms() - keep_ms)
        })
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
    poll: Duration,
    lease: Duration,
    batch: u32,
    status_poll: Duration,
    metrics: Arc<Metrics>,
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
        Ok(Self {
            hours,
            municipality,
            db_path: cfg.outbox.path.clone(),
            outbox: None,
            client,
            backoff: Backoff {
                base: Duration::from_millis(t.backoff_base_ms),
                cap: Duration::from_millis(t.backoff_cap_ms),
                max_retry_after: Duration::from_secs(t.max_retry_after_secs),
            },
            poll: Duration::from_millis(t.poll_interval_ms),
            lease: Duration::from_secs(t.lease_secs),
            batch: t.batch_size,
            status_poll: Duration::from_secs(t.status_poll_secs),
            metrics,
        })
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let code = self.municipality.code.clone();
        tracing::info!(municipality = %code, endpoint = %self.municipality.endpoint, "worker started");
        while !*stop.borrow() {
            let wait = match self.hours.wait_from(time::OffsetDateTime::now_utc()) {
                Some(Duration::ZERO) => {
                    // A stop abandons requests in flight: their rows stay `sending` and the
                    // next daemon puts them back in line (the key makes a resend safe).
                    let round = tokio::select! {
                        r = self.round() => r,
                        _ = stop.changed() => break,
                    };
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
        let (lease, max) = (self.lease, self.batch);
        let claimed = self
            .db(move |ob| ob.claim_batch(&code, now_ms(), lease, max))
            .await?;
        if claimed.is_empty() {
            return self.idle().await;
        }
        self.send(claimed).await?;
        Ok(Round::Sent)
    }

    /// Sends one claimed batch concurrently and records every outcome in one transaction.
    async fn send(&mut self, claimed: Vec<Claimed>) -> Result<(), OutboxError> {
        let code = self.municipality.code.clone();
        let mut inflight = tokio::task::JoinSet::new();
        for c in claimed {
            let client = self.client.clone();
            inflight.spawn(async move {
                let started = Instant::now();
                let outcome = client.post_application(&c.id, c.body).await;
                (c.id, c.attempts, c.submitted_ms, outcome, started.elapsed())
            });
        }
        let mut results = Vec::new();
        while let Some(r) = inflight.join_next().await {
            results.push(r.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())));
        }
        let now = now_ms();
        let answered = results
            .iter()
            .any(|r| matches!(r.3, Outcome::Delivered { .. } | Outcome::Permanent { .. }));
        let mut records = Vec::with_capacity(results.len());
        let mut pause: Option<String> = None;
        let mut retry_after: Option<Duration> = None;
        let mut last_error = String::new();
        for (id, attempts, submitted_ms, outcome, took) in results {
            self.metrics.request(&code, outcome.label(), took);
            let record = match outcome {
                Outcome::Delivered { status, accepted } => {
                    self.metrics.delivered(
                        &code,
                        Duration::from_millis((now - submitted_ms).max(0) as u64),
                    );
                    tracing::info!(municipality = %code, application_id = %id, status, reference = %accepted.reference, latency_ms = took.as_millis() as u64, "delivered");
                    Record::Delivered {
                        status,
                        reference: accepted.reference,
                        remote: accepted.status,
                    }
                }
                Outcome::Retry {
                    status,
                    retry_after: ra,
                    reason,
                } => {
                    retry_after = retry_after.max(ra);
                    // A destination that is down as a whole is gated by its own backoff; the
                    // row stays due so the backlog clears at once when it is back.
                    let next = if answered {
                        now + self.backoff.delay(attempts, rand::random(), ra).as_millis() as i64
                    } else {
                        now
                    };
                    tracing::warn!(municipality = %code, application_id = %id, ?status, attempt = attempts, %reason, "will retry");
                    last_error.clone_from(&reason);
                    Record::Retry {
                        status,
                        error: reason,
                        next_attempt_at: next,
                    }
                }
                Outcome::Permanent { status, reason } => {
                    tracing::error!(municipality = %code, application_id = %id, status, %reason, "failed permanently; kept for staff");
                    Record::Failed {
                        status: Some(status),
                        error: reason,
                    }
                }
                Outcome::Pause { status, reason } => {
                    tracing::error!(municipality = %code, application_id = %id, status, %reason, "destination paused; staff must check the kiosk's credentials");
                    pause = Some(reason.clone());
                    Record::Retry {
                        status: Some(status),
                        error: reason,
                        next_attempt_at: now,
                    }
                }
            };
            records.push((id, record));
        }
        let update = if let Some(reason) = pause {
            DestinationUpdate::Pause {
                until: now + PAUSE_AFTER_REFUSAL.as_millis() as i64,
                reason,
            }
        } else if !answered {
            let c = code.clone();
            let failures = self
                .db(move |ob| Ok(ob.destination(&c)?.map_or(0, |d| d.failures)))
                .await?;
            let delay = self
                .backoff
                .delay(failures + 1, rand::random(), retry_after);
            tracing::warn!(municipality = %code, retry_in_ms = delay.as_millis() as u64, error = %last_error, "destination unavailable; backing off");
            DestinationUpdate::Backoff {
                retry_at: now + delay.as_millis() as i64,
                error: last_error,
            }
        } else if let Some(ra) = retry_after {
            DestinationUpdate::Wait {
                retry_at: now + ra.min(self.backoff.max_retry_after).as_millis() as i64,
                error: last_error,
            }
        } else {
            DestinationUpdate::Healthy
        };
        self.db(move |ob| ob.finish_batch(&code, &records, &update, now))
            .await
    }

    /// Nothing due: ask the municipality about delivered applications, then say how long to
    /// sleep (until the destination's backoff ends, or the poll interval).
    async fn idle(&mut self) -> Result<Round, OutboxError> {
        let code = self.municipality.code.clone();
        let c = code.clone();
        let destination = self.db(move |ob| ob.destination(&c)).await?;
        let now = now_ms();
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
            self.db(move |ob| ob.set_remote_status(&id, remote, now_ms()))
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
