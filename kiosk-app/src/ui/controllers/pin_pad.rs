//! The `PinPad` global: the keypad of the card's PIN and of the staff PIN.

use crate::runner::SessionHandle;
use crate::session::{Input, Intent, View};
use crate::ui::generated::{AppWindow, PinPad};
use slint::ComponentHandle;

pub fn wire(app: &AppWindow, session: SessionHandle) {
    let g = app.global::<PinPad>();
    let send = move |i: Intent| session.send(Input::Intent(i));
    let s = send.clone();
    g.on_digit(move |d| s(Intent::PinDigit(d.clamp(0, 9) as u8)));
    let s = send.clone();
    g.on_delete(move || s(Intent::PinDelete));
    let s = send.clone();
    g.on_submit(move || s(Intent::PinSubmit));
    g.on_confirm_last_try(move || send(Intent::ConfirmLastTry));
}

pub fn apply(app: &AppWindow, v: &View) {
    let g = app.global::<PinPad>();
    g.set_tries_left(v.tries_left as i32);
    g.set_length(v.pin_length as i32);
    g.set_max(v.pin_max as i32);
    g.set_wrong(v.pin_wrong);
}
