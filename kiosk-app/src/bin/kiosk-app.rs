//! The touchscreen kiosk: full screen on the kiosk (LinuxKMS, or a window under the cage
//! compositor), a window on a desktop. Slint picks the backend at run time (`SLINT_BACKEND`).

use anyhow::Context;
use clap::Parser;
use counter_core::outbox::Outbox;
use kiosk_app::config::KioskConfig;
use kiosk_app::receipt::service::ReceiptPrinter;
use kiosk_app::ui::liveness;
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

/// This process's name in the outbox's start counts.
const PROCESS_NAME: &str = "kiosk-app";

fn main() {
    kiosk_app::init_logging();
    if let Err(e) = run() {
        tracing::error!(error = %format!("{e:#}"), "kiosk cannot start");
        eprintln!("kiosk-app: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let t0 = std::time::Instant::now();
    let ms = move || t0.elapsed().as_secs_f64() * 1000.0;
    counter_core::memory::forbid_dumps().context("cannot make the kiosk process non-dumpable")?;
    let cli = Cli::parse();
    let cfg = KioskConfig::load(&cli.config)?;
    let config_ms = ms();
    let mut outbox = Outbox::open(&cfg.sync.outbox.path)?;
    let runs = outbox.record_start(PROCESS_NAME)?;
    let outbox_ms = ms();
    tracing::info!(
        starts = runs.starts,
        unclean_restarts = runs.unclean_restarts,
        "kiosk starting"
    );
    let app = AppWindow::new().map_err(|e| anyhow::anyhow!(no_display_hint(&e.to_string())))?;
    app.window().set_size(slint::LogicalSize::new(
        cfg.ui.width as f32,
        cfg.ui.height as f32,
    ));
    let window_ms = ms();
    let session = start_session(&app, &cfg)?;
    // Where the start goes, from main() on (the loader's time before it is not counted).
    tracing::info!(
        config_ms,
        outbox_ms,
        window_ms,
        session_ms = ms(),
        "start-up timeline"
    );
    let state = session.state();
    state.started(runs);
    let _beats = liveness::start(state.heartbeat());
    kiosk_app::monitor::start(
        state.clone(),
        ReceiptPrinter::from_config(&cfg),
        cfg.card.reader.clone(),
    )
    .context("cannot start the device monitor")?;
    if let Some(addr) = &cfg.ui.metrics_listen {
        kiosk_app::metrics::serve(addr, state).context("cannot serve the metrics")?;
    }
    liveness::quit_on_signals().context("cannot handle SIGTERM")?;
    app.run().context("UI event loop failed")?;
    outbox.record_clean_stop(PROCESS_NAME)?;
    Ok(())
}

/// Slint's reason the window could not be made, with what a technician should check.
fn no_display_hint(slint_error: &str) -> String {
    let backend = std::env::var("SLINT_BACKEND").unwrap_or_default();
    let hint = if backend.starts_with("linuxkms") {
        "no usable display: the LinuxKMS backend found no DRM/KMS device it may open \
         (is a screen connected, does /dev/dri/card0 exist, is the kiosk user in the `video` \
         and `input` groups?)"
    } else if backend.starts_with("winit") || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        "no usable display: no Wayland or X11 server answered (WAYLAND_DISPLAY, DISPLAY)"
    } else {
        "no usable display: neither a DRM/KMS device nor a Wayland or X11 server \
         (set SLINT_BACKEND=linuxkms on the kiosk, or run under cage or a desktop)"
    };
    format!("{hint}; Slint says: {slint_error}")
}
