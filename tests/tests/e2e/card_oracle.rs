//! The virtual card checked by a third-party reader: `tests/oracle/mynumber_read.py`, written
//! from mynumber-card.md alone on pyscard (Debian `python3-pyscard`), reads the card over this
//! test's own pcscd: JPKI token label, both PIN counters, a wrong and a right VERIFY, the
//! access rule of EF 0002, what an oversized `Le` gets, and EF 0002 parsed by its own BER code.
//! Its answers must be the test holder's and the spec's: then the simulator the kiosk's tests
//! rely on is known to behave as the document says, not just as the kiosk expects.

use kiosk_app::card::pcsc_reader::with_card;
use kiosk_app::card::CardError;
use madoguchi_tests::harness::{ensure_pcscd, repo_root, wait_until, FileLock};
use madoguchi_tests::vcard::{CardModel, Holder, LeBeyondEnd, VirtualCard};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const READER: &str = "Virtual PCD 00 00";

/// Debian's Python, where `python3-pyscard` is installed (not a user's pyenv or venv).
const PYTHON: &str = "/usr/bin/python3";

/// Runs the third-party reader with `pin` on stdin; its JSON answer.
fn oracle_read(pin: &str) -> Value {
    let script = repo_root().join("tests/oracle/mynumber_read.py");
    let mut child = Command::new(PYTHON)
        .arg(&script)
        .arg(READER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON} (apt-get install python3-pyscard): {e}"));
    writeln!(child.stdin.take().unwrap(), "{pin}").unwrap();
    let patience = Duration::from_secs(30);
    if wait_until(patience, "the oracle ends", || {
        matches!(child.try_wait(), Ok(Some(_)))
    })
    .is_err()
    {
        let _ = child.kill();
        panic!("the oracle did not end within {patience:?}");
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the oracle's JSON")
}

#[test]
fn third_party_reader_agrees_with_the_spec() {
    let pcscd = ensure_pcscd().unwrap();
    let _slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let long_address = Holder {
        // 72 characters, 216 bytes of UTF-8: a file of over 256 bytes, long-form lengths.
        address: "埼玉県入間郡毛呂山町大字毛呂本郷１２３４番地５６７　ハイツ毛呂山第二号棟"
            .repeat(2),
        ..Holder::default()
    };
    let cases = [
        (
            Holder::default(),
            LeBeyondEnd::Remainder,
            ("9000", 104),
            104,
        ),
        (
            Holder::default(),
            LeBeyondEnd::EndOfFile,
            ("6282", 104),
            104,
        ),
        (
            Holder::default(),
            LeBeyondEnd::WrongLength,
            ("6C68", 0),
            104,
        ),
        (
            long_address.clone(),
            LeBeyondEnd::Remainder,
            ("9000", 256),
            0,
        ),
        (long_address, LeBeyondEnd::WrongLength, ("9000", 256), 0),
    ];
    for (holder, mode, (oversized_sw, oversized_bytes), file_bytes) in cases {
        let mut model = CardModel::default();
        model.holder = holder.clone();
        model.le_beyond_end = mode;
        model.text_pin = b"4711".to_vec();
        let card = VirtualCard::new(pcscd.vpcd_port(), model);
        card.insert().unwrap();
        wait_until(Duration::from_secs(10), "pcscd sees the card", || {
            with_card(Some(READER), |_| Ok(())).is_ok()
        })
        .unwrap();

        let got = oracle_read("4711");
        let case = format!("{mode:?}, {} address bytes", holder.address.len());
        let file_bytes = if file_bytes == 0 {
            got["file_bytes"].as_u64().unwrap()
        } else {
            file_bytes
        };
        assert_eq!(
            got,
            json!({
                "token_label": "JPKIAPICCTOKEN2",
                "jpki_auth_pin_tries": 3,
                "read_without_pin_sw": "6982",
                "text_pin_tries": 3,
                "wrong_pin_sw": "63C2",
                "tries_after_wrong_pin": 2,
                "pin_sw": "9000",
                "tries_after_pin": 3,
                "oversized_read": {"sw": oversized_sw, "bytes": oversized_bytes},
                "file_bytes": file_bytes,
                "chunks": file_bytes.div_ceil(256),
                "offsets_point_at_headers": [true, true, true, true],
                "name": holder.name,
                "address": holder.address,
                "birth": holder.birth,
                "sex": holder.sex,
            }),
            "{case}"
        );
        if holder.address.len() > 127 {
            assert!(file_bytes > 256, "{case}: the file needs several READs");
        }
        card.with(|m| {
            assert_eq!((m.text_tries, m.auth_tries), (3, 3), "{case}");
            assert_eq!(m.my_number_accesses(), Vec::<Vec<u8>>::new(), "{case}");
        });
        card.remove();
        wait_until(Duration::from_secs(10), "card gone", || {
            with_card(Some(READER), |_| Ok(())) == Err(CardError::NoCard)
        })
        .unwrap();
    }
}
