//! The `Receipt` global: the receipt number, and the receipt on screen with its QR code when
//! the printer did not print it.

use super::print_problem;
use crate::session::View;
use crate::ui::generated::{AppWindow, Receipt};
use slint::{ComponentHandle, Image, Rgb8Pixel, SharedPixelBuffer, SharedString};

pub fn apply(app: &AppWindow, v: &View) {
    let g = app.global::<Receipt>();
    let Some(r) = &v.receipt else {
        g.set_number(SharedString::new());
        g.set_qr(Image::default());
        g.set_printed(false);
        g.set_problem(print_problem(None));
        g.set_processing_note(SharedString::new());
        return;
    };
    if g.get_number() != r.number.as_str() {
        g.set_qr(qr_image(&r.number));
    }
    g.set_number(r.number.as_str().into());
    g.set_printed(r.printed);
    g.set_problem(print_problem(r.problem));
    g.set_processing_note(r.processing_note.as_str().into());
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
