//! Living under systemd (`sd_notify(3)`): readiness for `Type=notify` units, the watchdog's
//! keep-alives, and the line `systemctl status` shows. Every call is a no-op when the process
//! was not started by systemd (no `NOTIFY_SOCKET`), so tests and desktops need nothing.

use sd_notify::NotifyState;
use std::time::Duration;

/// The service is up: systemd starts what waits for it and arms the watchdog.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// One keep-alive: the service proves it still does its work, not merely that it exists.
pub fn keep_alive() {
    send(&[NotifyState::Watchdog]);
}

/// The service is stopping on request (not dying).
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// How often to send [`keep_alive`]: half the unit's `WatchdogSec=`, or `None` without one.
///
/// `WATCHDOG_PID` is deliberately not compared with our pid: under the cage compositor the
/// unit's main process is cage, and the kiosk it runs is the one that must prove it is alive
/// (the unit says `NotifyAccess=all`).
pub fn keep_alive_interval() -> Option<Duration> {
    interval_from(std::env::var("WATCHDOG_USEC").ok().as_deref())
}

fn interval_from(watchdog_usec: Option<&str>) -> Option<Duration> {
    let usec: u64 = watchdog_usec?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

fn send(states: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alives_come_at_half_the_watchdog_period() {
        assert_eq!(
            interval_from(Some("20000000")),
            Some(Duration::from_secs(10))
        );
        assert_eq!(interval_from(Some("0")), None);
        assert_eq!(interval_from(Some("soon")), None);
        assert_eq!(interval_from(None), None);
    }
}
