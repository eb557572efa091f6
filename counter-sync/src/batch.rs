//! What one delivered batch means: a record per application and an update for its
//! destination. Decisions only — no clock, no randomness, no IO — so that each rule has a
//! unit test; the daemon's worker sends, measures and logs, then stores what this decides.

use counter_core::client::Outcome;
use counter_core::outbox::{DestinationUpdate, Record};
use counter_core::retry::Backoff;
use std::time::Duration;

/// How long a destination that refused the kiosk (`401`/`403`) is paused, unless staff resume
/// it sooner.
pub const PAUSE_AFTER_REFUSAL: Duration = Duration::from_secs(600);

/// One application's attempt in a batch.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The application's id (its outbox row).
    pub id: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// What the municipality's answer (or its absence) means.
    pub outcome: Outcome,
}

/// The outbox's part of a batch: a record per application, and the destination's update.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// (application id, what to write in its row).
    pub records: Vec<(String, Record)>,
    /// What the batch means for the municipality as a whole.
    pub update: DestinationUpdate,
}

/// Decides a batch finished at `now` (unix ms). `jitter` draws the random factor (0..1) of
/// each backoff: the daemon passes `rand::random`, tests a constant.
pub fn decide(
    batch: Vec<Attempt>,
    now: i64,
    backoff: &Backoff,
    mut jitter: impl FnMut() -> f64,
) -> Decision {
    // Did the destination itself answer? If none of the batch got an answer, the destination
    // as a whole is down: its rows stay due and the destination is probed.
    let answered = batch.iter().any(|a| {
        matches!(
            a.outcome,
            Outcome::Delivered { .. } | Outcome::Permanent { .. }
        )
    });
    let mut records = Vec::with_capacity(batch.len());
    let mut pause: Option<String> = None;
    let mut retry_after: Option<Duration> = None;
    let mut last_error = String::new();
    for a in batch {
        let record = match a.outcome {
            Outcome::Delivered { status, accepted } => Record::Delivered {
                status,
                reference: accepted.reference,
                remote: accepted.status,
            },
            Outcome::Retry {
                status,
                retry_after: ra,
                reason,
            } => {
                retry_after = retry_after.max(ra);
                // A destination that is down as a whole is gated by its own backoff; the row
                // stays due so the backlog clears at once when it is back.
                let next = if answered {
                    now + backoff.delay(a.attempts, jitter(), ra).as_millis() as i64
                } else {
                    now
                };
                last_error.clone_from(&reason);
                Record::Retry {
                    status,
                    error: reason,
                    next_attempt_at: next,
                }
            }
            Outcome::Permanent { status, reason } => Record::Failed {
                status: Some(status),
                error: reason,
            },
            Outcome::Pause { status, reason } => {
                pause = Some(reason.clone());
                Record::Retry {
                    status: Some(status),
                    error: reason,
                    next_attempt_at: now,
                }
            }
        };
        records.push((a.id, record));
    }
    let update = if let Some(reason) = pause {
        DestinationUpdate::Pause {
            until: now + PAUSE_AFTER_REFUSAL.as_millis() as i64,
            reason,
        }
    } else if !answered {
        // Probed, not backed off exponentially: a municipality that comes back gets its
        // backlog within one probe interval, and a dead one costs one small request per
        // interval.
        let delay = backoff.probe_delay(jitter(), retry_after);
        DestinationUpdate::Backoff {
            retry_at: now + delay.as_millis() as i64,
            error: last_error,
        }
    } else if let Some(ra) = retry_after {
        DestinationUpdate::Wait {
            retry_at: now + ra.min(backoff.max_retry_after).as_millis() as i64,
            error: last_error,
        }
    } else {
        DestinationUpdate::Healthy
    };
    Decision { records, update }
}

#[cfg(test)]
mod tests {
    use super::*;
    use counter_core::api::{Accepted, RemoteStatus};

    const NOW: i64 = 1_000_000;
    const S: i64 = 1000;

    fn backoff() -> Backoff {
        Backoff {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(300),
            max_retry_after: Duration::from_secs(120),
            probe: Duration::from_secs(30),
        }
    }

    fn attempt(id: &str, attempts: u32, outcome: Outcome) -> Attempt {
        Attempt {
            id: id.into(),
            attempts,
            outcome,
        }
    }

    fn delivered() -> Outcome {
        Outcome::Delivered {
            status: 201,
            accepted: Accepted {
                application_id: "a".into(),
                reference: "REF-1".into(),
                status: RemoteStatus::Received,
            },
        }
    }

    fn retry(ra: Option<u64>) -> Outcome {
        Outcome::Retry {
            status: Some(503),
            retry_after: ra.map(Duration::from_secs),
            reason: "busy".into(),
        }
    }

    fn next_attempt(d: &Decision, i: usize) -> i64 {
        match &d.records[i].1 {
            Record::Retry {
                next_attempt_at, ..
            } => *next_attempt_at,
            other => panic!("not a retry: {other:?}"),
        }
    }

    #[test]
    fn an_answering_destination_is_healthy_and_its_retries_back_off_per_row() {
        let d = decide(
            vec![attempt("a", 1, delivered()), attempt("b", 3, retry(None))],
            NOW,
            &backoff(),
            || 1.0,
        );
        assert!(
            matches!(d.records[0].1, Record::Delivered { ref reference, .. } if reference == "REF-1")
        );
        // Third attempt, full jitter: base 2 s doubled twice.
        assert_eq!(next_attempt(&d, 1), NOW + 8 * S);
        assert_eq!(d.update, DestinationUpdate::Healthy);
    }

    #[test]
    fn a_destination_that_answers_nothing_is_probed_and_its_rows_stay_due() {
        let d = decide(
            vec![attempt("a", 5, retry(None)), attempt("b", 1, retry(None))],
            NOW,
            &backoff(),
            || 1.0,
        );
        assert_eq!(next_attempt(&d, 0), NOW, "due at once when it is back");
        assert_eq!(next_attempt(&d, 1), NOW);
        assert_eq!(
            d.update,
            DestinationUpdate::Backoff {
                retry_at: NOW + 30 * S,
                error: "busy".into()
            }
        );
    }

    #[test]
    fn retry_after_is_obeyed_up_to_its_cap() {
        let d = decide(
            vec![
                attempt("a", 1, delivered()),
                attempt("b", 1, retry(Some(600))),
            ],
            NOW,
            &backoff(),
            || 1.0,
        );
        assert_eq!(
            d.update,
            DestinationUpdate::Wait {
                retry_at: NOW + 120 * S,
                error: "busy".into()
            }
        );
    }

    #[test]
    fn a_refusal_pauses_the_destination_and_keeps_every_row() {
        let refused = Outcome::Pause {
            status: 403,
            reason: "unknown kiosk".into(),
        };
        let permanent = Outcome::Permanent {
            status: 422,
            reason: "bad procedure".into(),
        };
        let d = decide(
            vec![attempt("a", 1, refused), attempt("b", 1, permanent)],
            NOW,
            &backoff(),
            || 0.5,
        );
        assert_eq!(next_attempt(&d, 0), NOW);
        assert!(matches!(
            d.records[1].1,
            Record::Failed {
                status: Some(422),
                ..
            }
        ));
        assert_eq!(
            d.update,
            DestinationUpdate::Pause {
                until: NOW + 600 * S,
                reason: "unknown kiosk".into()
            }
        );
    }
}
