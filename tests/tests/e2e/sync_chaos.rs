//! Chaos: 1,000 applications over four municipalities whose backends fail at random (500,
//! 503 with Retry-After, HTML pages, hangs, and timeouts and connection resets *after*
//! storing), while the `counter-sync` process is killed with SIGKILL again and again. In
//! the end every municipality holds every one of its applications exactly once, every retry
//! carried the identical body, and the outbox is intact and fully delivered.

use counter_core::outbox::{Outbox, State};
use madoguchi_tests::harness::{wait_until, SyncFixture, SyncOptions};
use madoguchi_tests::refbackend::{Chaos, Fault};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const APPLICATIONS: usize = 1_000;

/// A small deterministic generator for kill points (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn delivered(outbox: &Outbox) -> u64 {
    outbox.count_in(State::Delivered).unwrap()
}

#[test]
fn nothing_lost_nothing_duplicated_under_chaos_and_sigkill() {
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 4,
        sync: "poll_interval_ms = 50\nrequest_timeout_secs = 1\nconnect_timeout_secs = 1\nlease_secs = 5\nbackoff_base_ms = 50\nbackoff_cap_ms = 400\nmax_retry_after_secs = 1\nbatch_size = 16\n".into(),
        ..Default::default()
    })
    .unwrap();
    for (i, b) in fx.backends.iter().enumerate() {
        b.store.lock().unwrap().set_chaos(Some(Chaos {
            seed: 0x9E37_79B9_7F4A_7C15 ^ i as u64,
            faults: vec![
                (Fault::Status(500, None), 50),
                (Fault::Status(503, Some(1)), 15),
                (Fault::Garbage, 15),
                (Fault::Hang, 10),
                (Fault::StoreThenHang, 25),
                (Fault::StoreThenReset, 45),
            ],
        }));
    }

    // The applications, through the technicians' own command.
    let out = fx
        .cli(&[
            "enqueue-synthetic",
            "--count",
            &APPLICATIONS.to_string(),
            "--json",
        ])
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: HashSet<String> = listed["application_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), APPLICATIONS);

    // Kill the daemon with SIGKILL after a random number of POSTs, again and again, until
    // the outbox is drained.
    let outbox = Outbox::open(&fx.config.outbox.path).unwrap();
    let log = fx.dir.path().join("counter-sync.log");
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut kills = 0;
    loop {
        let mut child = fx.spawn_daemon(&log).unwrap();
        let target = fx.total_posts() + 10 + rng.below(150) as usize;
        wait_until(
            Duration::from_secs(120),
            "more POSTs or a drained outbox",
            || fx.total_posts() >= target || delivered(&outbox) == APPLICATIONS as u64,
        )
        .unwrap();
        if delivered(&outbox) == APPLICATIONS as u64 {
            child.kill().unwrap();
            child.wait().unwrap();
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        assert!(kills < 200, "no progress after {kills} restarts");
    }
    assert!(kills >= 5, "the daemon was killed only {kills} times");

    // Each municipality has exactly its applications, each exactly once.
    let mut stored: HashSet<String> = HashSet::new();
    let mut injected: HashMap<String, usize> = HashMap::new();
    for (code, b) in fx.codes.iter().zip(&fx.backends) {
        let s = b.store.lock().unwrap();
        assert_eq!(s.conflicts, 0, "{code}: a retry changed its body");
        let unique: HashSet<&String> = s.order.iter().collect();
        assert_eq!(unique.len(), s.order.len(), "{code}: stored twice");
        for id in &s.order {
            assert_eq!(s.received[id].envelope.municipality_code, *code);
            assert!(
                stored.insert(id.clone()),
                "{id} stored by two municipalities"
            );
        }
        // Every POST of a key, faulted ones included, carried the identical body.
        for (key, bodies) in &s.bodies_by_key {
            assert!(
                bodies.iter().all(|b| b == &bodies[0]),
                "{code}: retries of {key} differ"
            );
        }
        for f in &s.injected {
            *injected.entry(format!("{f:?}")).or_default() += 1;
        }
    }
    assert_eq!(stored, ids, "none missing, none extra");
    for kind in [
        "StoreThenReset",
        "StoreThenHang",
        "Status(500, None)",
        "Status(503, Some(1))",
    ] {
        assert!(
            injected.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} injected: {injected:?}"
        );
    }

    // The outbox agrees: intact, all delivered, payloads gone, references match.
    assert_eq!(outbox.integrity_check().unwrap(), "ok");
    let rows = outbox.list().unwrap();
    assert_eq!(rows.len(), APPLICATIONS);
    let references: HashMap<String, String> = fx
        .backends
        .iter()
        .flat_map(|b| b.received())
        .map(|r| (r.envelope.application_id, r.reference))
        .collect();
    for r in rows {
        assert_eq!(r.state, State::Delivered, "{}", r.id);
        assert!(!r.has_payload, "{}: payload kept after delivery", r.id);
        assert_eq!(r.municipality_reference.as_ref(), references.get(&r.id));
    }
    eprintln!(
        "chaos: {APPLICATIONS} applications, {} POSTs, {kills} SIGKILLs, faults {injected:?}",
        fx.total_posts()
    );
}
