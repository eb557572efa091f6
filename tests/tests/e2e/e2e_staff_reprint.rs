//! A receipt that could not be printed is not lost: the printer is out of paper during a
//! resident's session, so the done screen shows the receipt on screen and the outbox keeps it
//! on the reprint list. `kioskctl printer unconfirmed` lists it, `kioskctl printer reprint`
//! refuses while the paper is still out, and once paper is back, staff open staff mode on the
//! touchscreen (wrong PIN first), see the receipt and reprint it; the printer gets a 再発行
//! receipt with the same number and QR, and the outbox marks it printed. One `#[test]`: Slint's
//! event loop runs once per process.

use kiosk_app::receipt::decode::decode;
use kiosk_app::ui::generated::{
    PinPad, PrintProblem, PrinterState, Receipt, ReprintResult, Screen, Staff,
};
use kiosk_app::ui::{start_session, AppWindow};
use madoguchi_tests::driver::{init_headless, Script};
use madoguchi_tests::harness::{
    binary, ensure_pcscd, run_cli, CliOutput, FileLock, Fixture, FixtureOptions, STAFF_PIN,
};
use madoguchi_tests::vcard::CardModel;
use madoguchi_tests::vprinter::Mode;
use slint::{ComponentHandle, Model};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

#[test]
fn unprinted_receipt_is_reprinted_from_kioskctl_and_staff_mode() {
    ensure_pcscd().expect("pcscd with vpcd");
    let ctl = binary("kioskctl").unwrap();
    let _card_slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let card = fx.card(CardModel::default());
    fx.printer.set_mode(Mode::PaperOut);

    init_headless();
    let app = AppWindow::new().unwrap();
    app.window().set_size(slint::PhysicalSize::new(1080, 1920));
    let _session = start_session(&app, &fx.config).unwrap();

    let receipt = Rc::new(RefCell::new(String::new()));
    let (insert, remove) = (card.clone(), card.clone());
    let (seen, r1, r2, r3, r4) = (
        receipt.clone(),
        receipt.clone(),
        receipt.clone(),
        receipt.clone(),
        receipt.clone(),
    );
    let (cfg1, cfg2, ctl1, ctl2) = (
        fx.config_path.clone(),
        fx.config_path.clone(),
        ctl.clone(),
        ctl.clone(),
    );
    let printer = fx.printer.clone();
    Script::new()
        .screen(Screen::Welcome)
        .click("English")
        .click("Start")
        .act("insert the card", move |_| {
            insert.insert().map_err(|e| e.to_string())
        })
        .screen(Screen::Pin)
        .clicks(&["1", "2", "3", "4", "OK"])
        .screen(Screen::Confirm)
        .click("Yes, continue")
        .screen(Screen::Municipality)
        .click("Next")
        .juminhyo_in_english(0)
        .click("Submit")
        .screen(Screen::Done)
        .wait(
            "shown on screen: paper out",
            Duration::from_secs(10),
            |app| {
                !app.global::<Receipt>().get_printed()
                    && app.global::<Receipt>().get_problem() == PrintProblem::PaperOut
            },
        )
        .note_receipt(seen)
        .finish_and_take(remove)
        .act(
            "kioskctl lists it, and cannot reprint without paper",
            move |_| {
                let number = r1.borrow().clone();
                let CliOutput {
                    code,
                    json: v,
                    stderr: err,
                } = run_cli(&ctl1, &cfg1, &["printer", "unconfirmed", "--json"], None);
                let list = v["unconfirmed"].as_array().cloned().unwrap_or_default();
                if code != 0
                    || list.len() != 1
                    || list[0]["receipt_number"] != number.as_str()
                    || list[0]["problem"] != "paper-out"
                {
                    return Err(format!("unconfirmed: {code} {v} {err}"));
                }
                let CliOutput { code, json: v, .. } = run_cli(
                    &ctl1,
                    &cfg1,
                    &["printer", "reprint", &number, "--json"],
                    None,
                );
                if code != 1 || v["error"]["code"] != "paper-out" {
                    return Err(format!("reprint without paper: {code} {v}"));
                }
                let CliOutput { code, json: v, .. } = run_cli(
                    &ctl1,
                    &cfg1,
                    &["printer", "reprint", "K01-000000-0000", "--json"],
                    None,
                );
                if code != 1 || v["error"]["code"] != "not-found" {
                    return Err(format!("reprint of an unknown receipt: {code} {v}"));
                }
                Ok(())
            },
        )
        .act("paper is back", move |_| {
            printer.set_mode(Mode::Ready);
            Ok(())
        })
        // Staff mode: a wrong PIN first, then the right one.
        .click("係員")
        .screen(Screen::StaffPin)
        .digits("000000")
        .click("確定")
        .wait("wrong staff PIN said", Duration::from_secs(10), |app| {
            app.global::<PinPad>().get_wrong()
        })
        .digits(STAFF_PIN)
        .click("確定")
        .screen(Screen::Staff)
        .wait(
            "the receipt is on the reprint list",
            Duration::from_secs(10),
            move |app| {
                let s = app.global::<Staff>();
                let rows: Vec<_> = s.get_receipts().iter().collect();
                s.get_printer_state() == PrinterState::Ready
                    && rows.len() == 1
                    && rows[0].number == r2.borrow().as_str()
                    && rows[0].problem == PrintProblem::PaperOut
                    && rows[0].municipality == "毛呂山町"
            },
        )
        .act("reprint it", move |app| {
            madoguchi_tests::driver::click(app, &format!("再印刷 {}", r3.borrow()))
        })
        .wait(
            "reprinted and off the list",
            Duration::from_secs(10),
            |app| {
                let s = app.global::<Staff>();
                s.get_last_result() == ReprintResult::Reprinted && s.get_receipts().row_count() == 0
            },
        )
        .click("戻る")
        .screen(Screen::Welcome)
        .act(
            "a lost receipt can be reprinted again from kioskctl",
            move |_| {
                let number = r4.borrow().clone();
                let CliOutput {
                    code,
                    json: v,
                    stderr: err,
                } = run_cli(
                    &ctl2,
                    &cfg2,
                    &["printer", "reprint", &number, "--json"],
                    None,
                );
                if code != 0 || v["ok"] != true {
                    return Err(format!("reprint: {code} {v} {err}"));
                }
                Ok(())
            },
        )
        .run(&app)
        .unwrap();

    let number = receipt.borrow().clone();
    let jobs = fx.printer.jobs();
    assert_eq!(jobs.len(), 2, "nothing printed while the paper was out");
    for job in &jobs {
        let d = decode(job).unwrap();
        let text = d.text_lines();
        assert!(text.contains(&number), "{text:?}");
        assert!(
            text.contains(&"【再発行】 / Reissued".to_string()),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|l| l.contains("Copy of") || l.contains("residence")),
            "English session: {text:?}"
        );
        assert_eq!(d.qr_payloads(), vec![number.clone()]);
        assert!(!text.iter().any(|l| l.contains("山田")), "no personal data");
    }
    let outbox = counter_core::outbox::Outbox::open(&fx.config.sync.outbox.path).unwrap();
    let row = outbox.get(&number).unwrap();
    assert!(row.printed && row.print_problem.is_none());
    assert_eq!(row.receipt_lang, "en");
    assert!(outbox.unprinted().unwrap().is_empty());
}
