//! Lines the printer's own kanji font cannot print — characters outside JIS X 0208, such as
//! 髙, 﨑 or 𠮷 in place and facility names — are drawn with the bundled fonts and sent as a
//! raster image (`GS v 0`), so a name is never dropped or garbled. The virtual printer draws
//! text lines with the same renderer.

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont};
use std::sync::OnceLock;

/// BIZ UD Gothic (OFL), the face of the UI and the receipts.
static PRIMARY: &[u8] = include_bytes!("../../../assets/fonts/BIZUDGothic-Regular.ttf");
/// Noto Sans CJK JP (OFL), cut down to the characters BIZ UD Gothic lacks (JIS X 0212,
/// CJK Extension B and beyond, compatibility ideographs).
static SUPPLEMENT: &[u8] = include_bytes!("../../../assets/fonts/NotoSansCJKjp-supplement.otf");

/// Dots of one text line in Font A (12×24), the printer's default.
pub const LINE_DOTS: u32 = 24;

/// A 1-bit image, rows top to bottom, most significant bit leftmost, 1 = black.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raster {
    /// Bytes per row.
    pub width_bytes: usize,
    /// Rows.
    pub height: usize,
    /// One bit per dot, rows top to bottom.
    pub data: Vec<u8>,
}

impl Raster {
    fn blank(width_dots: u32, height: u32) -> Self {
        let width_bytes = width_dots.div_ceil(8) as usize;
        Raster {
            width_bytes,
            height: height as usize,
            data: vec![0; width_bytes * height as usize],
        }
    }

    fn set(&mut self, x: i32, y: i32) {
        if x >= 0 && y >= 0 && (x as usize) < self.width_bytes * 8 && (y as usize) < self.height {
            self.data[y as usize * self.width_bytes + x as usize / 8] |= 0x80 >> (x % 8);
        }
    }

    /// Whether dot (x, y) is black.
    pub fn is_set(&self, x: usize, y: usize) -> bool {
        self.data[y * self.width_bytes + x / 8] & (0x80 >> (x % 8)) != 0
    }

    /// `GS v 0` (normal density) followed by the image.
    pub fn gs_v_0(&self) -> Vec<u8> {
        let (w, h) = (self.width_bytes as u16, self.height as u16);
        let mut out = vec![0x1D, 0x76, 0x30, 0x00];
        out.extend_from_slice(&w.to_le_bytes());
        out.extend_from_slice(&h.to_le_bytes());
        out.extend_from_slice(&self.data);
        out
    }
}

/// Horizontal placement of a line inside the paper width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Flush left.
    Left,
    /// Centred.
    Center,
    /// Flush right.
    Right,
}

/// The bundled fonts, tried in order for each character.
pub struct LineRenderer {
    fonts: Vec<FontRef<'static>>,
}

impl LineRenderer {
    /// The renderer with the bundled fonts (parsed once).
    pub fn bundled() -> &'static LineRenderer {
        static R: OnceLock<LineRenderer> = OnceLock::new();
        R.get_or_init(|| LineRenderer {
            fonts: [PRIMARY, SUPPLEMENT]
                .iter()
                .map(|bytes| FontRef::try_from_slice(bytes).expect("bundled font parses"))
                .collect(),
        })
    }

    fn glyph(&self, c: char) -> Option<(&FontRef<'static>, GlyphId)> {
        self.fonts
            .iter()
            .map(|f| (f, f.glyph_id(c)))
            .find(|(_, id)| id.0 != 0)
    }

    /// Whether some bundled font has this character.
    pub fn covers(&self, c: char) -> bool {
        c.is_whitespace() || self.glyph(c).is_some()
    }

    /// Draws `text` on a line `width_dots` wide and `LINE_DOTS × scale` high, glyphs
    /// `scale` times the size of Font A (bold: each stroke one dot wider, as the printer's
    /// emphasis does). A character no font has becomes 〓.
    pub fn render(
        &self,
        text: &str,
        width_dots: u32,
        scale: u32,
        align: Align,
        bold: bool,
    ) -> Raster {
        let height = LINE_DOTS * scale.max(1);
        // Every font at the same em size (one full-width character = one line height), on a
        // common baseline at the ideographic em box's 88 %.
        let em = height as f32;
        let px = |f: &FontRef<'static>| {
            PxScale::from(em * f.height_unscaled() / f.units_per_em().unwrap_or(1000.0))
        };
        let baseline = em * 0.88;
        let glyphs: Vec<(&FontRef<'static>, GlyphId)> = text
            .chars()
            .filter_map(|c| self.glyph(c).or_else(|| self.glyph('〓')))
            .collect();
        let advance: f32 = glyphs
            .iter()
            .map(|(f, id)| f.as_scaled(px(f)).h_advance(*id))
            .sum();
        let mut x = match align {
            Align::Left => 0.0,
            Align::Center => ((width_dots as f32 - advance) / 2.0).max(0.0),
            Align::Right => (width_dots as f32 - advance).max(0.0),
        };
        let mut out = Raster::blank(width_dots, height);
        for (font, id) in glyphs {
            let scale = px(font);
            let glyph = id.with_scale_and_position(scale, ab_glyph::point(x, baseline));
            x += font.as_scaled(scale).h_advance(id);
            if let Some(outline) = font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, coverage| {
                    if coverage > 0.5 {
                        let (px, py) = (b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32);
                        out.set(px, py);
                        if bold {
                            out.set(px + 1, py);
                        }
                    }
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ink(r: &Raster) -> usize {
        r.data.iter().map(|b| b.count_ones() as usize).sum()
    }

    #[test]
    fn gaiji_are_drawn_not_dropped() {
        let r = LineRenderer::bundled();
        for c in ['髙', '﨑', '𠮷', '德', '塚'] {
            assert!(r.covers(c), "{c} is in a bundled font");
            let img = r.render(&c.to_string(), 48, 1, Align::Left, false);
            assert!(ink(&img) > 40, "{c} leaves ink");
        }
        // 𠮷 and 吉 differ (the supplement draws the real character, not a substitute).
        assert_ne!(
            r.render("𠮷", 48, 1, Align::Left, false),
            r.render("吉", 48, 1, Align::Left, false)
        );
    }

    #[test]
    fn size_alignment_and_command() {
        let r = LineRenderer::bundled();
        let img = r.render("髙橋", 576, 1, Align::Center, false);
        assert_eq!((img.width_bytes, img.height), (72, 24));
        // Centred: no ink in the outer thirds.
        let cols_with_ink: Vec<usize> = (0..576)
            .filter(|&x| (0..24).any(|y| img.is_set(x, y)))
            .collect();
        assert!(cols_with_ink.first().unwrap() > &200 && cols_with_ink.last().unwrap() < &376);
        let big = r.render("髙橋", 576, 2, Align::Left, false);
        assert_eq!(big.height, 48);
        let bold = r.render("髙橋", 576, 1, Align::Center, true);
        assert!(ink(&bold) > ink(&img));
        let cmd = img.gs_v_0();
        assert_eq!(&cmd[..8], &[0x1D, 0x76, 0x30, 0x00, 72, 0, 24, 0]);
        assert_eq!(cmd.len(), 8 + 72 * 24);
    }
}
