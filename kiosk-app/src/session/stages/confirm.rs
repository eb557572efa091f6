//! The card holder's name, address, birth date and sex as the card has them, to confirm;
//! "next" routes the application by the address.

use super::{to, Cx, Failed, Municipality, Next, NotParticipating, StageInput, StageLogic};
use super::{ViewCx, Welcome};
use crate::card::basic4::Basic4;
use crate::domain::ErrorCode;
use crate::session::application::Route;
use crate::session::view::HolderView;
use crate::session::{Intent, Screen, View};

pub struct Confirm {
    pub identity: Basic4,
}

impl StageLogic for Confirm {
    fn screen(&self) -> Screen {
        Screen::Confirm
    }

    fn step(&self) -> usize {
        3
    }

    fn handle(self, input: StageInput, cx: &mut Cx) -> Next {
        match input {
            StageInput::Intent(Intent::Next) => self.route(cx),
            StageInput::Intent(Intent::Back) => Next::Wipe(Welcome.into()),
            _ => to(self),
        }
    }

    fn render(&self, v: &mut View, cx: &ViewCx) {
        v.holder = Some(HolderView::from_card(&self.identity, cx.lang));
    }
}

impl Confirm {
    /// The municipality the address belongs to: a participating one, one that does not take
    /// part, or none known.
    fn route(self, cx: &mut Cx) -> Next {
        let Some(entry) = cx
            .world
            .router
            .find(self.identity.address.expose())
            .cloned()
        else {
            return to(Failed(ErrorCode::UnknownAddress));
        };
        match cx
            .world
            .municipalities
            .iter()
            .position(|m| m.code == entry.code)
        {
            Some(i) => to(Municipality(Route {
                identity: self.identity,
                municipality: i,
                opens_at: cx.world.municipalities[i].hours.reopens_at(cx.now.wall),
            })),
            None => to(NotParticipating {
                identity: self.identity,
                entry,
            }),
        }
    }
}
