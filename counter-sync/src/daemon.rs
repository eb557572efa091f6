//! The delivery daemon: one independent worker per municipality, so a backend that hangs,
//! refuses connections or answers slowly never delays another municipality.

use crate::client::{HttpClient, Outcome};
use crate::config::{MunicipalityConfig, SyncConfig};
use crate::now_ms;
use crate::outbox::{Outbox, OutboxError};
use crate::retry::Backoff;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How long a destination stays paused after `401`/`403` before one probe is allowed.
const PAUSE_AFTER_REFUSAL: Duration = Duration::from_secs(600);

/// Runs every worker until `stop` turns true.
pub async fn run(cfg: SyncConfig, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    // Fail early, naming the file, if the database cannot be opened or migrated.
    drop(Outbox::open(&cfg.outbox.path)?);
    let mut tasks = tokio::task::JoinSet::new();
    for m in cfg.municipalities.clone() {
        let worker = Worker::new(m, &cfg)?;
        tasks.spawn(worker.run(stop.clone()));
    }
    while let Some(res) = tasks.join_next().await {
        res?;
    }
    Ok(())
}

struct Worker {
    municipality: MunicipalityConfig,
    db_path: PathBuf,
    outbox: Option<Arc<Mutex<Outbox>>>,
    client: HttpClient,
    backoff: Backoff,
    poll: Duration,
    lease: Duration,
}

impl Worker {
    fn new(municipality: MunicipalityConfig, cfg: &SyncConfig) -> anyhow::Result<Self> {
        let t = &cfg.sync;
        let client = HttpClient::new(
            &municipality.endpoint,
            Duration::from_secs(t.request_timeout_secs),
            Duration::from_secs(t.connect_timeout_secs),
        )?;
        Ok(Self {
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
        })
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let code = self.municipality.code.clone();
        tracing::info!(municipality = %code, endpoint = %self.municipality.endpoint, "worker started");
        while !*stop.borrow() {
            let busy = match self.step().await {
                Ok(busy) => busy,
                Err(e) => {
                    tracing::error!(municipality = %code, error = %e, "outbox error");
                    self.outbox = None; // reopen on the next round
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        tracing::info!(municipality = %code, "worker stopped");
    }

    /// One attempt; `Ok(true)` when there was something to send.
    async fn step(&mut self) -> Result<bool, OutboxError> {
        let code = self.municipality.code.clone();
        let lease = self.lease;
        let claimed = self
            .db(move |ob| ob.claim_next(&code, now_ms(), lease))
            .await?;
        let Some(claimed) = claimed else {
            return Ok(false);
        };
        let started = std::time::Instant::now();
        let outcome = self
            .client
            .post_application(&claimed.id, claimed.body)
            .await;
        let id = claimed.id.clone();
        let code = self.municipality.code.clone();
        let span_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Outcome::Delivered { status, accepted } => {
                tracing::info!(municipality = %code, application_id = %id, status, reference = %accepted.reference, latency_ms = span_ms, "delivered");
                self.db(move |ob| {
                    ob.mark_delivered(&id, status, &accepted.reference, accepted.status, now_ms())
                })
                .await?;
            }
            Outcome::Retry {
                status,
                retry_after,
                reason,
            } => {
                let delay =
                    self.backoff
                        .delay(claimed.attempts, rand::random::<f64>(), retry_after);
                tracing::warn!(municipality = %code, application_id = %id, ?status, attempt = claimed.attempts, retry_in_ms = delay.as_millis() as u64, %reason, "will retry");
                let next = now_ms() + delay.as_millis() as i64;
                self.db(move |ob| ob.mark_retry(&id, status, &reason, next))
                    .await?;
            }
            Outcome::Permanent { status, reason } => {
                tracing::error!(municipality = %code, application_id = %id, status, %reason, "failed permanently; kept for staff");
                self.db(move |ob| ob.mark_failed(&id, Some(status), &reason))
                    .await?;
            }
            Outcome::Pause { status, reason } => {
                tracing::error!(municipality = %code, application_id = %id, status, %reason, "destination paused; staff must check the kiosk's credentials");
                let until = now_ms() + PAUSE_AFTER_REFUSAL.as_millis() as i64;
                self.db(move |ob| {
                    ob.pause_destination(&code, until, &reason)?;
                    ob.mark_retry(&id, Some(status), &reason, until)
                })
                .await?;
            }
        }
        Ok(true)
    }

    /// Runs outbox work off the async threads, with this worker's own connection.
    async fn db<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Outbox) -> Result<T, OutboxError> + Send + 'static,
    ) -> Result<T, OutboxError> {
        let outbox = match &self.outbox {
            Some(o) => o.clone(),
            None => {
                let o = Arc::new(Mutex::new(Outbox::open(&self.db_path)?));
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
