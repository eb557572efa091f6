//! What the kiosk and the `counter-sync` daemon share, and nothing of either's machinery.
//!
//! The kiosk writes each submitted application into the [`outbox`] in one SQLite transaction,
//! already [`seal`]ed to the municipality's public key; the daemon forwards it with the v1 API
//! ([`api`], [`client`]) when the municipality is open ([`hours`]) and records the answer. Both
//! processes share only the database file and the delivery [`config`]. Linking this crate also
//! installs the allocator that wipes freed memory ([`memory`]).

#![warn(missing_docs)]

pub mod api;
pub mod client;
pub mod config;
pub mod hours;
pub mod logging;
pub mod memory;
pub mod metrics_http;
pub mod outbox;
pub mod retry;
pub mod seal;
pub mod service;
pub mod text;

/// Milliseconds since the Unix epoch, the time unit of every column in the outbox.
pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}
