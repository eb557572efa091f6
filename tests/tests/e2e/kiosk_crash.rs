//! The kiosk killed with SIGKILL in the middle of submitting: every application whose
//! "submitted" the resident saw (its receipt number printed by the kiosk's own `Submitter`)
//! is in the outbox, the database passes `PRAGMA integrity_check`, and counter-sync then
//! delivers all of them.

use counter_core::outbox::{Outbox, State};
use madoguchi_tests::harness::{
    binary, personal_data_in, personal_data_needles, submit_loop_round, wait_until, Fixture,
    FixtureOptions,
};
use madoguchi_tests::vcard::Holder;
use std::collections::HashSet;
use std::time::Duration;

#[test]
fn every_application_seen_as_submitted_survives_sigkill() {
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let submit_loop = binary("submit-loop").unwrap();
    let mut seen: Vec<String> = vec![];
    for round in 0..8u64 {
        // Kill after a different number of confirmed submissions each round, while the
        // next one is being written.
        seen.extend(submit_loop_round(
            &submit_loop,
            &fx.config_path,
            &[],
            3 + round * 5,
        ));
    }

    let outbox = Outbox::open(&fx.config.sync.outbox.path).unwrap();
    assert_eq!(outbox.integrity_check().unwrap(), "ok");
    let rows = outbox.list().unwrap();
    let stored: HashSet<&str> = rows.iter().map(|r| r.receipt_number.as_str()).collect();
    for number in &seen {
        assert!(
            stored.contains(number.as_str()),
            "{number} was shown as submitted but is lost"
        );
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a receipt number was given twice");

    // counter-sync delivers all of them, once.
    let _sync = fx.start_counter_sync();
    let total = rows.len();
    wait_until(Duration::from_secs(60), "everything delivered", || {
        outbox
            .list()
            .unwrap()
            .iter()
            .all(|r| r.state == State::Delivered)
    })
    .unwrap();
    let received: usize = fx
        .municipalities
        .iter()
        .map(|m| m.backend.received().len())
        .sum();
    assert_eq!(received, total);
    // Nothing of the resident (name, address, birth date in any form) is in the files
    // (WAL and shared memory included) after all this.
    let needles = personal_data_needles(&Holder::default());
    for suffix in ["", "-wal", "-shm"] {
        let mut p = fx.config.sync.outbox.path.clone().into_os_string();
        p.push(suffix);
        if let Ok(bytes) = std::fs::read(&p) {
            let found = personal_data_in(&bytes, &needles);
            assert!(found.is_empty(), "{found:?} in {p:?}");
        }
    }
}
