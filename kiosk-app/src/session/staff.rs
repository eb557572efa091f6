//! Staff mode on the touchscreen: a 6-digit staff PIN (the runner checks it against the
//! configured Argon2 hash; five mistakes lock staff mode for five minutes), then the receipts
//! the printer never confirmed, each of which can be reprinted. It is entered only from the
//! welcome screen, so no resident's data is ever on screen with it.

use std::time::{Duration, Instant};

pub const STAFF_PIN_LEN: usize = 6;
const MAX_FAILURES: u8 = 5;
const LOCKOUT: Duration = Duration::from_secs(300);

/// What staff see: the printer's state and the reprint list (from the outbox, nothing personal).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StaffPanel {
    /// "ready", "near-end", a `PrintProblem` code, or "write-only".
    pub printer: &'static str,
    pub receipts: Vec<UnconfirmedReceipt>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnconfirmedReceipt {
    pub number: String,
    /// "11/22 14:05", Japan time.
    pub submitted: String,
    pub municipality: String,
    pub procedure: String,
    /// A `PrintProblem` code, or "" when printing was never tried (the kiosk stopped).
    pub problem: String,
}

/// Staff mode as the view shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StaffView {
    pub locked: bool,
    pub busy: bool,
    pub panel: StaffPanel,
    /// "" | "reprinted" | a `PrintProblem` code: the outcome of the last reprint.
    pub result: &'static str,
}

#[derive(Debug, Default)]
pub(super) struct StaffState {
    failures: u8,
    locked_until: Option<Instant>,
    pub panel: Option<StaffPanel>,
    pub busy: bool,
    pub result: &'static str,
}

impl StaffState {
    pub fn locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|t| now < t)
    }

    /// Counts a PIN check; true when staff mode opens.
    pub fn checked(&mut self, ok: bool, now: Instant) -> bool {
        self.busy = false;
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
                    alert = "staff_pin_locked",
                    "five wrong staff PINs: staff mode locked for five minutes"
                );
            }
        }
        false
    }

    /// Leaves staff mode (the lockout stays).
    pub fn close(&mut self) {
        self.panel = None;
        self.busy = false;
        self.result = "";
    }

    pub fn view(&self, now: Instant) -> StaffView {
        StaffView {
            locked: self.locked(now),
            busy: self.busy,
            panel: self.panel.clone().unwrap_or_default(),
            result: self.result,
        }
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
}
