//! counter-sync (`counter-sync run`, its own process) against real HTTP: one municipality
//! unreachable never holds up the other; `503`, an HTML error page and a `422` are handled as
//! the API says, and every retry sends the identical body with the same Idempotency-Key; the
//! timing the retry policy promises, measured by the reference backend's arrival times: no
//! request before `Retry-After`, a destination that is down gets one probe at a time (not a
//! batch), and its backlog is due at once when it answers.

use counter_core::api::{Applicant, SealedContent};
use counter_core::outbox::{NewApplication, Outbox, State};
use madoguchi_tests::harness::{
    wait_until, Fixture, FixtureOptions, SyncFixture, SyncOptions, Unreachable,
};
use madoguchi_tests::refbackend::{Chaos, Fault};
use std::time::{Duration, Instant};

fn enqueue(outbox: &mut Outbox, fx: &Fixture, code: &str) -> String {
    let application_id = uuid::Uuid::new_v4();
    let content = SealedContent {
        application_id: application_id.to_string(),
        municipality_code: code.into(),
        procedure_code: "juminhyo-copy".into(),
        applicant: Applicant {
            name: "山田　太郎".into(),
            address: "埼玉県".into(),
            birth_date: "1980-02-17".into(),
            sex: "1".into(),
        },
        answers: vec![],
        language: "ja".into(),
    };
    let public = std::fs::read(fx.dir.join(format!("{code}.pub.pem"))).unwrap();
    let sealed = counter_core::seal::seal(&serde_json::to_vec(&content).unwrap(), &public).unwrap();
    let app = NewApplication {
        application_id,
        kiosk_id: "K01".into(),
        municipality_code: code.into(),
        procedure_code: "juminhyo-copy".into(),
        submitted_at: time::OffsetDateTime::now_utc(),
        receipt_lang: "ja".into(),
        sealed,
    };
    outbox.enqueue(&app, counter_core::now_ms()).unwrap();
    app.application_id.to_string()
}

#[test]
fn one_municipality_down_does_not_delay_the_other() {
    let mut fx = Fixture::new(FixtureOptions::default()).unwrap();
    // 越生町 is unreachable (a port this test holds bound without listening: refused at once,
    // and nobody else can answer on it); 毛呂山町 answers 503, then an HTML page, then works.
    let nowhere = Unreachable::new().unwrap();
    fx.set_endpoint("113271", &nowhere.url()).unwrap();
    {
        let mut store = fx.municipality("113263").backend.store.lock().unwrap();
        store.faults.push_back(Fault::Status(503, None));
        store.faults.push_back(Fault::Garbage);
    }
    let mut outbox = Outbox::open(&fx.config.sync.outbox.path).unwrap();
    let to_ogose = enqueue(&mut outbox, &fx, "113271");
    let to_moroyama = enqueue(&mut outbox, &fx, "113263");
    let _sync = fx.start_counter_sync();

    let moroyama = &fx.municipality("113263").backend;
    wait_until(
        Duration::from_secs(30),
        "毛呂山町 has its application",
        || moroyama.received().len() == 1,
    )
    .unwrap();
    let got = &moroyama.received()[0];
    assert_eq!(got.envelope.application_id, to_moroyama);
    assert_eq!(
        got.content.applicant.name, "山田　太郎",
        "the municipality opens the sealed payload"
    );
    let posts = moroyama.store.lock().unwrap().posts;
    assert_eq!(posts, 3, "503, garbage, then accepted");
    wait_until(Duration::from_secs(5), "delivery recorded", || {
        outbox
            .get(&to_moroyama)
            .map(|r| r.state == State::Delivered)
            .unwrap_or(false)
    })
    .unwrap();

    // The unreachable municipality's application waits, with the reason, for a later attempt.
    wait_until(Duration::from_secs(10), "a failed attempt recorded", || {
        outbox
            .get(&to_ogose)
            .map(|r| r.attempts >= 1 && r.last_error.is_some())
            .unwrap_or(false)
    })
    .unwrap();
    let row = outbox.get(&to_ogose).unwrap();
    assert!(
        matches!(row.state, State::Waiting | State::Sending),
        "{:?}",
        row.state
    );
    assert!(row.has_payload, "kept until delivered");
    assert!(row.last_error.unwrap().contains("cannot connect"));

    // A retry of a delivered application gets the same answer; a changed body gets 422.
    let body = got.bodies[0].clone();
    counter_core::client::install_crypto_provider();
    let client = reqwest::blocking::Client::new();
    let again = client
        .post(format!("{}/v1/applications", moroyama.url()))
        .header("Idempotency-Key", format!("\"{to_moroyama}\""))
        .body(body.clone())
        .send()
        .unwrap();
    assert_eq!(again.status().as_u16(), 200);
    let mut changed = body.clone();
    let i = changed.iter().position(|&b| b == b'K').unwrap();
    changed[i] = b'X';
    let conflict = client
        .post(format!("{}/v1/applications", moroyama.url()))
        .header("Idempotency-Key", format!("\"{to_moroyama}\""))
        .body(changed)
        .send()
        .unwrap();
    assert_eq!(conflict.status().as_u16(), 422);
    let received = moroyama.received();
    assert!(
        received[0].bodies.iter().all(|b| b == &body),
        "every retry body identical"
    );
    assert_eq!(received.len(), 1, "exactly once");
}

/// The gap between two arrivals, for messages.
fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// A policy whose own delays are short (probe every 50–100 ms, backoff ≤ 100 ms), so that a
/// `Retry-After` of 2 s is the only thing that can hold a retry back that long: a client that
/// ignored the header would retry within ~0.1 s and fail the assertions below.
const SHORT_POLICY: &str = "poll_interval_ms = 20\nprobe_interval_ms = 100\nbackoff_base_ms = 50\nbackoff_cap_ms = 100\nmax_retry_after_secs = 10\nstatus_poll_secs = 3600\n";
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// Scheduling is in whole unix milliseconds: a retry due at `answer + 2000 ms` can start up to
/// 1 ms before 2000 ms have passed by the monotonic clock of the backend's arrival times.
const CLOCK_GRAIN: Duration = Duration::from_millis(1);

#[test]
fn no_request_before_retry_after() {
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 1,
        sync: SHORT_POLICY.into(),
        ..Default::default()
    })
    .unwrap();
    let backend = &fx.backends[0];
    let secs = RETRY_AFTER.as_secs();

    // 1. The destination answers nothing but `503 Retry-After: 2` (down as a whole): its next
    //    probe must wait for the header, not the 50–100 ms probe interval.
    backend
        .store
        .lock()
        .unwrap()
        .faults
        .push_back(Fault::Status(503, Some(secs)));
    let first = fx.enqueue_synthetic(1);
    let sync = fx.start_daemon();
    wait_until(
        Duration::from_secs(20),
        "the 503'd application arrives",
        || backend.received().len() == 1,
    )
    .unwrap();
    let times = backend.post_times();
    assert_eq!(times.len(), 2, "the 503, then the delivery");
    let gap = times[1] - times[0];
    eprintln!("503 Retry-After: {secs}: retried after {} ms", ms(gap));
    assert!(
        gap + CLOCK_GRAIN >= RETRY_AFTER,
        "retried {} ms after a 503 with Retry-After: {secs}",
        ms(gap)
    );
    assert_eq!(backend.stored_ids(), first);

    // 2. In a batch that is otherwise accepted, one application gets `429 Retry-After: 2`:
    //    that application must wait, the others are delivered at once.
    backend
        .store
        .lock()
        .unwrap()
        .faults
        .push_back(Fault::Status(429, Some(secs)));
    let before = backend.exchanges().len();
    fx.enqueue_synthetic(3);
    wait_until(Duration::from_secs(20), "all four delivered", || {
        backend.received().len() == 4
    })
    .unwrap();
    drop(sync);
    let posts: Vec<_> = backend.exchanges()[before..]
        .iter()
        .filter(|e| e.method == "POST")
        .cloned()
        .collect();
    assert_eq!(
        posts.len(),
        4,
        "three accepted at once, one 429 retried once"
    );
    let limited = posts
        .iter()
        .find(|e| e.response.as_ref().is_some_and(|a| a.status == 429))
        .expect("the 429 was given");
    let retry = posts
        .iter()
        .find(|e| e.idempotency_key == limited.idempotency_key && e.at > limited.at)
        .expect("the 429'd application was sent again");
    let gap = retry.at - limited.at;
    eprintln!("429 Retry-After: {secs}: retried after {} ms", ms(gap));
    assert!(
        gap + CLOCK_GRAIN >= RETRY_AFTER,
        "retried {} ms after a 429 with Retry-After: {secs}",
        ms(gap)
    );
}

#[test]
fn a_down_destination_gets_one_probe_at_a_time_and_its_backlog_at_once_when_back() {
    // The scenario of BENCHMARKS.md ("35–37 requests in 10 s: the failed batch of 32, then 3–5
    // probes", with batch 32 and probes every 1.5–3 s) scaled down to seconds: batch 8, probes
    // every 0.5–1 s. The policy says: one full batch fails, then single requests no closer
    // together than half the probe interval; when one succeeds, the backlog goes out in full
    // batches at once.
    const BATCH: usize = 8;
    const PROBE: Duration = Duration::from_millis(1000);
    const BACKLOG: usize = 20;
    const PROBES_BEFORE_RECOVERY: usize = 3;
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 1,
        sync: format!(
            "poll_interval_ms = 20\nbatch_size = {BATCH}\nprobe_interval_ms = {}\nstatus_poll_secs = 3600\n",
            PROBE.as_millis()
        ),
        ..Default::default()
    })
    .unwrap();
    let backend = &fx.backends[0];
    backend.store.lock().unwrap().set_chaos(Some(Chaos {
        seed: 3,
        faults: vec![(Fault::Status(503, None), 1000)],
    }));
    fx.enqueue_synthetic(BACKLOG);
    let sync = fx.start_daemon();
    wait_until(
        Duration::from_secs(30),
        "the first batch and some probes",
        || backend.post_times().len() >= BATCH + PROBES_BEFORE_RECOVERY,
    )
    .unwrap();
    // Back: everything from here on is accepted.
    backend.store.lock().unwrap().set_chaos(None);
    wait_until(Duration::from_secs(30), "the backlog delivered", || {
        backend.received().len() == BACKLOG
    })
    .unwrap();
    drop(sync);

    // Told apart by the answer each request got, not by arrival time: a request that
    // arrived just before the switch may have been answered after it.
    let answered = |status: u16| -> Vec<Instant> {
        backend
            .exchanges()
            .iter()
            .filter(|e| e.method == "POST")
            .filter(|e| e.response.as_ref().is_some_and(|a| a.status == status))
            .map(|e| e.at)
            .collect()
    };
    let (down, up) = (answered(503), answered(201));
    assert_eq!(
        down.len() + up.len(),
        backend.post_times().len(),
        "every request answered 503 or 201"
    );
    let gaps: Vec<u128> = down.windows(2).map(|w| ms(w[1] - w[0])).collect();
    eprintln!(
        "{} requests while down ({} probes), gaps in ms: {gaps:?}",
        down.len(),
        down.len() - BATCH
    );
    // The first batch: BATCH requests sent together.
    assert!(
        down[BATCH - 1] - down[0] < PROBE / 2,
        "the first batch went out together: {gaps:?}"
    );
    // Then one probe at a time: never two requests closer than the shortest probe delay.
    for (i, w) in down[BATCH - 1..].windows(2).enumerate() {
        let gap = w[1] - w[0];
        assert!(
            gap + CLOCK_GRAIN >= PROBE / 2,
            "request {} came {} ms after the one before: a batch or a retry storm, not a probe ({gaps:?})",
            BATCH + i + 1,
            ms(gap)
        );
    }
    // And it is probed at all: the longest gap is a probe interval plus a few poll rounds
    // (generous: two cores shared with other builds).
    assert!(
        gaps[BATCH - 1..]
            .iter()
            .all(|g| *g <= PROBE.as_millis() + 1500),
        "a down destination must still be probed: {gaps:?}"
    );

    // Back: the first answered probe makes the whole backlog due, sent in full batches —
    // no probe interval between the deliveries.
    assert_eq!(
        up.len(),
        BACKLOG,
        "each application delivered with one request"
    );
    let up_gaps: Vec<u128> = up.windows(2).map(|w| ms(w[1] - w[0])).collect();
    eprintln!(
        "backlog of {BACKLOG} delivered within {} ms of the first answered probe (gaps {up_gaps:?})",
        ms(up[up.len() - 1] - up[0])
    );
    assert!(
        up_gaps.iter().all(|g| *g < (PROBE / 2).as_millis()),
        "the backlog waited for probes: {up_gaps:?}"
    );
}
