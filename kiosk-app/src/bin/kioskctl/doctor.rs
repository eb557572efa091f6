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
