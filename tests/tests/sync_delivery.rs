//! counter-sync against real HTTP: one municipality unreachable never holds up the other;
//! `503` with `Retry-After`, an HTML error page and a `422` are handled as the API says, and
//! every retry sends the identical body with the same Idempotency-Key.

use counter_sync::api::{Applicant, SealedContent};
use counter_sync::outbox::{NewApplication, Outbox, State};
use madoguchi_tests::harness::{wait_until, Fixture, FixtureOptions};
use madoguchi_tests::refbackend::Fault;
use std::time::Duration;

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
    let sealed = counter_sync::seal::seal(&serde_json::to_vec(&content).unwrap(), &public).unwrap();
    let app = NewApplication {
        application_id,
        kiosk_id: "K01".into(),
        municipality_code: code.into(),
        procedure_code: "juminhyo-copy".into(),
        submitted_at: time::OffsetDateTime::now_utc(),
        receipt_lang: "ja".into(),
        sealed,
    };
    outbox.enqueue(&app, counter_sync::now_ms()).unwrap();
    app.application_id.to_string()
}

#[test]
fn one_municipality_down_does_not_delay_the_other() {
    let mut fx = Fixture::new(FixtureOptions::default()).unwrap();
    // 越生町 is unreachable; 毛呂山町 answers 503 (Retry-After: 1), then an HTML page, then works.
    let ogose = fx
        .config
        .sync
        .municipalities
        .iter_mut()
        .find(|m| m.code == "113271")
        .unwrap();
    ogose.endpoint = "http://127.0.0.1:9".into();
    {
        let mut store = fx.municipality("113263").backend.store.lock().unwrap();
        store.faults.push_back(Fault::Status(503, Some(1)));
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
    counter_sync::client::install_crypto_provider();
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
