//! Contract test: the client and the reference backend against `counter-core/openapi.yaml`,
//! not against the Rust types they share (`counter_core::api`). Every request the real
//! `counter-sync run` sent in a delivery with retries, refusals and status polling (body,
//! Idempotency-Key, and the sealed content as opened by jwcrypto, an independent JWE
//! implementation) and every answer the reference backend gave (a documented status with a
//! body of the documented schema) validates against the document's closed schemas; and for
//! every documented status of `POST /v1/applications` the client does what the document says
//! (`x-madoguchi-outcome`).

use counter_core::client::{classify, Outcome};
use madoguchi_tests::harness::{jwcrypto_open, repo_root, wait_until, SyncFixture, SyncOptions};
use madoguchi_tests::refbackend::{Exchange, Fault};
use serde_json::{json, Value};
use std::time::Duration;

fn document() -> Value {
    let text = std::fs::read_to_string(repo_root().join("counter-core/openapi.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// A validator for one named schema, resolving `$ref`s inside the whole document.
fn schema(doc: &Value, name: &str) -> jsonschema::Validator {
    let mut root = doc.clone();
    root.as_object_mut()
        .unwrap()
        .insert("$ref".into(), json!(format!("#/components/schemas/{name}")));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap()
}

fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(instance).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the document: {errors:?}\n{instance}"
    );
}

/// The documented response of `method path` for `status`, with its schema name if any.
fn documented(doc: &Value, path: &str, method: &str, status: u16) -> Option<Option<String>> {
    let r = &doc["paths"][path][method]["responses"][status.to_string()];
    if r.is_null() {
        return None;
    }
    Some(
        r["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .map(|s| s.rsplit('/').next().unwrap().to_string()),
    )
}

/// The documented path template an exchange's path belongs to.
fn template(path: &str) -> &'static str {
    if path == "/v1/applications" {
        "/v1/applications"
    } else if path.starts_with("/v1/applications/") {
        "/v1/applications/{application_id}"
    } else {
        panic!("{path} is not in the document")
    }
}

/// The answer of one exchange against the document: a documented status for its path and
/// method, and a body of the documented schema (a JSON body on a status documented without
/// one must still be the documented error body).
fn check_answer(doc: &Value, e: &Exchange) {
    let Some(answer) = &e.response else {
        return; // never answered (an injected hang): nothing went on the wire
    };
    let method = e.method.to_lowercase();
    let path = template(&e.path);
    let what = format!("{} {} → {}", e.method, e.path, answer.status);
    let documented = documented(doc, path, &method, answer.status)
        .unwrap_or_else(|| panic!("{what}: the status is not documented"));
    let is_json = answer
        .content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("application/json"));
    let name = match documented {
        Some(name) => {
            assert!(
                is_json,
                "{what}: documented as JSON, sent {:?}",
                answer.content_type
            );
            name
        }
        None if is_json => "Error".to_string(),
        None => return,
    };
    let body: Value =
        serde_json::from_slice(&answer.body).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
    assert_valid(&schema(doc, &name), &body, &what);
}

/// Everything the real client sends (POSTs with their idempotency keys, status GETs) and
/// everything the reference backend answers it (201, 200, 503, 429, 422) follows the
/// document; the sealed content, opened by a third party, follows it too, and the closed
/// schemas refuse what the document does not name.
#[test]
fn client_traffic_and_sealed_content_follow_the_openapi_document() {
    let doc = document();
    // Status polling at every idle round, so that GETs are part of the traffic.
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 1,
        sync: "poll_interval_ms = 50\nstatus_poll_secs = 0\nprobe_interval_ms = 200\nbackoff_base_ms = 50\nbackoff_cap_ms = 200\n".into(),
        ..Default::default()
    })
    .unwrap();
    let backend = &fx.backends[0];
    {
        // Refusals of the kinds the document lists, so that their answers are on the wire too.
        let mut s = backend.store.lock().unwrap();
        s.faults.push_back(Fault::Status(503, Some(0)));
        s.faults.push_back(Fault::Status(429, None));
        s.faults.push_back(Fault::Status(422, None));
    }
    fx.enqueue_synthetic(5);
    let sync = fx.start_daemon();
    wait_until(Duration::from_secs(30), "delivered and polled", || {
        backend.received().len() == 4
            && backend
                .exchanges()
                .iter()
                .any(|e| e.method == "GET" && e.response.as_ref().is_some_and(|a| a.status == 200))
    })
    .unwrap();
    drop(sync);

    // Everything the real client sent, and everything the backend answered it.
    let traffic = backend.exchanges();
    let private_pem = backend.store.lock().unwrap().private_pem.clone();
    let key_schema = &doc["paths"]["/v1/applications"]["post"]["parameters"][0];
    assert_eq!(key_schema["name"], "Idempotency-Key");
    let key_validator = jsonschema::validator_for(&key_schema["schema"]).unwrap();
    let id_schema = &doc["paths"]["/v1/applications/{application_id}"]["get"]["parameters"][0];
    assert_eq!(id_schema["name"], "application_id");
    let id_validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&id_schema["schema"])
        .unwrap();
    let (envelope_schema, content_schema) = (
        schema(&doc, "ApplicationEnvelope"),
        schema(&doc, "SealedContent"),
    );
    let mut sealed = vec![];
    for e in &traffic {
        match (e.method.as_str(), template(&e.path)) {
            ("POST", "/v1/applications") => {
                let key = e.idempotency_key.clone().expect("Idempotency-Key sent");
                assert_valid(&key_validator, &json!(key), "the Idempotency-Key header");
                let envelope: Value = serde_json::from_slice(&e.request_body).unwrap();
                assert_valid(&envelope_schema, &envelope, "the POST body");
                assert_eq!(
                    format!("\"{}\"", envelope["application_id"].as_str().unwrap()),
                    key
                );
                sealed.push(envelope["sealed"].as_str().unwrap().to_string());
            }
            ("GET", "/v1/applications/{application_id}") => {
                let id = e.path.rsplit('/').next().unwrap();
                assert_valid(&id_validator, &json!(id), "the application_id in the path");
                assert!(e.request_body.is_empty());
            }
            (method, path) => panic!("the client sent {method} {path}"),
        }
        check_answer(&doc, e);
    }
    let statuses: Vec<u16> = traffic
        .iter()
        .filter_map(|e| e.response.as_ref().map(|a| a.status))
        .collect();
    for expected in [201, 503, 429, 422, 200] {
        assert!(
            statuses.contains(&expected),
            "{expected} not in {statuses:?}"
        );
    }
    // The sealed content, opened by jwcrypto, not by the kiosk's josekit.
    let opened = jwcrypto_open(&private_pem, &sealed).unwrap();
    for answer in &opened {
        let hex = answer["plaintext_hex"]
            .as_str()
            .unwrap_or_else(|| panic!("jwcrypto could not open a sealed body: {answer}"));
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let content: Value = serde_json::from_slice(&bytes).unwrap();
        assert_valid(&content_schema, &content, "the sealed content");
    }
    // The closed schemas do refuse what the document does not name.
    let first: Value = serde_json::from_slice(
        &traffic
            .iter()
            .find(|e| e.method == "POST")
            .unwrap()
            .request_body,
    )
    .unwrap();
    let mut extra = first.clone();
    extra["applicant_name"] = json!("山田　太郎");
    assert!(!envelope_schema.is_valid(&extra), "an unknown field passed");
    let mut missing = first.clone();
    missing.as_object_mut().unwrap().remove("receipt_number");
    assert!(
        !envelope_schema.is_valid(&missing),
        "a missing field passed"
    );
}

/// The answers the client's own traffic does not provoke — a repeat, a changed body, no key,
/// a key that is not the id, a status query, an unknown id — are each documented, with the
/// documented body.
#[test]
fn every_answer_of_the_reference_backend_is_documented() {
    let doc = document();
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 1,
        sync: "poll_interval_ms = 50\n".into(),
        ..Default::default()
    })
    .unwrap();
    let backend = &fx.backends[0];
    fx.enqueue_synthetic(1);
    let sync = fx.start_daemon();
    wait_until(Duration::from_secs(30), "delivered", || {
        backend.received().len() == 1
    })
    .unwrap();
    drop(sync);
    let key_schema = &doc["paths"]["/v1/applications"]["post"]["parameters"][0];
    let key_validator = jsonschema::validator_for(&key_schema["schema"]).unwrap();
    // The hand-made requests below: answers the client's traffic did not provoke.
    let received = backend.received();
    let stored = &received[0];
    let raw_key = format!("\"{}\"", stored.envelope.application_id);
    let body = stored.bodies[0].clone();
    let envelope: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        !key_validator.is_valid(&json!(id_unquoted(&raw_key))),
        "the pattern checks quotes"
    );
    let before = backend.exchanges().len();
    // Every answer of the reference backend is documented, with the documented body.
    counter_core::client::install_crypto_provider();
    let http = reqwest::blocking::Client::new();
    let base = backend.url();
    let id = envelope["application_id"].as_str().unwrap();
    let post = |key: Option<&str>, body: Vec<u8>| {
        let mut r = http.post(format!("{base}/v1/applications")).body(body);
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        r.send().unwrap()
    };
    let mut changed = body.clone();
    let at = changed.iter().position(|&b| b == b'K').unwrap();
    changed[at] = b'X';
    let fresh = uuid::Uuid::new_v4().to_string();
    let mut fresh_body = envelope.clone();
    fresh_body["application_id"] = json!(fresh);
    let answers = vec![
        ("repeat", "post", post(Some(&raw_key), body.clone()), 200),
        ("changed body", "post", post(Some(&raw_key), changed), 422),
        ("no key", "post", post(None, body.clone()), 400),
        (
            "key differs from id",
            "post",
            post(Some(&format!("\"{fresh}\"")), body.clone()),
            422,
        ),
        (
            "status",
            "get",
            http.get(format!("{base}/v1/applications/{id}"))
                .send()
                .unwrap(),
            200,
        ),
        (
            "unknown",
            "get",
            http.get(format!("{base}/v1/applications/{fresh}"))
                .send()
                .unwrap(),
            404,
        ),
    ];
    for (what, _method, response, expected) in answers {
        assert_eq!(response.status().as_u16(), expected, "{what}");
    }
    // Checked as they went on the wire, against the document.
    let manual = backend.exchanges();
    assert_eq!(manual.len() - before, 6);
    for e in &manual[before..] {
        check_answer(&doc, e);
    }
}

/// For every status the document lists for a POST, the client does what its
/// `x-madoguchi-outcome` says (deliver, retry, keep for staff, pause).
#[test]
fn the_client_acts_on_every_documented_status() {
    let doc = document();
    let id = uuid::Uuid::new_v4().to_string();
    let id = id.as_str();
    // For every documented status, the client does what the document says.
    let responses = doc["paths"]["/v1/applications"]["post"]["responses"]
        .as_object()
        .unwrap();
    assert!(responses.len() >= 10);
    let accepted = json!({ "application_id": id, "reference": "R-1", "status": "received" });
    for (code, r) in responses {
        let status: u16 = code.parse().unwrap();
        let want = r["x-madoguchi-outcome"]
            .as_str()
            .unwrap_or_else(|| panic!("{code} has no x-madoguchi-outcome"));
        let body = if want == "delivered" {
            accepted.to_string()
        } else {
            json!({ "error": "e" }).to_string()
        };
        let got = classify(status, None, body.as_bytes(), id);
        assert_eq!(
            got.label(),
            match want {
                "delivered" => "delivered",
                "retry" => "retry",
                "permanent" => "failed",
                "pause" => "paused",
                other => panic!("unknown outcome {other}"),
            },
            "HTTP {status}: {got:?}"
        );
        if want == "delivered" {
            assert!(matches!(got, Outcome::Delivered { .. }));
        }
    }
}

fn id_unquoted(key: &str) -> String {
    key.trim_matches('"').to_string()
}
