//! Receipt layout → ESC/POS bytes: Shift_JIS kanji mode (`FS C 1`), Model 2 QR with the
//! receipt number, the number printed large, a cut, and a trailing `GS r 1` whose answer
//! confirms the printer processed everything before it.

use super::raster::{Align, LineRenderer};
use crate::domain::Lang;
use crate::session::ReceiptJob;
use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::utils::{JustifyMode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption};
use std::cell::RefCell;
use std::rc::Rc;
use unicode_width::UnicodeWidthChar;

/// `GS r 1`: its answer marks the end of the job.
pub const CONFIRM_MARKER: [u8; 3] = [0x1D, 0x72, 0x01];

/// Collects the bytes the escpos crate would send.
#[derive(Clone, Default)]
struct Capture(Rc<RefCell<Vec<u8>>>);

impl Driver for Capture {
    fn name(&self) -> String {
        "capture".into()
    }
    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(())
    }
    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }
    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

/// What every receipt of this kiosk carries.
#[derive(Debug, Clone)]
pub struct ReceiptContext {
    /// The counter's name as configured (may hold characters outside JIS X 0208).
    pub counter_name: String,
    /// 58 or 80.
    pub paper_mm: u8,
}

/// Characters per line in Font A (12×24 dots) for the paper width.
pub fn columns(paper_mm: u8) -> usize {
    if paper_mm <= 58 {
        32
    } else {
        48
    }
}

/// Whether the printer's kanji mode prints this character: JIS X 0208 in Shift_JIS, without
/// the NEC (row 13) and IBM vendor extensions that printers do not share.
pub fn in_jis_x_0208(c: char) -> bool {
    let mut buf = [0u8; 4];
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(c.encode_utf8(&mut buf));
    let lead = bytes.first().copied().unwrap_or(0);
    !(unmappable || lead == 0x87 || (0xED..=0xFC).contains(&lead))
}

/// How one line is printed.
#[derive(Debug, Clone, Copy)]
struct Style {
    align: Align,
    /// 1 = Font A, 2 = double width and height.
    scale: u8,
    bold: bool,
}

const BODY: Style = Style {
    align: Align::Left,
    scale: 1,
    bold: false,
};
const HEADING: Style = Style {
    align: Align::Center,
    scale: 1,
    bold: true,
};
const CENTERED: Style = Style {
    align: Align::Center,
    scale: 1,
    bold: false,
};
const NUMBER: Style = Style {
    align: Align::Center,
    scale: 2,
    bold: true,
};

/// Writes `text` wrapped to the paper: lines the printer's kanji font can print as text,
/// others as a raster image drawn with the bundled fonts (so 髙, 﨑, 𠮷 come out right).
fn put(
    p: &mut Printer<Capture>,
    text: &str,
    style: Style,
    cols: usize,
) -> escpos::errors::Result<()> {
    let justify = match style.align {
        Align::Left => JustifyMode::LEFT,
        Align::Center => JustifyMode::CENTER,
        Align::Right => JustifyMode::RIGHT,
    };
    let scale = style.scale.max(1);
    p.justify(justify)?.size(scale, scale)?.bold(style.bold)?;
    for line in wrap(text, cols / scale as usize) {
        if line.chars().all(in_jis_x_0208) {
            p.writeln(&line)?;
        } else {
            let image = LineRenderer::bundled().render(
                &line,
                cols as u32 * 12,
                u32::from(scale),
                style.align,
                style.bold,
            );
            p.custom(&image.gs_v_0())?;
        }
    }
    p.size(1, 1)?.bold(false)?;
    Ok(())
}

/// Wraps by East-Asian display width (full-width = 2 columns). Latin words are not split
/// unless one is longer than a line; CJK text breaks anywhere.
pub fn wrap(text: &str, cols: usize) -> Vec<String> {
    let width = |s: &str| s.chars().map(|c| c.width().unwrap_or(0)).sum::<usize>();
    let mut lines = vec![];
    let mut line = String::new();
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if width(&line) + w > cols && !line.is_empty() {
            if c == ' ' {
                lines.push(std::mem::take(&mut line).trim_end().to_owned());
                continue;
            }
            // Move an unfinished Latin word to the next line.
            let cut = line
                .rfind(' ')
                .filter(|_| c.is_ascii_alphanumeric() || c.is_ascii_punctuation());
            match cut {
                Some(i) if line[i + 1..].is_ascii() => {
                    let tail = line[i + 1..].to_owned();
                    line.truncate(i);
                    lines.push(std::mem::take(&mut line).trim_end().to_owned());
                    line = tail;
                }
                _ => lines.push(std::mem::take(&mut line)),
            }
        }
        line.push(c);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

fn fmt_time(t: time::OffsetDateTime, lang: Lang) -> String {
    lang.language().time(t)
}

/// Builds the receipt. Japanese always; for other languages, each label in that language too.
pub fn receipt_bytes(
    job: &ReceiptJob,
    ctx: &ReceiptContext,
) -> Result<Vec<u8>, escpos::errors::PrinterError> {
    let capture = Capture::default();
    let protocol = Protocol::new(escpos::utils::Encoder::new(encoding_rs::SHIFT_JIS));
    let mut p = Printer::new(capture.clone(), protocol, None);
    let cols = columns(ctx.paper_mm);
    let bilingual = job.lang != Lang::JA;
    let both = |ja: &str, en: &str| {
        if bilingual {
            format!("{ja} / {en}")
        } else {
            ja.to_owned()
        }
    };
    p.init()?
        .custom(&[0x1C, 0x43, 0x01])?
        .custom(&[0x1B, 0x52, 0x08])?;
    let p = &mut p;
    put(p, &ctx.counter_name, HEADING, cols)?;
    put(p, &both("受付票", "Receipt"), CENTERED, cols)?;
    if job.reissue {
        put(p, &both("【再発行】", "Reissued"), HEADING, cols)?;
    }
    put(p, &"-".repeat(cols), BODY, cols)?;
    put(p, &both("受付番号", "Receipt number"), CENTERED, cols)?;
    put(p, &job.receipt_number, NUMBER, cols)?;
    put(p, &"-".repeat(cols), BODY, cols)?;
    let local = |en: &str, value: &str| format!("{en}: {value}");
    put(p, &format!("申請先: {}", job.municipality_ja), BODY, cols)?;
    if bilingual {
        put(
            p,
            &local("Municipality", &job.municipality_local),
            BODY,
            cols,
        )?;
    }
    put(p, &format!("手続き: {}", job.procedure_ja), BODY, cols)?;
    if bilingual {
        put(p, &local("Procedure", &job.procedure_local), BODY, cols)?;
    }
    put(
        p,
        &format!("受付日時: {}", fmt_time(job.submitted_at, Lang::JA)),
        BODY,
        cols,
    )?;
    if bilingual {
        put(
            p,
            &local("Submitted", &fmt_time(job.submitted_at, job.lang)),
            BODY,
            cols,
        )?;
    }
    put(p, &"-".repeat(cols), BODY, cols)?;
    put(
        p,
        &format!(
            "この申請は{}に送られ、処理されます。お問い合わせの際は受付番号をお伝えください。",
            job.municipality_ja
        ),
        BODY,
        cols,
    )?;
    if bilingual {
        put(
            p,
            &format!("Your application goes to {} for processing. Please quote the receipt number when you contact them.", job.municipality_local),
            BODY,
            cols,
        )?;
    }
    if let Some(from) = job.processing_from {
        put(
            p,
            &crate::session::processing_note(from, Lang::JA, &job.municipality_ja),
            BODY,
            cols,
        )?;
        if bilingual {
            put(
                p,
                &crate::session::processing_note(from, job.lang, &job.municipality_local),
                BODY,
                cols,
            )?;
        }
    }
    p.justify(JustifyMode::CENTER)?;
    p.qrcode_option(
        &job.receipt_number,
        QRCodeOption::new(QRCodeModel::Model2, 6, QRCodeCorrectionLevel::M),
    )?;
    p.feed()?.feed()?.feed()?;
    p.partial_cut()?;
    p.custom(&CONFIRM_MARKER)?;
    p.print()?;
    let bytes = capture.0.borrow().clone();
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::decode::{decode, Element};

    fn job(lang: Lang) -> ReceiptJob {
        ReceiptJob {
            receipt_number: "K01-261121-0007".into(),
            submitted_at: time::macros::datetime!(2026-11-21 14:05 +09:00),
            lang,
            municipality_ja: "毛呂山町".into(),
            municipality_local: if lang == Lang::JA {
                "毛呂山町".into()
            } else {
                "Moroyama Town".into()
            },
            procedure_ja: "住民票の写しの交付申請".into(),
            procedure_local: if lang == Lang::JA {
                "住民票の写しの交付申請".into()
            } else {
                "Copy of residence certificate".into()
            },
            processing_from: None,
            reissue: false,
        }
    }

    fn ctx() -> ReceiptContext {
        ReceiptContext {
            counter_name: "毛呂山・越生 共同窓口".into(),
            paper_mm: 80,
        }
    }

    #[test]
    fn japanese_receipt_reads_back() {
        let bytes = receipt_bytes(&job(Lang::JA), &ctx()).unwrap();
        assert_eq!(&bytes[..2], &[0x1B, 0x40], "starts with ESC @");
        assert!(
            bytes.windows(3).any(|w| w == [0x1C, 0x43, 0x01]),
            "FS C 1 selects Shift_JIS"
        );
        let d = decode(&bytes).unwrap();
        let text = d.text_lines();
        assert!(
            text.contains(&"毛呂山・越生 共同窓口".to_string()),
            "{text:?}"
        );
        assert!(text.contains(&"K01-261121-0007".to_string()));
        assert!(text.iter().any(|l| l.contains("住民票の写しの交付申請")));
        assert!(
            text.iter().any(|l| l == "受付日時: 2026年11月21日 14:05"),
            "{text:?}"
        );
        assert!(
            !text.iter().any(|l| l.contains("Receipt")),
            "no English in a Japanese session"
        );
        assert_eq!(d.qr_payloads(), vec!["K01-261121-0007".to_string()]);
        assert!(d.elements.iter().any(|e| matches!(e, Element::Text { text, width: 2, height: 2, .. } if text == "K01-261121-0007")), "number printed large");
        let cut = d
            .elements
            .iter()
            .position(|e| matches!(e, Element::Cut))
            .expect("cut");
        let qr = d
            .elements
            .iter()
            .position(|e| matches!(e, Element::Qr { .. }))
            .unwrap();
        assert!(qr < cut);
        assert!(bytes.ends_with(&CONFIRM_MARKER));
        assert!(!text.iter().any(|l| l.contains("再発行")));
    }

    #[test]
    fn a_reissued_receipt_says_so_in_both_languages() {
        let mut j = job(Lang::EN);
        j.reissue = true;
        let text = decode(&receipt_bytes(&j, &ctx()).unwrap())
            .unwrap()
            .text_lines();
        assert!(
            text.contains(&"【再発行】 / Reissued".to_string()),
            "{text:?}"
        );
    }

    #[test]
    fn english_session_prints_both_languages() {
        let d = decode(&receipt_bytes(&job(Lang::EN), &ctx()).unwrap()).unwrap();
        let text = d.text_lines().join("\n");
        assert!(text.contains("受付票 / Receipt"), "{text}");
        assert!(text.contains("Municipality: Moroyama Town"));
        assert!(text.contains("申請先: 毛呂山町"));
        assert!(text.contains("Submitted: 21 November 2026 14:05"), "{text}");
        assert!(!text.contains("closed"), "{text}");
    }

    #[test]
    fn closed_municipality_says_when_processing_starts() {
        let mut j = job(Lang::EN);
        j.processing_from = Some(time::macros::datetime!(2026-11-24 09:00 +09:00));
        let d = decode(&receipt_bytes(&j, &ctx()).unwrap()).unwrap();
        let text = d.text_lines().join("");
        assert!(text.contains("11月24日（火）9時から処理されます"), "{text}");
        assert!(text.contains("processed from Tue 24 Nov at 9:00"), "{text}");
    }

    #[test]
    fn lines_fit_the_paper_and_gaiji_never_garble() {
        let mut c = ctx();
        c.paper_mm = 58;
        c.counter_name = "髙﨑𠮷田 共同窓口".into();
        let d = decode(&receipt_bytes(&job(Lang::JA), &c).unwrap()).unwrap();
        for l in d.text_lines() {
            let w: usize = l.chars().map(|c| c.width().unwrap_or(0)).sum();
            assert!(w <= 32, "{l} is {w} columns");
        }
        // The counter name is not garbled into 〓 or dropped: it is a raster image of exactly
        // that text, drawn with the bundled fonts, centred and bold.
        assert!(!d
            .text_lines()
            .iter()
            .any(|l| l.contains('〓') || l.contains("共同窓口")));
        let expected =
            LineRenderer::bundled().render("髙﨑𠮷田 共同窓口", 32 * 12, 1, Align::Center, true);
        let raster = d
            .elements
            .iter()
            .find_map(|e| match e {
                Element::Raster {
                    width_bytes,
                    height,
                    data,
                } => Some((*width_bytes, *height, data.clone())),
                _ => None,
            })
            .expect("a raster line");
        assert_eq!(
            raster,
            (expected.width_bytes, expected.height, expected.data)
        );
        assert_eq!(
            d.elements
                .iter()
                .filter(|e| matches!(e, Element::Raster { .. }))
                .count(),
            1,
            "only the line with characters outside JIS X 0208 is an image"
        );
    }

    #[test]
    fn wrapping_counts_full_width_as_two() {
        assert_eq!(wrap("あいうえお", 4), vec!["あい", "うえ", "お"]);
        assert_eq!(wrap("abcdef", 4), vec!["abcd", "ef"]);
        assert_eq!(wrap("", 4), vec![""]);
        assert_eq!(wrap("hello world foo", 8), vec!["hello", "world", "foo"]);
        assert_eq!(
            wrap("Procedure: certificate", 12),
            vec!["Procedure:", "certificate"]
        );
        assert_eq!(
            wrap("abcdefghij", 4),
            vec!["abcd", "efgh", "ij"],
            "an overlong word is split"
        );
    }
}
