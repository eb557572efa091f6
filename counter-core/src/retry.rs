//! The retry schedule: capped exponential backoff with full jitter for single applications,
//! a short jittered probe interval for a destination that is down, never earlier than
//! `Retry-After`. Pure, so it is tested without a clock.

use std::time::Duration;

/// The retry schedule of one destination.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first retry's longest delay.
    pub base: Duration,
    /// No retry waits longer (before jitter).
    pub cap: Duration,
    /// A `Retry-After` is honoured up to this.
    pub max_retry_after: Duration,
    /// How often a destination that is down as a whole is probed with one application.
    pub probe: Duration,
}

impl Backoff {
    /// Delay before the next probe of a destination that did not answer: uniform in
    /// `[probe/2, probe]`, so kiosks that lost the same municipality do not probe in step, and
    /// never earlier than its (capped) `Retry-After`.
    pub fn probe_delay(&self, jitter: f64, retry_after: Option<Duration>) -> Duration {
        let d = self.probe.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
        match retry_after {
            Some(ra) => d.max(ra.min(self.max_retry_after)),
            None => d,
        }
    }

    /// The longest any delay of this policy can be: no stored retry time may lie further ahead.
    pub fn longest(&self) -> Duration {
        self.cap.max(self.max_retry_after).max(self.probe)
    }

    /// Delay before attempt `attempts + 1`, given `jitter` uniform in `[0, 1)`.
    /// Full jitter: uniform in `[0, min(cap, base·2^(attempts−1))]`, floored at a tenth of
    /// `base` so a burst of failures cannot turn into a busy loop.
    pub fn delay(&self, attempts: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        let ceiling = self.base.saturating_mul(1u32 << exp).min(self.cap);
        let jittered = ceiling.mul_f64(jitter.clamp(0.0, 1.0)).max(self.base / 10);
        match retry_after {
            Some(ra) => jittered.max(ra.min(self.max_retry_after)),
            None => jittered,
        }
    }
}

/// Parses `Retry-After` as delay-seconds or an HTTP-date (RFC 9110), relative to `now`.
pub fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let delta = date - now;
    Some(if delta.is_negative() {
        Duration::ZERO
    } else {
        delta.unsigned_abs()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        base: Duration::from_secs(2),
        cap: Duration::from_secs(600),
        max_retry_after: Duration::from_secs(3600),
        probe: Duration::from_secs(3),
    };

    #[test]
    fn grows_exponentially_and_is_capped() {
        assert_eq!(B.delay(1, 0.999_999, None).as_secs(), 1); // just under 2 s
        assert_eq!(B.delay(4, 0.5, None), Duration::from_secs(8));
        assert_eq!(B.delay(40, 1.0, None), Duration::from_secs(600));
        assert_eq!(B.delay(3, 0.0, None), Duration::from_millis(200), "floor");
    }

    #[test]
    fn never_earlier_than_retry_after_but_bounded() {
        assert_eq!(
            B.delay(1, 0.1, Some(Duration::from_secs(120))),
            Duration::from_secs(120)
        );
        assert_eq!(
            B.delay(1, 0.1, Some(Duration::from_secs(999_999))),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn a_down_destination_is_probed_within_the_probe_interval() {
        assert_eq!(B.probe_delay(0.0, None), Duration::from_millis(1500));
        assert_eq!(B.probe_delay(1.0, None), Duration::from_secs(3));
        assert_eq!(
            B.probe_delay(0.5, Some(Duration::from_secs(60))),
            Duration::from_secs(60),
            "never before Retry-After"
        );
        assert_eq!(
            B.probe_delay(0.5, Some(Duration::from_secs(999_999))),
            Duration::from_secs(3600)
        );
        assert_eq!(B.longest(), Duration::from_secs(3600));
    }

    #[test]
    fn retry_after_forms() {
        let now = time::macros::datetime!(2026-11-21 10:00:00 UTC);
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Sat, 21 Nov 2026 10:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sat, 21 Nov 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
