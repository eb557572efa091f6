//! `kioskctl`: the technician's and staff's command line. JSON on stdout with `--json`;
//! a non-zero exit and a readable message on failure.

use clap::{Parser, Subcommand};
use counter_core::outbox::{Outbox, OutboxError};
use kiosk_app::card::ops::{self, CardKind};
use kiosk_app::card::pcsc_reader::{self, ReaderInfo};
use kiosk_app::card::CardError;
use kiosk_app::config::KioskConfig;
use kiosk_app::receipt::printer;
use kiosk_app::receipt::service::{self, ReceiptPrinter};
use kiosk_app::secret::Pin;
use kiosk_app::watchdog::{self, Outcome};
use serde_json::json;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "kioskctl", version, about = "Madoguchi kiosk maintenance tool")]
struct Cli {
    /// Kiosk configuration file (TOML).
    #[arg(long, global = true, default_value = counter_core::config::DEFAULT_CONFIG_PATH, env = "MADOGUCHI_CONFIG")]
    config: PathBuf,
    /// Answer in JSON on stdout (errors too: `{"ok": false, "error": {"code", "message"}}`).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The card reader and card.
    Card {
        #[command(subcommand)]
        command: CardCommand,
    },
    /// The receipt printer.
    Printer {
        #[command(subcommand)]
        command: PrinterCommand,
    },
    /// Staff mode on the touchscreen.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Check reader, printer, backends and database and say what is wrong.
    Doctor,
}

#[derive(Subcommand)]
enum CardCommand {
    /// Readers, card presence and type, PIN tries left (never a VERIFY with data).
    Status,
    /// Read name, address, birth date and sex with the 4-digit PIN.
    Read {
        /// Read the PIN from standard input (the only way; it is never an argument).
        #[arg(long, required = true)]
        pin_stdin: bool,
        /// Try the PIN even when only one try is left (a wrong PIN then locks the card until
        /// it is reset at the municipal office). Without it, such a read is refused.
        #[arg(long)]
        allow_last_try: bool,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Hash a new 6-digit staff PIN for `staff.pin_hash` in the config.
    HashPin {
        /// Read the PIN from standard input (the only way; it is never an argument).
        #[arg(long, required = true)]
        pin_stdin: bool,
    },
}

#[derive(Subcommand)]
enum PrinterCommand {
    /// The printer's state (paper, cover, online) as it answers `DLE EOT`; exit code 1 when it
    /// cannot be reached or does not answer in time.
    Status,
    /// Print a test receipt.
    Test,
    /// Receipts the printer never confirmed (paper out, switched off, kiosk stopped…).
    Unconfirmed,
    /// Print a receipt again (marked 再発行) from its outbox row; nothing personal is needed.
    Reprint {
        /// The receipt number, e.g. K01-261122-0007.
        receipt: String,
    },
}

fn main() {
    let cli = Cli::parse();
    kiosk_app::init_logging();
    let json = cli.json;
    match run(cli) {
        Ok(()) => {}
        Err(Failure {
            code,
            message,
            detail,
        }) => {
            if json {
                let mut v = json!({ "ok": false, "error": { "code": code, "message": message } });
                if let Some(d) = detail {
                    v["error"]["detail"] = d;
                }
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            eprintln!("kioskctl: {message}");
            std::process::exit(1);
        }
    }
}

struct Failure {
    code: String,
    message: String,
    detail: Option<serde_json::Value>,
}

impl From<CardError> for Failure {
    fn from(e: CardError) -> Self {
        Failure {
            code: e.code().into(),
            message: e.to_string(),
            detail: serde_json::to_value(&e).ok(),
        }
    }
}

fn fail(code: &str, message: impl std::fmt::Display) -> Failure {
    Failure {
        code: code.into(),
        message: message.to_string(),
        detail: None,
    }
}

fn load(path: &std::path::Path) -> Result<KioskConfig, Failure> {
    KioskConfig::load(path).map_err(|e| fail("config-error", e))
}

fn print(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        println!("{}", text());
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let json = cli.json;
    // `card read` holds the holder's data and `doctor` the config: no dumps, no peeking.
    counter_core::memory::forbid_dumps().map_err(|e| {
        fail(
            "non-dumpable",
            format!("cannot make kioskctl non-dumpable: {e}"),
        )
    })?;
    match cli.command {
        Command::Card {
            command: CardCommand::Status,
        } => {
            let cfg = load(&cli.config)?;
            let v = card_status(cfg.card.reader.as_deref())?;
            print(json, v.clone(), || format!("{v:#}"));
            Ok(())
        }
        Command::Card {
            command: CardCommand::Read { allow_last_try, .. },
        } => {
            let cfg = load(&cli.config)?;
            let mut input = zeroize::Zeroizing::new(String::new());
            std::io::stdin()
                .read_to_string(&mut input)
                .map_err(|e| fail("stdin", e))?;
            let pin =
                Pin::new_4_digits(input.trim().as_bytes()).map_err(|e| fail("pin-format", e))?;
            drop(input);
            let b = pcsc_reader::with_card(cfg.card.reader.as_deref(), |t| {
                ops::identify(t)?.check_usable()?;
                ops::read_basic4_checked(t, &pin, ops::last_try_needs_consent(allow_last_try))
            })
            .map_err(|e| match e {
                CardError::PinLastTry => Failure {
                    message: format!(
                        "{e}. A wrong PIN now locks the card until it is reset at the municipal \
                         office. If the holder is sure of the PIN, run again with --allow-last-try."
                    ),
                    ..e.into()
                },
                e => e.into(),
            })?;
            let birth = b.birth.expose();
            let v = json!({
                "ok": true,
                "name": b.name.expose(),
                "address": b.address.expose(),
                "birth_date": format!("{}-{}-{}", &birth[..4], &birth[4..6], &birth[6..]),
                "sex": b.sex.code(),
            });
            print(json, v, || {
                format!(
                    "{}\n{}\n{}\n{}",
                    b.name.expose(),
                    b.address.expose(),
                    birth,
                    b.sex.code()
                )
            });
            Ok(())
        }
        Command::Printer {
            command: PrinterCommand::Status,
        } => {
            let cfg = load(&cli.config)?;
            let connection = cfg.printer.connection.to_string();
            let status = bounded(&ReceiptPrinter::from_config(&cfg), "printer-silent", |p| {
                p.status()
            })?
            .map_err(|e| fail(e.code(), format!("printer {connection}: {e}")))?;
            let v = json!({ "ok": true, "connection": connection, "status": status, "ready": status.problem().is_none() });
            print(json, v, || format!("printer {connection}: {status:?}"));
            Ok(())
        }
        Command::Printer {
            command: PrinterCommand::Test,
        } => {
            let cfg = load(&cli.config)?;
            let job = kiosk_app::session::ReceiptJob {
                receipt_number: format!("{}-TEST", cfg.sync.kiosk.id),
                submitted_at: counter_core::hours::japan_now(),
                lang: kiosk_app::domain::Lang::Ja,
                municipality_ja: "テスト印刷".into(),
                municipality_local: "テスト印刷".into(),
                procedure_ja: "印刷の確認（申請ではありません）".into(),
                procedure_local: "印刷の確認（申請ではありません）".into(),
                processing_from: None,
                reissue: false,
            };
            bounded(
                &ReceiptPrinter::from_config(&cfg),
                "unconfirmed",
                move |p| p.print(&job),
            )?
            .map_err(|e| fail(e.code(), format!("test receipt not printed: {e}")))?;
            let connection = cfg.printer.connection.to_string();
            let v = json!({ "ok": true, "connection": connection });
            print(json, v, || {
                format!("test receipt printed and confirmed by {connection}")
            });
            Ok(())
        }
        Command::Printer {
            command: PrinterCommand::Unconfirmed,
        } => {
            let cfg = load(&cli.config)?;
            let rows = Outbox::attach(&cfg.sync.outbox.path)
                .and_then(|o| o.unprinted())
                .map_err(|e| fail("outbox-error", e))?;
            let list: Vec<_> = rows
                .iter()
                .map(|r| {
                    json!({
                        "receipt_number": r.receipt_number,
                        "submitted_at": r.submitted_at,
                        "municipality_code": r.municipality_code,
                        "procedure_code": r.procedure_code,
                        "problem": r.print_problem,
                    })
                })
                .collect();
            print(json, json!({ "ok": true, "unconfirmed": list }), || {
                if rows.is_empty() {
                    return "every receipt was confirmed by the printer".into();
                }
                rows.iter()
                    .map(|r| {
                        format!(
                            "{}  {}  {} {}  {}",
                            r.receipt_number,
                            r.submitted_at,
                            r.municipality_code,
                            r.procedure_code,
                            r.print_problem.as_deref().unwrap_or("not printed")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
        Command::Printer {
            command: PrinterCommand::Reprint { receipt },
        } => {
            let cfg = load(&cli.config)?;
            let world = cfg.load_world().map_err(|e| fail("config-error", e))?;
            let mut outbox =
                Outbox::attach(&cfg.sync.outbox.path).map_err(|e| fail("outbox-error", e))?;
            let number = receipt.clone();
            let status = bounded(
                &ReceiptPrinter::from_config(&cfg),
                "unconfirmed",
                move |p| service::reprint(&mut outbox, &world, &p, &number),
            )?
            .map_err(|e| match &e {
                service::ReprintError::Printer(p) => {
                    fail(p.code(), format!("receipt {receipt} not reprinted: {e}"))
                }
                service::ReprintError::Outbox(OutboxError::NotFound(_)) => {
                    fail("not-found", format!("no receipt {receipt} in the outbox"))
                }
                _ => fail("reprint-error", e),
            })?;
            let v = json!({ "ok": true, "receipt_number": receipt, "paper_near_end": status.paper_near_end });
            print(json, v, || {
                format!(
                    "receipt {receipt} reprinted and confirmed by {}",
                    cfg.printer.connection
                )
            });
            Ok(())
        }
        Command::Staff {
            command: StaffCommand::HashPin { .. },
        } => {
            let mut input = zeroize::Zeroizing::new(String::new());
            std::io::stdin()
                .read_to_string(&mut input)
                .map_err(|e| fail("stdin", e))?;
            let hash = kiosk_app::staff_pin::hash_pin(input.trim().as_bytes())
                .map_err(|e| fail("pin-format", e))?;
            print(json, json!({ "ok": true, "pin_hash": hash }), || {
                hash.clone()
            });
            Ok(())
        }
        Command::Doctor => doctor(&cli.config, json),
    }
}

/// Runs a printer operation on its own thread and gives up at the printer's deadline (the
/// timeout plus `PRINT_MARGIN`) whatever the printer or the system does; `late` is the error
/// code then.
fn bounded<T: Send + 'static>(
    printer: &ReceiptPrinter,
    late: &str,
    op: impl FnOnce(ReceiptPrinter) -> T + Send + 'static,
) -> Result<T, Failure> {
    let p = printer.clone();
    match watchdog::run("printer", Some(printer.deadline()), move || op(p)) {
        Outcome::Done(t) => Ok(t),
        Outcome::Late => Err(fail(
            late,
            format!(
                "printer {} gave no answer within {} ms",
                printer.connection,
                printer.deadline().as_millis()
            ),
        )),
        Outcome::Crashed => Err(fail("error", "the printer operation crashed")),
    }
}

fn card_status(filter: Option<&str>) -> Result<serde_json::Value, Failure> {
    let ctx = pcsc_reader::establish()?;
    let readers: Vec<ReaderInfo> = pcsc_reader::list_readers(&ctx, filter)?;
    if readers.is_empty() {
        return Err(CardError::NoReader.into());
    }
    let present = readers.iter().any(|r| r.card_present);
    let mut v = json!({ "ok": true, "readers": readers, "card_present": present });
    if present {
        let probe = pcsc_reader::with_card(filter, |t| {
            let kind = ops::identify(t)?;
            let auth = if kind == CardKind::MyNumberCard {
                Some(ops::jpki_auth_pin_tries(t)?)
            } else {
                None
            };
            let text = if kind == CardKind::MyNumberCard {
                Some(ops::text_pin_tries(t))
            } else {
                None
            };
            Ok((kind, auth, text))
        });
        match probe {
            Ok((kind, auth, text)) => {
                v["card_type"] = json!(kind);
                v["jpki_auth_pin_tries_left"] = json!(auth);
                match text {
                    Some(Ok(n)) => v["text_pin_tries_left"] = json!(n),
                    Some(Err(e)) => v["text-ap-error"] = json!(e.code()),
                    None => {}
                }
                if let Err(e) = kind.check_usable() {
                    v["error"] = json!({ "code": e.code(), "message": e.to_string() });
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(v)
}

fn doctor(config: &std::path::Path, json: bool) -> Result<(), Failure> {
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
        match card_status(cfg.card.reader.as_deref()) {
            Ok(v) => Ok(format!("{} reader(s) found; card present: {}", v["readers"].as_array().map_or(0, |a| a.len()), v["card_present"])),
            Err(f) => Err(match f.code.as_str() {
                "no-service" => "the PC/SC service (pcscd) is not running: start it with `systemctl start pcscd`".into(),
                "no-reader" => "no card reader is connected: check the reader's USB cable".into(),
                _ => f.message,
            }),
        },
    );
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
