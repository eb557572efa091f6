//! A submit on a full disk: the outbox lives on a 1 MiB tmpfs that the test fills. The
//! resident is told the application could not be saved and is offered staff; nothing is
//! half-written and nothing is printed; once there is room again, the next resident's
//! application is saved and printed as usual.

use counter_core::outbox::Outbox;
use kiosk_app::ui::generated::{ErrorCode, Screen, Session};
use kiosk_app::ui::{start_session, AppWindow};
use madoguchi_tests::driver::{init_headless, Script};
use madoguchi_tests::harness::{ensure_pcscd, FileLock, Fixture, FixtureOptions};
use madoguchi_tests::vcard::CardModel;
use slint::ComponentHandle;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A size-limited tmpfs mounted for the test's life.
struct SmallFs(PathBuf);

impl SmallFs {
    fn mount(dir: &Path, size: &str) -> Self {
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs (the test needs root)");
        SmallFs(dir.to_owned())
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the filesystem is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let block = [0x55u8; 4096];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
}

#[test]
fn a_submit_on_a_full_disk_fails_cleanly_and_the_kiosk_recovers() {
    ensure_pcscd().unwrap();
    let _slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let small = tmp.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let _fs = SmallFs::mount(&small, "1m");
    let fx = Fixture::new(FixtureOptions {
        dir: Some(small.clone()),
        ..Default::default()
    })
    .unwrap();
    let card = fx.card(CardModel::default());

    init_headless();
    let app = AppWindow::new().unwrap();
    app.window().set_size(slint::PhysicalSize::new(1080, 1920));
    let _session = start_session(&app, &fx.config).unwrap();
    let filler = small.join("filler");
    let (fill_card, first, second, printer) =
        (card.clone(), card.clone(), card.clone(), fx.printer.clone());
    let outbox_path = fx.config.sync.outbox.path.clone();
    let free = filler.clone();
    Script::new()
        .screen(Screen::Welcome)
        .act("fill the disk", move |_| {
            fill(&filler);
            Ok(())
        })
        .submit_juminhyo(first)
        .screen(Screen::Error)
        .wait(
            "why: the application was not saved",
            Duration::from_secs(1),
            |app| app.global::<Session>().get_error_code() == ErrorCode::OutboxError,
        )
        .shown("Call staff")
        .act("nothing half-written, nothing printed", move |_| {
            let ob = Outbox::attach(&outbox_path).map_err(|e| e.to_string())?;
            let rows = ob.list().map_err(|e| e.to_string())?;
            let integrity = ob.integrity_check().map_err(|e| e.to_string())?;
            if !rows.is_empty() || integrity != "ok" {
                return Err(format!("{} rows, integrity {integrity}", rows.len()));
            }
            if !printer.jobs().is_empty() {
                return Err("a receipt was printed for an application that was not saved".into());
            }
            Ok(())
        })
        .click("Finish")
        .screen(Screen::TakeCard)
        .act("take the card", move |_| {
            fill_card.remove();
            Ok(())
        })
        .screen(Screen::Welcome)
        .act("room again", move |_| {
            std::fs::remove_file(&free).map_err(|e| e.to_string())
        })
        .submit_juminhyo(second)
        .screen(Screen::Done)
        .run(&app)
        .unwrap();
    let ob = Outbox::attach(&fx.config.sync.outbox.path).unwrap();
    assert_eq!(ob.list().unwrap().len(), 1);
    assert_eq!(ob.integrity_check().unwrap(), "ok");
}
