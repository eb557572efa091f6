//! Personal data stays in freed memory: after a resident's session has ended, an attacker
//! who can read the kiosk process's memory (`/proc/PID/mem`, as root or with
//! `CAP_SYS_PTRACE`) finds neither the holder's name nor address nor birth date, in any
//! form they took on the way (`harness::personal_data_needles`): UTF-8 (the card's own and
//! Slint's), Shift_JIS (the receipt printer's), UTF-16, every written form of the date. The same read while the holder is on the confirmation
//! screen does find them, so the reader is known to see what is there.

use madoguchi_tests::harness::{
    binary, ensure_pcscd, personal_data_needles, FileLock, Fixture, FixtureOptions,
};
use madoguchi_tests::vcard::{CardModel, Holder};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::process::{Command, Stdio};

/// A holder whose data is in no source file of the kiosk, so that a hit cannot be a constant.
fn holder() -> Holder {
    Holder {
        name: "東雲　真白".into(),
        address: "埼玉県入間郡毛呂山町岩井西５丁目１６番地".into(),
        birth: "19761103".into(),
        sex: "2".into(),
    }
}

/// Reads every writable mapping of process `pid` (personal data can only have been written
/// there) and returns the needles found, with where.
fn search_memory(pid: u32, needles: &[(String, Vec<u8>)]) -> (Vec<String>, usize) {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem"))
        .expect("read the kiosk's memory (needs root or CAP_SYS_PTRACE)");
    let mut hits = vec![];
    let mut scanned = 0usize;
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (range, perms) = (fields[0], fields[1]);
        let name = fields.get(5).copied().unwrap_or("[anon]");
        if !perms.starts_with("rw") || name == "[vvar]" || name == "[vsyscall]" {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let start = u64::from_str_radix(start, 16).unwrap();
        let end = u64::from_str_radix(end, 16).unwrap();
        let mut region = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_err() || mem.read_exact(&mut region).is_err() {
            continue; // a guard page or a mapping gone since /maps was read
        }
        scanned += region.len();
        for (what, needle) in needles {
            for i in memchr::memmem::find_iter(&region, needle) {
                hits.push(format!("{what} at {:#x} in {name}", start + i as u64));
            }
        }
    }
    (hits, scanned)
}

#[test]
fn no_personal_data_in_kiosk_memory_after_the_session() {
    ensure_pcscd().expect("pcscd with vpcd");
    let session_bin = binary("resident-session").unwrap();
    let _card_slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let holder = holder();
    let mut model = CardModel::default();
    model.holder = holder.clone();
    let card = fx.card(model);
    let needles = personal_data_needles(&holder);

    let mut child = Command::new(&session_bin)
        .arg(&fx.config_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut to_child = child.stdin.take().unwrap();
    let from_child = BufReader::new(child.stdout.take().unwrap());
    let mut while_shown = None;
    let mut after = vec![];
    for line in from_child.lines() {
        match line.unwrap().as_str() {
            "insert-card" => card.insert().unwrap(),
            "holder-shown" => {
                while_shown.get_or_insert_with(|| search_memory(pid, &needles));
            }
            "take-card" => card.remove(),
            "session-over" => after.push(search_memory(pid, &needles)),
            other => panic!("unexpected line from the session: {other:?}"),
        }
        writeln!(to_child, "ok").unwrap();
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "the session process failed: {status}");

    let (shown_hits, shown_scanned) = while_shown.expect("the holder was shown");
    eprintln!(
        "holder on screen: {} hits in {} MiB",
        shown_hits.len(),
        shown_scanned >> 20
    );
    for what in ["name in UTF-8", "street in UTF-8"] {
        assert!(
            shown_hits.iter().any(|h| h.starts_with(what)),
            "the reader must see the {what} while it is on screen: {shown_hits:#?}"
        );
    }
    assert_eq!(after.len(), 2, "a walk-away session and a submitted one");
    for ((hits, scanned), session) in after.iter().zip(["walked away", "submitted"]) {
        eprintln!(
            "after the {session} session: {} hits in {} MiB",
            hits.len(),
            scanned >> 20
        );
        assert!(
            hits.is_empty(),
            "personal data left in the kiosk's memory after the {session} session: {hits:#?}"
        );
    }
}
