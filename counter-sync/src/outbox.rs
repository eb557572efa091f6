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

const SCHEMA_VERSION: i64 = 1;

const MIGRATIONS: &[&str] = &[r#"
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
"#];

/// What the kiosk hands over when the resident presses "submit".
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub application_id: uuid::Uuid,
    pub kiosk_id: String,
    pub municipality_code: String,
    pub procedure_code: String,
    pub submitted_at: time::OffsetDateTime,
    /// Already sealed to the municipality.
    pub sealed: String,
}

/// A row claimed for one delivery attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub body: Vec<u8>,
    pub attempts: u32,
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
        let open_err = |source| OutboxError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        let mut outbox = Outbox {
            conn,
            path: path.to_owned(),
        };
        outbox.configure().map_err(|e| outbox.classify(e))?;
        outbox.migrate()?;
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let day = app
            .submitted_at
            .format(time::macros::format_description!(
                "[year repr:last_two][month][day]"
            ))
            .unwrap_or_default();
        let prefix = format!("{}-{}-", app.kiosk_id, day);
        let last: Option<String> = tx
            .query_row(
                "SELECT receipt_number FROM application WHERE receipt_number LIKE ?1 || '%' ORDER BY receipt_number DESC LIMIT 1",
                [&prefix],
                |r| r.get(0),
            )
            .optional()?;
        let seq = last
            .and_then(|r| r[prefix.len()..].parse::<u32>().ok())
            .unwrap_or(0)
            + 1;
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
            "INSERT INTO application(id, receipt_number, kiosk_id, municipality_code, procedure_code, submitted_at, body, state, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'waiting', ?8)",
            params![envelope.application_id, receipt_number, app.kiosk_id, app.municipality_code, app.procedure_code, submitted_at, body, now_ms],
        )?;
        tx.commit()?;
        Ok(receipt_number)
    }

    /// Claims the next due application of one municipality for one attempt. Rows whose lease
    /// ran out (their worker died) are due again.
    pub fn claim_next(
        &mut self,
        municipality: &str,
        now_ms: i64,
        lease: Duration,
    ) -> Result<Option<Claimed>, OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let paused: Option<i64> = tx
            .query_row(
                "SELECT paused_until FROM destination WHERE municipality_code = ?1",
                [municipality],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        if paused.is_some_and(|until| until > now_ms) {
            return Ok(None);
        }
        let claimed = tx
            .query_row(
                "UPDATE application SET state = 'sending', lease_until = ?3, attempts = attempts + 1
                 WHERE id = (SELECT id FROM application
                             WHERE municipality_code = ?1 AND body IS NOT NULL AND (
                                   (state = 'waiting' AND next_attempt_at <= ?2)
                                OR (state = 'sending' AND lease_until <= ?2))
                             ORDER BY next_attempt_at, submitted_at LIMIT 1)
                 RETURNING id, body, attempts",
                params![municipality, now_ms, now_ms + lease.as_millis() as i64],
                |r| Ok(Claimed { id: r.get(0)?, body: r.get(1)?, attempts: r.get(2)? }),
            )
            .optional()?;
        tx.commit()?;
        Ok(claimed)
    }

    /// The municipality has the application: keep only non-personal metadata.
    pub fn mark_delivered(
        &mut self,
        id: &str,
        status: u16,
        reference: &str,
        remote: RemoteStatus,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        self.update(
            id,
            "UPDATE application SET state = 'delivered', body = NULL, lease_until = NULL, last_status = ?2,
                    last_error = NULL, municipality_reference = ?3, remote_status = ?4, delivered_at = ?5 WHERE id = ?1",
            params![id, status, reference, remote.as_str(), now_ms],
        )
    }

    /// A transient failure: try again at `next_attempt_at`.
    pub fn mark_retry(
        &mut self,
        id: &str,
        status: Option<u16>,
        error: &str,
        next_attempt_at: i64,
    ) -> Result<(), OutboxError> {
        self.update(
            id,
            "UPDATE application SET state = 'waiting', lease_until = NULL, last_status = ?2, last_error = ?3, next_attempt_at = ?4 WHERE id = ?1",
            params![id, status, error, next_attempt_at],
        )
    }

    /// A permanent failure: kept with its reason, visible to staff, requeueable.
    pub fn mark_failed(
        &mut self,
        id: &str,
        status: Option<u16>,
        error: &str,
    ) -> Result<(), OutboxError> {
        self.update(
            id,
            "UPDATE application SET state = 'failed', lease_until = NULL, last_status = ?2, last_error = ?3 WHERE id = ?1",
            params![id, status, error],
        )
    }

    /// Puts a failed (or waiting) application back in line for an immediate attempt.
    pub fn requeue(&mut self, id: &str, now_ms: i64) -> Result<(), OutboxError> {
        self.update(
            id,
            "UPDATE application SET state = 'waiting', next_attempt_at = ?2, lease_until = NULL WHERE id = ?1 AND state IN ('failed','waiting') AND body IS NOT NULL",
            params![id, now_ms],
        )
    }

    /// Pauses a destination (`401`/`403`) until staff or time resolves it.
    pub fn pause_destination(
        &mut self,
        municipality: &str,
        until_ms: i64,
        reason: &str,
    ) -> Result<(), OutboxError> {
        self.conn.execute(
            "INSERT INTO destination(municipality_code, paused_until, pause_reason) VALUES (?1, ?2, ?3)
             ON CONFLICT(municipality_code) DO UPDATE SET paused_until = ?2, pause_reason = ?3",
            params![municipality, until_ms, reason],
        )?;
        Ok(())
    }

    pub fn mark_printed(&mut self, receipt_number: &str) -> Result<(), OutboxError> {
        let n = self.conn.execute(
            "UPDATE application SET printed = 1 WHERE receipt_number = ?1",
            [receipt_number],
        )?;
        if n == 0 {
            return Err(OutboxError::NotFound(receipt_number.into()));
        }
        Ok(())
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
        let mut stmt = self
            .conn
            .prepare(&format!("{ROW_SELECT} ORDER BY submitted_at"))?;
        let rows = stmt
            .query_map([], row_from_sql)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Exclusive access for tests and tools that need raw SQL.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

const ROW_SELECT: &str = "SELECT id, receipt_number, municipality_code, procedure_code, submitted_at, state, attempts,
    next_attempt_at, last_status, last_error, municipality_reference, remote_status, printed, body IS NOT NULL FROM application";

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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(m: &str) -> NewApplication {
        NewApplication {
            application_id: uuid::Uuid::new_v4(),
            kiosk_id: "K01".into(),
            municipality_code: m.into(),
            procedure_code: "P1".into(),
            submitted_at: time::macros::datetime!(2026-11-21 10:00 UTC),
            sealed: "a.b.c.d.e".into(),
        }
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
        let c = ob.claim_next("113263", 1000, lease).unwrap().unwrap();
        let env: ApplicationEnvelope = serde_json::from_slice(&c.body).unwrap();
        assert_eq!(env.receipt_number, r1);
        assert_eq!(c.attempts, 1);
        ob.mark_retry(&c.id, Some(503), "busy", 5000).unwrap();
        // Not due yet: the second one comes first.
        let c2 = ob.claim_next("113263", 1000, lease).unwrap().unwrap();
        assert_ne!(c2.id, c.id);
        assert!(ob.claim_next("113263", 1000, lease).unwrap().is_none());
        // The second worker dies: its lease expires and the row is due again.
        let again = ob
            .claim_next("113263", 1000 + 10_001, lease)
            .unwrap()
            .unwrap();
        assert_eq!(again.id, c2.id);
        assert_eq!(again.attempts, 2);
        ob.mark_delivered(&again.id, 201, "REF-1", RemoteStatus::Received, 20_000)
            .unwrap();
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
        let c = ob
            .claim_next("113263", 0, Duration::from_secs(1))
            .unwrap()
            .unwrap();
        ob.mark_failed(&c.id, Some(422), "bad body").unwrap();
        assert!(ob
            .claim_next("113263", 0, Duration::from_secs(1))
            .unwrap()
            .is_none());
        assert_eq!(ob.get(&c.id).unwrap().state, State::Failed);
        ob.requeue(&c.id, 10).unwrap();
        ob.pause_destination("113263", 100, "401").unwrap();
        assert!(ob
            .claim_next("113263", 50, Duration::from_secs(1))
            .unwrap()
            .is_none());
        assert!(ob
            .claim_next("113263", 150, Duration::from_secs(1))
            .unwrap()
            .is_some());
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
}
