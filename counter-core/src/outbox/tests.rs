use super::*;

/// The pragmas the durability and privacy claims rest on, read back from the connection
/// the outbox really uses (a kill test cannot see `synchronous`: the page cache survives
/// SIGKILL; the power-cut test can, this one names it).
#[test]
fn pragmas_read_back_from_the_live_connection() {
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(&dir.path().join("outbox.sqlite3")).unwrap();
    let get = |name: &str| -> String {
        ob.conn
            .query_row(&format!("PRAGMA {name}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .unwrap()
    };
    assert_eq!(get("journal_mode"), "wal");
    assert_eq!(get("synchronous"), "2", "FULL: every commit fsyncs the WAL");
    assert_eq!(get("foreign_keys"), "1");
    assert_eq!(
        get("secure_delete"),
        "1",
        "deleted payloads are overwritten"
    );
    assert_eq!(get("busy_timeout"), "10000");
}

fn claim_one(ob: &mut Outbox, now_ms: i64, lease: Duration) -> Option<Claimed> {
    ob.claim_batch("113263", now_ms, lease, 1).unwrap().pop()
}

/// Records one outcome the way the daemon does (a batch of one, destination healthy).
fn record(ob: &mut Outbox, id: &str, record: Record, now_ms: i64) {
    ob.finish_batch(
        "113263",
        &[(id.to_owned(), record)],
        &DestinationUpdate::Healthy,
        now_ms,
    )
    .unwrap();
}

fn delivered(reference: &str) -> Record {
    Record::Delivered {
        status: 201,
        reference: reference.into(),
        remote: RemoteStatus::Received,
    }
}

fn app(m: &str) -> NewApplication {
    NewApplication {
        application_id: uuid::Uuid::new_v4(),
        kiosk_id: "K01".into(),
        municipality_code: m.into(),
        procedure_code: "P1".into(),
        submitted_at: time::macros::datetime!(2026-11-21 10:00 UTC),
        receipt_lang: "en".into(),
        sealed: "a.b.c.d.e".into(),
    }
}

#[test]
fn the_outbox_files_are_not_open_to_other_users() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.db");
    let mut ob = Outbox::open(&path).unwrap();
    ob.enqueue(&app("113263"), 0).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        assert_eq!(mode(&file), FILE_MODE, "{}", file.display());
    }
    // A file an older version left readable by everyone is closed to others on open.
    drop(ob);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    Outbox::open(&path).unwrap();
    assert_eq!(mode(&path), 0o640);
}

#[test]
fn stored_times_never_hold_work_back_beyond_the_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
    let lease = Duration::from_secs(60);
    let horizon = Horizon {
        retry: Duration::from_secs(30),
        pause: Duration::from_secs(600),
        lease,
    };
    // The clock was five years ahead when a delivery failed and the destination paused.
    let ahead = 5 * 365 * 86_400_000;
    ob.enqueue(&app("113263"), 0).unwrap();
    let c = claim_one(&mut ob, ahead, lease).unwrap();
    ob.finish_batch(
        "113263",
        &[(
            c.id.clone(),
            Record::Retry {
                status: Some(503),
                error: "down".into(),
                next_attempt_at: ahead + 10_000,
            },
        )],
        &DestinationUpdate::Pause {
            until: ahead + 600_000,
            reason: "r".into(),
        },
        ahead,
    )
    .unwrap();
    // NTP puts the clock back to 1 000 000.
    let now = 1_000_000;
    assert!(claim_one(&mut ob, now, lease).is_none());
    assert_eq!(ob.clamp_schedule("113263", now, horizon).unwrap(), 2);
    let d = ob.destination("113263").unwrap().unwrap();
    assert_eq!(d.blocked_until(now), Some(now + 600_000));
    ob.resume_destination("113263").unwrap();
    assert!(claim_one(&mut ob, now + 29_999, lease).is_none());
    let again = claim_one(&mut ob, now + 30_000, lease).unwrap();
    assert_eq!(again.id, c.id);
    record(&mut ob, &again.id, delivered("R-1"), now + 30_000);
    // A lease taken with the clock ahead is cut back to one lease from now.
    assert_eq!(ob.clamp_schedule("113263", now, horizon).unwrap(), 0);
    let id2 = ob.enqueue(&app("113263"), 0).unwrap();
    let held = claim_one(&mut ob, ahead, lease).unwrap();
    assert_eq!(held.id, id_of(&ob, &id2));
    assert_eq!(ob.clamp_schedule("113263", now, horizon).unwrap(), 1);
    assert!(
        claim_one(&mut ob, now + 60_000, lease).is_some(),
        "lease expired within one lease"
    );
    // Nothing to move in the normal case.
    assert_eq!(
        ob.clamp_schedule("113263", now + 60_000, horizon).unwrap(),
        0
    );
}

fn id_of(ob: &Outbox, receipt_number: &str) -> String {
    ob.get(receipt_number).unwrap().id
}

#[test]
fn unconfirmed_receipts_stay_on_the_reprint_list_until_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
    let r1 = ob.enqueue(&app("113263"), 1000).unwrap();
    let r2 = ob.enqueue(&app("113263"), 1000).unwrap();
    let r3 = ob.enqueue(&app("113263"), 1000).unwrap();
    ob.mark_printed(&r1).unwrap();
    ob.mark_print_failed(&r2, "paper-out").unwrap();
    let list = ob.unprinted().unwrap();
    let numbers: Vec<_> = list.iter().map(|r| r.receipt_number.as_str()).collect();
    assert_eq!(numbers, [r2.as_str(), r3.as_str()]);
    assert_eq!(list[0].print_problem.as_deref(), Some("paper-out"));
    assert_eq!(
        list[1].print_problem, None,
        "never tried (kiosk stopped before printing)"
    );
    assert_eq!(list[0].receipt_lang, "en");
    // A reprint that is confirmed takes it off the list and clears the problem.
    ob.mark_printed(&r2).unwrap();
    let row = ob.get(&r2).unwrap();
    assert!(row.printed && row.print_problem.is_none());
    assert_eq!(ob.unprinted().unwrap().len(), 1);
    assert!(matches!(
        ob.mark_printed("K01-000000-0000"),
        Err(OutboxError::NotFound(_))
    ));
}

#[test]
fn enqueue_claim_retry_deliver() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
    let r1 = ob.enqueue(&app("113263"), 1000).unwrap();
    let r2 = ob.enqueue(&app("113263"), 1000).unwrap();
    assert_eq!(r1, "K01-261121-0001");
    assert_eq!(r2, "K01-261121-0002");
    let lease = Duration::from_secs(10);
    let c = claim_one(&mut ob, 1000, lease).unwrap();
    let env: ApplicationEnvelope = serde_json::from_slice(&c.body).unwrap();
    assert_eq!(env.receipt_number, r1);
    assert_eq!(c.attempts, 1);
    let busy = Record::Retry {
        status: Some(503),
        error: "busy".into(),
        next_attempt_at: 5000,
    };
    record(&mut ob, &c.id, busy, 1000);
    // Not due yet: the second one comes first.
    let c2 = claim_one(&mut ob, 1000, lease).unwrap();
    assert_ne!(c2.id, c.id);
    assert!(claim_one(&mut ob, 1000, lease).is_none());
    // The second worker dies: its lease expires and the row is due again.
    let again = claim_one(&mut ob, 1000 + 10_001, lease).unwrap();
    assert_eq!(again.id, c2.id);
    assert_eq!(again.attempts, 2);
    record(&mut ob, &again.id, delivered("REF-1"), 20_000);
    let row = ob.get(&again.id).unwrap();
    assert_eq!(row.state, State::Delivered);
    assert!(!row.has_payload, "payload must be gone once delivered");
    assert_eq!(row.municipality_reference.as_deref(), Some("REF-1"));
    let counts = ob.counts(&["113263".into(), "113271".into()]).unwrap();
    assert!(counts.contains(&Count {
        municipality_code: "113263".into(),
        state: State::Waiting,
        count: 1
    }));
    assert!(counts.contains(&Count {
        municipality_code: "113271".into(),
        state: State::Delivered,
        count: 0
    }));
}

#[test]
fn failed_is_kept_and_requeueable_and_pause_blocks_claims() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
    ob.enqueue(&app("113263"), 0).unwrap();
    let c = claim_one(&mut ob, 0, Duration::from_secs(1)).unwrap();
    let bad = Record::Failed {
        status: Some(422),
        error: "bad body".into(),
    };
    record(&mut ob, &c.id, bad, 0);
    assert!(claim_one(&mut ob, 0, Duration::from_secs(1)).is_none());
    assert_eq!(ob.get(&c.id).unwrap().state, State::Failed);
    ob.requeue(&c.id, 10).unwrap();
    let refused = DestinationUpdate::Pause {
        until: 100,
        reason: "401".into(),
    };
    ob.finish_batch("113263", &[], &refused, 10).unwrap();
    assert!(claim_one(&mut ob, 50, Duration::from_secs(1)).is_none());
    assert!(claim_one(&mut ob, 150, Duration::from_secs(1)).is_some());
}

#[test]
fn garbage_file_is_reported_not_reset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.db");
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    let err = Outbox::open(&path).err().unwrap();
    assert!(matches!(err, OutboxError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("o.db"));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        vec![0x42u8; 8192],
        "the file must not be touched"
    );
}

#[test]
fn batch_claims_destination_backoff_and_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
    let apps: Vec<_> = (0..5).map(|_| app("113263")).collect();
    ob.enqueue_many(&apps, 0).unwrap();
    let lease = Duration::from_secs(10);
    let batch = ob.claim_batch("113263", 0, lease, 3).unwrap();
    assert_eq!(batch.len(), 3);
    assert!(batch.iter().all(|c| c.submitted_ms > 0));
    // The destination is down as a whole: rows stay due, the destination waits.
    let records: Vec<_> = batch
        .iter()
        .map(|c| {
            let r = Record::Retry {
                status: None,
                error: "cannot connect".into(),
                next_attempt_at: 0,
            };
            (c.id.clone(), r)
        })
        .collect();
    let down = DestinationUpdate::Backoff {
        retry_at: 5_000,
        error: "cannot connect".into(),
    };
    ob.finish_batch("113263", &records, &down, 0).unwrap();
    assert!(ob
        .claim_batch("113263", 4_999, lease, 10)
        .unwrap()
        .is_empty());
    let d = ob.destination("113263").unwrap().unwrap();
    assert_eq!((d.failures, d.blocked_until(0)), (1, Some(5_000)));
    // Its time has come: one probe, not a batch.
    let probe = ob.claim_batch("113263", 5_000, lease, 10).unwrap();
    assert_eq!(probe.len(), 1);
    record(&mut ob, &probe[0].id, delivered("R"), 5_000);
    assert_eq!(ob.destination("113263").unwrap().unwrap().failures, 0);
    // Back: the whole backlog is due at once.
    let all = ob.claim_batch("113263", 5_000, lease, 10).unwrap();
    assert_eq!(all.len(), 4);
    // The daemon was killed while sending: the next one puts them back at once.
    assert_eq!(ob.release_orphans().unwrap(), 4);
    let again = ob.claim_batch("113263", 5_001, lease, 10).unwrap();
    assert_eq!(again.len(), 4);
    // Some delivered, one told to come back later (Retry-After): the destination waits,
    // and is then due with a full batch, not a probe.
    let records: Vec<_> = again
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let r = if i == 0 {
                Record::Retry {
                    status: Some(503),
                    error: "busy".into(),
                    next_attempt_at: 0,
                }
            } else {
                delivered(&format!("R{i}"))
            };
            (c.id.clone(), r)
        })
        .collect();
    ob.enqueue_many(&[app("113263"), app("113263")], 5_001)
        .unwrap();
    let wait = DestinationUpdate::Wait {
        retry_at: 9_000,
        error: "busy".into(),
    };
    ob.finish_batch("113263", &records, &wait, 5_001).unwrap();
    let d = ob.destination("113263").unwrap().unwrap();
    assert_eq!((d.failures, d.blocked_until(5_001)), (0, Some(9_000)));
    assert!(ob
        .claim_batch("113263", 8_999, lease, 10)
        .unwrap()
        .is_empty());
    assert_eq!(ob.claim_batch("113263", 9_000, lease, 10).unwrap().len(), 3);
}

#[test]
fn status_checks_and_retention_purge() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
    ob.enqueue_many(&[app("113263"), app("113263")], 0).unwrap();
    let lease = Duration::from_secs(10);
    let c = ob.claim_batch("113263", 0, lease, 2).unwrap();
    record(&mut ob, &c[0].id, delivered("R1"), 1_000);
    record(&mut ob, &c[1].id, delivered("R2"), 90_000);
    assert_eq!(
        ob.due_status_checks("113263", 1_000, 10).unwrap(),
        vec![c[0].id.clone()]
    );
    ob.set_remote_status(&c[0].id, Some(RemoteStatus::Completed), 2_000)
        .unwrap();
    assert!(ob.due_status_checks("113263", 100_000, 10).unwrap() == vec![c[1].id.clone()]);
    // An unanswered question keeps the last known state and waits its turn.
    ob.set_remote_status(&c[1].id, None, 95_000).unwrap();
    assert_eq!(
        ob.get(&c[1].id).unwrap().remote_status.as_deref(),
        Some("received")
    );
    assert!(ob
        .due_status_checks("113263", 94_999, 10)
        .unwrap()
        .is_empty());
    assert_eq!(ob.purge_delivered(50_000).unwrap(), 1);
    assert!(ob.get(&c[0].id).is_err());
    assert!(ob.get(&c[1].id).is_ok());
}

#[test]
fn receipt_numbers_keep_counting_past_9999() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
    let apps: Vec<_> = (0..10_001).map(|_| app("113263")).collect();
    let numbers = ob.enqueue_many(&apps, 0).unwrap();
    assert_eq!(numbers[9_998], "K01-261121-9999");
    assert_eq!(numbers[9_999], "K01-261121-10000");
    assert_eq!(numbers[10_000], "K01-261121-10001");
}

#[test]
fn version_1_database_is_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO application(id, receipt_number, kiosk_id, municipality_code, procedure_code, submitted_at, body, state, next_attempt_at)
             VALUES ('a', 'K01-1', 'K01', '113263', 'P', '2026-11-21T10:00:00Z', x'7b7d', 'waiting', 0)",
            [],
        )
        .unwrap();
    }
    let mut ob = Outbox::open(&path).unwrap();
    let v: i64 = ob
        .connection()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    let c = claim_one(&mut ob, 0, Duration::from_secs(1)).unwrap();
    assert_eq!(c.id, "a");
    // A newer database than this program is refused, not downgraded.
    ob.connection()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(ob);
    let err = Outbox::open(&path).err().unwrap();
    assert!(matches!(err, OutboxError::TooNew { .. }), "{err}");
}

#[test]
fn truncated_database_is_reported_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.db");
    {
        let mut ob = Outbox::open(&path).unwrap();
        let apps: Vec<_> = (0..200).map(|_| app("113263")).collect();
        ob.enqueue_many(&apps, 0).unwrap();
        ob.connection()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    let cut = &bytes[..bytes.len() / 2];
    std::fs::write(&path, cut).unwrap();
    let err = Outbox::open(&path)
        .err()
        .expect("a damaged file is refused");
    assert!(matches!(err, OutboxError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("o.db"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), cut, "nothing was reset");
}

#[test]
fn restarts_after_a_death_are_told_from_clean_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.db");
    let mut ob = Outbox::open(&path).unwrap();
    assert_eq!(ob.process_runs("kiosk-app").unwrap(), None);
    let runs = |starts, unclean_restarts| ProcessRuns {
        starts,
        unclean_restarts,
    };
    assert_eq!(ob.record_start("kiosk-app").unwrap(), runs(1, 0));
    ob.record_clean_stop("kiosk-app").unwrap();
    assert_eq!(ob.record_start("kiosk-app").unwrap(), runs(2, 0));
    // No clean stop: killed by the watchdog, crashed, power cut.
    drop(ob);
    let mut ob = Outbox::open(&path).unwrap();
    assert_eq!(ob.record_start("kiosk-app").unwrap(), runs(3, 1));
    assert_eq!(ob.record_start("kiosk-app").unwrap(), runs(4, 2));
    // Each service counts its own.
    assert_eq!(ob.record_start("counter-sync").unwrap(), runs(1, 0));
    assert_eq!(ob.process_runs("kiosk-app").unwrap(), Some(runs(4, 2)));
}

#[test]
fn online_backup_is_a_complete_standalone_copy_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(&dir.path().join("o.db")).unwrap();
    for _ in 0..25 {
        ob.enqueue(&app("113263"), 0).unwrap();
    }
    let dest = dir.path().join("backup.db");
    let report = ob.backup_to(&dest).unwrap();
    assert_eq!(report.applications, 25);
    assert_eq!(report.schema_version, SCHEMA_VERSION);
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
        FILE_MODE
    );
    // A standalone file: everything is in it, no WAL beside it.
    assert!(!dir.path().join("backup.db-wal").exists());
    let copy = Outbox::open(&dest).unwrap();
    assert_eq!(copy.list().unwrap().len(), 25);
    assert_eq!(
        copy.list()
            .unwrap()
            .iter()
            .map(|r| &r.id)
            .collect::<Vec<_>>(),
        ob.list().unwrap().iter().map(|r| &r.id).collect::<Vec<_>>()
    );
    // An existing file is never overwritten.
    let err = ob.backup_to(&dest).unwrap_err();
    assert!(matches!(err, OutboxError::Backup { .. }), "{err}");
    assert_eq!(Outbox::open(&dest).unwrap().list().unwrap().len(), 25);
}
