//! What the kiosk needs of the machine beyond its devices: a synchronised clock (receipt
//! times, opening hours), room on the disk for the outbox, the version the fleet expects, and
//! its two services running. Read by `kioskctl doctor` and the kiosk's metrics.

use std::path::Path;

/// Below this much free space for the outbox, the doctor and the alert rules complain.
pub const LOW_DISK_BYTES: u64 = 500_000_000;

/// Whether the kernel's clock is synchronised (NTP, via `adjtimex(2)`: what `timedatectl`
/// shows as "System clock synchronized" and node_exporter as `node_timex_sync_status`).
pub fn clock_synchronised() -> std::io::Result<bool> {
    // SAFETY: adjtimex with modes = 0 only reads the kernel's clock state into `tx`.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(state != libc::TIME_ERROR && tx.status & libc::STA_UNSYNC == 0)
}

/// Bytes free for an unprivileged user on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let dir = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(Path::new("/"))
    };
    let st = rustix::fs::statvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// This build's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Whether `VERSION` is the `expected` one: equal, or the package's Debian revision of it
/// (`0.1.0` is met by `0.1.0` and asked as `0.1.0-1`).
pub fn version_matches(expected: &str) -> bool {
    let expected = expected.trim();
    expected == VERSION
        || expected
            .rsplit_once('-')
            .is_some_and(|(v, rev)| v == VERSION && rev.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_the_machine_are_read() {
        assert!(version_matches(VERSION));
        assert!(version_matches(&format!("{VERSION}-1")));
        assert!(!version_matches("0.0.1"));
        assert!(!version_matches(&format!("{VERSION}-beta")));
        assert!(free_bytes(Path::new("/")).unwrap() > 0);
        assert!(free_bytes(Path::new("/tmp/no-such-file.db")).is_ok());
        clock_synchronised().unwrap();
    }
}
