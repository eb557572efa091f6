//! Whether the daemon still does its work. Each worker marks the round it is in; the systemd
//! watchdog is fed only while no round has lasted longer than a round can (its requests and
//! database waits all have deadlines), so a stuck worker — not only a dead process or a hung
//! runtime — gets the daemon restarted.

use counter_core::config::SyncConfig;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The rounds in progress, by municipality code.
#[derive(Default)]
pub struct Liveness {
    busy: Mutex<HashMap<String, Instant>>,
}

/// Marks a round in progress until dropped.
pub struct InRound {
    liveness: Arc<Liveness>,
    code: String,
}

impl Drop for InRound {
    fn drop(&mut self) {
        self.liveness.lock().remove(&self.code);
    }
}

impl Liveness {
    /// `code`'s worker starts a round at `now`.
    pub fn round(self: &Arc<Self>, code: &str, now: Instant) -> InRound {
        self.lock().insert(code.to_owned(), now);
        InRound {
            liveness: self.clone(),
            code: code.to_owned(),
        }
    }

    /// Workers whose round has lasted longer than `limit` at `now`, with how long.
    pub fn stuck(&self, now: Instant, limit: Duration) -> Vec<(String, Duration)> {
        let mut stuck: Vec<_> = self
            .lock()
            .iter()
            .map(|(code, since)| (code.clone(), now.saturating_duration_since(*since)))
            .filter(|(_, took)| *took > limit)
            .collect();
        stuck.sort();
        stuck
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.busy.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The longest a healthy round can take: a few requests, each bounded by the connect and
/// request timeouts, and the outbox's busy timeout, with a wide margin.
pub fn round_limit(cfg: &SyncConfig) -> Duration {
    let request =
        Duration::from_secs(cfg.sync.connect_timeout_secs + cfg.sync.request_timeout_secs);
    request * 4 + Duration::from_secs(60)
}

/// Feeds the systemd watchdog every `every` while no round is stuck; says once which worker
/// is stuck (then systemd's `WatchdogSec=` runs out and it restarts the daemon).
pub async fn feed_watchdog(liveness: Arc<Liveness>, every: Duration, limit: Duration) {
    let mut reported = false;
    loop {
        let stuck = liveness.stuck(Instant::now(), limit);
        if stuck.is_empty() {
            counter_core::service::keep_alive();
            reported = false;
        } else if !reported {
            for (code, took) in &stuck {
                tracing::error!(municipality = %code, stuck_s = took.as_secs(), alert = "daemon-stuck", "a delivery round has not ended; no longer feeding the watchdog, systemd will restart the daemon");
            }
            reported = true;
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rounds_longer_than_the_limit_are_stuck() {
        let liveness = Arc::new(Liveness::default());
        let t0 = Instant::now();
        let limit = Duration::from_secs(160);
        let a = liveness.round("113263", t0);
        let _b = liveness.round("113271", t0 + Duration::from_secs(100));
        assert!(liveness.stuck(t0 + limit, limit).is_empty());
        let later = t0 + limit + Duration::from_secs(1);
        assert_eq!(
            liveness.stuck(later, limit),
            vec![("113263".to_string(), limit + Duration::from_secs(1))]
        );
        // A round that ended is no longer anyone's concern, however long ago it began.
        drop(a);
        assert!(liveness.stuck(later, limit).is_empty());
        assert_eq!(
            liveness.stuck(t0 + Duration::from_secs(300), limit).len(),
            1,
            "the other round is still going"
        );
    }
}
