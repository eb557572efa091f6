//! The `counter-sync` daemon: one worker per municipality forwards the outbox
//! ([`counter_core::outbox`]) to it, with its metrics endpoint and the synthetic applications
//! used by installation checks and load tests. The storage and wire format live in
//! `counter-core`, which the kiosk links without any of this.

#![warn(missing_docs)]

pub mod batch;
pub mod daemon;
pub mod liveness;
pub mod metrics;
pub mod synthetic;
