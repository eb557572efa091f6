//! A network printer configured by a host name that does not resolve. The lookup is bounded
//! (the system resolver has no timeout of its own), so the resident sees the receipt number
//! and "The printer is not connected" within the print deadline, the receipt is on the
//! reprint list, and `kioskctl printer test` gives up within the deadline too. One `#[test]`:
//! Slint's event loop runs once per process.

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
fn unresolvable_printer_host_ends_on_the_receipt_screen() {
    ensure_pcscd().expect("pcscd with vpcd");
    let ctl = binary("kioskctl").unwrap();
    let _card_slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let fx = Fixture::new(FixtureOptions {
        // `.invalid` never resolves (RFC 6761).
        printer_connection: Some("tcp://receipt-printer.invalid:9100".into()),
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
    eprintln!("unresolvable host: done screen after {:?}", seen.took);
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
        "unresolvable host: kioskctl printer test gave up after {:?}",
        started.elapsed()
    );
    assert_eq!(test.code, 1, "{}", test.stderr);
    assert!(
        test.stderr.contains("receipt-printer.invalid"),
        "{}",
        test.stderr
    );
}
