//! Contract test: the client and the reference backend against `counter-sync/openapi.yaml`.
//! What counter-sync really sends (body, sealed content, Idempotency-Key) validates against
//! the document's schemas; every answer of the reference backend is a documented status with a
//! body of the documented schema; and for every documented status of `POST /v1/applications`
//! the client does what the document says (`x-madoguchi-outcome`).

use counter_sync::client::{classify, Outcome};
use madoguchi_tests::harness::{repo_root, wait_until, SyncFixture, SyncGuard, SyncOptions};
use serde_json::{json, Value};
use std::time::Duration;

fn document() -> Value {
    let text = std::fs::read_to_string(repo_root().join("counter-sync/openapi.yaml")).unwrap();
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

#[test]
fn client_and_reference_backend_follow_the_openapi_document() {
    let doc = document();
    let fx = SyncFixture::new(SyncOptions {
        municipalities: 1,
        sync: "poll_interval_ms = 50\n".into(),
        ..Default::default()
    })
    .unwrap();
    let out = fx.cli(&["enqueue-synthetic", "--count", "1"]).unwrap();
    assert!(out.status.success());
    let sync = SyncGuard::spawn(fx.config.clone());
    let backend = &fx.backends[0];
    wait_until(Duration::from_secs(20), "delivered", || {
        backend.received().len() == 1
    })
    .unwrap();
    drop(sync);

    // What the client sent.
    let (raw_key, body, private_pem) = {
        let s = backend.store.lock().unwrap();
        let key = s.raw_keys[0].clone();
        let body = s.bodies_by_key.values().next().unwrap()[0].clone();
        (key, body, s.private_pem.clone())
    };
    let key_schema = &doc["paths"]["/v1/applications"]["post"]["parameters"][0];
    assert_eq!(key_schema["name"], "Idempotency-Key");
    let key_validator = jsonschema::validator_for(&key_schema["schema"]).unwrap();
    assert_valid(
        &key_validator,
        &json!(raw_key),
        "the Idempotency-Key header",
    );
    assert!(
        !key_validator.is_valid(&json!(id_unquoted(&raw_key))),
        "the pattern checks quotes"
    );
    let envelope: Value = serde_json::from_slice(&body).unwrap();
    assert_valid(
        &schema(&doc, "ApplicationEnvelope"),
        &envelope,
        "the POST body",
    );
    assert_eq!(
        format!("\"{}\"", envelope["application_id"].as_str().unwrap()),
        raw_key
    );
    let plaintext =
        counter_sync::seal::open(envelope["sealed"].as_str().unwrap(), &private_pem).unwrap();
    let content: Value = serde_json::from_slice(&plaintext).unwrap();
    assert_valid(
        &schema(&doc, "SealedContent"),
        &content,
        "the sealed content",
    );

    // Every answer of the reference backend is documented, with the documented body.
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
    for (what, method, response, expected) in answers {
        let status = response.status().as_u16();
        assert_eq!(status, expected, "{what}");
        let path = if method == "post" {
            "/v1/applications"
        } else {
            "/v1/applications/{application_id}"
        };
        let documented = documented(&doc, path, method, status)
            .unwrap_or_else(|| panic!("{what}: {status} is not documented for {method} {path}"));
        if let Some(name) = documented {
            let body: Value = response.json().unwrap();
            assert_valid(&schema(&doc, &name), &body, what);
        }
    }

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
