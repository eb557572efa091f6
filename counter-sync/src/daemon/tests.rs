use super::*;

#[test]
fn a_worker_that_panics_is_reported_and_restarted_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[kiosk]\nid = \"K01\"\ncounter_name = \"x\"\n[outbox]\npath = \"{}\"\n[[municipality]]\ncode = \"113263\"\nname_ja = \"毛呂山町\"\nname_en = \"Moroyama\"\nendpoint = \"http://127.0.0.1:1/\"\ntest_destination = true\npublic_key = \"k.pem\"\ncatalogue = \"c.toml\"\n",
        dir.path().join("o.db").display()
    );
    let cfg: SyncConfig =
        counter_core::config::parse_config_text(&dir.path().join("k.toml"), &text).unwrap();
    let db = cfg.outbox.path.clone();
    Outbox::open(&db).unwrap();
    let metrics = Arc::new(Metrics::new(&cfg).unwrap());
    let (stop_tx, stop) = watch::channel(false);
    let (ran_tx, mut ran) = tokio::sync::mpsc::unbounded_channel::<u32>();
    let mut starts = 0u32;
    let worker_stop = stop.clone();
    // First start: the worker panics. Second: it cannot be built. Third: it runs until
    // the daemon stops, as a real worker does.
    let start = move || {
        starts += 1;
        let (n, ran_tx, mut stop) = (starts, ran_tx.clone(), worker_stop.clone());
        anyhow::ensure!(n != 2, "CA file /nowhere/ca.pem: not found");
        Ok(async move {
            let _ = ran_tx.send(n);
            if n == 1 {
                panic!("injected worker panic");
            }
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
        })
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sup = tokio::spawn(supervise(
            "113263".into(),
            db.clone(),
            metrics.clone(),
            stop,
            start,
        ));
        assert_eq!(ran.recv().await, Some(1));
        assert_eq!(
            ran.recv().await,
            Some(3),
            "restarted after the panic and the failed start"
        );
        let d = Outbox::attach(&db)
            .unwrap()
            .destination("113263")
            .unwrap()
            .unwrap();
        assert_eq!(d.broken_reason, None, "cleared once the worker runs again");
        stop_tx.send(true).unwrap();
        sup.await.unwrap();
    });
    assert!(
        metrics
            .render()
            .contains("madoguchi_sync_worker_restarts_total{municipality=\"113263\"} 2"),
        "{}",
        metrics.render()
    );
}

#[test]
fn a_symlinked_path_cannot_start_a_second_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
    let _first = DaemonLock::acquire(&real.join("outbox.db")).unwrap();
    for other in [
        dir.path().join("link/outbox.db"),
        dir.path().join("real/../link/./outbox.db"),
    ] {
        let err = DaemonLock::acquire(&other).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("another counter-sync")),
            "{}: {err:?}",
            other.display()
        );
    }
    // A link to the database file itself.
    std::fs::write(real.join("outbox.db"), b"").unwrap();
    std::os::unix::fs::symlink(real.join("outbox.db"), dir.path().join("db-link")).unwrap();
    assert!(DaemonLock::acquire(&dir.path().join("db-link")).is_err());
}
