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
use std::path::{Path, PathBuf};
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
    /// The config file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The kiosk's TLS identity for the municipalities.
    Tls {
        #[command(subcommand)]
        command: TlsCommand,
    },
    /// The touch panel's rotation.
    Display {
        #[command(subcommand)]
        command: DisplayCommand,
    },
    /// The last resident session's path through the screens, from the journal (no personal
    /// data is ever logged).
    Logs {
        /// This session (its number in the journal) instead of the last one.
        #[arg(long)]
        session: Option<String>,
    },
    /// The outbox database.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Check reader, printer, backends and database and say what is wrong.
    Doctor,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Every problem of the config at once, each with its file, line and fix; exit code 1
    /// if there is any.
    Check,
}

#[derive(Subcommand)]
enum TlsCommand {
    /// Make the kiosk's private key (mode 0600, for counter-sync's user) and a certificate
    /// request named after the kiosk id, for the municipalities' CA to sign.
    Request {
        /// The key (default: tls.client_key, else /etc/madoguchi/tls/kiosk.key.pem); never
        /// overwritten.
        #[arg(long)]
        key: Option<PathBuf>,
        /// The request (default: <kiosk id>.csr.pem beside the key).
        #[arg(long)]
        csr: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DisplayCommand {
    /// Write the rotation of `ui.rotation` for the kiosk units (/etc/madoguchi/display.env)
    /// and the touch panel's calibration (/etc/udev/rules.d/99-madoguchi-touch.rules), then
    /// have udev apply it. Restart the kiosk service afterwards.
    Apply {
        /// The system's root directory (another one prepares an image).
        #[arg(long, default_value = "/")]
        root: PathBuf,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Copy the outbox, while the kiosk runs, to a new file (SQLite's online backup).
    /// Restore: stop both services, copy the file over the outbox, start them (README).
    Backup {
        /// The new file; an existing file is never overwritten.
        path: PathBuf,
    },
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

mod card;
mod display;
mod doctor;
mod logs;
mod outbox;
mod printers;
mod staff;
mod tls;

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
        } => card::status(&cli.config, json),
        Command::Card {
            command: CardCommand::Read { allow_last_try, .. },
        } => card::read(&cli.config, json, allow_last_try),
        Command::Printer {
            command: PrinterCommand::Status,
        } => printers::status(&cli.config, json),
        Command::Printer {
            command: PrinterCommand::Test,
        } => printers::test(&cli.config, json),
        Command::Printer {
            command: PrinterCommand::Unconfirmed,
        } => printers::unconfirmed(&cli.config, json),
        Command::Printer {
            command: PrinterCommand::Reprint { receipt },
        } => printers::reprint(&cli.config, json, receipt),
        Command::Staff {
            command: StaffCommand::HashPin { .. },
        } => staff::hash_pin(json),
        Command::Config {
            command: ConfigCommand::Check,
        } => config_check(&cli.config, json),
        Command::Tls {
            command: TlsCommand::Request { key, csr },
        } => tls::request(&cli.config, json, key, csr),
        Command::Display {
            command: DisplayCommand::Apply { root },
        } => display::apply(&cli.config, json, &root),
        Command::Logs { session } => logs::last_session(json, session.as_deref()),
        Command::Outbox {
            command: OutboxCommand::Backup { path },
        } => outbox::backup(&cli.config, json, &path),
        Command::Doctor => doctor::doctor(&cli.config, json),
    }
}

fn config_check(config: &Path, json: bool) -> Result<(), Failure> {
    let found = kiosk_app::config_check::check(config);
    print(
        json,
        json!({ "ok": found.is_empty(), "problems": found }),
        || {
            if found.is_empty() {
                return format!("{}: no problems", config.display());
            }
            found
                .iter()
                .map(|f| {
                    let place = match f.line {
                        Some(n) => format!("{}:{n}", f.file.display()),
                        None => f.file.display().to_string(),
                    };
                    format!("{place}: {}\n    fix: {}", f.message, f.fix)
                })
                .collect::<Vec<_>>()
                .join("\n")
        },
    );
    if !found.is_empty() {
        eprintln!(
            "kioskctl: {} problem(s) in {}",
            found.len(),
            config.display()
        );
        std::process::exit(1);
    }
    Ok(())
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
