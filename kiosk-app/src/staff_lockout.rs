//! The staff PIN lockout on disk, so that a power cycle does not clear it: a small file next to
//! the outbox (`<outbox dir>/staff-lockout`, mode 0600), replaced atomically (temporary file,
//! fsync, rename, fsync of the directory). A missing file means no mistakes; a file that cannot
//! be read or makes no sense fails safe: staff mode is locked for one lockout period.
//!
//! Format (text, one field a line):
//!
//! ```text
//! madoguchi-staff-lockout 1
//! failures 3
//! locked_until -
//! ```
//!
//! `locked_until` is `-` or the wall-clock end of the lockout in Unix seconds.

use crate::session::StaffLockout;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Its file name, beside the outbox.
pub const FILE_NAME: &str = "staff-lockout";
const MAGIC: &str = "madoguchi-staff-lockout 1";

/// Where the lockout state of the kiosk whose outbox is `outbox` lives.
pub fn path_for(outbox: &Path) -> PathBuf {
    match outbox.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(FILE_NAME),
        _ => PathBuf::from(FILE_NAME),
    }
}

/// Reads the saved state; never fails: a missing file is "no mistakes", anything unreadable
/// is a lockout of one period from `now_unix` (logged for staff and the technician).
pub fn load(path: &Path, now_unix: i64) -> StaffLockout {
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return StaffLockout::default(),
        Err(e) => {
            tracing::error!(
                alert = "staff-lockout-unreadable",
                path = %path.display(),
                error = %e,
                "cannot read the staff PIN lockout state: staff mode locked for five minutes"
            );
            return StaffLockout::fail_safe(now_unix);
        }
    };
    match parse(&text) {
        Some(state) => state,
        None => {
            tracing::error!(
                alert = "staff-lockout-unreadable",
                path = %path.display(),
                "the staff PIN lockout state is damaged: staff mode locked for five minutes"
            );
            StaffLockout::fail_safe(now_unix)
        }
    }
}

fn parse(bytes: &[u8]) -> Option<StaffLockout> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let failures = lines
        .next()?
        .strip_prefix("failures ")?
        .parse::<u8>()
        .ok()?;
    let locked_until = match lines.next()?.strip_prefix("locked_until ")? {
        "-" => None,
        n => Some(n.parse::<i64>().ok()?),
    };
    if lines.any(|l| !l.is_empty()) {
        return None;
    }
    Some(StaffLockout {
        failures,
        locked_until,
    })
}

/// Replaces the saved state atomically and durably, readable by the kiosk's user only.
pub fn save(path: &Path, state: &StaffLockout) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(".{FILE_NAME}.tmp"));
    let text = format!(
        "{MAGIC}\nfailures {}\nlocked_until {}\n",
        state.failures,
        state
            .locked_until
            .map_or_else(|| "-".to_owned(), |t| t.to_string())
    );
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    // A temporary file left by a crash keeps its old mode: set it again.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    #[test]
    fn round_trip_mode_and_no_temporary_file_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("outbox.sqlite"));
        assert_eq!(path, dir.path().join("staff-lockout"));
        assert_eq!(
            load(&path, NOW),
            StaffLockout::default(),
            "missing: no mistakes"
        );
        for state in [
            StaffLockout {
                failures: 3,
                locked_until: None,
            },
            StaffLockout {
                failures: 0,
                locked_until: Some(NOW + 300),
            },
        ] {
            save(&path, &state).unwrap();
            assert_eq!(load(&path, NOW), state);
        }
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("staff-lockout")]);
    }

    #[test]
    fn an_unreadable_or_damaged_file_locks_staff_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let locked = StaffLockout::fail_safe(NOW);
        assert_eq!(locked.locked_until, Some(NOW + 300));
        for garbage in [
            &b""[..],
            b"\xFF\xFE",
            b"failures 0\nlocked_until -\n",
            b"madoguchi-staff-lockout 1\nfailures x\nlocked_until -\n",
            b"madoguchi-staff-lockout 1\nfailures 1\nlocked_until soon\n",
            b"madoguchi-staff-lockout 1\nfailures 1\n",
            b"madoguchi-staff-lockout 1\nfailures 1\nlocked_until -\nmore\n",
            b"madoguchi-staff-lockout 2\nfailures 0\nlocked_until -\n",
        ] {
            std::fs::write(&path, garbage).unwrap();
            assert_eq!(load(&path, NOW), locked, "{garbage:?}");
        }
        // Not a file at all (a directory in its place): unreadable, so locked too.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert_eq!(load(&path, NOW), locked);
    }
}
