use super::*;
use crate::api::RemoteStatus;

const ID: &str = "0b7d4bd2-6f53-4d3a-9a55-1d7d8d1f0e11";

#[test]
fn success_needs_matching_json() {
    let ok = format!(r#"{{"application_id":"{ID}","reference":"R-1","status":"received"}}"#);
    match classify(201, None, ok.as_bytes(), ID) {
        Outcome::Delivered {
            status: 201,
            accepted,
        } => {
            assert_eq!(accepted.reference, "R-1");
            assert_eq!(accepted.status, RemoteStatus::Received);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        classify(200, None, b"<html>oops</html>", ID),
        Outcome::Retry { .. }
    ));
    assert!(matches!(
        classify(201, None, &ok.as_bytes()[..20], ID),
        Outcome::Retry { .. }
    ));
}

#[test]
fn a_success_outside_the_contract_pauses_instead_of_resending_forever() {
    // The answer to another application, a JSON body without application_id, no reference,
    // or a 2xx the API does not use: the destination is misconfigured, not briefly down.
    let other = r#"{"application_id":"x","reference":"R","status":"received"}"#;
    let no_id = r#"{"reference":"R","status":"received"}"#;
    let no_ref = format!(r#"{{"application_id":"{ID}","reference":"","status":"received"}}"#);
    for (status, body) in [
        (201, other.as_bytes()),
        (200, no_id.as_bytes()),
        (201, no_ref.as_bytes()),
        (201, b"{}".as_slice()),
        (204, b"".as_slice()),
        (202, b"{}".as_slice()),
    ] {
        match classify(status, None, body, ID) {
            Outcome::Pause { reason, .. } => {
                assert!(reason.contains("outside the API"), "{reason}")
            }
            other => panic!("{status} {}: {other:?}", String::from_utf8_lossy(body)),
        }
    }
}

#[test]
fn redirects_pause_the_destination() {
    for s in [301, 302, 303, 307, 308] {
        match classify(s, None, b"", ID) {
            Outcome::Pause { status, reason } => {
                assert_eq!(status, s);
                assert!(reason.contains("never follows a redirect"), "{reason}");
            }
            other => panic!("{s}: {other:?}"),
        }
    }
}

#[test]
fn the_municipality_reference_is_sanitised_and_bounded() {
    let forged = format!(
        r#"{{"application_id":"{ID}","reference":"R-1\r\nINFO delivered {}","status":"received"}}"#,
        "x".repeat(5000)
    );
    let Outcome::Delivered { accepted, .. } = classify(201, None, forged.as_bytes(), ID) else {
        panic!("a long reference is still an acceptance");
    };
    assert!(
        !accepted.reference.contains(['\r', '\n']),
        "{:?}",
        accepted.reference
    );
    assert!(accepted.reference.chars().count() <= crate::text::MAX_REFERENCE + 1);
    let Outcome::Retry { reason, .. } = classify(503, None, b"down\r\nFAKE line\x1b[1m", ID) else {
        panic!()
    };
    assert!(!reason.chars().any(char::is_control), "{reason:?}");
}

#[test]
fn status_codes() {
    let ra = Some(Duration::from_secs(7));
    assert_eq!(
        classify(503, ra, b"", ID),
        Outcome::Retry {
            status: Some(503),
            retry_after: ra,
            reason: "HTTP 503: ".into()
        }
    );
    for s in [408, 429, 500, 502, 409] {
        assert!(
            matches!(classify(s, None, b"", ID), Outcome::Retry { .. }),
            "{s}"
        );
    }
    for s in [400, 422] {
        assert!(
            matches!(classify(s, None, b"{}", ID), Outcome::Permanent { .. }),
            "{s}"
        );
    }
    for s in [401, 403] {
        assert!(
            matches!(classify(s, None, b"", ID), Outcome::Pause { .. }),
            "{s}"
        );
    }
}
