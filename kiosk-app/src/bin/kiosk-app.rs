//! The touchscreen kiosk: full screen on the kiosk (LinuxKMS), a window on a desktop.

use anyhow::Context;
use clap::Parser;
use kiosk_app::config::KioskConfig;
use kiosk_app::ui::{start_session, AppWindow};
use slint::ComponentHandle;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "kiosk-app", version, about = "Madoguchi touchscreen kiosk")]
struct Cli {
    /// Kiosk configuration file (TOML).
    #[arg(long, default_value = counter_core::config::DEFAULT_CONFIG_PATH, env = "MADOGUCHI_CONFIG")]
    config: PathBuf,
}

fn main() {
    kiosk_app::init_logging();
    if let Err(e) = run() {
        tracing::error!(error = %format!("{e:#}"), "kiosk cannot start");
        eprintln!("kiosk-app: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    counter_core::memory::forbid_dumps().context("cannot make the kiosk process non-dumpable")?;
    let cli = Cli::parse();
    let cfg = KioskConfig::load(&cli.config)?;
    let app = AppWindow::new().context("cannot create the kiosk window")?;
    app.window().set_size(slint::LogicalSize::new(
        cfg.ui.width as f32,
        cfg.ui.height as f32,
    ));
    let _session = start_session(&app, &cfg)?;
    app.run().context("UI event loop failed")?;
    Ok(())
}
