//! The outbox schema, one migration per version.

pub(super) const MIGRATIONS: &[&str] = &[
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
    // 5: each service's starts, and the restarts after it died (a crash, the systemd
    // watchdog's kill, a power cut) for the fleet's metrics.
    r#"
CREATE TABLE process_run(
    name             TEXT PRIMARY KEY,            -- kiosk-app, counter-sync
    starts           INTEGER NOT NULL,
    unclean_restarts INTEGER NOT NULL,            -- starts after a run that did not stop cleanly
    running          INTEGER NOT NULL             -- 1 from start to clean stop
);
"#,
];

pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
