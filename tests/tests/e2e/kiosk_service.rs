//! The kiosk and counter-sync as systemd runs them: the kiosk under the cage compositor
//! (wlroots' headless backend) shows the welcome screen — a Wayland screenshot with `grim`
//! matches the UI's own rendering —, both services say READY=1 and feed the watchdog, a hung
//! UI event loop stops feeding it, a stop is told from a death in the restart counts, and the
//! LinuxKMS backend on a machine without a GPU ends at once, saying why.

use counter_core::outbox::{Outbox, ProcessRuns};
use kiosk_app::ui::generated::Screen;
use kiosk_app::ui::{start_session, AppWindow};
use madoguchi_tests::driver::{init_headless, screenshot, Script};
use madoguchi_tests::harness::{binary, run_cli_within, wait_until, Fixture, FixtureOptions};
use madoguchi_tests::service::{
    decode_png, differing_blocks, hand_to_kiosk_user, http_get, metrics_address, runtime_dir,
    sample, signal, CageKiosk, NotifySocket,
};
use slint::ComponentHandle;
use std::time::Duration;

/// The watchdog period the tests give the services: keep-alives every half of it.
const WATCHDOG: Duration = Duration::from_secs(1);

fn runs(starts: u64, unclean_restarts: u64) -> ProcessRuns {
    ProcessRuns {
        starts,
        unclean_restarts,
    }
}

#[test]
fn kiosk_under_cage_shows_the_welcome_screen_and_feeds_the_watchdog() {
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let runtime = runtime_dir(&fx.dir).unwrap();
    let notify = NotifySocket::bind(&fx.dir).unwrap();
    let config = std::fs::read_to_string(&fx.config_path).unwrap();
    std::fs::write(
        &fx.config_path,
        config.replace("[ui]\n", "[ui]\nmetrics_listen = \"127.0.0.1:0\"\n"),
    )
    .unwrap();

    // What the welcome screen looks like at the portrait size cage gives the kiosk (its
    // headless output is 1280×720; one quarter turn makes it 720×1280), drawn by the same
    // UI under Slint's testing backend.
    init_headless();
    let expected_png = fx.dir.join("expected-welcome.png");
    let app = AppWindow::new().unwrap();
    app.window().set_size(slint::PhysicalSize::new(720, 1280));
    let _session = start_session(&app, &fx.config).unwrap();
    let out = expected_png.clone();
    Script::new()
        .screen(Screen::Welcome)
        .act("render the welcome screen", move |app| {
            screenshot(app, &out)
        })
        .run(&app)
        .unwrap();
    let expected = decode_png(&std::fs::read(&expected_png).unwrap()).unwrap();
    // The outbox that session made, too; and the assets, wherever the checkout is.
    hand_to_kiosk_user(&fx.dir, &fx.config_path).unwrap();

    let mut cage = CageKiosk::start(&fx.config_path, &runtime, &notify.path, WATCHDOG, 1).unwrap();
    cage.expect_ready(&notify, Duration::from_secs(60)).unwrap();
    // The screen settles (fonts, first layout) within moments of READY; compare until then.
    // Measured: 0 % of squares differ for the welcome screen; one missing button label
    // makes 1.3 %, a 4-pixel shift 14 %.
    let (mut last, mut last_png) = (1.0, vec![]);
    let shown = wait_until(
        Duration::from_secs(20),
        "grim shows the welcome screen",
        || {
            let Ok(png) = cage.grim() else { return false };
            let Ok(shot) = decode_png(&png) else {
                return false;
            };
            last = differing_blocks(&shot, &expected, 16, 16.0);
            last_png = png;
            last < 0.005
        },
    );
    if shown.is_err() {
        // Both pictures, for the one who reads the failure.
        let keep = std::env::temp_dir();
        let _ = std::fs::write(keep.join("madoguchi-cage-grim.png"), &last_png);
        let _ = std::fs::copy(&expected_png, keep.join("madoguchi-cage-expected.png"));
        panic!(
            "the Wayland screenshot differs from the welcome screen in {:.2} % of its 16×16 squares \
             (both in {}/madoguchi-cage-*.png)\n{}",
            last * 100.0,
            keep.display(),
            cage.log()
        );
    }

    // The metrics: this start, the UI's heartbeat, the printer as the monitor found it.
    let addr = metrics_address(&cage.log()).expect("the metrics address is logged");
    let mut body = String::new();
    wait_until(
        Duration::from_secs(20),
        "the monitor has asked the printer",
        || {
            body = http_get(&addr, "/metrics").unwrap();
            sample(&body, "madoguchi_kiosk_printer_ready") == Some(1.0)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{body}"));
    assert_eq!(
        sample(&body, "madoguchi_kiosk_process_starts_total"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "madoguchi_kiosk_process_unclean_restarts_total"),
        Some(0.0)
    );
    assert_eq!(
        sample(&body, "madoguchi_kiosk_printer_paper_out"),
        Some(0.0)
    );
    let beat = sample(&body, "madoguchi_kiosk_ui_heartbeat_timestamp_seconds").unwrap();
    let now = counter_core::now_ms() as f64 / 1000.0;
    assert!((now - beat).abs() < 5.0, "heartbeat {beat}, now {now}");

    // Keep-alives every half period from the UI thread, as long as it turns.
    let window = WATCHDOG * 3;
    let beats = notify.count("WATCHDOG=1", window);
    assert!(beats >= 4, "{beats} keep-alives in {window:?}");

    // SIGTERM (systemctl stop) ends the event loop: exit 0, recorded as a clean stop.
    let kiosk = cage.kiosk_pid().unwrap();
    signal(kiosk, libc::SIGTERM);
    notify
        .expect("STOPPING=1", Duration::from_secs(10))
        .unwrap();
    cage.wait_exit(Duration::from_secs(20)).unwrap();
    let outbox = Outbox::attach(&fx.config.sync.outbox.path).unwrap();
    assert_eq!(outbox.process_runs("kiosk-app").unwrap(), Some(runs(1, 0)));
    drop(cage);

    // A hung UI thread: the process lives on but the keep-alives stop, so systemd's
    // WatchdogSec would kill and restart it.
    let mut cage = CageKiosk::start(&fx.config_path, &runtime, &notify.path, WATCHDOG, 1).unwrap();
    cage.expect_ready(&notify, Duration::from_secs(60)).unwrap();
    let kiosk = cage.kiosk_pid().unwrap();
    assert!(notify.count("WATCHDOG=1", window) >= 4);
    signal(kiosk, libc::SIGUSR1); // test builds only: hang the UI thread
                                  // One keep-alive may already be on its way; after that, silence for several periods.
    let _ = notify.count("WATCHDOG=1", WATCHDOG / 2);
    let late = notify.count("WATCHDOG=1", WATCHDOG * 4);
    assert_eq!(late, 0, "a hung UI thread still fed the watchdog");
    assert!(
        std::path::Path::new(&format!("/proc/{kiosk}")).exists(),
        "the kiosk died instead of hanging"
    );
    // The watchdog's kill: the next start counts a restart after a death.
    signal(kiosk, libc::SIGKILL);
    drop(cage);
    let mut cage = CageKiosk::start(&fx.config_path, &runtime, &notify.path, WATCHDOG, 1).unwrap();
    cage.expect_ready(&notify, Duration::from_secs(60)).unwrap();
    assert_eq!(outbox.process_runs("kiosk-app").unwrap(), Some(runs(3, 1)));
    let addr = metrics_address(&cage.log()).unwrap();
    let body = http_get(&addr, "/metrics").unwrap();
    assert_eq!(
        sample(&body, "madoguchi_kiosk_process_unclean_restarts_total"),
        Some(1.0),
        "{body}"
    );
    drop(cage);
}

#[test]
fn counter_sync_says_ready_feeds_the_watchdog_and_counts_restarts() {
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let notify = NotifySocket::bind(&fx.dir).unwrap();
    let start = || {
        std::process::Command::new(binary("counter-sync").unwrap())
            .arg("--config")
            .arg(&fx.config_path)
            .arg("run")
            .env("NOTIFY_SOCKET", &notify.path)
            .env("WATCHDOG_USEC", WATCHDOG.as_micros().to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut sync = start();
    let ready = notify.expect("READY=1", Duration::from_secs(30)).unwrap();
    assert!(
        ready.contains("STATUS=delivering to 2 municipalities"),
        "{ready}"
    );
    assert!(notify.count("WATCHDOG=1", WATCHDOG * 3) >= 4);
    signal(sync.id() as i32, libc::SIGTERM);
    notify
        .expect("STOPPING=1", Duration::from_secs(10))
        .unwrap();
    assert!(sync.wait().unwrap().success());
    let outbox = Outbox::attach(&fx.config.sync.outbox.path).unwrap();
    assert_eq!(
        outbox.process_runs("counter-sync").unwrap(),
        Some(runs(1, 0))
    );

    // Killed (a crash, the watchdog): the next start is counted as a restart after a death,
    // and the metrics say so.
    let mut sync = start();
    notify.expect("READY=1", Duration::from_secs(30)).unwrap();
    sync.kill().unwrap();
    sync.wait().unwrap();
    let mut sync = start();
    notify.expect("READY=1", Duration::from_secs(30)).unwrap();
    assert_eq!(
        outbox.process_runs("counter-sync").unwrap(),
        Some(runs(3, 1))
    );
    sync.kill().unwrap();
    sync.wait().unwrap();
}

#[test]
fn linuxkms_without_a_display_device_ends_at_once_saying_why() {
    assert!(
        !std::path::Path::new("/dev/dri").exists(),
        "this test is for machines without a GPU"
    );
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let kiosk = binary("kiosk-app").unwrap();
    std::env::set_var("SLINT_BACKEND", "linuxkms");
    let out = run_cli_within(&kiosk, &fx.config_path, &[], Duration::from_secs(30))
        .expect("kiosk-app must end, not wait for a display");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("LinuxKMS backend found no DRM/KMS device"),
        "{}",
        out.stderr
    );
}
