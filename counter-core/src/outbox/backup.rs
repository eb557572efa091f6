//! A consistent copy of the outbox while the kiosk and counter-sync keep using it (SQLite's
//! online backup), for `kioskctl outbox backup`. The copy holds what the outbox holds: sealed
//! payloads and non-personal metadata, never a resident's data in plaintext.

use super::*;
use std::os::unix::fs::OpenOptionsExt;

/// What a backup copied.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    /// The new file.
    pub path: PathBuf,
    /// Applications in it.
    pub applications: u64,
    /// Its schema version.
    pub schema_version: i64,
}

impl Outbox {
    /// Copies the whole database to `dest`, a new file (never overwritten) with the outbox's
    /// mode, page by page so that writers are held up for moments only; the copy must pass
    /// its integrity check.
    pub fn backup_to(&self, dest: &Path) -> Result<BackupReport, OutboxError> {
        let io = |e: std::io::Error| OutboxError::Backup {
            path: dest.to_owned(),
            message: e.to_string(),
        };
        // Made here, exclusively and with the right mode, before SQLite writes into it.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(dest)
            .and_then(|f| {
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
            })
            .map_err(io)?;
        let copied = (|| {
            let mut copy = Connection::open(dest)?;
            {
                let backup = rusqlite::backup::Backup::new(&self.conn, &mut copy)?;
                backup.run_to_completion(256, Duration::from_millis(5), None)?;
            }
            // A standalone file: no WAL beside it to lose when it is copied elsewhere.
            copy.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get::<_, String>(0))?;
            let integrity: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            let applications: i64 =
                copy.query_row("SELECT count(*) FROM application", [], |r| r.get(0))?;
            let schema_version: i64 = copy.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            Ok::<_, rusqlite::Error>((integrity, applications, schema_version))
        })();
        match copied {
            Ok((integrity, applications, schema_version)) if integrity == "ok" => {
                Ok(BackupReport {
                    path: dest.to_owned(),
                    applications: applications as u64,
                    schema_version,
                })
            }
            Ok((integrity, ..)) => {
                let _ = std::fs::remove_file(dest);
                Err(OutboxError::Backup {
                    path: dest.to_owned(),
                    message: format!("the copy fails its integrity check: {integrity}"),
                })
            }
            Err(e) => {
                // Half a backup is worse than none: it would be trusted.
                let _ = std::fs::remove_file(dest);
                Err(OutboxError::Backup {
                    path: dest.to_owned(),
                    message: e.to_string(),
                })
            }
        }
    }
}
