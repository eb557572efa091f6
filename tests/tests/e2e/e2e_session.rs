//! End to end: the virtual card through pcscd → a resident session driven through the Slint
//! UI under its testing backend → the SQLite outbox → counter-sync → the reference backend,
//! plus the receipt bytes on the virtual printer. One `#[test]`: Slint's event loop can be
//! started once per process.

use kiosk_app::receipt::decode::decode;
use kiosk_app::ui::generated::{self as ui, Application, PinPad, Receipt, Screen, Session, Sex};
use kiosk_app::ui::{start_session, AppWindow};
use madoguchi_tests::driver::{init_headless, Script};
use madoguchi_tests::harness::{
    ensure_pcscd, personal_data_in, personal_data_needles, wait_until, FileLock, Fixture,
    FixtureOptions,
};
use madoguchi_tests::vcard::{CardModel, Holder};
use slint::ComponentHandle;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

#[test]
fn resident_session_reaches_the_municipality_and_the_printer() {
    ensure_pcscd().expect("pcscd with vpcd");
    let _card_slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let _sync = fx.start_counter_sync();
    let card = fx.card(CardModel::default());

    init_headless();
    let app = AppWindow::new().unwrap();
    app.window().set_size(slint::PhysicalSize::new(1080, 1920));
    let _session = start_session(&app, &fx.config).unwrap();

    let receipt = Rc::new(RefCell::new(String::new()));
    let seen_receipt = receipt.clone();
    let insert = card.clone();
    let remove = card.clone();
    let slow = fx.printer.clone();
    Script::new()
        .screen(Screen::Welcome)
        .click("English")
        .wait("English UI", Duration::from_secs(5), |app| {
            app.global::<Session>().get_language() == "en"
        })
        .click("Start")
        .screen(Screen::InsertCard)
        .act("insert the card", move |_| {
            insert.insert().map_err(|e| e.to_string())
        })
        .screen(Screen::Pin)
        .wait("tries shown before entry", Duration::from_secs(5), |app| {
            app.global::<PinPad>().get_tries_left() == 3
        })
        .clicks(&["1", "2", "3", "4", "OK"])
        .screen(Screen::Confirm)
        .wait("holder as on the card", Duration::from_secs(1), |app| {
            app.global::<ui::Holder>().get_name() == "山田　太郎"
                && app.global::<ui::Holder>().get_address()
                    == "埼玉県入間郡毛呂山町中央２丁目１番地"
                && app.global::<ui::Holder>().get_sex() == Sex::Male
        })
        .click("Yes, continue")
        .screen(Screen::Municipality)
        .wait("routed to Moroyama", Duration::from_secs(1), |app| {
            app.global::<Application>().get_municipality_name() == "Moroyama Town"
        })
        .click("Next")
        .juminhyo_in_english(1)
        .act(
            "a printer slower than the session's clock tick",
            move |_| {
                slow.state.lock().unwrap().slow = Duration::from_millis(700);
                Ok(())
            },
        )
        .click("Submit")
        .screen(Screen::Done)
        .wait("printed", Duration::from_secs(10), |app| {
            app.global::<Receipt>().get_printed()
        })
        .fits_the_window()
        .note_receipt(seen_receipt)
        .finish_and_take(remove)
        .wait(
            "personal data gone from the UI",
            Duration::from_secs(1),
            |app| app.global::<ui::Holder>().get_name().is_empty(),
        )
        .run(&app)
        .unwrap();

    let receipt = receipt.borrow().clone();
    assert!(receipt.starts_with("K01-"), "{receipt}");

    // The municipality received and opened exactly this application.
    let moroyama = &fx.municipality("113263").backend;
    wait_until(
        Duration::from_secs(20),
        "the backend has the application",
        || !moroyama.received().is_empty(),
    )
    .unwrap();
    let got = moroyama.received();
    assert_eq!(got.len(), 1);
    let app_recv = &got[0];
    assert_eq!(app_recv.envelope.receipt_number, receipt);
    assert_eq!(app_recv.envelope.procedure_code, "juminhyo-copy");
    assert_eq!(app_recv.envelope.kiosk_id, "K01");
    assert_eq!(app_recv.content.applicant.name, "山田　太郎");
    assert_eq!(
        app_recv.content.applicant.address,
        "埼玉県入間郡毛呂山町中央２丁目１番地"
    );
    assert_eq!(app_recv.content.applicant.birth_date, "1980-02-17");
    assert_eq!(app_recv.content.applicant.sex, "1");
    assert_eq!(app_recv.content.language, "en");
    let answers: Vec<(String, String)> = app_recv
        .content
        .answers
        .iter()
        .map(|a| (a.question.clone(), a.value.clone()))
        .collect();
    assert_eq!(
        answers,
        [
            ("scope", "self"),
            ("detail", "standard"),
            ("copies", "2"),
            ("delivery", "counter")
        ]
        .map(|(q, v)| (q.to_string(), v.to_string()))
    );
    assert!(
        fx.municipality("113271").backend.received().is_empty(),
        "nothing goes to the other municipality"
    );

    // The printed bytes carry the receipt number and the QR payload.
    let jobs = fx.printer.jobs();
    assert_eq!(jobs.len(), 1);
    let printed = decode(&jobs[0]).unwrap();
    assert!(
        printed.text_lines().contains(&receipt),
        "{:?}",
        printed.text_lines()
    );
    assert_eq!(printed.qr_payloads(), vec![receipt.clone()]);
    assert_eq!(printed.cuts(), 1);
    assert!(
        !printed
            .text_lines()
            .iter()
            .any(|l| l.contains("山田") || l.contains("中央")),
        "no personal data on the receipt"
    );

    // The outbox recorded delivery and print, and dropped the sealed payload.
    let outbox = counter_core::outbox::Outbox::open(&fx.config.sync.outbox.path).unwrap();
    wait_until(Duration::from_secs(5), "delivery recorded", || {
        outbox
            .get(&receipt)
            .map(|r| r.state == counter_core::outbox::State::Delivered)
            .unwrap_or(false)
    })
    .unwrap();
    let row = outbox.get(&receipt).unwrap();
    assert!(
        row.printed,
        "the confirmation is recorded even when clock ticks came first"
    );
    assert!(!row.has_payload);
    assert_eq!(
        row.municipality_reference.as_deref(),
        Some(app_recv.reference.as_str())
    );

    // No plaintext personal data anywhere in the database files (WAL included).
    let needles = personal_data_needles(&Holder::default());
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", fx.config.sync.outbox.path.display());
        if let Ok(bytes) = std::fs::read(&path) {
            let found = personal_data_in(&bytes, &needles);
            assert!(found.is_empty(), "{found:?} found in {path}");
        }
    }
}
