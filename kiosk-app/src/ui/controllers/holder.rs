//! The `Holder` global: the card holder on the confirmation screen, cleared everywhere else.

use crate::card::basic4::Sex;
use crate::session::View;
use crate::ui::generated::{self as ui, AppWindow, Holder};
use slint::{ComponentHandle, SharedString};

pub fn apply(app: &AppWindow, v: &View) {
    let g = app.global::<Holder>();
    let Some(h) = &v.holder else {
        g.set_name(SharedString::new());
        g.set_address(SharedString::new());
        g.set_birth(SharedString::new());
        g.set_sex(ui::Sex::Unknown);
        return;
    };
    g.set_name(h.name.expose().into());
    g.set_address(h.address.expose().into());
    g.set_birth(h.birth.expose().into());
    g.set_sex(match h.sex {
        Sex::NotKnown => ui::Sex::Unknown,
        Sex::Male => ui::Sex::Male,
        Sex::Female => ui::Sex::Female,
        Sex::NotApplicable => ui::Sex::NotApplicable,
    });
}
