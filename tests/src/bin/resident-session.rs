//! One resident's whole session in a process of its own, so that a test can read this
//! process's memory as an attacker would (`/proc/PID/mem`): the kiosk (session thread, card
//! service, Slint UI under the testing backend, printing) runs here; the virtual card and
//! printer stay in the test. Where the test must act (insert or take the card, read memory
//! while the holder is on screen, read it again once the session is over), this process
//! writes a line to stdout and waits for `ok` on stdin.

use kiosk_app::config::KioskConfig;
use kiosk_app::ui::generated::{Holder, Receipt, Screen};
use kiosk_app::ui::{start_session, AppWindow};
use madoguchi_tests::driver::{init_headless, Script};
use slint::ComponentHandle;
use std::io::{BufRead, Write};
use std::time::Duration;

/// Tells the test `what` and waits for its `ok`.
fn ask(what: &str) -> Result<(), String> {
    println!("{what}");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    match line.trim() {
        "ok" => Ok(()),
        other => Err(format!("the test answered {other:?} to {what}")),
    }
}

fn main() -> anyhow::Result<()> {
    // As the kiosk does; the test reads this process's memory with CAP_SYS_PTRACE.
    counter_core::memory::forbid_dumps()?;
    let config = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: resident-session KIOSK.TOML"))?;
    let cfg = KioskConfig::load(std::path::Path::new(&config))?;
    init_headless();
    let app = AppWindow::new()?;
    app.window().set_size(slint::PhysicalSize::new(1080, 1920));
    let _session = start_session(&app, &cfg)?;
    Script::new()
        // A resident who reads their data on the confirmation screen and walks away with
        // the card: little happens between the card read and the end of the session.
        .to_confirm(|_| ask("insert-card"))
        .wait("the holder on screen", Duration::from_secs(5), |app| {
            !app.global::<Holder>().get_address().is_empty()
        })
        .act("memory read with the holder on screen", |_| {
            ask("holder-shown")
        })
        .act("take the card", |_| ask("take-card"))
        .screen(Screen::CardRemoved)
        .wait(
            "the holder gone from the UI",
            Duration::from_secs(5),
            holder_gone,
        )
        .act("memory read after the session", |_| ask("session-over"))
        .click("OK")
        // The next resident goes all the way: submitted, printed, card taken.
        .to_confirm(|_| ask("insert-card"))
        .confirm_and_submit_juminhyo()
        .screen(Screen::Done)
        .wait("printed", Duration::from_secs(10), |app| {
            app.global::<Receipt>().get_printed()
        })
        .click("Finish")
        .screen(Screen::TakeCard)
        .act("take the card", |_| ask("take-card"))
        .screen(Screen::Welcome)
        .wait(
            "the holder gone from the UI",
            Duration::from_secs(5),
            holder_gone,
        )
        .act("memory read after the session", |_| ask("session-over"))
        .run(&app)
        .map_err(anyhow::Error::msg)
}

fn holder_gone(app: &AppWindow) -> bool {
    app.global::<Holder>().get_name().is_empty() && app.global::<Holder>().get_address().is_empty()
}
