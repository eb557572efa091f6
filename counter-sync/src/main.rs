//! `counter-sync`: forwards the kiosk's outbox to the municipalities.

use anyhow::Context;
use clap::{Parser, Subcommand};
use counter_core::config::{SyncConfig, DEFAULT_CONFIG_PATH};
use counter_core::outbox::Outbox;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "counter-sync",
    version,
    about = "Delivers the kiosk's outbox to each municipality"
)]
struct Cli {
    /// Kiosk configuration file (TOML).
    #[arg(long, global = true, default_value = DEFAULT_CONFIG_PATH, env = "MADOGUCHI_CONFIG")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the delivery daemon until SIGTERM / Ctrl-C.
    Run,
    /// Entries per municipality and state.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Put a failed application back in line (by application id or receipt number).
    Requeue { id: String },
    /// Clear a municipality's pause or backoff so it is tried at once (after fixing the cause).
    Resume { municipality_code: String },
    /// Enqueue N synthetic applications spread over the configured municipalities
    /// (installation checks, load tests); their procedure code is `madoguchi-synthetic-check`.
    EnqueueSynthetic {
        #[arg(long)]
        count: usize,
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("counter-sync: error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> anyhow::Result<()> {
    counter_core::memory::forbid_dumps()
        .map_err(|e| anyhow::anyhow!("cannot make counter-sync non-dumpable: {e}"))?;
    let cli = Cli::parse();
    counter_core::logging::init();
    let cfg = SyncConfig::load(&cli.config)?;
    match cli.command {
        Command::Run => {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let (tx, rx) = tokio::sync::watch::channel(false);
                tokio::spawn(async move {
                    let mut term =
                        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                            .expect("SIGTERM handler");
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                    tracing::info!("stopping");
                    let _ = tx.send(true);
                });
                counter_sync::daemon::run(cfg, rx).await
            })
        }
        Command::Status { json } => {
            let outbox = Outbox::open(&cfg.outbox.path)?;
            let codes: Vec<String> = cfg.municipalities.iter().map(|m| m.code.clone()).collect();
            let counts = outbox.counts(&codes)?;
            let destinations = outbox.destinations()?;
            let now = time::OffsetDateTime::now_utc();
            let hours: Vec<_> = cfg
                .municipalities
                .iter()
                .map(|m| {
                    let h = m.hours().unwrap_or_default();
                    let next = h.next_open(now).and_then(|t| {
                        t.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    });
                    serde_json::json!({
                        "municipality_code": m.code,
                        "open_now": h.is_open(now),
                        "next_open": next,
                    })
                })
                .collect();
            if json {
                let out = serde_json::json!({
                    "database": cfg.outbox.path,
                    "counts": counts,
                    "destinations": destinations,
                    "opening_hours": hours,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                for d in &destinations {
                    if let Some(why) = &d.broken_reason {
                        println!("{} cannot be delivered to: {why}", d.municipality_code);
                    }
                }
                for d in destinations
                    .iter()
                    .filter(|d| d.blocked_until(counter_core::now_ms()).is_some())
                {
                    println!(
                        "{} is {}: {}",
                        d.municipality_code,
                        if d.paused_until.is_some() {
                            "paused"
                        } else {
                            "backing off"
                        },
                        d.pause_reason
                            .as_deref()
                            .or(d.last_error.as_deref())
                            .unwrap_or("")
                    );
                }
                for c in counts.iter().filter(|c| c.count > 0) {
                    let name = cfg
                        .municipality(&c.municipality_code)
                        .map(|m| m.name_ja.as_str())
                        .unwrap_or("?");
                    println!(
                        "{} {:<8} {:<10} {}",
                        c.municipality_code,
                        name,
                        c.state.as_str(),
                        c.count
                    );
                }
            }
            Ok(())
        }
        Command::Requeue { id } => {
            let mut outbox = Outbox::open(&cfg.outbox.path)?;
            let row = outbox.get(&id)?;
            outbox
                .requeue(&row.id, counter_core::now_ms())
                .with_context(|| {
                    format!(
                        "application {id} cannot be requeued (state {})",
                        row.state.as_str()
                    )
                })?;
            println!("requeued {} ({})", row.receipt_number, row.id);
            Ok(())
        }
        Command::Resume { municipality_code } => {
            anyhow::ensure!(
                cfg.municipality(&municipality_code).is_some(),
                "municipality {municipality_code} is not configured in {}",
                cli.config.display()
            );
            Outbox::open(&cfg.outbox.path)?.resume_destination(&municipality_code)?;
            println!("{municipality_code} will be tried at once");
            Ok(())
        }
        Command::EnqueueSynthetic { count, json } => {
            let apps = counter_sync::synthetic::applications(&cfg, count)?;
            let mut outbox = Outbox::open(&cfg.outbox.path)?;
            let mut numbers = Vec::with_capacity(count);
            for chunk in apps.chunks(500) {
                numbers.extend(outbox.enqueue_many(chunk, counter_core::now_ms())?);
            }
            if json {
                let ids: Vec<String> = apps.iter().map(|a| a.application_id.to_string()).collect();
                let out = serde_json::json!({ "enqueued": count, "application_ids": ids, "receipt_numbers": numbers });
                println!("{}", serde_json::to_string(&out)?);
            } else {
                println!(
                    "enqueued {count} synthetic applications over {} municipalities",
                    cfg.municipalities.len()
                );
            }
            Ok(())
        }
    }
}
