//! counter-sync over real HTTP(S) against the reference backends: a hanging backend never
//! holds up the others; mutual TLS with a per-municipality CA; opening hours; `401` pauses a
//! destination until staff resume it; the municipality's later status is polled; metrics.

use counter_core::api::RemoteStatus;
use counter_core::client::{HttpClient, Outcome, TlsFiles};
use counter_core::outbox::{Outbox, State};
use madoguchi_tests::harness::{holds_for, wait_until, SyncFixture, SyncOptions};
use madoguchi_tests::refbackend::{Chaos, Fault};
use std::time::Duration;

#[test]
fn a_hanging_backend_never_delays_the_others() {
    // Long request timeout: if the workers were not independent, the hang would block others.
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 3,
        sync: "poll_interval_ms = 50\nrequest_timeout_secs = 120\nlease_secs = 300\n".into(),
        ..Default::default()
    })
    .unwrap();
    fx.backends[0].store.lock().unwrap().set_chaos(Some(Chaos {
        seed: 1,
        faults: vec![(Fault::Hang, 1000)],
    }));
    fx.enqueue_synthetic(300);
    let _sync = fx.start_daemon();
    wait_until(
        Duration::from_secs(60),
        "the healthy municipalities drained",
        || fx.backends[1].received().len() == 100 && fx.backends[2].received().len() == 100,
    )
    .unwrap();
    assert!(
        fx.backends[0].store.lock().unwrap().posts > 0,
        "the hanging backend was tried"
    );
    assert!(fx.backends[0].received().is_empty());
    let outbox = Outbox::open(&fx.config.outbox.path).unwrap();
    let counts = outbox.counts(&fx.codes).unwrap();
    let hung: u64 = counts
        .iter()
        .filter(|c| c.municipality_code == fx.codes[0] && c.state != State::Delivered)
        .map(|c| c.count)
        .sum();
    assert_eq!(
        hung, 100,
        "nothing of the hung municipality is lost or marked done"
    );
}

#[test]
fn mutual_tls_with_a_per_municipality_ca() {
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 2,
        tls: true,
        sync: "poll_interval_ms = 50\n".into(),
        ..Default::default()
    })
    .unwrap();
    assert!(fx.backends[0].url().starts_with("https://"));
    let ids = fx.enqueue_synthetic(10);
    let sync = fx.start_daemon();
    let delivered = wait_until(Duration::from_secs(30), "delivered over mutual TLS", || {
        fx.backends[0].received().len() + fx.backends[1].received().len() == 10
    });
    if let Err(e) = delivered {
        let outbox = Outbox::open(&fx.config.outbox.path).unwrap();
        panic!("{e}: {:?}", outbox.destinations().unwrap());
    }
    drop(sync);
    assert!(ids
        .iter()
        .all(|id| fx.backends.iter().any(|b| b.stored_ids().contains(id))));

    let dir = fx.dir.path();
    let (cert, key) = (dir.join("kiosk.crt.pem"), dir.join("kiosk.key.pem"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let post =
        |ca: &std::path::Path, client_cert: &std::path::Path, client_key: &std::path::Path| {
            let client = HttpClient::new(
                &fx.backends[0].url(),
                Duration::from_secs(5),
                Duration::from_secs(5),
                Some(TlsFiles {
                    ca,
                    client_cert,
                    client_key,
                }),
            )
            .unwrap();
            rt.block_on(client.post_application(&uuid::Uuid::new_v4().to_string(), b"{}".to_vec()))
        };
    // Municipality 1's CA does not vouch for municipality 0's server: refused, retried later.
    let wrong_ca = dir.join(format!("{}.ca.pem", fx.codes[1]));
    match post(&wrong_ca, &cert, &key) {
        Outcome::Retry {
            status: None,
            reason,
            ..
        } => {
            assert!(reason.to_lowercase().contains("certificate"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // A client certificate from another CA: the server refuses the handshake.
    let stranger = madoguchi_tests::testpki::KioskPki::new("stranger").unwrap();
    std::fs::write(dir.join("stranger.crt"), &stranger.client.cert_pem).unwrap();
    madoguchi_tests::testpki::write_private_key(
        &dir.join("stranger.key"),
        &stranger.client.key_pem,
    )
    .unwrap();
    let right_ca = dir.join(format!("{}.ca.pem", fx.codes[0]));
    assert!(matches!(
        post(
            &right_ca,
            &dir.join("stranger.crt"),
            &dir.join("stranger.key")
        ),
        Outcome::Retry { status: None, .. }
    ));
    // A missing CA file is named in the error.
    let err = HttpClient::new(
        &fx.backends[0].url(),
        Duration::from_secs(1),
        Duration::from_secs(1),
        Some(TlsFiles {
            ca: &dir.join("missing-ca.pem"),
            client_cert: &cert,
            client_key: &key,
        }),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("missing-ca.pem"), "{err}");
}

#[test]
fn closed_municipality_gets_nothing_until_it_opens() {
    let today = time::OffsetDateTime::now_utc()
        .to_offset(counter_core::hours::JST)
        .weekday();
    let other_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [today.next().number_days_from_monday() as usize];
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 2,
        sync: "poll_interval_ms = 50\n".into(),
        opening_hours: vec![(0, vec![format!("{other_day} 09:00-17:00")])],
        ..Default::default()
    })
    .unwrap();
    fx.enqueue_synthetic(40);
    let _sync = fx.start_daemon();
    wait_until(
        Duration::from_secs(30),
        "the open municipality drained",
        || fx.backends[1].received().len() == 20,
    )
    .unwrap();
    assert_eq!(
        fx.backends[0].store.lock().unwrap().posts,
        0,
        "a closed municipality is not contacted"
    );
    let out = fx.cli(&["status", "--json"]).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hours = &v["opening_hours"][0];
    assert_eq!(hours["open_now"], false);
    let next = hours["next_open"].as_str().unwrap();
    assert!(next.ends_with("T09:00:00+09:00"), "{next}");
}

#[test]
fn refused_kiosk_pauses_the_destination_until_staff_resume_it() {
    // A policy whose every delay is short: backoff and probes ≤ 0.5 s, `Retry-After` honoured
    // up to 1 s. Its longest delay (`Backoff::longest`) is 1 s, so anything but the pause would
    // send again within 1 s plus a poll round.
    const POLL_MS: u64 = 50;
    const LONGEST_RETRY_MS: u64 = 1000;
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 1,
        sync: format!(
            "poll_interval_ms = {POLL_MS}\nstatus_poll_secs = 0\nbackoff_base_ms = 100\nbackoff_cap_ms = 500\nprobe_interval_ms = 500\nmax_retry_after_secs = {}\n",
            LONGEST_RETRY_MS / 1000
        ),
        ..Default::default()
    })
    .unwrap();
    fx.backends[0].store.lock().unwrap().set_chaos(Some(Chaos {
        seed: 1,
        faults: vec![(Fault::Status(401, None), 1000)],
    }));
    let ids = fx.enqueue_synthetic(3);
    let sync = fx.start_daemon();
    let outbox = Outbox::open(&fx.config.outbox.path).unwrap();
    wait_until(Duration::from_secs(20), "the destination is paused", || {
        outbox
            .destination(&fx.codes[0])
            .unwrap()
            .is_some_and(|d| d.paused_until.is_some())
    })
    .unwrap();
    let out = fx.cli(&["status"]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("paused") && text.contains("401"), "{text}");
    // Nothing more is sent while paused: the one refused batch only — watched for longer than
    // the longest delay of the policy plus two poll rounds and slack for a loaded machine
    // (the refused rows themselves are due at once: only the pause holds them back).
    let window = Duration::from_millis(LONGEST_RETRY_MS + 2 * POLL_MS + 500);
    holds_for(window, "nothing sent while paused", || {
        fx.backends[0].store.lock().unwrap().posts == 3
    })
    .unwrap();
    assert!(outbox
        .list()
        .unwrap()
        .iter()
        .all(|r| r.state == State::Waiting));
    fx.backends[0].store.lock().unwrap().set_chaos(None);

    let out = fx.cli(&["resume", &fx.codes[0]]).unwrap();
    assert!(out.status.success());
    wait_until(Duration::from_secs(20), "delivered after resume", || {
        fx.backends[0].received().len() == 3
    })
    .unwrap();

    // The municipality finishes one; the daemon's status polling records it.
    fx.backends[0]
        .store
        .lock()
        .unwrap()
        .received
        .get_mut(&ids[0])
        .unwrap()
        .status = RemoteStatus::Completed;
    wait_until(Duration::from_secs(20), "remote status polled", || {
        outbox.get(&ids[0]).unwrap().remote_status.as_deref() == Some("completed")
    })
    .unwrap();
    drop(sync);
}

#[test]
fn metrics_endpoint_reports_queue_and_attempts() {
    // Port 0: the daemon binds a free port itself and logs which, so no other test can take
    // the port between a guess and the bind.
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 2,
        sync: "poll_interval_ms = 50\nmetrics_listen = \"127.0.0.1:0\"\n".into(),
        ..Default::default()
    })
    .unwrap();
    fx.backends[1]
        .store
        .lock()
        .unwrap()
        .faults
        .push_back(Fault::Status(422, None));
    fx.enqueue_synthetic(6);
    let sync = fx.start_daemon();
    let mut url = String::new();
    wait_until(
        Duration::from_secs(20),
        "the daemon names its metrics address",
        || {
            let log = sync.log();
            match log.split_once("metrics at http://") {
                Some((_, rest)) => {
                    let addr = rest.split("/metrics").next().unwrap_or_default();
                    url = format!("http://{addr}/metrics");
                    true
                }
                None => false,
            }
        },
    )
    .unwrap();
    assert!(
        !url.contains(":0/"),
        "the bound port, not the configured 0: {url}"
    );
    wait_until(Duration::from_secs(20), "all answered", || {
        fx.backends[0].received().len() + fx.backends[1].received().len() == 5
    })
    .unwrap();
    let outbox = Outbox::open(&fx.config.outbox.path).unwrap();
    wait_until(Duration::from_secs(20), "outcomes recorded", || {
        outbox
            .list()
            .unwrap()
            .iter()
            .all(|r| matches!(r.state, State::Delivered | State::Failed))
    })
    .unwrap();
    counter_core::client::install_crypto_provider();
    let mut text = String::new();
    wait_until(
        Duration::from_secs(10),
        "metrics served",
        || match reqwest::blocking::get(&url).and_then(|r| r.text()) {
            Ok(t) => {
                text = t;
                true
            }
            Err(_) => false,
        },
    )
    .unwrap();
    let (a, b) = (&fx.codes[0], &fx.codes[1]);
    for line in [
        format!("madoguchi_sync_outbox_applications{{municipality=\"{a}\",state=\"delivered\"}} 3"),
        format!("madoguchi_sync_outbox_applications{{municipality=\"{b}\",state=\"delivered\"}} 2"),
        format!("madoguchi_sync_outbox_applications{{municipality=\"{b}\",state=\"failed\"}} 1"),
        format!("madoguchi_sync_attempts_total{{municipality=\"{b}\",outcome=\"failed\"}} 1"),
        format!("madoguchi_sync_destination_open{{municipality=\"{a}\"}} 1"),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(text.contains("madoguchi_sync_delivery_latency_seconds_count"));
}

#[test]
fn broken_files_are_named_and_never_reset() {
    let fx = SyncFixture::new(SyncOptions::default()).unwrap();
    let db = &fx.config.outbox.path;

    // A second daemon on the same outbox is refused while the first runs.
    let log = fx.dir.path().join("daemon.log");
    let mut first = fx.spawn_daemon(&log).unwrap();
    fx.enqueue_synthetic(2);
    wait_until(Duration::from_secs(20), "the first daemon delivers", || {
        fx.backends
            .iter()
            .map(|b| b.received().len())
            .sum::<usize>()
            == 2
    })
    .unwrap();
    let second = fx.cli(&["run"]).unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("another counter-sync") && err.contains("outbox.db"),
        "{err}"
    );
    first.kill().unwrap();
    first.wait().unwrap();

    // A damaged database: every command names the file and the problem and leaves it alone.
    let mut damaged = std::fs::read(db).unwrap();
    for b in damaged.iter_mut().skip(100).take(4000) {
        *b = 0x5A;
    }
    std::fs::write(db, &damaged).unwrap();
    let _ = std::fs::remove_file(db.with_extension("db-wal"));
    for args in [
        &["status", "--json"][..],
        &["run"][..],
        &["enqueue-synthetic", "--count", "1"][..],
    ] {
        let out = fx.cli(args).unwrap();
        assert!(!out.status.success(), "{args:?} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("outbox.db"), "{args:?}: {err}");
        assert!(
            err.contains("damaged") || err.contains("not a database"),
            "{args:?}: {err}"
        );
        assert_eq!(
            std::fs::read(db).unwrap(),
            damaged,
            "{args:?} changed the file"
        );
    }

    // A broken setting names the file and the setting.
    let text = std::fs::read_to_string(&fx.config_path).unwrap();
    std::fs::write(
        &fx.config_path,
        text.replace("[sync]\n", "[sync]\nlease_secs = 3\n"),
    )
    .unwrap();
    let out = fx.cli(&["status"]).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("kiosk.toml") && err.contains("lease_secs"),
        "{err}"
    );
}
