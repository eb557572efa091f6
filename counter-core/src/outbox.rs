//! The durable outbox: one SQLite file shared by the kiosk (writer of new applications) and
//! counter-sync (delivery). WAL with `synchronous=FULL`, write transactions `BEGIN IMMEDIATE`,
//! a lease on claimed rows, and the retry schedule stored in the rows themselves.

use crate::api::{ApplicationEnvelope, RemoteStatus};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("outbox database {path} is damaged: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "outbox database {path} has schema version {found}, newer than this program ({supported})"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("outbox database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("outbox file {path} has mode {mode:04o}, open to other users, and its mode cannot be changed ({source}); run `chmod o-rwx` on it as its owner")]
    Exposed {
        path: PathBuf,
        mode: u32,
        source: std::io::Error,
    },
    #[error("no application {0} in the outbox")]
    NotFound(String),
    #[error("cannot encode the application: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Delivery state, in words staff understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Waiting,
    Sending,
    Delivered,
    Failed,
}

impl State {
    pub const ALL: [State; 4] = [
        State::Waiting,
        State::Sending,
        State::Delivered,
        State::Failed,
    ];

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

const MIGRATIONS: &[&str] = &[
    // 1: applications and paused destinations.
    r#"
CREATE TABLE application(
    id                     TEXT PRIMARY KEY,      -- application_id, also the Idempotency-Key
    receipt_number         TEXT NOT NULL UNIQUE,
    kiosk_id               TEXT NOT NULL,
    municipality_code      TEXT NOT NULL,
    procedure_code         TEXT NOT NULL,
    submitted_at           TEXT NOT NULL,
    body                   BLOB,                  -- the exact POST body; NULL once the municipality has it
    state                  TEXT NOT NULL CHECK(state IN ('waiting','sending','delivered','failed')),
    attempts               INTEGER NOT NULL DEFAULT 0,
    next_attempt_at        INTEGER NOT NULL,      -- unix ms
    lease_until            INTEGER,               -- unix ms, set while a worker holds the row
    last_status            INTEGER,
    last_error             TEXT,
    municipality_reference TEXT,
    remote_status          TEXT,
    delivered_at           INTEGER,
    printed                INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX application_due ON application(municipality_code, state, next_attempt_at);
CREATE TABLE destination(
    municipality_code TEXT PRIMARY KEY,
    paused_until      INTEGER,
    pause_reason      TEXT
);
"#,
    // 2: the destination's own retry schedule (a backend that is down is probed, not hammered
    // row by row), the municipality's later status, and the index of the retention purge.
    r#"
ALTER TABLE destination ADD COLUMN retry_at INTEGER;
ALTER TABLE destination ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE destination ADD COLUMN last_error TEXT;
ALTER TABLE application ADD COLUMN remote_checked_at INTEGER;
CREATE INDEX application_delivered ON application(state, delivered_at);
-- The last receipt number per kiosk and day: O(1) numbering however full the outbox is.
CREATE TABLE receipt_counter(prefix TEXT PRIMARY KEY, last INTEGER NOT NULL);
"#,
    // 3: what a receipt reprint needs, none of it personal: the language the receipt was
    // printed in, and why the last print was not confirmed.
    r#"
ALTER TABLE application ADD COLUMN receipt_lang TEXT NOT NULL DEFAULT 'ja';
ALTER TABLE application ADD COLUMN print_problem TEXT;
CREATE INDEX application_unprinted ON application(submitted_at) WHERE printed = 0;
"#,
    // 4: a destination the daemon cannot serve at all (its CA file is missing, its worker
    // keeps failing): reported to staff while the other municipalities go on.
    r#"
ALTER TABLE destination ADD COLUMN broken_reason TEXT;
"#,
];

const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// What the kiosk hands over when the resident presses "submit".
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub application_id: uuid::Uuid,
    pub kiosk_id: String,
    pub municipality_code: String,
    pub procedure_code: String,
    pub submitted_at: time::OffsetDateTime,
    /// The resident's language code, for reprinting the receipt (not personal data).
    pub receipt_lang: String,
    /// Already sealed to the municipality.
    pub sealed: String,
}

/// A row claimed for one delivery attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub body: Vec<u8>,
    pub attempts: u32,
    /// When the resident submitted it (unix ms), for the delivery-latency metric.
    pub submitted_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    pub receipt_number: String,
    pub municipality_code: String,
    pub procedure_code: String,
    pub submitted_at: String,
    pub state: State,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub municipality_reference: Option<String>,
    pub remote_status: Option<String>,
    pub printed: bool,
    pub has_payload: bool,
    pub delivered_at: Option<i64>,
    pub receipt_lang: String,
    /// Why the last print of the receipt was not confirmed (a `PrintProblem` code).
    pub print_problem: Option<String>,
}

/// The outcome of one attempt, as the outbox records it.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// The municipality has it: the sealed payload is deleted.
    Delivered {
        status: u16,
        reference: String,
        remote: RemoteStatus,
    },
    /// Try this row again, not before `next_attempt_at` (unix ms).
    Retry {
        status: Option<u16>,
        error: String,
        next_attempt_at: i64,
    },
    /// Kept with its reason for staff; requeueable.
    Failed { status: Option<u16>, error: String },
}

/// What a finished batch means for its destination as a whole.
#[derive(Debug, Clone, PartialEq)]
pub enum DestinationUpdate {
    /// It answered: clear its retry schedule.
    Healthy,
    /// It is unreachable or overloaded: no request before `retry_at`.
    Backoff { retry_at: i64, error: String },
    /// It answered, but asked to wait (`Retry-After`): no request before `retry_at`, then a
    /// full batch again, not the single probe of a destination that was down.
    Wait { retry_at: i64, error: String },
    /// `401`/`403`: paused until `until` or until staff resume it.
    Pause { until: i64, reason: String },
}

/// A destination's schedule, for status, metrics and the worker's sleep.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Destination {
    pub municipality_code: String,
    pub paused_until: Option<i64>,
    pub pause_reason: Option<String>,
    pub retry_at: Option<i64>,
    pub failures: u32,
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

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Count {
    pub municipality_code: String,
    pub state: State,
    pub count: u64,
}

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

    /// `PRAGMA integrity_check`, for `doctor` and for the crash tests.
    pub fn integrity_check(&self) -> Result<String, OutboxError> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    /// Durably enqueues one application and returns its receipt number. When this returns,
    /// the application survives `kill -9` of either process and a power cut.
    pub fn enqueue(&mut self, app: &NewApplication, now_ms: i64) -> Result<String, OutboxError> {
        Ok(self
            .enqueue_many(std::slice::from_ref(app), now_ms)?
            .remove(0))
    }

    /// Enqueues several applications in one transaction (synthetic load, benchmarks).
    pub fn enqueue_many(
        &mut self,
        apps: &[NewApplication],
        now_ms: i64,
    ) -> Result<Vec<String>, OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let numbers = apps
            .iter()
            .map(|app| insert_application(&tx, app, now_ms))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(numbers)
    }

    /// Claims up to `max` due applications of one municipality, oldest first, for one attempt
    /// each. Nothing while the destination is paused or in its own backoff, and a single probe
    /// right after. Rows whose lease ran out (their worker died) are due again.
    pub fn claim_batch(
        &mut self,
        municipality: &str,
        now_ms: i64,
        lease: Duration,
        max: u32,
    ) -> Result<Vec<Claimed>, OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let destination = destination_in(&tx, municipality)?;
        if destination
            .as_ref()
            .and_then(|d| d.blocked_until(now_ms))
            .is_some()
        {
            return Ok(vec![]);
        }
        // A destination that failed is probed with one application, not a whole batch.
        let max = if destination.is_some_and(|d| d.failures > 0) {
            1
        } else {
            max
        };
        let claimed = {
            let mut stmt = tx.prepare_cached(
                // Two index range scans (application_due), so a claim costs the same however
                // many delivered rows the outbox keeps: expired leases first, then due rows.
                "UPDATE application SET state = 'sending', lease_until = ?3, attempts = attempts + 1
                 WHERE id IN (
                     SELECT id FROM application
                      WHERE municipality_code = ?1 AND state = 'sending' AND lease_until <= ?2
                     UNION ALL
                     SELECT id FROM (SELECT id FROM application
                      WHERE municipality_code = ?1 AND state = 'waiting' AND next_attempt_at <= ?2
                        AND body IS NOT NULL
                      ORDER BY next_attempt_at LIMIT ?4)
                     LIMIT ?4)
                 RETURNING id, body, attempts, submitted_at",
            )?;
            let rows = stmt.query_map(
                params![municipality, now_ms, now_ms + lease.as_millis() as i64, max],
                |r| {
                    let submitted: String = r.get(3)?;
                    Ok(Claimed {
                        id: r.get(0)?,
                        body: r.get(1)?,
                        attempts: r.get(2)?,
                        submitted_ms: time::OffsetDateTime::parse(
                            &submitted,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .map_or(0, |t| (t.unix_timestamp_nanos() / 1_000_000) as i64),
                    })
                },
            )?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        tx.commit()?;
        Ok(claimed)
    }

    /// Pulls every stored time of one municipality that lies further ahead than `horizon`
    /// back to `now + horizon`, and says how many it moved. The daemon calls it before each
    /// claim, so no clock jump can hold work back for longer than the policy allows.
    pub fn clamp_schedule(
        &mut self,
        municipality: &str,
        now_ms: i64,
        horizon: Horizon,
    ) -> Result<usize, OutboxError> {
        let at = |d: Duration| now_ms.saturating_add(d.as_millis() as i64);
        let (retry, pause, lease) = (at(horizon.retry), at(horizon.pause), at(horizon.lease));
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut moved = tx.execute(
            "UPDATE destination SET retry_at = ?2 WHERE municipality_code = ?1 AND retry_at > ?2",
            params![municipality, retry],
        )?;
        moved += tx.execute(
            "UPDATE destination SET paused_until = ?2 WHERE municipality_code = ?1 AND paused_until > ?2",
            params![municipality, pause],
        )?;
        // Index range scans (application_due); nothing to scan in the normal case.
        moved += tx.execute(
            "UPDATE application SET next_attempt_at = ?2
              WHERE municipality_code = ?1 AND state = 'waiting' AND next_attempt_at > ?2",
            params![municipality, retry],
        )?;
        moved += tx.execute(
            "UPDATE application SET lease_until = ?2
              WHERE municipality_code = ?1 AND state = 'sending' AND lease_until > ?2",
            params![municipality, lease],
        )?;
        tx.commit()?;
        Ok(moved)
    }

    /// Records (or, with `None`, clears) why the daemon cannot deliver to a municipality.
    pub fn set_broken(
        &mut self,
        municipality: &str,
        reason: Option<&str>,
    ) -> Result<(), OutboxError> {
        self.conn.execute(
            "INSERT INTO destination(municipality_code, broken_reason) VALUES (?1, ?2)
             ON CONFLICT(municipality_code) DO UPDATE SET broken_reason = ?2",
            params![municipality, reason],
        )?;
        Ok(())
    }

    /// Records the outcomes of one batch and what they mean for the destination, in one
    /// transaction. A row that is no longer `sending` (requeued or purged meanwhile) is skipped.
    pub fn finish_batch(
        &mut self,
        municipality: &str,
        records: &[(String, Record)],
        destination: &DestinationUpdate,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (id, record) in records {
            apply_record(&tx, id, record, now_ms)?;
        }
        update_destination(&tx, municipality, destination)?;
        tx.commit()?;
        Ok(())
    }

    /// Puts rows claimed by a process that is gone back in line. Called by the one running
    /// daemon (which holds the daemon lock) before its workers start.
    pub fn release_orphans(&mut self) -> Result<usize, OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE application SET state = 'waiting', lease_until = NULL WHERE state = 'sending'",
            [],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// Puts a failed (or waiting) application back in line for an immediate attempt.
    pub fn requeue(&mut self, id: &str, now_ms: i64) -> Result<(), OutboxError> {
        self.update(
            id,
            "UPDATE application SET state = 'waiting', next_attempt_at = ?2, lease_until = NULL WHERE id = ?1 AND state IN ('failed','waiting') AND body IS NOT NULL",
            params![id, now_ms],
        )
    }

    /// Staff fixed the cause of a pause or want an immediate attempt: clear the schedule.
    pub fn resume_destination(&mut self, municipality: &str) -> Result<(), OutboxError> {
        update_destination(&self.conn, municipality, &DestinationUpdate::Healthy)
    }

    pub fn destination(&self, municipality: &str) -> Result<Option<Destination>, OutboxError> {
        destination_in(&self.conn, municipality)
    }

    pub fn destinations(&self) -> Result<Vec<Destination>, OutboxError> {
        self.select_all(
            &format!("{DESTINATION_SELECT} ORDER BY municipality_code"),
            destination_from_sql,
        )
    }

    fn select_all<T>(
        &self,
        sql: &str,
        row: fn(&rusqlite::Row) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, OutboxError> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map([], row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Delivered applications whose final state at the municipality is not yet known and
    /// that were last asked before `asked_before_ms`.
    pub fn due_status_checks(
        &self,
        municipality: &str,
        asked_before_ms: i64,
        max: u32,
    ) -> Result<Vec<String>, OutboxError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM application WHERE municipality_code = ?1 AND state = 'delivered'
               AND (remote_status IS NULL OR remote_status NOT IN ('completed','rejected'))
               AND COALESCE(remote_checked_at, delivered_at, 0) <= ?2
             ORDER BY COALESCE(remote_checked_at, delivered_at, 0) LIMIT ?3",
        )?;
        let ids = stmt
            .query_map(params![municipality, asked_before_ms, max], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// Records the municipality's answer to a status query (or only the time of the question
    /// when it could not answer).
    pub fn set_remote_status(
        &mut self,
        id: &str,
        remote: Option<RemoteStatus>,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        self.update(
            id,
            "UPDATE application SET remote_status = COALESCE(?2, remote_status), remote_checked_at = ?3 WHERE id = ?1",
            params![id, remote.map(RemoteStatus::as_str), now_ms],
        )
    }

    /// Deletes the metadata of applications delivered before `delivered_before_ms`; the day
    /// report only needs the retention period. Returns how many rows went.
    pub fn purge_delivered(&mut self, delivered_before_ms: i64) -> Result<usize, OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "DELETE FROM application WHERE state = 'delivered' AND delivered_at < ?1",
            [delivered_before_ms],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// The printer confirmed the receipt.
    pub fn mark_printed(&mut self, receipt_number: &str) -> Result<(), OutboxError> {
        self.set_print_outcome(receipt_number, None)
    }

    /// The receipt was not confirmed (`problem` is a `PrintProblem` code): staff can reprint it.
    pub fn mark_print_failed(
        &mut self,
        receipt_number: &str,
        problem: &str,
    ) -> Result<(), OutboxError> {
        self.set_print_outcome(receipt_number, Some(problem))
    }

    fn set_print_outcome(
        &mut self,
        receipt_number: &str,
        problem: Option<&str>,
    ) -> Result<(), OutboxError> {
        let n = self.conn.execute(
            "UPDATE application SET printed = (?2 IS NULL), print_problem = ?2 WHERE receipt_number = ?1",
            params![receipt_number, problem],
        )?;
        if n == 0 {
            return Err(OutboxError::NotFound(receipt_number.into()));
        }
        Ok(())
    }

    /// Receipts never confirmed by the printer, oldest first: the reprint list.
    pub fn unprinted(&self) -> Result<Vec<Row>, OutboxError> {
        self.select_all(
            &format!("{ROW_SELECT} WHERE printed = 0 ORDER BY submitted_at, receipt_number"),
            row_from_sql,
        )
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

    /// Entries per municipality and state (every state listed, zeros included).
    pub fn counts(&self, municipalities: &[String]) -> Result<Vec<Count>, OutboxError> {
        let mut stmt = self
            .conn
            .prepare("SELECT municipality_code, state, COUNT(*) FROM application GROUP BY 1, 2")?;
        let mut found = std::collections::HashMap::new();
        for row in stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)? as u64,
            ))
        })? {
            let (m, s, n) = row?;
            found.insert((m, s), n);
        }
        let mut codes: Vec<String> = municipalities.to_vec();
        for (m, _) in found.keys() {
            if !codes.contains(m) {
                codes.push(m.clone());
            }
        }
        let mut out = vec![];
        for m in codes {
            for state in State::ALL {
                let count = found
                    .get(&(m.clone(), state.as_str().to_string()))
                    .copied()
                    .unwrap_or(0);
                out.push(Count {
                    municipality_code: m.clone(),
                    state,
                    count,
                });
            }
        }
        Ok(out)
    }

    /// Applications in one state, all municipalities (an index count, cheap on a full outbox).
    pub fn count_in(&self, state: State) -> Result<u64, OutboxError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM application WHERE state = ?1",
            [state.as_str()],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    pub fn get(&self, id: &str) -> Result<Row, OutboxError> {
        self.conn
            .query_row(
                &format!("{ROW_SELECT} WHERE id = ?1 OR receipt_number = ?1"),
                [id],
                row_from_sql,
            )
            .optional()?
            .ok_or_else(|| OutboxError::NotFound(id.into()))
    }

    pub fn list(&self) -> Result<Vec<Row>, OutboxError> {
        self.select_all(&format!("{ROW_SELECT} ORDER BY submitted_at"), row_from_sql)
    }

    /// Raw SQL for this module's tests (to damage rows, read pragmas back).
    #[cfg(test)]
    fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// Inserts one application with the next receipt number of its kiosk and day.
fn insert_application(
    tx: &Connection,
    app: &NewApplication,
    now_ms: i64,
) -> Result<String, OutboxError> {
    let day = app
        .submitted_at
        .format(time::macros::format_description!(
            "[year repr:last_two][month][day]"
        ))
        .unwrap_or_default();
    let prefix = format!("{}-{}-", app.kiosk_id, day);
    let bumped: Option<i64> = tx
        .query_row(
            "UPDATE receipt_counter SET last = last + 1 WHERE prefix = ?1 RETURNING last",
            [&prefix],
            |r| r.get(0),
        )
        .optional()?;
    let seq = match bumped {
        Some(seq) => seq,
        // First of the day (or a database from before the counter): continue after the
        // highest number already used, compared as numbers (past 9999 text order differs).
        None => tx.query_row(
            "INSERT INTO receipt_counter(prefix, last) VALUES (?1,
                 1 + (SELECT COALESCE(MAX(CAST(substr(receipt_number, length(?1) + 1) AS INTEGER)), 0)
                      FROM application WHERE receipt_number >= ?1 AND receipt_number < ?1 || '~'))
             RETURNING last",
            [&prefix],
            |r| r.get(0),
        )?,
    };
    let receipt_number = format!("{prefix}{seq:04}");
    let submitted_at = app
        .submitted_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let envelope = ApplicationEnvelope {
        application_id: app.application_id.to_string(),
        kiosk_id: app.kiosk_id.clone(),
        municipality_code: app.municipality_code.clone(),
        procedure_code: app.procedure_code.clone(),
        submitted_at: submitted_at.clone(),
        receipt_number: receipt_number.clone(),
        sealed: app.sealed.clone(),
    };
    let body = serde_json::to_vec(&envelope)?;
    tx.execute(
            "INSERT INTO application(id, receipt_number, kiosk_id, municipality_code, procedure_code, submitted_at, body, state, next_attempt_at, receipt_lang)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'waiting', ?8, ?9)",
            params![envelope.application_id, receipt_number, app.kiosk_id, app.municipality_code, app.procedure_code, submitted_at, body, now_ms, app.receipt_lang],
        )?;
    Ok(receipt_number)
}

/// Mode of the outbox and its `-wal`/`-shm` files: the kiosk and counter-sync run as users of
/// their own that share one group; nobody else may open the file. SQLite gives the journal
/// files the database file's mode.
pub const FILE_MODE: u32 = 0o660;

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

const ROW_SELECT: &str = "SELECT id, receipt_number, municipality_code, procedure_code, submitted_at, state, attempts,
    next_attempt_at, last_status, last_error, municipality_reference, remote_status, printed, body IS NOT NULL,
    delivered_at, receipt_lang, print_problem FROM application";

const DESTINATION_SELECT: &str =
    "SELECT municipality_code, paused_until, pause_reason, retry_at, failures, last_error, broken_reason FROM destination";

fn destination_from_sql(r: &rusqlite::Row) -> rusqlite::Result<Destination> {
    Ok(Destination {
        municipality_code: r.get(0)?,
        paused_until: r.get(1)?,
        pause_reason: r.get(2)?,
        retry_at: r.get(3)?,
        failures: r.get(4)?,
        last_error: r.get(5)?,
        broken_reason: r.get(6)?,
    })
}

fn destination_in(
    conn: &Connection,
    municipality: &str,
) -> Result<Option<Destination>, OutboxError> {
    Ok(conn
        .query_row(
            &format!("{DESTINATION_SELECT} WHERE municipality_code = ?1"),
            [municipality],
            destination_from_sql,
        )
        .optional()?)
}

fn update_destination(
    conn: &Connection,
    municipality: &str,
    update: &DestinationUpdate,
) -> Result<(), OutboxError> {
    match update {
        DestinationUpdate::Healthy => conn.execute(
            "INSERT INTO destination(municipality_code, failures) VALUES (?1, 0)
             ON CONFLICT(municipality_code) DO UPDATE SET paused_until = NULL, pause_reason = NULL,
                 retry_at = NULL, failures = 0, last_error = NULL",
            [municipality],
        )?,
        DestinationUpdate::Backoff { retry_at, error } => conn.execute(
            "INSERT INTO destination(municipality_code, retry_at, failures, last_error) VALUES (?1, ?2, 1, ?3)
             ON CONFLICT(municipality_code) DO UPDATE SET retry_at = ?2, failures = failures + 1, last_error = ?3",
            params![municipality, retry_at, error],
        )?,
        DestinationUpdate::Wait { retry_at, error } => conn.execute(
            "INSERT INTO destination(municipality_code, retry_at, failures, last_error) VALUES (?1, ?2, 0, ?3)
             ON CONFLICT(municipality_code) DO UPDATE SET retry_at = ?2, failures = 0, last_error = ?3",
            params![municipality, retry_at, error],
        )?,
        DestinationUpdate::Pause { until, reason } => conn.execute(
            "INSERT INTO destination(municipality_code, paused_until, pause_reason, failures, last_error) VALUES (?1, ?2, ?3, 1, ?3)
             ON CONFLICT(municipality_code) DO UPDATE SET paused_until = ?2, pause_reason = ?3,
                 failures = failures + 1, last_error = ?3",
            params![municipality, until, reason],
        )?,
    };
    Ok(())
}

/// Applies one attempt's outcome to a row that is still `sending` (or `waiting`).
fn apply_record(
    conn: &Connection,
    id: &str,
    record: &Record,
    now_ms: i64,
) -> Result<(), OutboxError> {
    match record {
        Record::Delivered {
            status,
            reference,
            remote,
        } => conn.execute(
            "UPDATE application SET state = 'delivered', body = NULL, lease_until = NULL, last_status = ?2,
                    last_error = NULL, municipality_reference = ?3, remote_status = ?4, delivered_at = ?5
             WHERE id = ?1 AND state IN ('sending','waiting')",
            params![id, status, reference, remote.as_str(), now_ms],
        )?,
        Record::Retry {
            status,
            error,
            next_attempt_at,
        } => conn.execute(
            "UPDATE application SET state = 'waiting', lease_until = NULL, last_status = ?2, last_error = ?3,
                    next_attempt_at = ?4
             WHERE id = ?1 AND state IN ('sending','waiting')",
            params![id, status, error, next_attempt_at],
        )?,
        Record::Failed { status, error } => conn.execute(
            "UPDATE application SET state = 'failed', lease_until = NULL, last_status = ?2, last_error = ?3
             WHERE id = ?1 AND state IN ('sending','waiting')",
            params![id, status, error],
        )?,
    };
    Ok(())
}

fn row_from_sql(r: &rusqlite::Row) -> rusqlite::Result<Row> {
    let state: String = r.get(5)?;
    Ok(Row {
        id: r.get(0)?,
        receipt_number: r.get(1)?,
        municipality_code: r.get(2)?,
        procedure_code: r.get(3)?,
        submitted_at: r.get(4)?,
        state: State::parse(&state).ok_or(rusqlite::Error::InvalidColumnType(
            5,
            "state".into(),
            rusqlite::types::Type::Text,
        ))?,
        attempts: r.get(6)?,
        next_attempt_at: r.get(7)?,
        last_status: r.get(8)?,
        last_error: r.get(9)?,
        municipality_reference: r.get(10)?,
        remote_status: r.get(11)?,
        printed: r.get(12)?,
        has_payload: r.get(13)?,
        delivered_at: r.get(14)?,
        receipt_lang: r.get(15)?,
        print_problem: r.get(16)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pragmas the durability and privacy claims rest on, read back from the connection
    /// the outbox really uses (a kill test cannot see `synchronous`: the page cache survives
    /// SIGKILL; the power-cut test can, this one names it).
    #[test]
    fn pragmas_read_back_from_the_live_connection() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(&dir.path().join("outbox.sqlite3")).unwrap();
        let get = |name: &str| -> String {
            ob.conn
                .query_row(&format!("PRAGMA {name}"), [], |r| {
                    r.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| match v {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
                .unwrap()
        };
        assert_eq!(get("journal_mode"), "wal");
        assert_eq!(get("synchronous"), "2", "FULL: every commit fsyncs the WAL");
        assert_eq!(get("foreign_keys"), "1");
        assert_eq!(
            get("secure_delete"),
            "1",
            "deleted payloads are overwritten"
        );
        assert_eq!(get("busy_timeout"), "10000");
    }

    fn claim_one(ob: &mut Outbox, now_ms: i64, lease: Duration) -> Option<Claimed> {
        ob.claim_batch("113263", now_ms, lease, 1).unwrap().pop()
    }

    /// Records one outcome the way the daemon does (a batch of one, destination healthy).
    fn record(ob: &mut Outbox, id: &str, record: Record, now_ms: i64) {
        ob.finish_batch(
            "113263",
            &[(id.to_owned(), record)],
            &DestinationUpdate::Healthy,
            now_ms,
        )
        .unwrap();
    }

    fn delivered(reference: &str) -> Record {
        Record::Delivered {
            status: 201,
            reference: reference.into(),
            remote: RemoteStatus::Received,
        }
    }

    fn app(m: &str) -> NewApplication {
        NewApplication {
            application_id: uuid::Uuid::new_v4(),
            kiosk_id: "K01".into(),
            municipality_code: m.into(),
            procedure_code: "P1".into(),
            submitted_at: time::macros::datetime!(2026-11-21 10:00 UTC),
            receipt_lang: "en".into(),
            sealed: "a.b.c.d.e".into(),
        }
    }

    #[test]
    fn the_outbox_files_are_not_open_to_other_users() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        let mut ob = Outbox::open(&path).unwrap();
        ob.enqueue(&app("113263"), 0).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            assert_eq!(mode(&file), FILE_MODE, "{}", file.display());
        }
        // A file an older version left readable by everyone is closed to others on open.
        drop(ob);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Outbox::open(&path).unwrap();
        assert_eq!(mode(&path), 0o640);
    }

    #[test]
    fn stored_times_never_hold_work_back_beyond_the_horizon() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
        let lease = Duration::from_secs(60);
        let horizon = Horizon {
            retry: Duration::from_secs(30),
            pause: Duration::from_secs(600),
            lease,
        };
        // The clock was five years ahead when a delivery failed and the destination paused.
        let ahead = 5 * 365 * 86_400_000;
        ob.enqueue(&app("113263"), 0).unwrap();
        let c = claim_one(&mut ob, ahead, lease).unwrap();
        ob.finish_batch(
            "113263",
            &[(
                c.id.clone(),
                Record::Retry {
                    status: Some(503),
                    error: "down".into(),
                    next_attempt_at: ahead + 10_000,
                },
            )],
            &DestinationUpdate::Pause {
                until: ahead + 600_000,
                reason: "r".into(),
            },
            ahead,
        )
        .unwrap();
        // NTP puts the clock back to 1 000 000.
        let now = 1_000_000;
        assert!(claim_one(&mut ob, now, lease).is_none());
        assert_eq!(ob.clamp_schedule("113263", now, horizon).unwrap(), 2);
        let d = ob.destination("113263").unwrap().unwrap();
        assert_eq!(d.blocked_until(now), Some(now + 600_000));
        ob.resume_destination("113263").unwrap();
        assert!(claim_one(&mut ob, now + 29_999, lease).is_none());
        let again = claim_one(&mut ob, now + 30_000, lease).unwrap();
        assert_eq!(again.id, c.id);
        record(&mut ob, &again.id, delivered("R-1"), now + 30_000);
        // A lease taken with the clock ahead is cut back to one lease from now.
        assert_eq!(ob.clamp_schedule("113263", now, horizon).unwrap(), 0);
        let id2 = ob.enqueue(&app("113263"), 0).unwrap();
        let held = claim_one(&mut ob, ahead, lease).unwrap();
        assert_eq!(held.id, id_of(&ob, &id2));
        assert_eq!(ob.clamp_schedule("113263", now, horizon).unwrap(), 1);
        assert!(
            claim_one(&mut ob, now + 60_000, lease).is_some(),
            "lease expired within one lease"
        );
        // Nothing to move in the normal case.
        assert_eq!(
            ob.clamp_schedule("113263", now + 60_000, horizon).unwrap(),
            0
        );
    }

    fn id_of(ob: &Outbox, receipt_number: &str) -> String {
        ob.get(receipt_number).unwrap().id
    }

    #[test]
    fn unconfirmed_receipts_stay_on_the_reprint_list_until_confirmed() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
        let r1 = ob.enqueue(&app("113263"), 1000).unwrap();
        let r2 = ob.enqueue(&app("113263"), 1000).unwrap();
        let r3 = ob.enqueue(&app("113263"), 1000).unwrap();
        ob.mark_printed(&r1).unwrap();
        ob.mark_print_failed(&r2, "paper-out").unwrap();
        let list = ob.unprinted().unwrap();
        let numbers: Vec<_> = list.iter().map(|r| r.receipt_number.as_str()).collect();
        assert_eq!(numbers, [r2.as_str(), r3.as_str()]);
        assert_eq!(list[0].print_problem.as_deref(), Some("paper-out"));
        assert_eq!(
            list[1].print_problem, None,
            "never tried (kiosk stopped before printing)"
        );
        assert_eq!(list[0].receipt_lang, "en");
        // A reprint that is confirmed takes it off the list and clears the problem.
        ob.mark_printed(&r2).unwrap();
        let row = ob.get(&r2).unwrap();
        assert!(row.printed && row.print_problem.is_none());
        assert_eq!(ob.unprinted().unwrap().len(), 1);
        assert!(matches!(
            ob.mark_printed("K01-000000-0000"),
            Err(OutboxError::NotFound(_))
        ));
    }

    #[test]
    fn enqueue_claim_retry_deliver() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
        let r1 = ob.enqueue(&app("113263"), 1000).unwrap();
        let r2 = ob.enqueue(&app("113263"), 1000).unwrap();
        assert_eq!(r1, "K01-261121-0001");
        assert_eq!(r2, "K01-261121-0002");
        let lease = Duration::from_secs(10);
        let c = claim_one(&mut ob, 1000, lease).unwrap();
        let env: ApplicationEnvelope = serde_json::from_slice(&c.body).unwrap();
        assert_eq!(env.receipt_number, r1);
        assert_eq!(c.attempts, 1);
        let busy = Record::Retry {
            status: Some(503),
            error: "busy".into(),
            next_attempt_at: 5000,
        };
        record(&mut ob, &c.id, busy, 1000);
        // Not due yet: the second one comes first.
        let c2 = claim_one(&mut ob, 1000, lease).unwrap();
        assert_ne!(c2.id, c.id);
        assert!(claim_one(&mut ob, 1000, lease).is_none());
        // The second worker dies: its lease expires and the row is due again.
        let again = claim_one(&mut ob, 1000 + 10_001, lease).unwrap();
        assert_eq!(again.id, c2.id);
        assert_eq!(again.attempts, 2);
        record(&mut ob, &again.id, delivered("REF-1"), 20_000);
        let row = ob.get(&again.id).unwrap();
        assert_eq!(row.state, State::Delivered);
        assert!(!row.has_payload, "payload must be gone once delivered");
        assert_eq!(row.municipality_reference.as_deref(), Some("REF-1"));
        let counts = ob.counts(&["113263".into(), "113271".into()]).unwrap();
        assert!(counts.contains(&Count {
            municipality_code: "113263".into(),
            state: State::Waiting,
            count: 1
        }));
        assert!(counts.contains(&Count {
            municipality_code: "113271".into(),
            state: State::Delivered,
            count: 0
        }));
    }

    #[test]
    fn failed_is_kept_and_requeueable_and_pause_blocks_claims() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
        ob.enqueue(&app("113263"), 0).unwrap();
        let c = claim_one(&mut ob, 0, Duration::from_secs(1)).unwrap();
        let bad = Record::Failed {
            status: Some(422),
            error: "bad body".into(),
        };
        record(&mut ob, &c.id, bad, 0);
        assert!(claim_one(&mut ob, 0, Duration::from_secs(1)).is_none());
        assert_eq!(ob.get(&c.id).unwrap().state, State::Failed);
        ob.requeue(&c.id, 10).unwrap();
        let refused = DestinationUpdate::Pause {
            until: 100,
            reason: "401".into(),
        };
        ob.finish_batch("113263", &[], &refused, 10).unwrap();
        assert!(claim_one(&mut ob, 50, Duration::from_secs(1)).is_none());
        assert!(claim_one(&mut ob, 150, Duration::from_secs(1)).is_some());
    }

    #[test]
    fn garbage_file_is_reported_not_reset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
        let err = Outbox::open(&path).err().unwrap();
        assert!(matches!(err, OutboxError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("o.db"));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            vec![0x42u8; 8192],
            "the file must not be touched"
        );
    }

    #[test]
    fn batch_claims_destination_backoff_and_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
        let apps: Vec<_> = (0..5).map(|_| app("113263")).collect();
        ob.enqueue_many(&apps, 0).unwrap();
        let lease = Duration::from_secs(10);
        let batch = ob.claim_batch("113263", 0, lease, 3).unwrap();
        assert_eq!(batch.len(), 3);
        assert!(batch.iter().all(|c| c.submitted_ms > 0));
        // The destination is down as a whole: rows stay due, the destination waits.
        let records: Vec<_> = batch
            .iter()
            .map(|c| {
                let r = Record::Retry {
                    status: None,
                    error: "cannot connect".into(),
                    next_attempt_at: 0,
                };
                (c.id.clone(), r)
            })
            .collect();
        let down = DestinationUpdate::Backoff {
            retry_at: 5_000,
            error: "cannot connect".into(),
        };
        ob.finish_batch("113263", &records, &down, 0).unwrap();
        assert!(ob
            .claim_batch("113263", 4_999, lease, 10)
            .unwrap()
            .is_empty());
        let d = ob.destination("113263").unwrap().unwrap();
        assert_eq!((d.failures, d.blocked_until(0)), (1, Some(5_000)));
        // Its time has come: one probe, not a batch.
        let probe = ob.claim_batch("113263", 5_000, lease, 10).unwrap();
        assert_eq!(probe.len(), 1);
        record(&mut ob, &probe[0].id, delivered("R"), 5_000);
        assert_eq!(ob.destination("113263").unwrap().unwrap().failures, 0);
        // Back: the whole backlog is due at once.
        let all = ob.claim_batch("113263", 5_000, lease, 10).unwrap();
        assert_eq!(all.len(), 4);
        // The daemon was killed while sending: the next one puts them back at once.
        assert_eq!(ob.release_orphans().unwrap(), 4);
        let again = ob.claim_batch("113263", 5_001, lease, 10).unwrap();
        assert_eq!(again.len(), 4);
        // Some delivered, one told to come back later (Retry-After): the destination waits,
        // and is then due with a full batch, not a probe.
        let records: Vec<_> = again
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let r = if i == 0 {
                    Record::Retry {
                        status: Some(503),
                        error: "busy".into(),
                        next_attempt_at: 0,
                    }
                } else {
                    delivered(&format!("R{i}"))
                };
                (c.id.clone(), r)
            })
            .collect();
        ob.enqueue_many(&[app("113263"), app("113263")], 5_001)
            .unwrap();
        let wait = DestinationUpdate::Wait {
            retry_at: 9_000,
            error: "busy".into(),
        };
        ob.finish_batch("113263", &records, &wait, 5_001).unwrap();
        let d = ob.destination("113263").unwrap().unwrap();
        assert_eq!((d.failures, d.blocked_until(5_001)), (0, Some(9_000)));
        assert!(ob
            .claim_batch("113263", 8_999, lease, 10)
            .unwrap()
            .is_empty());
        assert_eq!(ob.claim_batch("113263", 9_000, lease, 10).unwrap().len(), 3);
    }

    #[test]
    fn status_checks_and_retention_purge() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
        ob.enqueue_many(&[app("113263"), app("113263")], 0).unwrap();
        let lease = Duration::from_secs(10);
        let c = ob.claim_batch("113263", 0, lease, 2).unwrap();
        record(&mut ob, &c[0].id, delivered("R1"), 1_000);
        record(&mut ob, &c[1].id, delivered("R2"), 90_000);
        assert_eq!(
            ob.due_status_checks("113263", 1_000, 10).unwrap(),
            vec![c[0].id.clone()]
        );
        ob.set_remote_status(&c[0].id, Some(RemoteStatus::Completed), 2_000)
            .unwrap();
        assert!(ob.due_status_checks("113263", 100_000, 10).unwrap() == vec![c[1].id.clone()]);
        // An unanswered question keeps the last known state and waits its turn.
        ob.set_remote_status(&c[1].id, None, 95_000).unwrap();
        assert_eq!(
            ob.get(&c[1].id).unwrap().remote_status.as_deref(),
            Some("received")
        );
        assert!(ob
            .due_status_checks("113263", 94_999, 10)
            .unwrap()
            .is_empty());
        assert_eq!(ob.purge_delivered(50_000).unwrap(), 1);
        assert!(ob.get(&c[0].id).is_err());
        assert!(ob.get(&c[1].id).is_ok());
    }

    #[test]
    fn receipt_numbers_keep_counting_past_9999() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
        let apps: Vec<_> = (0..10_001).map(|_| app("113263")).collect();
        let numbers = ob.enqueue_many(&apps, 0).unwrap();
        assert_eq!(numbers[9_998], "K01-261121-9999");
        assert_eq!(numbers[9_999], "K01-261121-10000");
        assert_eq!(numbers[10_000], "K01-261121-10001");
    }

    #[test]
    fn version_1_database_is_migrated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO application(id, receipt_number, kiosk_id, municipality_code, procedure_code, submitted_at, body, state, next_attempt_at)
                 VALUES ('a', 'K01-1', 'K01', '113263', 'P', '2026-11-21T10:00:00Z', x'7b7d', 'waiting', 0)",
                [],
            )
            .unwrap();
        }
        let mut ob = Outbox::open(&path).unwrap();
        let v: i64 = ob
            .connection()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let c = claim_one(&mut ob, 0, Duration::from_secs(1)).unwrap();
        assert_eq!(c.id, "a");
        // A newer database than this program is refused, not downgraded.
        ob.connection()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(ob);
        let err = Outbox::open(&path).err().unwrap();
        assert!(matches!(err, OutboxError::TooNew { .. }), "{err}");
    }

    #[test]
    fn truncated_database_is_reported_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        {
            let mut ob = Outbox::open(&path).unwrap();
            let apps: Vec<_> = (0..200).map(|_| app("113263")).collect();
            ob.enqueue_many(&apps, 0).unwrap();
            ob.connection()
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .unwrap();
        }
        let bytes = std::fs::read(&path).unwrap();
        let cut = &bytes[..bytes.len() / 2];
        std::fs::write(&path, cut).unwrap();
        let err = Outbox::open(&path)
            .err()
            .expect("a damaged file is refused");
        assert!(matches!(err, OutboxError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("o.db"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), cut, "nothing was reset");
    }
}
