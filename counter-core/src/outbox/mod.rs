//! The durable outbox: one SQLite file shared by the kiosk (writer of new applications) and
//! counter-sync (delivery). WAL with `synchronous=FULL`, write transactions `BEGIN IMMEDIATE`,
//! a lease on claimed rows, and the retry schedule stored in the rows themselves.
//!
//! `schema` (migrations), `queue` (the kiosk's side: enqueueing), `delivery` (counter-sync's
//! side: claims, outcomes, destinations), `receipts` (print outcomes), `query` (rows, counts).

use crate::api::{ApplicationEnvelope, RemoteStatus};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What can go wrong with the outbox; each names the file where it is about the file.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The file cannot be opened or configured.
    #[error("outbox database {path}: {source}")]
    Open {
        /// The outbox file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The integrity check failed: the file is named, never reset.
    #[error("outbox database {path} is damaged: {detail}")]
    Corrupt {
        /// The outbox file.
        path: PathBuf,
        /// What the integrity check said.
        detail: String,
    },
    #[error(
        "outbox database {path} has schema version {found}, newer than this program ({supported}): a newer Madoguchi wrote it; install that version again (this one cannot read it, and nothing was changed)"
    )]
    /// Written by a newer version: refused, never downgraded.
    TooNew {
        /// The outbox file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this program knows.
        supported: i64,
    },
    /// A statement failed.
    #[error("outbox database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// Other users could open the file, and its mode cannot be fixed.
    #[error("outbox file {path} has mode {mode:04o}, open to other users, and its mode cannot be changed ({source}); run `chmod o-rwx` on it as its owner")]
    Exposed {
        /// The outbox file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
        /// Why chmod failed.
        source: std::io::Error,
    },
    /// A backup could not be made (nothing is left at `path`, unless it existed before).
    #[error("cannot back up the outbox to {path}: {message}")]
    Backup {
        /// The backup file asked for.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// No application with this id or receipt number.
    #[error("no application {0} in the outbox")]
    NotFound(String),
    /// The envelope could not be serialized.
    #[error("cannot encode the application: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Delivery state, in words staff understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Due now or later.
    Waiting,
    /// Claimed by a worker (under a lease).
    Sending,
    /// The municipality has it.
    Delivered,
    /// Refused for good; kept for staff (requeueable).
    Failed,
}

impl State {
    /// Every state, in the order staff read them.
    pub const ALL: [State; 4] = [
        State::Waiting,
        State::Sending,
        State::Delivered,
        State::Failed,
    ];

    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Sending => "sending",
            State::Delivered => "delivered",
            State::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// Mode of the outbox and its `-wal`/`-shm` files: the kiosk and counter-sync run as users of
/// their own that share one group; nobody else may open the file. SQLite gives the journal
/// files the database file's mode.
pub const FILE_MODE: u32 = 0o660;

mod backup;
mod delivery;
mod query;
mod queue;
mod receipts;
mod runs;
mod schema;
#[cfg(test)]
mod tests;

pub use backup::BackupReport;
use query::{row_from_sql, ROW_SELECT};
pub use runs::ProcessRuns;
use schema::{MIGRATIONS, SCHEMA_VERSION};

/// What the kiosk hands over when the resident presses "submit".
#[derive(Debug, Clone)]
pub struct NewApplication {
    /// A UUID: the idempotency key of every attempt.
    pub application_id: uuid::Uuid,
    /// The kiosk that took it.
    pub kiosk_id: String,
    /// Where it goes.
    pub municipality_code: String,
    /// The catalogue's code of the procedure.
    pub procedure_code: String,
    /// When the resident pressed "submit".
    pub submitted_at: time::OffsetDateTime,
    /// The resident's language code, for reprinting the receipt (not personal data).
    pub receipt_lang: String,
    /// Already sealed to the municipality.
    pub sealed: String,
}

/// A row claimed for one delivery attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The application's id.
    pub id: String,
    /// The envelope to POST.
    pub body: Vec<u8>,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// When the resident submitted it (unix ms), for the delivery-latency metric.
    pub submitted_ms: i64,
}

/// One application as staff and tools see it (never its sealed payload).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The application's id.
    pub id: String,
    /// The number on the resident's receipt.
    pub receipt_number: String,
    /// Where it goes.
    pub municipality_code: String,
    /// The procedure.
    pub procedure_code: String,
    /// RFC 3339.
    pub submitted_at: String,
    /// Where delivery stands.
    pub state: State,
    /// Attempts so far.
    pub attempts: u32,
    /// Unix ms: not tried again before this.
    pub next_attempt_at: i64,
    /// The last answer's HTTP status, if any.
    pub last_status: Option<u16>,
    /// Why the last attempt failed (sanitised).
    pub last_error: Option<String>,
    /// The municipality's reference, once delivered.
    pub municipality_reference: Option<String>,
    /// The municipality's last reported status.
    pub remote_status: Option<String>,
    /// The printer confirmed the receipt.
    pub printed: bool,
    /// The sealed payload is still held (deleted on delivery).
    pub has_payload: bool,
    /// Unix ms of delivery.
    pub delivered_at: Option<i64>,
    /// The language of the resident's receipt (reprints use it).
    pub receipt_lang: String,
    /// Why the last print of the receipt was not confirmed (a `PrintProblem` code).
    pub print_problem: Option<String>,
}

/// The outcome of one attempt, as the outbox records it.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// The municipality has it: the sealed payload is deleted.
    Delivered {
        /// The answer's status.
        status: u16,
        /// The municipality's reference.
        reference: String,
        /// Its status at the municipality.
        remote: RemoteStatus,
    },
    /// Try this row again, not before `next_attempt_at` (unix ms).
    Retry {
        /// The answer's status, if any came.
        status: Option<u16>,
        /// Why (sanitised).
        error: String,
        /// Unix ms.
        next_attempt_at: i64,
    },
    /// Kept with its reason for staff; requeueable.
    /// Refused for good.
    Failed {
        /// The answer's status, if any.
        status: Option<u16>,
        /// Why (sanitised).
        error: String,
    },
}

/// What a finished batch means for its destination as a whole.
#[derive(Debug, Clone, PartialEq)]
pub enum DestinationUpdate {
    /// It answered: clear its retry schedule.
    Healthy,
    /// It is unreachable or overloaded: no request before `retry_at`.
    /// Unreachable or overloaded: probed after `retry_at` (unix ms).
    Backoff {
        /// Unix ms.
        retry_at: i64,
        /// The last failure (sanitised).
        error: String,
    },
    /// It answered, but asked to wait (`Retry-After`): no request before `retry_at`, then a
    /// full batch again, not the single probe of a destination that was down.
    /// Asked to wait (`Retry-After`) until `retry_at` (unix ms).
    Wait {
        /// Unix ms.
        retry_at: i64,
        /// What it answered (sanitised).
        error: String,
    },
    /// `401`/`403`: paused until `until` or until staff resume it.
    /// Refused the kiosk: paused until `until` (unix ms) or until staff resume it.
    Pause {
        /// Unix ms.
        until: i64,
        /// Why (sanitised).
        reason: String,
    },
}

/// A destination's schedule, for status, metrics and the worker's sleep.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Destination {
    /// The municipality.
    pub municipality_code: String,
    /// Unix ms; set while refused.
    pub paused_until: Option<i64>,
    /// Why it was paused.
    pub pause_reason: Option<String>,
    /// Unix ms: not tried before this.
    pub retry_at: Option<i64>,
    /// Failed batches in a row.
    pub failures: u32,
    /// The last failure (sanitised).
    pub last_error: Option<String>,
    /// Why the daemon cannot deliver to it at all (set by its worker's supervisor).
    pub broken_reason: Option<String>,
}

/// How far ahead a stored time may hold work back. Times are wall-clock milliseconds; a kiosk
/// that failed a delivery while its clock was far ahead and was then corrected by NTP would
/// otherwise leave rows and destinations blocked for as long as the clock was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon {
    /// Longest wait any retry time may ask for: the backoff cap or the capped Retry-After.
    pub retry: Duration,
    /// Longest a refusal pause lasts before a probe.
    pub pause: Duration,
    /// A worker's lease.
    pub lease: Duration,
}

impl Destination {
    /// The earliest time (unix ms) a request may be sent, if later than `now_ms`.
    pub fn blocked_until(&self, now_ms: i64) -> Option<i64> {
        let until = self.paused_until.max(self.retry_at)?;
        (until > now_ms).then_some(until)
    }
}

/// Applications of one municipality in one state.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Count {
    /// The municipality.
    pub municipality_code: String,
    /// The state.
    pub state: State,
    /// How many.
    pub count: u64,
}

/// The outbox file, opened by one process (the kiosk or counter-sync).
pub struct Outbox {
    conn: Connection,
    path: PathBuf,
}

impl Outbox {
    /// Opens (creating if needed) and migrates the outbox. A damaged file is reported, never reset.
    pub fn open(path: &Path) -> Result<Self, OutboxError> {
        let mut outbox = Self::attach(path)?;
        outbox.migrate().map_err(|e| match e {
            OutboxError::Sql(e) => outbox.classify(e),
            other => other,
        })?;
        let check: String = outbox
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| outbox.classify(e))?;
        if check != "ok" {
            return Err(OutboxError::Corrupt {
                path: outbox.path.clone(),
                detail: check,
            });
        }
        Ok(outbox)
    }

    /// Another connection to an outbox this process has already opened (migrated and checked)
    /// with [`Outbox::open`]: the daemon's workers, its purge and its metrics.
    pub fn attach(path: &Path) -> Result<Self, OutboxError> {
        create_private(path)?;
        let conn = Connection::open(path).map_err(|source| OutboxError::Open {
            path: path.to_owned(),
            source,
        })?;
        let outbox = Outbox {
            conn,
            path: path.to_owned(),
        };
        outbox.configure().map_err(|e| outbox.classify(e))?;
        Ok(outbox)
    }

    fn classify(&self, e: rusqlite::Error) -> OutboxError {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase)
            | Some(rusqlite::ErrorCode::DatabaseCorrupt) => OutboxError::Corrupt {
                path: self.path.clone(),
                detail: e.to_string(),
            },
            _ => OutboxError::Open {
                path: self.path.clone(),
                source: e,
            },
        }
    }

    fn configure(&self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(Duration::from_secs(10))?;
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(rusqlite::Error::InvalidQuery);
        }
        self.conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;",
        )
    }

    fn migrate(&mut self) -> Result<(), OutboxError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(OutboxError::TooNew {
                path,
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The database's schema version (`PRAGMA user_version`): [`Outbox::open`] migrates it
    /// up to this program's, and refuses a newer one.
    pub fn schema_version(&self) -> Result<i64, OutboxError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// `PRAGMA integrity_check`, for `doctor` and for the crash tests.
    pub fn integrity_check(&self) -> Result<String, OutboxError> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    fn update(
        &mut self,
        id: &str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<(), OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(sql, params)?;
        tx.commit()?;
        if n == 0 {
            return Err(OutboxError::NotFound(id.into()));
        }
        Ok(())
    }

    /// Raw SQL for this module's tests (to damage rows, read pragmas back).
    #[cfg(test)]
    fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// Creates the database file with [`FILE_MODE`] (whatever the umask) before SQLite opens it,
/// and takes other users' access away from files an older version or a technician created.
fn create_private(path: &Path) -> Result<(), OutboxError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path);
    if let Ok(file) = &created {
        // The umask may have taken the group's write access; the kiosk needs it.
        let _ = file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE));
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = PathBuf::from(name);
        let Ok(meta) = std::fs::metadata(&file) else {
            continue; // not there (yet): SQLite creates the journals with the database's mode
        };
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o007 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & !0o007))
                .map_err(|source| OutboxError::Exposed {
                    path: file.clone(),
                    mode,
                    source,
                })?;
            tracing::warn!(file = %file.display(), old_mode = format!("{mode:04o}"), "took other users' access away from the outbox file");
        }
    }
    Ok(())
}
