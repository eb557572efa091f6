//! The Slint side: renders a [`View`] into the `Kiosk` global and forwards its callbacks as
//! intents ([`staff`] does the same for the `Staff` global). Holds only `Weak` handles; never
//! decides anything.

pub mod staff;

use crate::domain::Lang;
use crate::runner::SessionHandle;
use crate::session::{Input, Intent, Screen, View};
use slint::{
    ComponentHandle, Image, ModelRc, Rgb8Pixel, SharedPixelBuffer, SharedString, VecModel,
};
use std::cell::Cell;

pub mod generated {
    slint::include_modules!();
}

pub use generated::{AppWindow, Kiosk};
use generated::{ChoiceItem, ProcedureItem, ReviewLine, Screen as UiScreen};

fn ui_screen(s: Screen) -> UiScreen {
    match s {
        Screen::Welcome => UiScreen::Welcome,
        Screen::InsertCard => UiScreen::InsertCard,
        Screen::Pin => UiScreen::Pin,
        Screen::PinLastTry => UiScreen::PinLastTry,
        Screen::PinLocked => UiScreen::PinLocked,
        Screen::ReadingData => UiScreen::ReadingData,
        Screen::Confirm => UiScreen::Confirm,
        Screen::Municipality => UiScreen::Municipality,
        Screen::NotParticipating => UiScreen::NotParticipating,
        Screen::Procedures => UiScreen::Procedures,
        Screen::Question => UiScreen::Question,
        Screen::Review => UiScreen::Review,
        Screen::Submitting => UiScreen::Submitting,
        Screen::Done => UiScreen::Done,
        Screen::TakeCard => UiScreen::TakeCard,
        Screen::CardRemoved => UiScreen::CardRemoved,
        Screen::Error => UiScreen::Error,
        Screen::StaffPin => UiScreen::StaffPin,
        Screen::Staff => UiScreen::Staff,
    }
}

/// Connects every `Kiosk` callback to the session.
pub fn wire(app: &AppWindow, session: SessionHandle) {
    let k = app.global::<Kiosk>();
    let send = move |i: Intent| session.send(Input::Intent(i));
    let intent = |i: Intent| {
        let send = send.clone();
        move || send(i.clone())
    };
    k.on_start(intent(Intent::Start));
    k.on_pin_delete(intent(Intent::PinDelete));
    k.on_pin_submit(intent(Intent::PinSubmit));
    k.on_confirm_last_try(intent(Intent::ConfirmLastTry));
    k.on_back(intent(Intent::Back));
    k.on_next(intent(Intent::Next));
    k.on_submit(intent(Intent::Submit));
    k.on_finish(intent(Intent::Finish));
    k.on_still_here(intent(Intent::StillHere));
    k.on_call_staff(intent(Intent::CallStaff));
    k.on_dismiss_staff(intent(Intent::DismissStaff));
    let s = send.clone();
    k.on_set_language(move |code| {
        s(Lang::from_code(&code).map_or(Intent::StillHere, Intent::SetLanguage))
    });
    let s = send.clone();
    k.on_pin_digit(move |d| s(Intent::PinDigit(d.clamp(0, 9) as u8)));
    let s = send.clone();
    k.on_choose_procedure(move |i| s(Intent::ChooseProcedure(i.max(0) as usize)));
    let s = send.clone();
    k.on_choose(move |i| s(Intent::Choose(i.max(0) as usize)));
    k.on_adjust(move |field, delta| send(Intent::Adjust(field.to_string(), delta)));
}

thread_local! {
    static CURRENT_LANG: Cell<Option<Lang>> = const { Cell::new(None) };
    static LAST_SCREEN: Cell<Option<Screen>> = const { Cell::new(None) };
}

/// Renders a view. Must run on the UI thread.
pub fn apply(app: &AppWindow, v: &View) {
    if CURRENT_LANG.get() != Some(v.lang) {
        if let Err(e) = slint::select_bundled_translation(v.lang.code()) {
            tracing::error!(lang = v.lang.code(), error = ?e, "translation missing");
        }
        CURRENT_LANG.set(Some(v.lang));
    }
    // A new resident starts with the default text size and contrast.
    if v.screen == Screen::Welcome && LAST_SCREEN.get() != Some(Screen::Welcome) {
        let theme = app.global::<generated::Theme>();
        theme.set_text_scale(1.0);
        theme.set_high_contrast(false);
    }
    LAST_SCREEN.set(Some(v.screen));
    let k = app.global::<Kiosk>();
    let s = |t: &str| SharedString::from(t);
    k.set_screen(ui_screen(v.screen));
    k.set_step(v.step as i32);
    k.set_steps(v.steps as i32);
    k.set_language(s(v.lang.code()));
    k.set_busy(v.busy);
    k.set_tries_left(v.tries_left as i32);
    k.set_pin_length(v.pin_length as i32);
    k.set_pin_max(v.pin_max as i32);
    k.set_pin_wrong(v.pin_wrong);
    match &v.holder {
        Some(h) => {
            k.set_holder_name(s(h.name.expose()));
            k.set_holder_address(s(h.address.expose()));
            k.set_holder_birth(s(h.birth.expose()));
            k.set_holder_sex(s(h.sex.code()));
        }
        None => {
            for set in [
                Kiosk::set_holder_name,
                Kiosk::set_holder_address,
                Kiosk::set_holder_birth,
                Kiosk::set_holder_sex,
            ] {
                set(&k, SharedString::new());
            }
        }
    }
    k.set_municipality_name(s(&v.municipality_name));
    k.set_opening_note(s(&v.opening_note));
    k.set_procedures(ModelRc::new(VecModel::from(
        v.procedures
            .iter()
            .map(|(t, sum)| ProcedureItem {
                title: s(t),
                summary: s(sum),
            })
            .collect::<Vec<_>>(),
    )));
    k.set_procedure_title(s(&v.procedure_title));
    if let Some(q) = &v.question {
        k.set_question_title(s(&q.title));
        k.set_question_help(s(&q.help));
        k.set_question_kind(s(q.kind));
        k.set_choices(ModelRc::new(VecModel::from(
            q.choices
                .iter()
                .map(|(l, sel)| ChoiceItem {
                    label: s(l),
                    selected: *sel,
                })
                .collect::<Vec<_>>(),
        )));
        k.set_number_value(q.number as i32);
        k.set_number_unit(s(&q.unit));
        if let Some(d) = q.date {
            k.set_date_year(d.year());
            k.set_date_month(d.month() as i32);
            k.set_date_day(d.day() as i32);
        }
        k.set_date_text(s(&q.date_text));
        k.set_answer_ready(q.ready);
        k.set_question_index(q.index as i32);
        k.set_question_count(q.count as i32);
    }
    k.set_review_lines(ModelRc::new(VecModel::from(
        v.review
            .iter()
            .map(|(l, val)| ReviewLine {
                label: s(l),
                value: s(val),
            })
            .collect::<Vec<_>>(),
    )));
    match &v.receipt {
        Some(r) => {
            if k.get_receipt_number() != r.number.as_str() {
                k.set_receipt_qr(qr_image(&r.number));
            }
            k.set_receipt_number(s(&r.number));
            k.set_printed(r.printed);
            k.set_print_problem(s(r.problem));
            k.set_receipt_processing_note(s(&r.processing_note));
        }
        None => {
            k.set_receipt_number(SharedString::new());
            k.set_receipt_qr(Image::default());
            k.set_printed(false);
            k.set_print_problem(SharedString::new());
            k.set_receipt_processing_note(SharedString::new());
        }
    }
    k.set_idle_warning(v.idle_seconds_left.is_some());
    k.set_idle_seconds_left(v.idle_seconds_left.unwrap_or(0) as i32);
    k.set_staff_called(v.staff_called);
    k.set_error_code(s(v.error_code));
    staff::apply(app, v);
}

/// The receipt number as a QR image (for the on-screen receipt when the printer fails).
pub fn qr_image(payload: &str) -> Image {
    let Ok(code) =
        qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)
    else {
        return Image::default();
    };
    let n = code.width();
    let quiet = 4;
    let size = (n + 2 * quiet) as u32;
    let mut buf = SharedPixelBuffer::<Rgb8Pixel>::new(size, size);
    let colors = code.to_colors();
    for (i, px) in buf.make_mut_slice().iter_mut().enumerate() {
        let (x, y) = (i % size as usize, i / size as usize);
        let dark = x >= quiet
            && y >= quiet
            && x < n + quiet
            && y < n + quiet
            && colors[(y - quiet) * n + (x - quiet)] == qrcode::Color::Dark;
        *px = if dark {
            Rgb8Pixel::new(0, 0, 0)
        } else {
            Rgb8Pixel::new(255, 255, 255)
        };
    }
    Image::from_rgb8(buf)
}

/// Starts the session for `app` and renders every view into it.
pub fn start_session(
    app: &AppWindow,
    cfg: &crate::config::KioskConfig,
) -> anyhow::Result<SessionHandle> {
    let world = cfg.load_world()?;
    let weak = app.as_weak();
    let session = crate::runner::start(cfg, world, move |view| {
        let _ = weak.upgrade_in_event_loop(move |app| apply(&app, &view));
    })?;
    wire(app, session.clone());
    staff::wire(app, session.clone());
    Ok(session)
}
