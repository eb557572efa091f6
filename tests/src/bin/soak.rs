//! Memory soak: SESSIONS scripted resident sessions in one kiosk process (the real UI under
//! Slint's testing backend, the virtual card through pcscd, the virtual printer, counter-sync
//! delivering to the reference backends), and this process's PSS after WARMUP sessions, every
//! 1,000 sessions and at the end. The drift is the end minus the warm-up figure. Not a test:
//! a 10,000-session run takes hours. Usage: `soak SESSIONS [WARMUP]` (release code with symbols,
//! counter-sync beside it: `cargo build --profile profiling -p madoguchi-tests --bin soak`,
//! `cargo build --profile profiling -p counter-sync`, then `target/profiling/soak 10000 200`).

use kiosk_app::ui::generated::Screen;
use kiosk_app::ui::{start_session, AppWindow};
use madoguchi_tests::driver::{init_headless, Script};
use madoguchi_tests::harness::{ensure_pcscd, wait_until, Fixture, FixtureOptions};
use madoguchi_tests::vcard::CardModel;
use slint::ComponentHandle;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// This process's proportional set size, KiB.
fn pss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/smaps_rollup")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Pss:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let sessions: usize = args.next().map_or(Ok(1000), |a| a.parse())?;
    let warmup: usize = args.next().map_or(Ok(100), |a| a.parse())?.min(sessions);
    // A pcscd and vpcd ports of this process's own: the soak can run beside the test suite.
    ensure_pcscd()?;
    let fx = Fixture::new(FixtureOptions::default())?;
    let _sync = fx.start_counter_sync();
    let card = fx.card(CardModel::default());
    init_headless();
    let app = AppWindow::new()?;
    app.window().set_size(slint::PhysicalSize::new(1080, 1920));
    let _session = start_session(&app, &fx.config)?;

    // The simulators run in this process and keep every APDU, receipt and request for the
    // tests to inspect: cleared after each session, so that what grows is the kiosk's own.
    let (printer, backends) = (
        fx.printer.state.clone(),
        fx.municipalities
            .iter()
            .map(|m| m.backend.store.clone())
            .collect::<Vec<_>>(),
    );
    let model = card.model.clone();
    let outbox = fx.config.sync.outbox.path.clone();
    let forget = move || {
        // Only once counter-sync has delivered everything: no request is in flight then.
        let ob = counter_core::outbox::Outbox::attach(&outbox).map_err(|e| e.to_string())?;
        wait_until(Duration::from_secs(30), "everything delivered", || {
            ob.counts(&[]).is_ok_and(|c| {
                c.iter()
                    .all(|c| c.count == 0 || c.state == counter_core::outbox::State::Delivered)
            })
        })
        .map_err(|e| e.to_string())?;
        printer.lock().unwrap().jobs.clear();
        for b in &backends {
            let mut s = b.lock().unwrap();
            s.exchanges.clear();
            s.raw_keys.clear();
            s.bodies_by_key.clear();
            s.received.clear();
            s.order.clear();
        }
        let mut m = model.lock().unwrap();
        m.log.clear();
        m.sw_log.clear();
        Ok::<(), String>(())
    };
    let marks: Rc<RefCell<Vec<(usize, u64)>>> = Rc::default();
    let started = Instant::now();
    let m = marks.clone();
    Script::new()
        .screen(Screen::Welcome)
        .repeat(move |i| {
            if i == warmup || (i > 0 && i % 1000 == 0) || i == sessions {
                let pss = pss_kib();
                m.borrow_mut().push((i, pss));
                println!(
                    "sessions {i:>6}  PSS {:>7.1} MB  ({:.0} s)",
                    pss as f64 / 1024.0,
                    started.elapsed().as_secs_f64()
                );
            }
            (i < sessions).then(|| {
                let forget = forget.clone();
                Script::new()
                    .submit_juminhyo(card.clone())
                    .screen(Screen::Done)
                    .finish_and_take(card.clone())
                    .act("forget the simulators' history", move |_| forget())
            })
        })
        .run(&app)
        .map_err(anyhow::Error::msg)?;
    let marks = marks.borrow();
    let at = |n: usize| marks.iter().find(|(i, _)| *i == n).map(|(_, p)| *p);
    if let (Some(w), Some(e)) = (at(warmup), at(sessions)) {
        println!(
            "drift over sessions {warmup}..{sessions}: {:+.2} MB (PSS {:.1} → {:.1} MB), {:.0} s",
            (e as f64 - w as f64) / 1024.0,
            w as f64 / 1024.0,
            e as f64 / 1024.0,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
