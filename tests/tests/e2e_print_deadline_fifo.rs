//! A write-only printer on a named pipe that nothing reads (the spooler is stopped): opening
//! it used to wait for a reader forever, leaving the resident on "Submitting". Now the resident
//! sees the receipt number and "The printer is not connected" within the print deadline, the
//! receipt is on the reprint list, and `kioskctl printer test` gives up just as fast. One
//! `#[test]`: Slint's event loop runs once per process.

use kiosk_app::ui::{start_session, AppWindow};
use madoguchi_tests::driver::{init_headless, Script, Unprinted};
use madoguchi_tests::harness::{
    binary, ensure_pcscd, run_cli_within, FileLock, Fixture, FixtureOptions,
};
use madoguchi_tests::vcard::CardModel;
use slint::ComponentHandle;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// `printer.timeout_ms` here, and how long anything may take: the timeout, the 2 s margin of
/// the print deadline, and slack for a loaded machine.
const TIMEOUT_MS: u64 = 1500;
const PATIENCE: Duration = Duration::from_millis(TIMEOUT_MS + 2000 + 2500);

#[test]
fn fifo_printer_without_reader_ends_on_the_receipt_screen() {
    ensure_pcscd().expect("pcscd with vpcd");
    let ctl = binary("kioskctl").unwrap();
    let _card_slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let pipe_dir = tempfile::tempdir().unwrap();
    let fifo = pipe_dir.path().join("printer.fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let fx = Fixture::new(FixtureOptions {
        printer_connection: Some(format!("file:{}", fifo.display())),
        printer_timeout_ms: TIMEOUT_MS,
        ..Default::default()
    })
    .unwrap();
    let card = fx.card(CardModel::default());

    init_headless();
    let app = AppWindow::new().unwrap();
    app.window().set_size(slint::PhysicalSize::new(1080, 1920));
    let _session = start_session(&app, &fx.config).unwrap();

    let seen = Rc::new(RefCell::new(Unprinted::default()));
    Script::new()
        .submit_juminhyo(card.clone())
        .receipt_not_printed(PATIENCE, seen.clone())
        .finish_and_take(card)
        .run(&app)
        .unwrap();
    let seen = seen.borrow().clone();
    eprintln!("FIFO without reader: done screen after {:?}", seen.took);
    assert_eq!(
        seen.problem, "offline",
        "told: the printer is not connected"
    );

    let unconfirmed = run_cli_within(
        &ctl,
        &fx.config_path,
        &["printer", "unconfirmed", "--json"],
        PATIENCE,
    )
    .expect("kioskctl printer unconfirmed ends");
    let list = unconfirmed.json["unconfirmed"].as_array().cloned().unwrap();
    assert_eq!(list.len(), 1, "{}", unconfirmed.json);
    assert_eq!(list[0]["receipt_number"], seen.receipt.as_str());
    assert_eq!(list[0]["problem"], "offline");

    let started = std::time::Instant::now();
    let test = run_cli_within(&ctl, &fx.config_path, &["printer", "test"], PATIENCE)
        .expect("kioskctl printer test gives up within the deadline");
    eprintln!(
        "FIFO without reader: kioskctl printer test gave up after {:?}",
        started.elapsed()
    );
    assert_eq!(test.code, 1, "{}", test.stderr);
    assert!(test.stderr.contains("not connected"), "{}", test.stderr);
}
