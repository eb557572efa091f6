//! `kioskctl doctor`: every device and backend checked, and what to do about each failure.

use super::*;

pub fn doctor(config: &std::path::Path, json: bool) -> Result<(), Failure> {
    let mut checks = vec![];
    let mut check = |name: &str, result: Result<String, String>| {
        let ok = result.is_ok();
        let text = result.unwrap_or_else(|e| e);
        checks.push(json!({ "check": name, "ok": ok, "message": text }));
    };
    let cfg = match KioskConfig::load(config) {
        Ok(c) => {
            check("config", Ok(format!("{} is valid", config.display())));
            c
        }
        Err(e) => {
            check("config", Err(e.to_string()));
            return report(json, checks);
        }
    };
    check(
        "catalogues",
        cfg.load_world()
            .map(|w| {
                format!(
                    "{} municipalities, catalogues loaded",
                    w.municipalities.len()
                )
            })
            .map_err(|e| e.to_string()),
    );
    check(
        "database",
        counter_core::outbox::Outbox::open(&cfg.sync.outbox.path)
            .map_err(|e| e.to_string())
            .and_then(|o| {
                let integrity = o.integrity_check().map_err(|e| e.to_string())?;
                if integrity != "ok" {
                    return Err(format!(
                        "{} fails its integrity check: {integrity}",
                        cfg.sync.outbox.path.display()
                    ));
                }
                let counts = o.counts(&[]).map_err(|e| e.to_string())?;
                let count = |pred: &dyn Fn(&str) -> bool| -> u64 {
                    counts
                        .iter()
                        .filter(|c| pred(c.state.as_str()))
                        .map(|c| c.count)
                        .sum()
                };
                let waiting = count(&|s| s != "delivered" && s != "failed");
                let failed = count(&|s| s == "failed");
                if failed > 0 {
                    return Err(format!(
                        "{failed} applications failed permanently and need staff: `counter-sync status`, then `counter-sync requeue <id>`"
                    ));
                }
                let now = counter_core::now_ms();
                let destinations = o.destinations().map_err(|e| e.to_string())?;
                // A broken or paused destination does not heal by itself: staff must act.
                let needs_staff: Vec<String> = destinations
                    .iter()
                    .filter_map(|d| {
                        let code = &d.municipality_code;
                        if let Some(why) = &d.broken_reason {
                            Some(format!("{code} cannot be delivered to: {why}"))
                        } else if d.paused_until.is_some_and(|u| u > now) {
                            Some(format!(
                                "{code} is paused ({}); fix the cause, then `counter-sync resume {code}`",
                                d.pause_reason.as_deref().unwrap_or("")
                            ))
                        } else {
                            None
                        }
                    })
                    .collect();
                if !needs_staff.is_empty() {
                    return Err(needs_staff.join("; "));
                }
                let blocked: Vec<String> = destinations
                    .into_iter()
                    .filter(|d| d.blocked_until(now).is_some())
                    .map(|d| format!("{} {}", d.municipality_code, d.last_error.unwrap_or_default()))
                    .collect();
                let note = if blocked.is_empty() {
                    String::new()
                } else {
                    format!("; waiting to retry: {}", blocked.join("; "))
                };
                Ok(format!(
                    "{} is healthy; {waiting} applications not yet delivered{note}",
                    cfg.sync.outbox.path.display()
                ))
            }),
    );
    check(
        "card_reader",
        match card::card_status(cfg.card.reader.as_deref()) {
            Ok(v) => Ok(format!("{} reader(s) found; card present: {}", v["readers"].as_array().map_or(0, |a| a.len()), v["card_present"])),
            Err(f) => Err(match f.code.as_str() {
                "no-service" => "the PC/SC service (pcscd) is not running: start it with `systemctl start pcscd`".into(),
                "no-reader" => "no card reader is connected: check the reader's USB cable".into(),
                _ => f.message,
            }),
        },
    );
    check("touch", display::check(cfg.ui.rotation));
    check("clock", match kiosk_app::system::clock_synchronised() {
        Ok(true) => Ok("synchronised (NTP)".into()),
        Ok(false) => Err("the clock is not synchronised: receipt times and opening hours depend on it; check `timedatectl` and the network's NTP server".into()),
        Err(e) => Err(format!("cannot read the clock's state: {e}")),
    });
    check("disk", match kiosk_app::system::free_bytes(&cfg.sync.outbox.path) {
        Ok(free) if free < kiosk_app::system::LOW_DISK_BYTES => Err(format!(
            "only {} MB free for the outbox: residents cannot submit once it is full; free space (old logs: `journalctl --vacuum-size=200M`)",
            free / 1_000_000
        )),
        Ok(free) => Ok(format!("{} MB free for the outbox", free / 1_000_000)),
        Err(e) => Err(format!("cannot read the free space of {}: {e}", cfg.sync.outbox.path.display())),
    });
    check("version", match &cfg.sync.kiosk.expected_version {
        None => Ok(format!("{} (kiosk.expected_version not set)", kiosk_app::system::VERSION)),
        Some(v) if kiosk_app::system::version_matches(v) => Ok(format!("{} as expected", kiosk_app::system::VERSION)),
        Some(v) => Err(format!(
            "this kiosk runs Madoguchi {} but {v} is expected: install that package (`apt install ./madoguchi_{v}_amd64.deb`)",
            kiosk_app::system::VERSION
        )),
    });
    check("services", services());
    let receipt_printer = ReceiptPrinter::from_config(&cfg);
    check(
        "printer",
        match bounded(&receipt_printer, "printer-silent", |p| p.status()) {
            Err(f) => Err(f.message),
            Ok(Ok(s)) => match s.problem() {
                None if s.paper_near_end => {
                    Ok("ready, but the paper is nearly out: replace the roll soon".into())
                }
                None => Ok(format!("{} is ready", cfg.printer.connection)),
                Some(p) => Err(format!(
                    "printer {} is not ready: {}",
                    cfg.printer.connection,
                    p.code()
                )),
            },
            Ok(Err(printer::PrinterError::WriteOnly)) => Ok(format!(
                "{} is write-only: its state cannot be checked and receipts stay unconfirmed",
                cfg.printer.connection
            )),
            Ok(Err(e)) => Err(format!("printer {}: {e}", cfg.printer.connection)),
        },
    );
    check(
        "receipts",
        match Outbox::attach(&cfg.sync.outbox.path).and_then(|o| o.unprinted()) {
            Ok(rows) if rows.is_empty() => Ok("every receipt was confirmed by the printer".into()),
            Ok(rows) => Err(format!(
                "{} receipt(s) not confirmed by the printer ({}): reprint with `kioskctl printer reprint <number>`",
                rows.len(),
                rows.iter().map(|r| r.receipt_number.as_str()).collect::<Vec<_>>().join(", ")
            )),
            Err(e) => Err(e.to_string()),
        },
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail("runtime", e))?;
    for m in &cfg.sync.municipalities {
        let result = rt.block_on(async {
            let client = counter_core::client::HttpClient::for_municipality(
                &cfg.sync,
                m,
                Duration::from_secs(5),
                Duration::from_secs(3),
            )
            .map_err(|e| e.to_string())?;
            client.probe().await
        });
        let now = time::OffsetDateTime::now_utc();
        let hours = match m.hours() {
            Ok(h) if h.is_open(now) => String::new(),
            Ok(h) => match h.reopens_at(now) {
                Some(t) => format!(
                    "; closed now, deliveries resume {}",
                    t.format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default()
                ),
                None => "; its opening hours never open: check opening_hours".into(),
            },
            Err(_) => String::new(), // reported by the config check
        };
        check(
            &format!("backend {} {}", m.code, m.name_ja),
            result.map(|s| format!("{} answers (HTTP {s}){hours}", m.endpoint)),
        );
    }
    report(json, checks)
}

/// Both services run (the kiosk as either of its units).
fn services() -> Result<String, String> {
    if !Path::new("/run/systemd/system").exists() {
        return Err("systemd is not running here: the services cannot be checked".into());
    }
    let active = |unit: &str| {
        std::process::Command::new("systemctl")
            .args(["is-active", "--quiet", unit])
            .status()
            .is_ok_and(|s| s.success())
    };
    let kiosk = ["madoguchi-kiosk.service", "madoguchi-kiosk-cage.service"]
        .into_iter()
        .find(|u| active(u));
    let sync = active("counter-sync.service");
    match (kiosk, sync) {
        (Some(k), true) => Ok(format!("{k} and counter-sync.service run")),
        (None, _) => Err("the kiosk service is not running: `systemctl status madoguchi-kiosk` and `kioskctl logs`".into()),
        (Some(_), false) => Err("counter-sync is not running: nothing is delivered; `systemctl status counter-sync`".into()),
    }
}

fn report(json: bool, checks: Vec<serde_json::Value>) -> Result<(), Failure> {
    let ok = checks.iter().all(|c| c["ok"] == json!(true));
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "ok": ok, "checks": checks }))
                .unwrap_or_default()
        );
    } else {
        for c in &checks {
            println!(
                "[{}] {}: {}",
                if c["ok"] == json!(true) {
                    " ok "
                } else {
                    "FAIL"
                },
                c["check"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or("")
            );
        }
    }
    if !ok {
        eprintln!("kioskctl: some checks failed");
        std::process::exit(1);
    }
    Ok(())
}
