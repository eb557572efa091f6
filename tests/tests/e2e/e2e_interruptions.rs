//! The session ends safely when the resident leaves: card removal mid-session wipes it, an
//! idle kiosk counts down and returns to the welcome screen, a wrong PIN shows the tries left
//! and the last try needs a separate confirmation. Nothing reaches the outbox in any of them,
//! not even the application that was complete on the review screen when the card left.
//! One scenario per test, each on a kiosk of its own.

use kiosk_app::ui::generated::{Holder, PinPad, Screen, Session};
use kiosk_app::ui::{start_session, AppWindow};
use madoguchi_tests::driver::{init_headless, Script};
use madoguchi_tests::harness::{ensure_pcscd, FileLock, Fixture, FixtureOptions};
use madoguchi_tests::vcard::{CardModel, VirtualCard};
use slint::ComponentHandle;
use std::time::Duration;

/// A kiosk with short idle times (2 s without a touch, then a 2 s countdown) and a card.
struct Kiosk {
    fx: Fixture,
    card: VirtualCard,
    app: AppWindow,
    _session: kiosk_app::runner::SessionHandle,
    _card_slot: FileLock,
}

fn kiosk() -> Kiosk {
    ensure_pcscd().expect("pcscd with vpcd");
    let card_slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
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
    let session = start_session(&app, &fx.config).unwrap();
    Kiosk {
        fx,
        card,
        app,
        _session: session,
        _card_slot: card_slot,
    }
}

/// From the welcome screen to the PIN keypad in English, the card inserted when asked.
fn to_pin_in_english(card: VirtualCard) -> Script {
    Script::new()
        .screen(Screen::Welcome)
        .click("English")
        .click("Start")
        .screen(Screen::InsertCard)
        .act("insert", move |_| card.insert().map_err(|e| e.to_string()))
        .screen(Screen::Pin)
}

impl Kiosk {
    /// VERIFY commands with PIN data the card has seen.
    fn verifies_with_data(&self) -> usize {
        self.card.with(|m| {
            m.log
                .iter()
                .filter(|a| a.len() > 4 && a[..4] == [0x00, 0x20, 0x00, 0x80])
                .count()
        })
    }

    /// What holds after every interruption: nothing submitted, the My Number never touched.
    fn assert_nothing_sent_and_no_my_number(&self) {
        self.card.with(|m| {
            assert_eq!(
                m.my_number_accesses(),
                Vec::<Vec<u8>>::new(),
                "the My Number EF is never touched (any SELECT of it, any read by SFI)"
            );
        });
        let outbox = counter_core::outbox::Outbox::open(&self.fx.config.sync.outbox.path).unwrap();
        assert!(outbox.list().unwrap().is_empty(), "nothing was submitted");
    }
}

/// Card pulled out on the review screen, the application complete but not yet submitted:
/// wiped, told, back to welcome in the default language, and nothing submitted.
#[test]
fn card_pulled_out_on_the_review_screen_wipes_the_session_and_sends_nothing() {
    let k = kiosk();
    let (c1, c2) = (k.card.clone(), k.card.clone());
    to_pin_in_english(c1)
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
        .wait(
            "language reset for the next resident",
            Duration::from_secs(1),
            |app| app.global::<Session>().get_language() == "ja",
        )
        .run(&k.app)
        .unwrap();
    assert_eq!(k.verifies_with_data(), 1, "one VERIFY for the one PIN");
    k.assert_nothing_sent_and_no_my_number();
}

/// Idle on the PIN screen: the countdown appears, a touch on it dismisses it (and only it),
/// then left alone the session is wiped with the digits typed.
#[test]
fn idle_countdown_is_dismissed_by_a_touch_and_then_wipes_the_session() {
    let k = kiosk();
    let c = k.card.clone();
    Script::new()
        .screen(Screen::Welcome)
        .click("English")
        .act("insert", move |_| c.insert().map_err(|e| e.to_string()))
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
        .run(&k.app)
        .unwrap();
    assert_eq!(k.verifies_with_data(), 0, "no PIN was sent");
    k.assert_nothing_sent_and_no_my_number();
}

/// Wrong PIN twice: the tries left are shown, then the separate last-try screen; the right
/// PIN then restores the counter, with one VERIFY per PIN sent and never a retry.
#[test]
fn wrong_pins_show_the_tries_left_and_the_last_try_is_confirmed_apart() {
    let k = kiosk();
    let (c1, c2) = (k.card.clone(), k.card.clone());
    to_pin_in_english(c1)
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
            c2.remove();
            Ok(())
        })
        .screen(Screen::CardRemoved)
        .run(&k.app)
        .unwrap();
    k.card.with(|m| {
        assert_eq!(m.text_tries, 3, "a correct PIN restores the counter");
        assert_eq!(m.auth_tries, 3, "the JPKI PIN was never tried");
    });
    assert_eq!(
        k.verifies_with_data(),
        3,
        "one VERIFY per submitted PIN, never an automatic retry"
    );
    k.assert_nothing_sent_and_no_my_number();
}
