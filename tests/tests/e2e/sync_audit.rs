//! The delivery holes of the security review (issue 10), each proved against real HTTP(S)
//! servers: a redirect is never followed; one broken municipality never stops the others; a
//! clock that jumps cannot hold deliveries back; a success outside the API pauses instead of
//! re-sending forever; the municipality can tell a relabelled envelope; a private key that
//! other users can read stops the daemon.

use counter_core::outbox::{Outbox, State};
use counter_sync::daemon::Clock;
use madoguchi_tests::harness::{wait_until, SyncFixture, SyncGuard, SyncOptions};
use madoguchi_tests::refbackend::{Chaos, Fault, RefBackend};
use serde_json::Value;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn delivered(fx: &SyncFixture, code: &str) -> u64 {
    let outbox = Outbox::open(&fx.config.outbox.path).unwrap();
    outbox
        .counts(&fx.codes)
        .unwrap()
        .iter()
        .filter(|c| c.municipality_code == code && c.state == State::Delivered)
        .map(|c| c.count)
        .sum()
}

fn destination(fx: &SyncFixture, code: &str) -> Option<counter_core::outbox::Destination> {
    Outbox::open(&fx.config.outbox.path)
        .unwrap()
        .destination(code)
        .unwrap()
}

#[test]
fn redirects_are_never_followed() {
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 1,
        sync: "poll_interval_ms = 50\n".into(),
        ..Default::default()
    })
    .unwrap();
    let code = fx.codes[0].clone();
    // A second server that would accept the applications (it holds the municipality's key).
    let elsewhere = RefBackend::start(
        &code,
        fx.backends[0].store.lock().unwrap().private_pem.clone(),
        0,
    )
    .unwrap();
    fx.backends[0].store.lock().unwrap().set_chaos(Some(Chaos {
        seed: 7,
        faults: vec![(
            Fault::Redirect(format!("{}/v1/applications", elsewhere.url())),
            1000,
        )],
    }));
    fx.enqueue_synthetic(20);
    let _sync = fx.start_daemon();
    wait_until(Duration::from_secs(20), "the destination is paused", || {
        destination(&fx, &code).is_some_and(|d| d.paused_until.is_some())
    })
    .unwrap();
    let d = destination(&fx, &code).unwrap();
    let reason = d.pause_reason.unwrap();
    assert!(
        reason.contains("307") && reason.contains("redirect") && reason.contains(&elsewhere.url()),
        "staff read why: {reason}"
    );
    assert_eq!(
        elsewhere.store.lock().unwrap().posts,
        0,
        "the redirect target received nothing"
    );
    assert_eq!(delivered(&fx, &code), 0, "nothing counts as delivered");
    let status = fx.cli(&["status"]).unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains(&code) && text.contains("paused"), "{text}");
}

#[test]
fn one_municipality_whose_ca_file_is_missing_does_not_stop_the_others() {
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 2,
        tls: true,
        sync: "poll_interval_ms = 50\n".into(),
        ..Default::default()
    })
    .unwrap();
    let (broken, healthy) = (fx.codes[0].clone(), fx.codes[1].clone());
    let ca = fx.dir.path().join(format!("{broken}.ca.pem"));
    std::fs::remove_file(&ca).unwrap();
    fx.enqueue_synthetic(20);
    let _sync = fx.start_daemon();
    wait_until(
        Duration::from_secs(30),
        "the healthy municipality drained",
        || delivered(&fx, &healthy) == 10,
    )
    .unwrap();
    wait_until(Duration::from_secs(10), "the broken one reported", || {
        destination(&fx, &broken).is_some_and(|d| d.broken_reason.is_some())
    })
    .unwrap();
    let reason = destination(&fx, &broken).unwrap().broken_reason.unwrap();
    assert!(reason.contains(&ca.display().to_string()), "{reason}");
    assert!(fx.backends[0].received().is_empty());
    // Reported where staff and the fleet look: status, metrics.
    let status = fx.cli(&["status"]).unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains(&format!("{broken} cannot be delivered to")),
        "{text}"
    );
    let metrics = counter_sync::metrics::Metrics::new(&fx.config)
        .unwrap()
        .render();
    assert!(
        metrics.contains(&format!(
            "madoguchi_sync_destination_broken{{municipality=\"{broken}\"}} 1"
        )),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "madoguchi_sync_destination_broken{{municipality=\"{healthy}\"}} 0"
    )));
}

#[test]
fn a_clock_that_jumps_forward_and_back_cannot_hold_deliveries_back() {
    const YEARS: i64 = 5 * 365 * 86_400_000;
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 1,
        sync: "poll_interval_ms = 50\nbackoff_base_ms = 200\nbackoff_cap_ms = 1000\nmax_retry_after_secs = 1\nprobe_interval_ms = 400\n".into(),
        ..Default::default()
    })
    .unwrap();
    let code = fx.codes[0].clone();
    let backend = &fx.backends[0];
    // The kiosk boots with its clock five years ahead, and the municipality is down.
    let offset = Arc::new(AtomicI64::new(YEARS));
    let o = offset.clone();
    let clock = Clock::new(move || counter_core::now_ms() + o.load(Ordering::SeqCst));
    backend.store.lock().unwrap().set_chaos(Some(Chaos {
        seed: 3,
        faults: vec![(Fault::Status(503, None), 1000)],
    }));
    fx.enqueue_synthetic(6);
    let _sync = SyncGuard::spawn_with_clock(fx.config.clone(), clock);
    wait_until(Duration::from_secs(20), "failed attempts recorded", || {
        destination(&fx, &code).is_some_and(|d| d.failures >= 2)
    })
    .unwrap();
    // NTP corrects the clock; the municipality is back. Nothing may wait for five years.
    offset.store(0, Ordering::SeqCst);
    backend.store.lock().unwrap().set_chaos(None);
    wait_until(
        Duration::from_secs(20),
        "delivered after the clock went back",
        || delivered(&fx, &code) == 6,
    )
    .unwrap();

    // Now the clock falls five years behind: what was enqueued at the true time is due
    // within the policy's horizon, not in five years.
    offset.store(-YEARS, Ordering::SeqCst);
    fx.enqueue_synthetic(3);
    wait_until(
        Duration::from_secs(20),
        "delivered with the clock behind",
        || delivered(&fx, &code) == 9,
    )
    .unwrap();
    assert_eq!(backend.received().len(), 9);
}

#[test]
fn a_success_answer_outside_the_contract_pauses_instead_of_resending() {
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 1,
        sync: "poll_interval_ms = 50\nprobe_interval_ms = 200\n".into(),
        ..Default::default()
    })
    .unwrap();
    let code = fx.codes[0].clone();
    fx.backends[0].store.lock().unwrap().set_chaos(Some(Chaos {
        seed: 5,
        faults: vec![(Fault::Json(200, r#"{"ok":true}"#.into()), 1000)],
    }));
    let ids = fx.enqueue_synthetic(4);
    let _sync = fx.start_daemon();
    wait_until(Duration::from_secs(20), "the destination is paused", || {
        destination(&fx, &code).is_some_and(|d| d.paused_until.is_some())
    })
    .unwrap();
    let reason = destination(&fx, &code).unwrap().pause_reason.unwrap();
    assert!(reason.contains("outside the API"), "{reason}");
    let outbox = Outbox::open(&fx.config.outbox.path).unwrap();
    for id in &ids {
        let row = outbox.get(id).unwrap();
        assert_ne!(row.state, State::Delivered);
        assert!(row.has_payload, "kept for a later delivery");
    }
}

#[test]
fn a_relabelled_envelope_is_refused_by_the_municipality() {
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 1,
        ..Default::default()
    })
    .unwrap();
    let code = fx.codes[0].clone();
    let ids = fx.enqueue_synthetic(2);
    // The stored POST bodies, exactly as counter-sync would send them.
    let mut outbox = Outbox::open(&fx.config.outbox.path).unwrap();
    let claimed = outbox
        .claim_batch(
            &code,
            counter_core::now_ms() + 1,
            Duration::from_secs(60),
            2,
        )
        .unwrap();
    assert_eq!(claimed.len(), 2);
    counter_core::client::install_crypto_provider();
    let http = reqwest::blocking::Client::new();
    let url = format!("{}/v1/applications", fx.backends[0].url());
    let post = |key: &str, body: &Value| {
        let r = http
            .post(&url)
            .header("Idempotency-Key", format!("\"{key}\""))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap_or(Value::Null))
    };
    let first: Value = serde_json::from_slice(&claimed[0].body).unwrap();
    // Another procedure on the clear label.
    let mut relabelled = first.clone();
    relabelled["procedure_code"] = "tenshutsu".into();
    let (status, body) = post(&claimed[0].id, &relabelled);
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("envelope_mismatch"))
    );
    // The sealed content of one application under another application's id.
    let mut swapped: Value = serde_json::from_slice(&claimed[1].body).unwrap();
    swapped["sealed"] = first["sealed"].clone();
    let (status, body) = post(&claimed[1].id, &swapped);
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("envelope_mismatch"))
    );
    // The envelopes as sealed are accepted.
    assert_eq!(post(&claimed[0].id, &first).0, 201);
    assert!(ids.contains(&claimed[0].id));
}

#[test]
fn a_private_key_that_others_can_read_stops_the_daemon_naming_file_and_mode() {
    use std::os::unix::fs::PermissionsExt;
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 1,
        tls: true,
        ..Default::default()
    })
    .unwrap();
    let key = fx.dir.path().join("kiosk.key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let log = fx.dir.path().join("daemon.log");
    let mut child = fx.spawn_daemon(&log).unwrap();
    let exited = wait_until(
        Duration::from_secs(20),
        "the daemon refuses to start",
        || child.try_wait().unwrap().is_some(),
    );
    if exited.is_err() {
        let _ = child.kill();
    }
    exited.unwrap();
    assert!(!child.wait().unwrap().success());
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(
        err.contains(&key.display().to_string()) && err.contains("0644"),
        "{err}"
    );
}
