//! `kioskctl tls request`, checked with the openssl command line: the request verifies, is
//! named after the kiosk id, asks for client authentication and matches the key; the key is
//! 0600 and is never overwritten.

use madoguchi_tests::harness::{binary, run_cli, Fixture, FixtureOptions};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn key_and_request_for_the_municipalities_ca() {
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let kioskctl = binary("kioskctl").unwrap();
    let key = fx.dir.join("tls/kiosk.key.pem");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    let key_arg = key.to_str().unwrap();
    let out = run_cli(
        &kioskctl,
        &fx.config_path,
        &["--json", "tls", "request", "--key", key_arg],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let csr = fx.dir.join("tls/K01.csr.pem");
    assert_eq!(out.json["request"]["csr"], csr.to_str().unwrap());
    let csr_arg = csr.to_str().unwrap();

    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    counter_core::client::check_private_key_mode(&key).unwrap();
    let (ok, verify) = openssl(&["req", "-in", csr_arg, "-noout", "-verify", "-subject"]);
    assert!(ok && verify.contains("verify OK"), "{verify}");
    assert!(
        verify.contains("CN = K01") && verify.contains("OU = Madoguchi kiosk"),
        "{verify}"
    );
    let (_, text) = openssl(&["req", "-in", csr_arg, "-noout", "-text"]);
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
    assert!(
        text.contains("prime256v1") || text.contains("P-256"),
        "{text}"
    );
    let (_, from_key) = openssl(&["pkey", "-in", key_arg, "-pubout"]);
    let (_, from_csr) = openssl(&["req", "-in", csr_arg, "-noout", "-pubkey"]);
    assert!(from_key.contains("BEGIN PUBLIC KEY"));
    assert_eq!(
        from_key, from_csr,
        "the request carries the key's public half"
    );
    // The fingerprint to read out to the CA is the request's, as openssl and sha256sum see it.
    let der = fx.dir.join("tls/K01.csr.der");
    let (ok, _) = openssl(&[
        "req",
        "-in",
        csr_arg,
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    assert!(ok);
    let digest = Command::new("sha256sum").arg(&der).output().unwrap().stdout;
    let digest = String::from_utf8(digest).unwrap();
    assert!(
        digest.starts_with(out.json["request"]["csr_sha256"].as_str().unwrap()),
        "{digest}"
    );

    // Never over an existing key: the kiosk would be cut off until a new one is signed.
    let before = std::fs::read(&key).unwrap();
    let again = run_cli(
        &kioskctl,
        &fx.config_path,
        &["tls", "request", "--key", key_arg],
        None,
    );
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("exists already"), "{}", again.stderr);
    assert_eq!(std::fs::read(&key).unwrap(), before);
}
