//! The kiosk's JWE checked by an implementation that shares no code with it: Python
//! `jwcrypto` (Debian `python3-jwcrypto`) opens what `counter_core::seal` produces, and reads
//! the protected header the municipality API requires. A fixed vector — sealed once by
//! `counter-sync enqueue-synthetic`, committed with its key and plaintext under
//! `tests/vectors/jwe/` — must keep opening to the same plaintext, with the kiosk's own
//! `seal::open` (what a municipality running our reference code uses) and with jwcrypto.

use madoguchi_tests::harness::{jwcrypto_open, jwe_header_problems, repo_root};

fn plaintext(answer: &serde_json::Value) -> Vec<u8> {
    let hex = answer["plaintext_hex"]
        .as_str()
        .unwrap_or_else(|| panic!("jwcrypto could not open it: {answer}"));
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// base64url without padding (RFC 7515 §2), written out here so that the header check uses
/// no JOSE or base64 library at all.
fn base64url(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (mut bits, mut n, mut out) = (0u32, 0, vec![]);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64url") as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

#[test]
fn jwcrypto_opens_what_the_kiosk_seals() {
    let (private, public) = counter_core::seal::generate_key_pair().unwrap();
    let content = "{\"applicant\":{\"name\":\"山田　太郎\",\"birth_date\":\"1980-02-17\"}}";
    let sealed = counter_core::seal::seal(content.as_bytes(), &public).unwrap();
    // A second seal of the same content: a fresh ephemeral key and IV each time.
    let again = counter_core::seal::seal(content.as_bytes(), &public).unwrap();
    assert_ne!(sealed, again);
    // The same JWE with one bit of the ciphertext flipped must not open: the oracle can fail.
    let mut parts: Vec<String> = sealed.split('.').map(str::to_string).collect();
    let mut ct = parts[3].clone().into_bytes();
    ct[0] = if ct[0] == b'A' { b'B' } else { b'A' };
    parts[3] = String::from_utf8(ct).unwrap();
    let tampered = parts.join(".");
    // Sealed to another municipality's key: must not open with this one.
    let (_, other_public) = counter_core::seal::generate_key_pair().unwrap();
    let elsewhere = counter_core::seal::seal(content.as_bytes(), &other_public).unwrap();

    let answers = jwcrypto_open(&private, &[sealed, again, tampered, elsewhere]).unwrap();
    for answer in &answers[..2] {
        assert_eq!(plaintext(answer), content.as_bytes());
        let problems = jwe_header_problems(&answer["protected"]);
        assert!(problems.is_empty(), "{problems:?}: {}", answer["protected"]);
    }
    assert!(answers[2]["error"].is_string(), "tampered: {}", answers[2]);
    assert!(answers[3]["error"].is_string(), "wrong key: {}", answers[3]);
}

#[test]
fn the_fixed_vector_keeps_opening_to_its_plaintext() {
    let dir = repo_root().join("tests/vectors/jwe");
    let key = std::fs::read(dir.join("municipality.key.pem")).unwrap();
    let sealed = std::fs::read_to_string(dir.join("sealed.jwe")).unwrap();
    let sealed = sealed.trim().to_string();
    let expected = std::fs::read(dir.join("plaintext.json")).unwrap();
    // The plaintext is a real sealed content: what the API documents inside `sealed`.
    let content: counter_core::api::SealedContent = serde_json::from_slice(&expected).unwrap();
    assert_eq!(content.procedure_code, "madoguchi-synthetic-check");

    assert_eq!(
        counter_core::seal::open(&sealed, &key).unwrap(),
        expected,
        "the kiosk's own opener"
    );
    let answer = &jwcrypto_open(&key, std::slice::from_ref(&sealed)).unwrap()[0];
    assert_eq!(plaintext(answer), expected, "jwcrypto");
    let problems = jwe_header_problems(&answer["protected"]);
    assert!(problems.is_empty(), "{problems:?}: {}", answer["protected"]);
    // The header as sent on the wire (first compact segment), read without any JOSE library:
    // the same fields as jwcrypto saw.
    let raw = base64url(sealed.split('.').next().unwrap());
    let header: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(header, answer["protected"]);
    // Compact serialization with a key-wrapping algorithm: five parts, a wrapped key of
    // 40 bytes (AES key wrap of a 256-bit key), a 96-bit IV and a 128-bit tag.
    let parts: Vec<&str> = sealed.split('.').collect();
    assert_eq!(parts.len(), 5);
    let len = |p: &str| base64url(p).len();
    assert_eq!((len(parts[1]), len(parts[2]), len(parts[4])), (40, 12, 16));
}
