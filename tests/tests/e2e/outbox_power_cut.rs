//! A power cut under the kiosk's outbox: every application whose receipt number the resident
//! saw survives when every write that was not yet fsynced is lost, and the database is whole.
//!
//! SIGKILL alone cannot show this (the page cache survives a killed process, so a missing
//! `synchronous=FULL` goes unseen). Here the kiosk's own `Submitter` (the `submit-loop`
//! binary) runs under `tests/powercut/powercut.c`, an `LD_PRELOAD` interposer that records
//! each outbox file as it stood at its last successful fsync; after SIGKILL the test puts
//! those copies in place of the files and deletes the files that were never synced, as a disk
//! that honours fsync and nothing else would after a power cut.

use counter_core::outbox::Outbox;
use madoguchi_tests::harness::{binary, repo_root, submit_loop_round, Fixture, FixtureOptions};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the interposer with the system C compiler (the one Rust links with).
fn interposer(out: &Path) -> PathBuf {
    let so = out.join("powercut.so");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&so)
        .arg(repo_root().join("tests/powercut/powercut.c"))
        .arg("-ldl")
        .status()
        .expect("cc");
    assert!(status.success(), "building the power-cut interposer");
    so
}

/// The power cut: each file of `watch` whose name starts with `prefix` is replaced by its copy
/// as of its last fsync, or deleted if it was never synced. Returns the files deleted.
fn cut_power(watch: &Path, shadow: &Path, prefix: &str) -> Vec<String> {
    let mut dropped = vec![];
    for entry in std::fs::read_dir(watch).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !name.starts_with(prefix) {
            continue;
        }
        let (real, synced) = (watch.join(&name), shadow.join(&name));
        if synced.exists() {
            std::fs::copy(&synced, &real).unwrap();
        } else {
            std::fs::remove_file(&real).unwrap();
            dropped.push(name);
        }
    }
    dropped
}

/// After a clean close by the test itself, what is on disk is durable: the shadows follow.
fn mark_durable(watch: &Path, shadow: &Path, prefix: &str) {
    for entry in std::fs::read_dir(shadow).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    for entry in std::fs::read_dir(watch).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) {
            std::fs::copy(watch.join(&name), shadow.join(&name)).unwrap();
        }
    }
}

/// The interposer itself: a synced write survives the cut, a later unsynced one does not,
/// a never-synced file disappears — through both fsync and fdatasync (`dd conv=…`).
#[test]
fn the_power_cut_keeps_exactly_what_was_synced() {
    let t = tempfile::tempdir().unwrap();
    let (watch, shadow) = (t.path().join("watch"), t.path().join("shadow"));
    std::fs::create_dir_all(&watch).unwrap();
    std::fs::create_dir_all(&shadow).unwrap();
    let so = interposer(t.path());
    let dd = |file: &str, seek: u32, conv: &str| {
        let mut c = Command::new("dd");
        c.args(["if=/dev/urandom", "bs=4096", "count=1", "status=none"])
            .arg(format!("of={}", watch.join(file).display()))
            .arg(format!("seek={seek}"))
            .arg(format!("conv={conv}"))
            .env("LD_PRELOAD", &so)
            .env("POWERCUT_WATCH", &watch)
            .env("POWERCUT_SHADOW", &shadow);
        assert!(c.status().unwrap().success());
    };
    dd("db-a", 0, "fsync");
    dd("db-a", 1, "notrunc"); // written, never synced
    dd("db-b", 0, "fdatasync");
    dd("db-b", 1, "notrunc");
    dd("db-c", 0, "notrunc"); // never synced at all
    let synced_a = std::fs::read(watch.join("db-a")).unwrap()[..4096].to_vec();
    let dropped = cut_power(&watch, &shadow, "db-");
    assert_eq!(dropped, ["db-c"]);
    assert_eq!(std::fs::read(watch.join("db-a")).unwrap(), synced_a);
    assert_eq!(std::fs::metadata(watch.join("db-b")).unwrap().len(), 4096);
}

#[test]
fn every_application_seen_as_submitted_survives_a_power_cut() {
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let submit_loop = binary("submit-loop").unwrap();
    let db = fx.config.sync.outbox.path.clone();
    let watch = db.parent().unwrap().canonicalize().unwrap();
    let prefix = db.file_name().unwrap().to_string_lossy().into_owned();
    let scratch = tempfile::tempdir().unwrap();
    let shadow = scratch.path().join("synced");
    std::fs::create_dir_all(&shadow).unwrap();
    let so = interposer(scratch.path());

    let mut seen: Vec<String> = vec![];
    for round in 0..6u64 {
        // Cut after a different number of confirmed submissions each round, while the next
        // one is being written: the process stops where it is …
        let env = [
            ("LD_PRELOAD", so.as_path()),
            ("POWERCUT_WATCH", watch.as_path()),
            ("POWERCUT_SHADOW", shadow.as_path()),
        ];
        seen.extend(submit_loop_round(
            &submit_loop,
            &fx.config_path,
            &env,
            5 + round * 9,
        ));
        cut_power(&watch, &shadow, &prefix); // … and so does the disk

        let outbox = Outbox::open(&db).unwrap();
        assert_eq!(outbox.integrity_check().unwrap(), "ok", "round {round}");
        let stored: HashSet<String> = outbox
            .list()
            .unwrap()
            .into_iter()
            .map(|r| r.receipt_number)
            .collect();
        let lost: Vec<&String> = seen.iter().filter(|n| !stored.contains(*n)).collect();
        assert!(
            lost.is_empty(),
            "round {round}: shown as submitted, lost in the power cut: {lost:?}"
        );
        drop(outbox);
        mark_durable(&watch, &shadow, &prefix);
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a receipt number was given twice");
    eprintln!(
        "{} applications through 6 power cuts, none lost",
        seen.len()
    );
}
