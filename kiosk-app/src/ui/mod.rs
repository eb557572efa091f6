//! The Slint side: one controller per `export global` of `ui/api.slint` (as Slint's
//! energy-monitor demo has one adapter and controller per concern). Each renders its part of
//! a [`View`] and forwards its callbacks as intents. Holds only `Weak` handles; decides
//! nothing.

mod controllers;
pub mod liveness;
mod rows;

use crate::runner::SessionHandle;
use crate::session::View;
use slint::ComponentHandle;

/// The code Slint generates from `ui/app.slint`: the globals, enums and structs of
/// `ui/api.slint` (documented there).
#[allow(missing_docs)]
pub mod generated {
    slint::include_modules!();
}

pub use controllers::qr_image;
pub use generated::{AppWindow, Application, Holder, PinPad, Receipt, Session, Staff};

/// Renders a view. Must run on the UI thread.
pub fn apply(app: &AppWindow, v: &View) {
    controllers::session::apply(app, v);
    controllers::pin_pad::apply(app, v);
    controllers::holder::apply(app, v);
    controllers::application::apply(app, v);
    controllers::receipt::apply(app, v);
    controllers::staff::apply(app, v);
}

/// Connects every global's callbacks to the session, and gives the lists their models.
pub fn wire(app: &AppWindow, session: &SessionHandle) {
    controllers::session::wire(app, session.clone());
    controllers::pin_pad::wire(app, session.clone());
    controllers::application::wire(app, session.clone());
    controllers::staff::wire(app, session.clone());
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
    wire(app, &session);
    Ok(session)
}
