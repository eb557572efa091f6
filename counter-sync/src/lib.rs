//! The kiosk's outbox and its delivery to municipalities.
//!
//! The kiosk writes each submitted application here in one SQLite transaction, already sealed
//! to the municipality's public key; the `counter-sync` daemon forwards it with the v1 API and
//! records the answer. Both processes share only the database file.

pub mod api;
pub mod client;
pub mod config;
pub mod daemon;
pub mod hours;
pub mod memory;
pub mod metrics;
pub mod outbox;
pub mod retry;
pub mod seal;
pub mod synthetic;
pub mod text;

/// Milliseconds since the Unix epoch, the time unit of every column in the outbox.
pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}
