//! Staff mode on the touchscreen: a 6-digit staff PIN (the runner checks it against the
//! configured Argon2 hash; five mistakes lock staff mode for five minutes), then the receipts
//! the printer never confirmed, each of which can be reprinted. It is entered only from the
//! welcome screen, so no resident's data is ever on screen with it.
//!
//! The mistakes and the lockout survive a restart: the runner loads a [`StaffLockout`] at
//! start ([`crate::staff_lockout`]) and the flow asks for it to be saved
//! ([`super::Effect::SaveStaffLockout`]) as soon as a mistake or a lockout happens.

use crate::domain::{PrintProblem, PrinterState};
use std::time::{Duration, Instant};

/// Digits of the staff PIN.
pub const STAFF_PIN_LEN: usize = 6;
const MAX_FAILURES: u8 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(300);

/// The staff PIN lockout as it is kept across restarts: the wrong PINs since the last right
/// one (or the last lockout), and while locked the lockout's end as wall-clock Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StaffLockout {
    /// Wrong PINs since the last right one.
    pub failures: u8,
    /// Unix seconds; while locked.
    pub locked_until: Option<i64>,
}

impl StaffLockout {
    /// What a state that cannot be read means: locked for a whole lockout period from now.
    pub fn fail_safe(now_unix: i64) -> Self {
        StaffLockout {
            failures: 0,
            locked_until: Some(now_unix + LOCKOUT.as_secs() as i64),
        }
    }
}

/// What staff see: the printer's state and the reprint list (from the outbox, nothing personal).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StaffPanel {
    /// `None` until the printer has answered.
    pub printer: Option<PrinterState>,
    /// The receipts the printer never confirmed.
    pub receipts: Vec<UnconfirmedReceipt>,
}

/// A receipt on the reprint list (nothing personal).
#[derive(Debug, Clone, PartialEq)]
pub struct UnconfirmedReceipt {
    /// Its number.
    pub number: String,
    /// "11/22 14:05", Japan time.
    pub submitted: String,
    /// Its municipality (Japanese).
    pub municipality: String,
    /// Its procedure (Japanese).
    pub procedure: String,
    /// `None` when printing was never tried (the kiosk stopped).
    pub problem: Option<PrintProblem>,
}

/// Staff mode as the view shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StaffView {
    /// Five wrong PINs: no PIN taken for five minutes.
    pub locked: bool,
    /// A PIN check or a reprint is under way.
    pub busy: bool,
    /// Printer state and reprint list.
    pub panel: StaffPanel,
    /// The outcome of the last reprint, if any.
    pub result: Option<Result<(), PrintProblem>>,
}

#[derive(Debug, Default)]
pub(super) struct StaffState {
    failures: u8,
    locked_until: Option<Instant>,
    /// `(failures, locked_until)` as the state file has them (last load or save).
    on_disk: (u8, Option<Instant>),
}

impl StaffState {
    pub fn locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|t| now < t)
    }

    /// Counts a PIN check; true when staff mode opens.
    pub fn checked(&mut self, ok: bool, now: Instant) -> bool {
        if ok && !self.locked(now) {
            self.failures = 0;
            return true;
        }
        if !ok {
            self.failures += 1;
            if self.failures >= MAX_FAILURES {
                self.failures = 0;
                self.locked_until = Some(now + LOCKOUT);
                tracing::warn!(
                    alert = "staff-pin-locked",
                    "five wrong staff PINs: staff mode locked for five minutes"
                );
            }
        }
        false
    }

    /// Takes over the state saved before a restart. The end of a lockout is wall-clock time:
    /// a clock set back since must not stretch it beyond one lockout period from now (nor can
    /// a clock set forward be told apart from time passing: it ends the lockout early).
    pub fn restore(&mut self, saved: StaffLockout, now: Instant, now_unix: i64) {
        let max = LOCKOUT.as_secs() as i64;
        let mut left = saved
            .locked_until
            .map_or(0, |end| end.saturating_sub(now_unix).clamp(0, max));
        self.failures = saved.failures;
        if saved.failures >= MAX_FAILURES {
            // Never written so; a record that says so is not to be trusted: lock.
            self.failures = 0;
            left = max;
        }
        self.locked_until = (left > 0).then(|| now + Duration::from_secs(left as u64));
        self.on_disk = (self.failures, self.locked_until);
    }

    /// The record to save now, if the file is behind memory: at once after a mistake or a
    /// lockout (before staff can try again), and on `leaving` staff mode for a right PIN
    /// that cleared the mistakes (the file stays the stricter of the two until then).
    pub fn take_unsaved(
        &mut self,
        now: Instant,
        now_unix: i64,
        leaving: bool,
    ) -> Option<StaffLockout> {
        let current = (self.failures, self.locked_until);
        if current == self.on_disk {
            return None;
        }
        let stricter = self.failures > self.on_disk.0
            || (self.locked_until.is_some() && self.locked_until != self.on_disk.1);
        if !stricter && !leaving {
            return None;
        }
        self.on_disk = current;
        Some(StaffLockout {
            failures: self.failures,
            locked_until: self.locked_until.filter(|t| now < *t).map(|t| {
                let left = t - now;
                now_unix + left.as_secs() as i64 + i64::from(left.subsec_nanos() > 0)
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_wrong_pins_lock_staff_mode_for_five_minutes() {
        let t0 = Instant::now();
        let mut s = StaffState::default();
        for _ in 0..4 {
            assert!(!s.checked(false, t0));
            assert!(!s.locked(t0));
        }
        assert!(!s.checked(false, t0));
        assert!(s.locked(t0));
        // Even the right PIN does not open it while locked.
        assert!(!s.checked(true, t0 + Duration::from_secs(299)));
        assert!(s.checked(true, t0 + LOCKOUT));
        // A success resets the count.
        for _ in 0..4 {
            s.checked(false, t0 + LOCKOUT);
        }
        assert!(s.checked(true, t0 + LOCKOUT));
        s.checked(false, t0 + LOCKOUT);
        assert!(!s.locked(t0 + LOCKOUT));
    }

    const T0_UNIX: i64 = 1_790_000_000;

    #[test]
    fn every_mistake_is_saved_at_once_and_a_restart_keeps_the_lockout() {
        let t0 = Instant::now();
        let mut s = StaffState::default();
        for n in 1..=4 {
            s.checked(false, t0);
            let file = s
                .take_unsaved(t0, T0_UNIX, false)
                .expect("a mistake is saved at once");
            assert_eq!(file.failures, n);
        }
        s.checked(false, t0);
        let file = s.take_unsaved(t0, T0_UNIX, false).unwrap();
        assert_eq!(
            file,
            StaffLockout {
                failures: 0,
                locked_until: Some(T0_UNIX + 300)
            }
        );
        // A restart 100 s later: still locked for the remaining 200 s.
        let t1 = t0 + Duration::from_secs(7); // a new boot: the monotonic clock means nothing
        let mut after = StaffState::default();
        after.restore(file, t1, T0_UNIX + 100);
        assert!(after.locked(t1));
        assert!(!after.checked(true, t1 + Duration::from_secs(199)));
        assert!(after.checked(true, t1 + Duration::from_secs(200)));
        // Four mistakes survive a restart too: the fifth after it locks.
        let mut s = StaffState::default();
        s.restore(
            StaffLockout {
                failures: 4,
                locked_until: None,
            },
            t0,
            T0_UNIX,
        );
        s.checked(false, t0);
        assert!(s.locked(t0));
    }

    #[test]
    fn a_clock_set_back_never_stretches_the_lockout() {
        let t0 = Instant::now();
        let mut s = StaffState::default();
        // Locked until T0+300, then the wall clock jumps back a day before the restart.
        s.restore(
            StaffLockout {
                failures: 0,
                locked_until: Some(T0_UNIX + 300),
            },
            t0,
            T0_UNIX - 86_400,
        );
        assert!(s.locked(t0 + LOCKOUT - Duration::from_secs(1)));
        assert!(
            !s.locked(t0 + LOCKOUT),
            "at most one lockout period from now"
        );
        // A lockout already over, and a record that claims five mistakes (never written so).
        let mut s = StaffState::default();
        s.restore(
            StaffLockout {
                failures: 2,
                locked_until: Some(T0_UNIX - 1),
            },
            t0,
            T0_UNIX,
        );
        assert!(!s.locked(t0));
        s.restore(
            StaffLockout {
                failures: 5,
                locked_until: None,
            },
            t0,
            T0_UNIX,
        );
        assert!(s.locked(t0));
    }

    #[test]
    fn a_right_pin_clears_the_mistakes_on_disk_when_staff_mode_is_left() {
        let t0 = Instant::now();
        let mut s = StaffState::default();
        s.checked(false, t0);
        assert!(s.take_unsaved(t0, T0_UNIX, false).is_some());
        assert!(s.checked(true, t0));
        assert_eq!(
            s.take_unsaved(t0, T0_UNIX, false),
            None,
            "not while opening"
        );
        assert_eq!(
            s.take_unsaved(t0, T0_UNIX, true),
            Some(StaffLockout::default()),
            "on leaving"
        );
        assert_eq!(s.take_unsaved(t0, T0_UNIX, true), None, "once");
    }
}
