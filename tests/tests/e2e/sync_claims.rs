//! Claims of README.md and ARCHITECTURE.md about counter-sync that had no test, each against
//! the real `counter-sync` binary, a real SQLite outbox and the reference backend over HTTP:
//! `counter-sync requeue`, "backing off" in `counter-sync status`, answers read with a cap,
//! and the retention purge of delivered metadata.

use counter_core::client::MAX_BODY;
use counter_core::outbox::{Outbox, State};
use madoguchi_tests::harness::{wait_until, SyncFixture, SyncOptions};
use madoguchi_tests::refbackend::{Chaos, Fault};
use std::time::Duration;

fn one_municipality(sync: &str) -> SyncFixture {
    SyncFixture::new(SyncOptions {
        municipalities: 1,
        sync: sync.into(),
        ..Default::default()
    })
    .unwrap()
}

fn row(fx: &SyncFixture, id: &str) -> counter_core::outbox::Row {
    Outbox::open(&fx.config.outbox.path)
        .unwrap()
        .get(id)
        .unwrap()
}

#[test]
fn requeue_puts_a_failed_application_back_in_line() {
    let fx = one_municipality("poll_interval_ms = 50\nstatus_poll_secs = 3600\n");
    let backend = &fx.backends[0];
    // Refused for good once (a 422), accepted afterwards.
    backend
        .store
        .lock()
        .unwrap()
        .faults
        .push_back(Fault::Status(422, None));
    let ids = fx.enqueue_synthetic(1);
    let id = &ids[0];
    let _sync = fx.start_daemon();
    wait_until(
        Duration::from_secs(20),
        "the 422 recorded as failed",
        || row(&fx, id).state == State::Failed,
    )
    .unwrap();
    let failed = row(&fx, id);
    assert_eq!(failed.last_status, Some(422));
    assert!(failed.has_payload, "a failed application keeps its payload");
    assert_eq!(backend.post_times().len(), 1);

    // By receipt number, as staff read it from the receipt.
    let out = fx.cli(&["requeue", &failed.receipt_number]).unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&failed.receipt_number) && said.contains(id.as_str()),
        "{said}"
    );
    wait_until(Duration::from_secs(20), "delivered after requeue", || {
        row(&fx, id).state == State::Delivered
    })
    .unwrap();
    assert_eq!(backend.stored_ids(), ids);
    let bodies = backend.store.lock().unwrap().bodies_by_key[id.as_str()].clone();
    assert_eq!(bodies.len(), 2, "the refused attempt and the requeued one");
    assert_eq!(
        bodies[0], bodies[1],
        "the requeued attempt sends the same body"
    );

    // A delivered application cannot be requeued; the state is named.
    let out = fx.cli(&["requeue", id]).unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("delivered") && err.contains(id.as_str()),
        "{err}"
    );
    // An unknown one is named too.
    let out = fx.cli(&["requeue", "K01-20000101-9999"]).unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("K01-20000101-9999"));
}

#[test]
fn status_says_a_down_destination_is_backing_off_and_why() {
    // A probe interval of a minute: the destination stays in its backoff (≥ 30 s) for longer
    // than the test takes to ask.
    let fx = one_municipality("poll_interval_ms = 50\nprobe_interval_ms = 60000\n");
    let code = fx.codes[0].clone();
    fx.backends[0].store.lock().unwrap().set_chaos(Some(Chaos {
        seed: 5,
        faults: vec![(Fault::Status(503, None), 1000)],
    }));
    fx.enqueue_synthetic(2);
    let _sync = fx.start_daemon();
    wait_until(Duration::from_secs(20), "the failed batch recorded", || {
        Outbox::open(&fx.config.outbox.path)
            .unwrap()
            .destination(&code)
            .unwrap()
            .is_some_and(|d| d.retry_at.is_some() && d.failures > 0)
    })
    .unwrap();
    let out = fx.cli(&["status"]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with(&code) && l.contains(" is "))
        .unwrap_or_else(|| panic!("no destination line for {code}:\n{text}"));
    assert!(
        line.starts_with(&format!("{code} is backing off: ")) && line.contains("503"),
        "{text}"
    );
    assert!(!text.contains("paused"), "{text}");
    let out = fx.cli(&["status", "--json"]).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &v["destinations"][0];
    assert_eq!(d["municipality_code"], code.as_str());
    assert!(
        d["retry_at"].as_i64().unwrap() > counter_core::now_ms(),
        "{d}"
    );
}

#[test]
fn an_answer_larger_than_the_cap_is_not_read() {
    // Every answer is the documented `201` body followed by MAX_BODY spaces: valid JSON, and
    // a delivery to a client that read it whole. The capped client must give up on it (and
    // retry later: the key makes the retry safe).
    let fx = one_municipality("poll_interval_ms = 50\nprobe_interval_ms = 60000\n");
    let backend = &fx.backends[0];
    backend.store.lock().unwrap().set_chaos(Some(Chaos {
        seed: 9,
        faults: vec![(Fault::Huge(MAX_BODY), 1000)],
    }));
    let ids = fx.enqueue_synthetic(1);
    let _sync = fx.start_daemon();
    wait_until(
        Duration::from_secs(20),
        "the attempt's outcome recorded",
        || {
            let r = row(&fx, &ids[0]);
            r.attempts >= 1 && r.state != State::Sending
        },
    )
    .unwrap();
    let r = row(&fx, &ids[0]);
    assert_ne!(r.state, State::Delivered, "a capped answer is no delivery");
    let err = r.last_error.clone().unwrap_or_default();
    assert!(
        err.contains(&format!("larger than {MAX_BODY} bytes")),
        "{err}"
    );
    assert!(r.has_payload);
    let sent = backend.exchanges();
    assert_eq!(sent.len(), 1);
    let answer = sent[0].response.as_ref().unwrap();
    assert_eq!(answer.status, 201);
    assert!(
        answer.body.len() > MAX_BODY,
        "the backend really sent {} bytes",
        answer.body.len()
    );
}

#[test]
fn retention_purge_deletes_old_delivered_metadata_only() {
    let fx = one_municipality("poll_interval_ms = 50\nstatus_poll_secs = 3600\n");
    // Keep delivered metadata for one day.
    let text = std::fs::read_to_string(&fx.config_path).unwrap();
    std::fs::write(
        &fx.config_path,
        text.replace(
            "path = \"outbox.db\"\n",
            "path = \"outbox.db\"\nretention_days = 1\n",
        ),
    )
    .unwrap();
    fx.backends[0]
        .store
        .lock()
        .unwrap()
        .faults
        .push_back(Fault::Status(422, None));
    let ids = fx.enqueue_synthetic(3);
    let sync = fx.start_daemon();
    wait_until(Duration::from_secs(20), "all answered", || {
        let ob = Outbox::open(&fx.config.outbox.path).unwrap();
        ids.iter()
            .all(|id| matches!(ob.get(id).unwrap().state, State::Delivered | State::Failed))
    })
    .unwrap();
    drop(sync);
    let states: Vec<State> = ids.iter().map(|id| row(&fx, id).state).collect();
    let failed = ids[states.iter().position(|s| *s == State::Failed).unwrap()].clone();
    let mut delivered = ids.iter().filter(|id| **id != failed).cloned();
    let (old, recent) = (delivered.next().unwrap(), delivered.next().unwrap());

    // Two days ago: `old` delivered, `failed` submitted and refused. Only `old` may go.
    let two_days_ago = counter_core::now_ms() - 2 * 86_400_000;
    let db = rusqlite::Connection::open(&fx.config.outbox.path).unwrap();
    db.execute(
        "UPDATE application SET delivered_at = ?2 WHERE id = ?1",
        rusqlite::params![old, two_days_ago],
    )
    .unwrap();
    db.execute(
        "UPDATE application SET next_attempt_at = ?2, submitted_at = '2000-01-01T00:00:00Z' WHERE id = ?1",
        rusqlite::params![failed, two_days_ago],
    )
    .unwrap();
    drop(db);

    // The daemon purges at start.
    let _sync = fx.start_daemon();
    wait_until(Duration::from_secs(20), "the old delivery purged", || {
        Outbox::open(&fx.config.outbox.path)
            .unwrap()
            .get(&old)
            .is_err()
    })
    .unwrap();
    assert_eq!(row(&fx, &recent).state, State::Delivered, "recent kept");
    assert_eq!(
        row(&fx, &failed).state,
        State::Failed,
        "a failed application is kept for staff, however old"
    );
}
