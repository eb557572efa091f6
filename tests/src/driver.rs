//! Drives the real Slint UI under the testing backend: waits for screens, clicks elements by
//! their accessible label, and takes screenshots. Used by the end-to-end tests and the
//! headless demo.

use i_slint_backend_testing::ElementHandle;
use kiosk_app::ui::generated::{PrintProblem, Receipt, Screen, Session};
use kiosk_app::ui::AppWindow;
use slint::ComponentHandle;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Installs Slint's testing backend with the software renderer and a real event loop.
/// Once per process, before any window exists.
pub fn init_headless() {
    slint::platform::set_platform(Box::new(i_slint_backend_testing::TestingBackend::new(
        i_slint_backend_testing::TestingBackendOptions {
            mock_time: false,
            threading: true,
            renderer_name: Some("software".into()),
        },
    )))
    .expect("Slint platform set once");
}

type Check = Box<dyn FnMut(&AppWindow) -> bool>;
type Action = Box<dyn FnMut(&AppWindow) -> Result<(), String>>;

pub enum Step {
    /// Wait until a condition holds (checked after every event-loop turn).
    Wait {
        what: String,
        check: Check,
        patience: Duration,
    },
    Act {
        what: String,
        action: Action,
    },
    /// Asks `next` for more steps each time it is reached (the n-th time with n), runs them,
    /// then asks again, until it answers `None`: long runs without building every step first.
    Repeat {
        next: Next,
        round: usize,
    },
}

type Next = Box<dyn FnMut(usize) -> Option<Script>>;

/// What the done screen showed of a receipt that was not printed, and how long it took to
/// show it.
#[derive(Debug, Default, Clone)]
pub struct Unprinted {
    pub receipt: String,
    pub problem: PrintProblem,
    pub took: Duration,
}

/// A scripted resident.
#[derive(Default)]
pub struct Script {
    steps: Vec<Step>,
    shots: Option<PathBuf>,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    /// Where `shot` writes PNGs (no screenshots without it).
    pub fn screenshots(mut self, dir: &Path) -> Self {
        self.shots = Some(dir.to_owned());
        self
    }

    /// Waits for screen `s`, then checks that it fits the window.
    pub fn screen(self, s: Screen) -> Self {
        self.wait(
            &format!("screen {s:?}"),
            Duration::from_secs(20),
            move |app| app.global::<Session>().get_screen() == s,
        )
        .fits_the_window()
    }

    pub fn wait(
        mut self,
        what: &str,
        patience: Duration,
        check: impl FnMut(&AppWindow) -> bool + 'static,
    ) -> Self {
        self.steps.push(Step::Wait {
            what: what.into(),
            check: Box::new(check),
            patience,
        });
        self
    }

    /// Runs the script `next(0)`, then `next(1)`, … until `next` answers `None`.
    pub fn repeat(mut self, next: impl FnMut(usize) -> Option<Script> + 'static) -> Self {
        self.steps.push(Step::Repeat {
            next: Box::new(next),
            round: 0,
        });
        self
    }

    pub fn act(
        mut self,
        what: &str,
        action: impl FnMut(&AppWindow) -> Result<(), String> + 'static,
    ) -> Self {
        self.steps.push(Step::Act {
            what: what.into(),
            action: Box::new(action),
        });
        self
    }

    /// Presses the element whose accessible label is `label`.
    /// The session applies intents on its own thread and the UI shows the result a moment
    /// later, so an element the previous step brings on screen (or enables: "Next" once an
    /// answer is chosen) may not be there yet: waits for it, as a resident would, then presses
    /// it. Pressing a disabled button does nothing, so waiting for it to exist is not enough.
    pub fn click(self, label: &str) -> Self {
        let l = label.to_owned();
        self.shown(label)
            .act(&format!("click {label:?}"), move |app| click(app, &l))
    }

    /// Taps the element labelled `label` with a finger once it is on screen: see [`tap`].
    pub fn tap(self, label: &str) -> Self {
        let l = label.to_owned();
        self.shown(label)
            .act(&format!("tap {label:?}"), move |app| tap(app, &l))
    }

    /// Waits until an enabled element labelled `label` is on screen.
    pub fn shown(self, label: &str) -> Self {
        let l = label.to_owned();
        self.wait(
            &format!("an enabled element labelled {label:?}"),
            Duration::from_secs(10),
            move |app| enabled(app, &l).is_some(),
        )
    }

    pub fn clicks(mut self, labels: &[&str]) -> Self {
        for l in labels {
            self = self.click(l);
        }
        self
    }

    /// Presses one keypad key per digit of `digits`.
    pub fn digits(mut self, digits: &str) -> Self {
        for d in digits.chars() {
            self = self.click(&d.to_string());
        }
        self
    }

    /// From the procedure list to the review screen, in English: a copy of the residence
    /// certificate for the resident alone, standard detail, collected at the town office;
    /// `copies` presses of "Number +" on the number of copies.
    pub fn juminhyo_in_english(self, copies_plus: usize) -> Self {
        let mut s = self
            .screen(Screen::Procedures)
            .click("Request a copy of your residence certificate (住民票)")
            .screen(Screen::Question)
            .clicks(&[
                "Only me",
                "Next",
                "Standard (without head of household and relationship)",
                "Next",
            ]);
        for _ in 0..copies_plus {
            s = s.click("Number +");
        }
        s.clicks(&["Next", "Collect it at the town office", "Next"])
            .screen(Screen::Review)
    }

    /// Keeps the receipt number of the done screen in `into`.
    pub fn note_receipt(self, into: Rc<RefCell<String>>) -> Self {
        self.act("note the receipt number", move |app| {
            *into.borrow_mut() = app.global::<Receipt>().get_number().to_string();
            Ok(())
        })
    }

    /// "Finish" on the done screen, then the resident takes the card.
    pub fn finish_and_take(self, card: crate::vcard::VirtualCard) -> Self {
        self.click("Finish")
            .screen(Screen::TakeCard)
            .act("take the card", move |_| {
                card.remove();
                Ok(())
            })
            .screen(Screen::Welcome)
    }

    /// From the welcome screen to the confirmation screen: in English, `insert` puts the card
    /// in, PIN 1234.
    pub fn to_confirm(
        self,
        insert: impl FnMut(&AppWindow) -> Result<(), String> + 'static,
    ) -> Self {
        self.screen(Screen::Welcome)
            .click("English")
            .click("Start")
            .act("insert the card", insert)
            .screen(Screen::Pin)
            .clicks(&["1", "2", "3", "4", "OK"])
            .screen(Screen::Confirm)
    }

    /// From the confirmation screen to pressing "Submit": a copy of the residence certificate.
    pub fn confirm_and_submit_juminhyo(self) -> Self {
        self.click("Yes, continue")
            .screen(Screen::Municipality)
            .click("Next")
            .juminhyo_in_english(0)
            .click("Submit")
    }

    /// From the welcome screen to pressing "Submit": in English, with the card and PIN 1234,
    /// a copy of the residence certificate.
    pub fn submit_juminhyo(self, card: crate::vcard::VirtualCard) -> Self {
        self.to_confirm(move |_| card.insert().map_err(|e| e.to_string()))
            .confirm_and_submit_juminhyo()
    }

    /// The done screen within `patience` of the previous step, saying that the receipt was not
    /// printed and why (with the staff notice), its number on screen; notes what it showed.
    pub fn receipt_not_printed(self, patience: Duration, into: Rc<RefCell<Unprinted>>) -> Self {
        let start: Rc<RefCell<Option<Instant>>> = Rc::default();
        let s = start.clone();
        self.act("start the clock", move |_| {
            *s.borrow_mut() = Some(Instant::now());
            Ok(())
        })
        .wait(
            "the done screen: receipt number shown, not printed, and why",
            patience,
            move |app| {
                let shown = app.global::<Session>().get_screen() == Screen::Done
                    && !app.global::<Receipt>().get_printed()
                    && app.global::<Receipt>().get_problem() != PrintProblem::None
                    && !app.global::<Receipt>().get_number().is_empty();
                if shown {
                    *into.borrow_mut() = Unprinted {
                        receipt: app.global::<Receipt>().get_number().into(),
                        problem: app.global::<Receipt>().get_problem(),
                        took: start.borrow().map(|t| t.elapsed()).unwrap_or_default(),
                    };
                }
                shown
            },
        )
        .fits_the_window()
    }

    /// Checks that everything on screen with a label (every text and button) lies within the
    /// window's width: nothing a resident must read is cut off at the edge.
    pub fn fits_the_window(self) -> Self {
        self.act("everything labelled fits the window", |app| {
            let cut = cut_off(app);
            if cut.is_empty() {
                Ok(())
            } else {
                Err(format!("cut off at the window's edge: {cut:?}"))
            }
        })
    }

    pub fn shot(self, name: &str) -> Self {
        let Some(dir) = self.shots.clone() else {
            return self;
        };
        let path = dir.join(format!("{name}.png"));
        self.act(&format!("screenshot {name}"), move |app| {
            screenshot(app, &path)
        })
    }

    /// Runs the script on the event loop; returns the first failure.
    pub fn run(self, app: &AppWindow) -> Result<(), String> {
        let steps: Rc<RefCell<VecDeque<Step>>> = Rc::new(RefCell::new(self.steps.into()));
        let result: Rc<RefCell<Option<Result<(), String>>>> = Rc::new(RefCell::new(None));
        let started: Rc<RefCell<Option<Instant>>> = Rc::new(RefCell::new(None));
        let timer = slint::Timer::default();
        let weak = app.as_weak();
        let (s, r, st) = (steps.clone(), result.clone(), started.clone());
        timer.start(
            slint::TimerMode::Repeated,
            Duration::from_millis(15),
            move || {
                let Some(app) = weak.upgrade() else { return };
                let finish = |res: Result<(), String>| {
                    *r.borrow_mut() = Some(res);
                    let _ = slint::quit_event_loop();
                };
                if r.borrow().is_some() {
                    return;
                }
                loop {
                    let mut steps = s.borrow_mut();
                    let Some(step) = steps.front_mut() else {
                        return finish(Ok(()));
                    };
                    match step {
                        Step::Act { what, action } => {
                            if let Err(e) = action(&app) {
                                return finish(Err(format!("{what}: {e}")));
                            }
                            steps.pop_front();
                            *st.borrow_mut() = None;
                            return; // let the UI react before the next step
                        }
                        Step::Repeat { next, round } => {
                            let more = next(*round);
                            *round += 1;
                            match more {
                                Some(script) => {
                                    for step in script.steps.into_iter().rev() {
                                        steps.push_front(step);
                                    }
                                }
                                None => {
                                    steps.pop_front();
                                }
                            }
                            continue;
                        }
                        Step::Wait {
                            what,
                            check,
                            patience,
                        } => {
                            let since = *st.borrow_mut().get_or_insert_with(Instant::now);
                            if check(&app) {
                                steps.pop_front();
                                *st.borrow_mut() = None;
                                continue;
                            }
                            if since.elapsed() > *patience {
                                let screen = app.global::<Session>().get_screen();
                                return finish(Err(format!(
                                    "timed out waiting for {what} (screen is {screen:?}; buttons: {:?})",
                                    button_labels(&app)
                                )));
                            }
                            return;
                        }
                    }
                }
            },
        );
        app.show().map_err(|e| e.to_string())?;
        slint::run_event_loop().map_err(|e| e.to_string())?;
        drop(timer);
        let res = result.borrow_mut().take();
        res.unwrap_or_else(|| Err("event loop ended before the script".into()))
    }
}

pub fn click(app: &AppWindow, label: &str) -> Result<(), String> {
    let Some(e) = enabled(app, label) else {
        return Err(format!(
            "no enabled element labelled {label:?} on screen {:?}; buttons: {:?}",
            app.global::<Session>().get_screen(),
            button_labels(app)
        ));
    };
    e.invoke_accessible_default_action();
    Ok(())
}

/// The first enabled button labelled `label`. Only buttons: the text inside a button carries
/// the same label (for screen readers) and, having no enabled state of its own, would pass for
/// an enabled element while its button is still disabled.
fn enabled(app: &AppWindow, label: &str) -> Option<ElementHandle> {
    ElementHandle::find_by_accessible_label(app, label).find(|e| {
        e.accessible_role() == Some(i_slint_backend_testing::AccessibleRole::Button)
            && e.accessible_enabled() != Some(false)
    })
}

/// The labels of the buttons on screen, each once, for failure messages.
fn button_labels(app: &AppWindow) -> Vec<String> {
    let mut all: Vec<String> = i_slint_backend_testing::ElementQuery::from_root(app)
        .match_descendants()
        .match_accessible_role(i_slint_backend_testing::AccessibleRole::Button)
        .find_all()
        .into_iter()
        .filter_map(|e| e.accessible_label().map(|s| s.to_string()))
        .collect();
    all.sort();
    all.dedup();
    all
}

/// The labels of elements that reach past the window's left or right edge.
pub fn cut_off(app: &AppWindow) -> Vec<String> {
    let window = app.window().size().to_logical(app.window().scale_factor());
    i_slint_backend_testing::ElementQuery::from_root(app)
        .match_descendants()
        .match_predicate(|e| e.accessible_label().is_some_and(|l| !l.is_empty()))
        .find_all()
        .into_iter()
        .filter(|e| {
            let (pos, size) = (e.absolute_position(), e.size());
            pos.x < -0.5 || pos.x + size.width > window.width + 0.5
        })
        .map(|e| e.accessible_label().unwrap_or_default().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Presses where the element labelled `label` is, the way a finger does: pointer press and
/// release at its centre, delivered to whatever is on top there (an overlay's touch area
/// included), unlike [`click`], which invokes the element's action directly.
pub fn tap(app: &AppWindow, label: &str) -> Result<(), String> {
    use slint::platform::{PointerEventButton, WindowEvent};
    let e =
        enabled(app, label).ok_or_else(|| format!("nothing enabled labelled {label:?} to tap"))?;
    let (pos, size) = (e.absolute_position(), e.size());
    let position = slint::LogicalPosition::new(pos.x + size.width / 2.0, pos.y + size.height / 2.0);
    let w = app.window();
    let button = PointerEventButton::Left;
    for event in [
        WindowEvent::PointerMoved { position },
        WindowEvent::PointerPressed { position, button },
        WindowEvent::PointerReleased { position, button },
        WindowEvent::PointerExited,
    ] {
        w.dispatch_event(event);
    }
    Ok(())
}

pub fn screenshot(app: &AppWindow, path: &Path) -> Result<(), String> {
    let snap = app.window().take_snapshot().map_err(|e| e.to_string())?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), snap.width(), snap.height());
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .and_then(|mut w| w.write_image_data(snap.as_bytes()))
        .map_err(|e| e.to_string())
}

/// One resident's session with a printer that can never confirm (`connection`, whole-print
/// budget `timeout_ms`): it must end on the receipt screen with "The printer is not
/// connected" within `patience`, the receipt must be on `kioskctl printer unconfirmed`, and
/// `kioskctl printer test` must give up within `patience` too. Returns that last run for the
/// caller's own checks. `what` names the case in the log.
pub fn unconfirmable_printer_session(
    connection: String,
    timeout_ms: u64,
    patience: Duration,
    what: &str,
) -> crate::harness::CliOutput {
    use crate::harness::{binary, ensure_pcscd, run_cli_within, FileLock, Fixture, FixtureOptions};
    ensure_pcscd().expect("pcscd with vpcd");
    let ctl = binary("kioskctl").unwrap();
    let _card_slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let fx = Fixture::new(FixtureOptions {
        printer_connection: Some(connection),
        printer_timeout_ms: timeout_ms,
        ..Default::default()
    })
    .unwrap();
    let card = fx.card(crate::vcard::CardModel::default());

    init_headless();
    let app = AppWindow::new().unwrap();
    app.window().set_size(slint::PhysicalSize::new(1080, 1920));
    let _session = kiosk_app::ui::start_session(&app, &fx.config).unwrap();

    let seen = Rc::new(RefCell::new(Unprinted::default()));
    Script::new()
        .submit_juminhyo(card.clone())
        .receipt_not_printed(patience, seen.clone())
        .finish_and_take(card)
        .run(&app)
        .unwrap();
    let seen = seen.borrow().clone();
    eprintln!("{what}: done screen after {:?}", seen.took);
    assert_eq!(
        seen.problem,
        PrintProblem::Offline,
        "told: the printer is not connected"
    );

    let unconfirmed = run_cli_within(
        &ctl,
        &fx.config_path,
        &["printer", "unconfirmed", "--json"],
        patience,
    )
    .expect("kioskctl printer unconfirmed ends");
    let list = unconfirmed.json["unconfirmed"].as_array().cloned().unwrap();
    assert_eq!(list.len(), 1, "{}", unconfirmed.json);
    assert_eq!(list[0]["receipt_number"], seen.receipt.as_str());
    assert_eq!(list[0]["problem"], "offline");

    let started = Instant::now();
    let test = run_cli_within(&ctl, &fx.config_path, &["printer", "test"], patience)
        .expect("kioskctl printer test gives up within the deadline");
    eprintln!(
        "{what}: kioskctl printer test gave up after {:?}",
        started.elapsed()
    );
    assert_eq!(test.code, 1, "{}", test.stderr);
    test
}
