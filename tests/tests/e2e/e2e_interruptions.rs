//! The session ends safely when the resident leaves: card removal mid-session wipes it, an
//! idle kiosk counts down and returns to the welcome screen, a wrong PIN shows the tries left
//! and the last try needs a separate confirmation. Nothing reaches the outbox in any of them,
//! not even the application that was complete on the review screen when the card left.

use kiosk_app::ui::generated::{Holder, PinPad, Screen, Session};
use kiosk_app::ui::{start_session, AppWindow};
use madoguchi_tests::driver::{init_headless, Script};
use madoguchi_tests::harness::{ensure_pcscd, FileLock, Fixture, FixtureOptions};
use madoguchi_tests::vcard::CardModel;
use slint::ComponentHandle;
use std::time::Duration;

#[test]
fn removal_idle_and_wrong_pin_wipe_the_session() {
    ensure_pcscd().expect("pcscd with vpcd");
    let _card_slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    // Short idle times so the test does not wait 60 s: 2 s without a touch, then 2 s countdown.
    let fx = Fixture::new(FixtureOptions {
        idle_warning_secs: 2,
        idle_countdown_secs: 2,
        ..Default::default()
    })
    .unwrap();
    let card = fx.card(CardModel::default());

    init_headless();
    let app = AppWindow::new().unwrap();
    app.window().set_size(slint::PhysicalSize::new(1080, 1920));
    let _session = start_session(&app, &fx.config).unwrap();

    let (c1, c2, c3, c4, c5) = (
        card.clone(),
        card.clone(),
        card.clone(),
        card.clone(),
        card.clone(),
    );
    Script::new()
        // 1. Card pulled out on the review screen, the application complete but not yet
        //    submitted: wiped, told, back to welcome, and nothing submitted.
        .screen(Screen::Welcome)
        .click("English")
        .click("Start")
        .screen(Screen::InsertCard)
        .act("insert", move |_| c1.insert().map_err(|e| e.to_string()))
        .screen(Screen::Pin)
        .clicks(&["1", "2", "3", "4", "OK"])
        .screen(Screen::Confirm)
        .wait("identity shown", Duration::from_secs(1), |app| {
            !app.global::<Holder>().get_name().is_empty()
        })
        .click("Yes, continue")
        .screen(Screen::Municipality)
        .click("Next")
        .juminhyo_in_english(0)
        .act("pull the card out", move |_| {
            c2.remove();
            Ok(())
        })
        .screen(Screen::CardRemoved)
        .wait(
            "identity wiped from the UI",
            Duration::from_secs(1),
            move |app| {
                app.global::<Holder>().get_name().is_empty()
                    && app.global::<Holder>().get_address().is_empty()
            },
        )
        .screen(Screen::Welcome) // after card_removed_secs
        // 2. Idle: countdown appears, then the session is wiped.
        .wait(
            "language reset for the next resident",
            Duration::from_secs(1),
            |app| app.global::<Session>().get_language() == "ja",
        )
        .click("English")
        .act("insert again", move |_| {
            c3.insert().map_err(|e| e.to_string())
        })
        .screen(Screen::Pin)
        .clicks(&["5", "6"])
        .wait("idle countdown shown", Duration::from_secs(5), |app| {
            app.global::<Session>().get_idle_warning()
                && app.global::<Session>().get_idle_seconds_left() > 0
        })
        // Taps, not accessibility actions: the overlay's own touch area must take them.
        // A tap on the keypad under the overlay is swallowed; "Continue" is reached by touch.
        .tap("2")
        .tap("Continue")
        .wait(
            "countdown dismissed by a touch",
            Duration::from_secs(1),
            |app| !app.global::<Session>().get_idle_warning(),
        )
        .wait(
            "the keypad under the overlay took nothing (the intents are handled in order)",
            Duration::from_secs(1),
            |app| app.global::<PinPad>().get_length() == 2,
        )
        .wait("idle countdown again", Duration::from_secs(5), |app| {
            app.global::<Session>().get_idle_warning()
        })
        .screen(Screen::Welcome)
        .wait("PIN digits wiped", Duration::from_secs(1), |app| {
            app.global::<PinPad>().get_length() == 0 && !app.global::<Session>().get_idle_warning()
        })
        // 3. Wrong PIN twice: tries shown, then the separate last-try screen.
        .click("English")
        .click("Start")
        .screen(Screen::Pin)
        .clicks(&["9", "9", "9", "9", "OK"])
        .wait("wrong PIN, 2 left", Duration::from_secs(5), |app| {
            app.global::<PinPad>().get_wrong() && app.global::<PinPad>().get_tries_left() == 2
        })
        .clicks(&["9", "9", "9", "9", "OK"])
        .screen(Screen::PinLastTry)
        .click("I understand, enter PIN")
        .screen(Screen::Pin)
        .wait("1 try left shown", Duration::from_secs(1), |app| {
            app.global::<PinPad>().get_tries_left() == 1
        })
        .clicks(&["1", "2", "3", "4", "OK"])
        .screen(Screen::Confirm)
        .act("take the card", move |_| {
            c4.remove();
            Ok(())
        })
        .screen(Screen::CardRemoved)
        .run(&app)
        .unwrap();

    c5.with(|m| {
        assert_eq!(m.text_tries, 3, "a correct PIN restores the counter");
        assert_eq!(m.auth_tries, 3, "the JPKI PIN was never tried");
        let verifies_with_data = m
            .log
            .iter()
            .filter(|a| a.len() > 4 && a[..4] == [0x00, 0x20, 0x00, 0x80])
            .count();
        assert_eq!(
            verifies_with_data, 4,
            "one VERIFY per submitted PIN, never an automatic retry"
        );
        assert_eq!(
            m.my_number_accesses(),
            Vec::<Vec<u8>>::new(),
            "the My Number EF is never touched (any SELECT of it, any read by SFI)"
        );
    });
    // The first resident's application was complete on the review screen when the card
    // left; neither that nor the later interruptions submitted anything.
    let outbox = counter_core::outbox::Outbox::open(&fx.config.sync.outbox.path).unwrap();
    assert!(outbox.list().unwrap().is_empty(), "nothing was submitted");
}
