//! Five wrong staff PINs typed on the real UI lock staff mode: the lock is shown, written to
//! disk at once (so a power cycle keeps it), and still shown when staff mode is left and
//! entered again. The runner checks each PIN against the Argon2id hash in the config.

use kiosk_app::session::STAFF_PIN_LEN;
use kiosk_app::ui::generated::{PinPad, Screen, Staff};
use kiosk_app::ui::{start_session, AppWindow};
use madoguchi_tests::driver::{init_headless, Script};
use madoguchi_tests::harness::{ensure_pcscd, Fixture, FixtureOptions};
use slint::ComponentHandle;
use std::time::Duration;

#[test]
fn five_wrong_staff_pins_on_the_ui_lock_staff_mode() {
    ensure_pcscd().expect("pcscd with vpcd");
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    init_headless();
    let app = AppWindow::new().unwrap();
    app.window().set_size(slint::PhysicalSize::new(1080, 1920));
    let _session = start_session(&app, &fx.config).unwrap();
    let lockout_file = kiosk_app::staff_lockout::path_for(&fx.config.sync.outbox.path);

    let mut script = Script::new()
        .screen(Screen::Welcome)
        .click("係員")
        .screen(Screen::StaffPin);
    for attempt in 1..=5 {
        script = script
            .digits("000000")
            .wait("all six digits taken", Duration::from_secs(5), |app| {
                app.global::<PinPad>().get_length() == STAFF_PIN_LEN as i32
            })
            .click("確定")
            .wait(
                &format!("wrong staff PIN {attempt} said"),
                Duration::from_secs(10),
                |app| {
                    app.global::<PinPad>().get_wrong() && app.global::<PinPad>().get_length() == 0
                },
            );
    }
    let file = lockout_file.clone();
    script
        .wait("locked shown", Duration::from_secs(5), |app| {
            app.global::<Staff>().get_locked()
        })
        .act("the lock is on disk", move |_| {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let saved = kiosk_app::staff_lockout::load(&file, now);
            match saved.locked_until {
                Some(until) if until > now + 240 => Ok(()),
                other => Err(format!("saved lockout: {other:?}")),
            }
        })
        .click("戻る")
        .screen(Screen::Welcome)
        .click("係員")
        .screen(Screen::StaffPin)
        .wait(
            "still locked after leaving and coming back",
            Duration::from_secs(5),
            |app| app.global::<Staff>().get_locked(),
        )
        .run(&app)
        .unwrap();
}
