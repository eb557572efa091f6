//! The `Session` global: where the resident is, the language, overlays and navigation.

use crate::domain::{ErrorCode, Lang};
use crate::runner::SessionHandle;
use crate::session::{Input, Intent, Screen, View};
use crate::ui::generated::{self as ui, AppWindow, Session, Theme};
use slint::ComponentHandle;
use std::cell::Cell;

pub fn wire(app: &AppWindow, session: SessionHandle) {
    let g = app.global::<Session>();
    let languages: Vec<_> = Lang::all()
        .map(|l| ui::LanguageItem {
            code: l.code().into(),
            name: l.name().into(),
        })
        .collect();
    g.set_languages(slint::ModelRc::from(languages.as_slice()));
    let send = move |i: Intent| session.send(Input::Intent(i));
    let on = |i: Intent| {
        let send = send.clone();
        move || send(i.clone())
    };
    g.on_start(on(Intent::Start));
    g.on_back(on(Intent::Back));
    g.on_next(on(Intent::Next));
    g.on_finish(on(Intent::Finish));
    g.on_still_here(on(Intent::StillHere));
    g.on_call_staff(on(Intent::CallStaff));
    g.on_dismiss_staff(on(Intent::DismissStaff));
    g.on_set_language(move |code| {
        send(Lang::from_code(&code).map_or(Intent::StillHere, Intent::SetLanguage))
    });
}

thread_local! {
    static CURRENT_LANG: Cell<Option<Lang>> = const { Cell::new(None) };
    static LAST_SCREEN: Cell<Option<Screen>> = const { Cell::new(None) };
}

pub fn apply(app: &AppWindow, v: &View) {
    if CURRENT_LANG.get() != Some(v.lang) {
        if let Err(e) = slint::select_bundled_translation(v.lang.code()) {
            tracing::error!(lang = v.lang.code(), error = ?e, "translation missing");
        }
        CURRENT_LANG.set(Some(v.lang));
    }
    // A new resident starts with the default text size and contrast.
    if v.screen == Screen::Welcome && LAST_SCREEN.get() != Some(Screen::Welcome) {
        let theme = app.global::<Theme>();
        theme.set_text_scale(1.0);
        theme.set_high_contrast(false);
    }
    LAST_SCREEN.set(Some(v.screen));
    let g = app.global::<Session>();
    g.set_screen(screen(v.screen));
    g.set_step(v.step as i32);
    g.set_steps(v.steps as i32);
    g.set_language(v.lang.code().into());
    g.set_busy(v.busy);
    g.set_error_code(error_code(v.error_code));
    g.set_idle_warning(v.idle_seconds_left.is_some());
    g.set_idle_seconds_left(v.idle_seconds_left.unwrap_or(0) as i32);
    g.set_staff_called(v.staff_called);
}

fn screen(s: Screen) -> ui::Screen {
    match s {
        Screen::Welcome => ui::Screen::Welcome,
        Screen::InsertCard => ui::Screen::InsertCard,
        Screen::Pin => ui::Screen::Pin,
        Screen::PinLastTry => ui::Screen::PinLastTry,
        Screen::PinLocked => ui::Screen::PinLocked,
        Screen::ReadingData => ui::Screen::ReadingData,
        Screen::Confirm => ui::Screen::Confirm,
        Screen::Municipality => ui::Screen::Municipality,
        Screen::NotParticipating => ui::Screen::NotParticipating,
        Screen::Procedures => ui::Screen::Procedures,
        Screen::Question => ui::Screen::Question,
        Screen::Review => ui::Screen::Review,
        Screen::Submitting => ui::Screen::Submitting,
        Screen::Done => ui::Screen::Done,
        Screen::TakeCard => ui::Screen::TakeCard,
        Screen::CardRemoved => ui::Screen::CardRemoved,
        Screen::Error => ui::Screen::Error,
        Screen::StaffPin => ui::Screen::StaffPin,
        Screen::Staff => ui::Screen::Staff,
    }
}

fn error_code(e: Option<ErrorCode>) -> ui::ErrorCode {
    match e {
        None => ui::ErrorCode::None,
        Some(ErrorCode::UnsupportedCard) => ui::ErrorCode::UnsupportedCard,
        Some(ErrorCode::JukiCard) => ui::ErrorCode::JukiCard,
        Some(ErrorCode::SmartphoneToken) => ui::ErrorCode::SmartphoneToken,
        Some(ErrorCode::NoTextAp) => ui::ErrorCode::NoTextAp,
        Some(ErrorCode::CardError) => ui::ErrorCode::CardError,
        Some(ErrorCode::ReaderMissing) => ui::ErrorCode::ReaderMissing,
        Some(ErrorCode::OutboxError) => ui::ErrorCode::OutboxError,
        Some(ErrorCode::UnknownAddress) => ui::ErrorCode::UnknownAddress,
    }
}
