//! The kiosk demo on simulated devices: pcscd with the vpcd reader and a virtual My Number
//! card, the virtual ESC/POS printer, two reference municipality backends, counter-sync as its
//! own process, and the kiosk. With a display the kiosk opens as a window for you to use; without
//! one a scripted resident runs through every screen headlessly and each screen is saved as PNG.

use anyhow::Context;
use clap::Parser;
use kiosk_app::ui::generated::{
    PinPad, PrintProblem, Receipt, ReprintResult, Screen, Session, Staff,
};
use kiosk_app::ui::{start_session, AppWindow};
use madoguchi_tests::driver::{init_headless, Script};
use madoguchi_tests::harness::{
    ensure_pcscd, wait_until, FileLock, Fixture, FixtureOptions, STAFF_PIN,
};
use madoguchi_tests::vcard::CardModel;
use madoguchi_tests::vprinter::Mode;
use slint::{ComponentHandle, Model};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "madoguchi-demo",
    about = "Madoguchi kiosk demo on simulated devices"
)]
struct Cli {
    /// Folder for the configuration, database, screenshots and receipts of this run.
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    /// Run the scripted session even when a display is available.
    #[arg(long)]
    headless: bool,
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let p = exe.parent().context("no parent dir")?.join(name);
    anyhow::ensure!(
        p.exists(),
        "{} not found: build the workspace first (cargo build --workspace)",
        p.display()
    );
    Ok(p)
}

fn main() -> anyhow::Result<()> {
    kiosk_app::init_logging();
    let cli = Cli::parse();
    let headless = cli.headless || std::env::var_os("DISPLAY").is_none();
    let out = std::path::absolute(&cli.out)?;
    if out.join("run").exists() {
        std::fs::remove_dir_all(out.join("run"))?;
    }
    ensure_pcscd()?;
    // The demo's own pcscd (its vpcd port is the process's own); the lock keeps one
    // simulated card session at a time on this machine, as in the tests.
    let _slot = FileLock::acquire("madoguchi-vcard.lock")?;
    let fx = Fixture::new(FixtureOptions {
        dir: Some(out.join("run")),
        idle_warning_secs: if headless { 4 } else { 45 },
        idle_countdown_secs: if headless { 10 } else { 15 },
        printer_out: Some(out.join("receipts")),
        fixed_ports: true,
        ..Default::default()
    })?;
    let _sync = Kill(
        Command::new(sibling("counter-sync")?)
            .args(["--config"])
            .arg(&fx.config_path)
            .arg("run")
            .spawn()
            .context("cannot start counter-sync")?,
    );
    let card = fx.card(CardModel::default());
    println!("\n  Virtual My Number card: 山田　太郎, 埼玉県入間郡毛呂山町中央２丁目１番地");
    println!("  PIN (券面事項入力補助用暗証番号): 1234");
    println!("  Staff PIN (the 係員 button on the welcome screen): {STAFF_PIN}\n");
    println!(
        "  Printer:   {}  (receipts rendered to {})",
        fx.printer.connection(),
        out.join("receipts").display()
    );
    for m in &fx.municipalities {
        println!(
            "  Backend:   {} {} at {}",
            m.code,
            m.name_ja,
            m.backend.url()
        );
    }
    println!("  Config:    {}\n", fx.config_path.display());

    if !headless {
        card.insert()?;
        println!("  The card is inserted. Use the kiosk window; close it to end the demo.\n");
        let status = Command::new(sibling("kiosk-app")?)
            .arg("--config")
            .arg(&fx.config_path)
            .status()?;
        println!("kiosk-app exited: {status}");
        return Ok(());
    }

    let shots = out.join("screens");
    std::fs::create_dir_all(&shots)?;
    init_headless();
    let app = AppWindow::new()?;
    app.window().set_size(slint::PhysicalSize::new(1080, 1920));
    let _session = start_session(&app, &fx.config)?;
    let [c1, c2, c3, c4, c5, c6, c7, c8] = std::array::from_fn(|_| card.clone());
    let [e1, e2, e3, e4, e5, e6] = std::array::from_fn(|_| card.clone());
    let (slow_printer, fast_printer, paper_printer, staff_printer) = (
        fx.printer.clone(),
        fx.printer.clone(),
        fx.printer.clone(),
        fx.printer.clone(),
    );
    let resize = |w: u32, h: u32| {
        move |app: &AppWindow| {
            app.window().set_size(slint::PhysicalSize::new(w, h));
            Ok(())
        }
    };
    let script = Script::new()
        .screenshots(&shots)
        // Japanese session, every step.
        .screen(Screen::Welcome)
        .shot("01-welcome-ja")
        .act("1920x1080", resize(1920, 1080))
        .shot("01-welcome-ja-1920x1080")
        .act("1280x800", resize(1280, 800))
        .shot("01-welcome-ja-1280x800")
        .act("1080x1920", resize(1080, 1920))
        .click("はじめる")
        .screen(Screen::InsertCard)
        .shot("02-insert-card-ja")
        .act("insert the card", move |_| {
            c1.insert().map_err(|e| e.to_string())
        })
        .screen(Screen::Pin)
        .clicks(&["9", "9"])
        .shot("03-pin-ja")
        .act("1920x1080", resize(1920, 1080))
        .shot("03-pin-ja-1920x1080")
        .act("1280x800", resize(1280, 800))
        .shot("03-pin-ja-1280x800")
        .act("1080x1920", resize(1080, 1920))
        .clicks(&["9", "9", "確定"])
        .wait("wrong PIN", Duration::from_secs(5), |app| {
            app.global::<PinPad>().get_wrong()
        })
        .shot("03-pin-wrong-ja")
        .clicks(&["9", "9", "9", "9", "確定"])
        .screen(Screen::PinLastTry)
        .shot("03-pin-last-try-ja")
        .click("職員を呼ぶ")
        .wait("staff overlay", Duration::from_secs(2), |app| {
            app.global::<Session>().get_staff_called()
        })
        .shot("13-staff-call-ja")
        .click("閉じる")
        .click("わかりました。入力します")
        .screen(Screen::Pin)
        .clicks(&["1", "2", "3", "4", "確定"])
        .screen(Screen::Confirm)
        .shot("04-confirm-ja")
        .wait("idle countdown", Duration::from_secs(10), |app| {
            app.global::<Session>().get_idle_warning()
        })
        .shot("14-idle-countdown-ja")
        .click("続ける")
        .click("はい、次へ")
        .screen(Screen::Municipality)
        .shot("05-municipality-ja")
        .click("次へ")
        .screen(Screen::Procedures)
        .shot("06-procedures-ja")
        .click("転出届")
        .screen(Screen::Question)
        .clicks(&["日 +", "日 +"])
        .shot("07-question-date-ja")
        .click("次へ")
        .click("世帯全員")
        .shot("08-question-choice-ja")
        .click("次へ")
        .clicks(&["数 +", "数 +"])
        .shot("09-question-number-ja")
        .act("1920x1080", resize(1920, 1080))
        .shot("09-question-number-ja-1920x1080")
        .act("1280x800", resize(1280, 800))
        .shot("09-question-number-ja-1280x800")
        .act("1080x1920", resize(1080, 1920))
        .click("次へ")
        .click("埼玉県外")
        .click("次へ")
        .screen(Screen::Review)
        .shot("10-review-ja")
        .act("a slow printer, to see the submitting screen", move |_| {
            slow_printer.state.lock().unwrap().slow = Duration::from_secs(2);
            Ok(())
        })
        .click("申請する")
        .screen(Screen::Submitting)
        .shot("10-submitting-ja")
        .screen(Screen::Done)
        .wait("printed", Duration::from_secs(10), |app| {
            app.global::<Receipt>().get_printed()
        })
        .shot("11-done-ja")
        .act("printer back to normal speed", move |_| {
            fast_printer.state.lock().unwrap().slow = Duration::ZERO;
            Ok(())
        })
        .click("終了")
        .screen(Screen::TakeCard)
        .shot("12-take-card-ja")
        .act("take the card", move |_| {
            c2.remove();
            Ok(())
        })
        .screen(Screen::Welcome)
        // English session: wrong PINs, staff call, idle countdown, a printer out of paper.
        .click("English")
        .wait("English", Duration::from_secs(2), |app| {
            app.global::<Session>().get_language() == "en"
        })
        .shot("01-welcome-en")
        .click("Start")
        .screen(Screen::InsertCard)
        .shot("02-insert-card-en")
        .act("insert the card", move |_| {
            c3.insert().map_err(|e| e.to_string())
        })
        .screen(Screen::Pin)
        .click("English")
        .shot("03-pin-en")
        .clicks(&["9", "9", "9", "9", "OK"])
        .wait("wrong PIN", Duration::from_secs(5), |app| {
            app.global::<PinPad>().get_wrong()
        })
        .shot("03-pin-wrong-en")
        .clicks(&["9", "9", "9", "9", "OK"])
        .screen(Screen::PinLastTry)
        .shot("03-pin-last-try-en")
        .click("Call staff")
        .wait("staff overlay", Duration::from_secs(2), |app| {
            app.global::<Session>().get_staff_called()
        })
        .shot("13-staff-call-en")
        .click("Close")
        .click("I understand, enter PIN")
        .screen(Screen::Pin)
        .clicks(&["1", "2", "3", "4", "OK"])
        .screen(Screen::Confirm)
        .shot("04-confirm-en")
        .wait("idle countdown", Duration::from_secs(10), |app| {
            app.global::<Session>().get_idle_warning()
        })
        .shot("14-idle-countdown-en")
        .click("Continue")
        .click("Yes, continue")
        .screen(Screen::Municipality)
        .shot("05-municipality-en")
        .click("Next")
        .screen(Screen::Procedures)
        .shot("06-procedures-en")
        .click("Request a seal registration certificate (印鑑登録証明書)")
        .screen(Screen::Question)
        .shot("09-question-number-en")
        .click("Next")
        .click("Vehicle registration")
        .shot("08-question-choice-en")
        .click("Next")
        .screen(Screen::Review)
        .shot("10-review-en")
        .click("Submit")
        .screen(Screen::Done)
        .wait("printed", Duration::from_secs(10), |app| {
            app.global::<Receipt>().get_printed()
        })
        .shot("11-done-en")
        .click("Finish")
        .screen(Screen::TakeCard)
        .shot("12-take-card-en")
        .act("take the card", move |_| {
            c4.remove();
            Ok(())
        })
        .screen(Screen::Welcome)
        // The printer runs out of paper: the receipt is shown on screen and staff are alerted.
        .click("English")
        .act("insert the card", move |_| {
            c7.insert().map_err(|e| e.to_string())
        })
        .screen(Screen::Pin)
        .clicks(&["1", "2", "3", "4", "OK"])
        .screen(Screen::Confirm)
        .clicks(&["Yes, continue", "Next"])
        .screen(Screen::Procedures)
        .click("Request a seal registration certificate (印鑑登録証明書)")
        .screen(Screen::Question)
        .clicks(&["Next", "Inheritance", "Next"])
        .screen(Screen::Review)
        .act("printer runs out of paper", move |_| {
            paper_printer.set_mode(Mode::PaperOut);
            Ok(())
        })
        .click("Submit")
        .screen(Screen::Done)
        .wait("on-screen receipt", Duration::from_secs(10), |app| {
            app.global::<Receipt>().get_problem() == PrintProblem::PaperOut
        })
        .shot("15-error-printer-out-of-paper-en")
        .click("Finish")
        .screen(Screen::TakeCard)
        .act("take the card", move |_| {
            c8.remove();
            Ok(())
        })
        .screen(Screen::Welcome)
        // Staff put paper in and reprint that receipt from staff mode.
        .act("paper is back", move |_| {
            staff_printer.set_mode(Mode::Ready);
            Ok(())
        })
        .click("係員")
        .screen(Screen::StaffPin)
        .digits(STAFF_PIN)
        .shot("20-staff-pin-ja")
        .click("確定")
        .screen(Screen::Staff)
        .wait("the reprint list", Duration::from_secs(10), |app| {
            app.global::<Staff>().get_receipts().row_count() == 1
        })
        .shot("21-staff-reprint-list-ja")
        .act("reprint", |app| {
            let number = app
                .global::<Staff>()
                .get_receipts()
                .row_data(0)
                .map(|r| r.number)
                .unwrap_or_default();
            madoguchi_tests::driver::click(app, &format!("再印刷 {number}"))
        })
        .wait("reprinted", Duration::from_secs(10), |app| {
            app.global::<Staff>().get_last_result() == ReprintResult::Reprinted
        })
        .shot("22-staff-reprinted-ja")
        .click("戻る")
        .screen(Screen::Welcome)
        // Card pulled out mid-session.
        .click("English")
        .act("insert the card", move |_| {
            c5.insert().map_err(|e| e.to_string())
        })
        .screen(Screen::Pin)
        .act("pull the card out", move |_| {
            c6.remove();
            Ok(())
        })
        .screen(Screen::CardRemoved)
        .shot("16-card-removed-en")
        .screen(Screen::Welcome)
        // A resident of a municipality that does not take part.
        .act("a Sakado resident's card", move |_| {
            e1.with(|m| m.holder.address = "埼玉県坂戸市千代田一丁目１番１号".into());
            e1.insert().map_err(|e| e.to_string())
        })
        .screen(Screen::Pin)
        .clicks(&["1", "2", "3", "4", "確定"])
        .screen(Screen::Confirm)
        .click("はい、次へ")
        .screen(Screen::NotParticipating)
        .shot("17-not-participating-ja")
        .act("take the card", move |_| {
            e2.remove();
            Ok(())
        })
        .screen(Screen::CardRemoved)
        .shot("16-card-removed-ja")
        .click("OK")
        .screen(Screen::Welcome)
        // An old 住基カード.
        .act("a Juki card", move |_| {
            e3.with(|m| m.token_label = "JPKIAPICCTOKEN".into());
            e3.insert().map_err(|e| e.to_string())
        })
        .screen(Screen::Error)
        .shot("18-error-juki-card-ja")
        .act("take it out", move |_| {
            e4.remove();
            e4.with(|m| {
                m.token_label = "JPKIAPICCTOKEN2".into();
                m.text_tries = 0;
            });
            Ok(())
        })
        .screen(Screen::CardRemoved)
        .click("OK")
        .screen(Screen::Welcome)
        // A card whose PIN is locked.
        .act("a locked card", move |_| {
            e5.insert().map_err(|e| e.to_string())
        })
        .screen(Screen::PinLocked)
        .shot("19-pin-locked-ja")
        .act("take it out", move |_| {
            e6.remove();
            Ok(())
        })
        .screen(Screen::CardRemoved);
    script.run(&app).map_err(|e| anyhow::anyhow!(e))?;

    // Both applications reach their municipality through counter-sync.
    let moroyama = &fx.municipality("113263").backend;
    wait_until(
        Duration::from_secs(30),
        "counter-sync delivered the three applications",
        || moroyama.received().len() == 3,
    )?;
    println!("Delivered to 113263 毛呂山町:");
    for r in moroyama.received() {
        println!(
            "  {}  {}  ({} answers, sealed payload opened by the municipality)",
            r.envelope.receipt_number,
            r.envelope.procedure_code,
            r.content.answers.len()
        );
    }
    // A counter whose configured name holds characters outside JIS X 0208 (髙, 﨑, 𠮷): the
    // line is printed as a raster image, on 58 mm paper, through the same printer.
    fx.printer.set_mode(Mode::Ready);
    fx.printer.state.lock().unwrap().paper_mm = 58;
    let job = kiosk_app::session::ReceiptJob {
        receipt_number: "K02-261122-0001".into(),
        submitted_at: counter_core::hours::japan_now(),
        lang: kiosk_app::domain::Lang::JA,
        municipality_ja: "毛呂山町".into(),
        municipality_local: "毛呂山町".into(),
        procedure_ja: "住民票の写しの交付申請".into(),
        procedure_local: "住民票の写しの交付申請".into(),
        processing_from: None,
        reissue: false,
    };
    let ctx = kiosk_app::receipt::layout::ReceiptContext {
        counter_name: "髙﨑・𠮷田 出張窓口".into(),
        paper_mm: 58,
    };
    let bytes = kiosk_app::receipt::layout::receipt_bytes(&job, &ctx)?;
    kiosk_app::receipt::printer::print(
        &fx.printer.connection().parse()?,
        &bytes,
        Duration::from_secs(3),
    )
    .map_err(|e| anyhow::anyhow!("the 外字 receipt: {e}"))?;
    println!("\nScreens:  {}", shots.display());
    println!("Receipts: {}", out.join("receipts").display());
    Ok(())
}
