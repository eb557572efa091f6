//! Two network printers that fail a resident. One accepts the connection and then never reads
//! or answers: the resident sees the receipt number and "The printer is not connected" within
//! the print deadline. One has automatic status back left on (and ignores `GS a`), and its
//! paper runs out during the job: its status packets must not pass for the job's confirmation,
//! so the resident is told the receipt may not have been printed. Both receipts stay on the
//! reprint list, and `kioskctl printer test` against the hung printer gives up within the
//! deadline. One `#[test]`: Slint's event loop runs once per process.

use kiosk_app::ui::generated::PrintProblem;
use kiosk_app::ui::{start_session, AppWindow};
use madoguchi_tests::driver::{init_headless, Script, Unprinted};
use madoguchi_tests::harness::{
    binary, ensure_pcscd, run_cli_within, FileLock, Fixture, FixtureOptions,
};
use madoguchi_tests::vcard::CardModel;
use madoguchi_tests::vprinter::Mode;
use slint::ComponentHandle;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// `printer.timeout_ms` here, and how long anything may take: the timeout, the 2 s margin of
/// the print deadline, and slack for a loaded machine.
const TIMEOUT_MS: u64 = 1500;
const PATIENCE: Duration = Duration::from_millis(TIMEOUT_MS + 2000 + 2500);

#[test]
fn hung_printer_and_asb_packets_end_on_the_receipt_screen_unconfirmed() {
    ensure_pcscd().expect("pcscd with vpcd");
    let ctl = binary("kioskctl").unwrap();
    let _card_slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let fx = Fixture::new(FixtureOptions {
        printer_timeout_ms: TIMEOUT_MS,
        ..Default::default()
    })
    .unwrap();
    let card = fx.card(CardModel::default());
    fx.printer.set_mode(Mode::Deaf);

    init_headless();
    let app = AppWindow::new().unwrap();
    app.window().set_size(slint::PhysicalSize::new(1080, 1920));
    let _session = start_session(&app, &fx.config).unwrap();

    let (hung, asb) = (
        Rc::new(RefCell::new(Unprinted::default())),
        Rc::new(RefCell::new(Unprinted::default())),
    );
    let printer = fx.printer.clone();
    Script::new()
        .submit_juminhyo(card.clone())
        .receipt_not_printed(PATIENCE, hung.clone())
        .finish_and_take(card.clone())
        .act(
            "a printer with ASB on that runs out of paper mid-job",
            move |_| {
                printer.set_mode(Mode::Ready);
                let mut s = printer.state.lock().unwrap();
                s.asb = true;
                s.asb_ignores_gs_a = true;
                s.paper_runs_out_in_next_job = true;
                Ok(())
            },
        )
        .submit_juminhyo(card.clone())
        .receipt_not_printed(PATIENCE, asb.clone())
        .finish_and_take(card)
        .run(&app)
        .unwrap();
    let (hung, asb) = (hung.borrow().clone(), asb.borrow().clone());
    eprintln!(
        "TCP printer that never reads: done screen after {:?}",
        hung.took
    );
    eprintln!(
        "ASB packets, paper out mid-job: done screen after {:?}",
        asb.took
    );
    assert_eq!(
        hung.problem,
        PrintProblem::Offline,
        "a printer that never answers"
    );
    assert_eq!(asb.problem, PrintProblem::Unconfirmed);
    {
        let s = fx.printer.state.lock().unwrap();
        assert!(s.asb_sent >= 2, "the printer did send ASB packets");
        assert!(s.jobs.is_empty(), "nothing was printed");
    }

    let unconfirmed = run_cli_within(
        &ctl,
        &fx.config_path,
        &["printer", "unconfirmed", "--json"],
        PATIENCE,
    )
    .expect("kioskctl printer unconfirmed ends");
    let list = unconfirmed.json["unconfirmed"].as_array().cloned().unwrap();
    let problems: Vec<(&str, &str)> = list
        .iter()
        .map(|r| {
            (
                r["receipt_number"].as_str().unwrap_or(""),
                r["problem"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        problems,
        vec![
            (hung.receipt.as_str(), "offline"),
            (asb.receipt.as_str(), "unconfirmed")
        ]
    );

    fx.printer.set_mode(Mode::Deaf);
    let started = std::time::Instant::now();
    let test = run_cli_within(&ctl, &fx.config_path, &["printer", "test"], PATIENCE)
        .expect("kioskctl printer test gives up within the deadline");
    eprintln!(
        "TCP printer that never reads: kioskctl printer test gave up after {:?}",
        started.elapsed()
    );
    assert_eq!(test.code, 1, "{}", test.stderr);
}
