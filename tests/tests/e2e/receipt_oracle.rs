//! The kiosk's receipts and print sequence checked against a third-party ESC/POS printer:
//! emupos's Epson TM-T20III (`madoguchi_tests::emupos`), not the virtual printer, whose
//! decoder is the kiosk's own. What emupos prints is read back by `zbarimg`: the QR code is
//! the receipt number, the cut ends the receipt, a line outside JIS X 0208 is printed as
//! exactly the image the kiosk drew, and the kiosk's reading of emupos's status answers
//! refuses to print on every fault. Kanji text is not checked here: emupos has no kanji
//! mode (see `receipt::decode`, which the other receipt tests use for that).

use kiosk_app::domain::{Lang, PrintProblem};
use kiosk_app::receipt::layout::{receipt_bytes, ReceiptContext};
use kiosk_app::receipt::link::Connection;
use kiosk_app::receipt::printer::{self, PrinterError};
use kiosk_app::receipt::raster::{Align, LineRenderer};
use kiosk_app::session::ReceiptJob;
use madoguchi_tests::emupos::{zbarimg, Emupos, Fault, Printed};
use std::path::Path;
use std::time::{Duration, Instant};

const NUMBER: &str = "K01-261122-0042";
const TIMEOUT: Duration = Duration::from_millis(3000);
/// How long emupos may take to render a finished receipt.
const RENDER: Duration = Duration::from_secs(20);

fn job(counter_name: &str) -> Vec<u8> {
    let job = ReceiptJob {
        receipt_number: NUMBER.into(),
        submitted_at: counter_core::hours::japan_now(),
        lang: Lang::EN,
        municipality_ja: "越生町".into(),
        municipality_local: "Ogose Town".into(),
        procedure_ja: "転出届".into(),
        procedure_local: "Moving-out notification".into(),
        processing_from: None,
        reissue: false,
    };
    let ctx = ReceiptContext {
        counter_name: counter_name.into(),
        paper_mm: 80,
    };
    receipt_bytes(&job, &ctx).unwrap()
}

fn printed(emupos: &Emupos) -> Printed {
    emupos
        .next_receipt(RENDER)
        .unwrap()
        .expect("emupos printed a receipt")
}

/// A grey-scale image as rows of "is black" pixels.
fn black_pixels(png_path: &Path) -> Vec<Vec<bool>> {
    let mut decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    (0..info.height as usize)
        .map(|y| {
            let row = &buf[y * info.line_size..(y + 1) * info.line_size];
            (0..info.width as usize)
                .map(|x| row[x * channels] < 128)
                .collect()
        })
        .collect()
}

#[test]
fn emupos_prints_the_receipt_with_its_qr_code_and_cut() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let emupos = Emupos::start(dir.path()).unwrap();
    eprintln!("emupos started in {:?}", started.elapsed());
    let conn: Connection = emupos.connection().parse().unwrap();

    let started = Instant::now();
    let status = printer::print(&conn, &job("Moroyama-Ogose joint counter"), TIMEOUT)
        .expect("emupos confirms the receipt");
    assert!(!status.paper_near_end);
    let receipt = printed(&emupos);
    eprintln!(
        "printed, confirmed and rendered by emupos in {:?}",
        started.elapsed()
    );
    assert_eq!(receipt.boundary, "cut", "the receipt ends with a cut");
    assert_eq!(
        zbarimg(&receipt.png).unwrap(),
        vec![format!("QR-Code:{NUMBER}")],
        "the QR code a real printer prints is the receipt number"
    );
}

#[test]
fn emupos_prints_a_gaiji_line_as_the_kiosks_image_and_still_the_qr_code() {
    let dir = tempfile::tempdir().unwrap();
    let emupos = Emupos::start(dir.path()).unwrap();
    let conn: Connection = emupos.connection().parse().unwrap();
    let name = "髙﨑𠮷田 共同窓口";
    printer::print(&conn, &job(name), TIMEOUT).expect("emupos confirms the receipt");
    let receipt = printed(&emupos);
    assert_eq!(receipt.boundary, "cut");
    // emupos read the raster image's length right: the QR code after it still prints.
    assert_eq!(
        zbarimg(&receipt.png).unwrap(),
        vec![format!("QR-Code:{NUMBER}")]
    );
    // And it printed exactly the kiosk's image of that line, pixel for pixel.
    let line = LineRenderer::bundled().render(name, 48 * 12, 1, Align::Center, true);
    let paper = black_pixels(&receipt.png);
    let width = line.width_bytes * 8;
    let fits = |top: usize, left: usize| {
        (0..line.height).all(|y| (0..width).all(|x| paper[top + y][left + x] == line.is_set(x, y)))
    };
    let found = (0..paper.len().saturating_sub(line.height))
        .any(|top| (0..=paper[0].len().saturating_sub(width)).any(|left| fits(top, left)));
    assert!(found, "the 外字 line is on the paper as the kiosk drew it");
}

#[test]
fn emupos_faults_are_refused_and_its_near_end_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut emupos = Emupos::start(dir.path()).unwrap();
    let conn: Connection = emupos.connection().parse().unwrap();
    let bytes = job("Moroyama-Ogose joint counter");

    for (fault, problem) in [
        (Fault::PaperOut, PrintProblem::PaperOut),
        (Fault::CoverOpen, PrintProblem::CoverOpen),
        (Fault::Offline, PrintProblem::Offline),
    ] {
        emupos.set_fault(fault, true).unwrap();
        let err = printer::print(&conn, &bytes, TIMEOUT).unwrap_err();
        assert!(
            matches!(&err, PrinterError::NotReady(p, _) if *p == problem),
            "{fault:?}: {err:?}"
        );
        assert_eq!(
            printer::status(&conn, TIMEOUT).unwrap().problem(),
            Some(problem),
            "{fault:?}"
        );
        emupos.set_fault(fault, false).unwrap();
    }

    // The refused jobs left nothing behind: the next receipt emupos finishes is this one.
    emupos.set_fault(Fault::PaperNearEnd, true).unwrap();
    let status = printer::print(&conn, &bytes, TIMEOUT).expect("a near end still prints");
    assert!(status.paper_near_end, "staff are warned of the near end");
    let receipt = printed(&emupos);
    assert_eq!(receipt.boundary, "cut");
    assert_eq!(
        zbarimg(&receipt.png).unwrap(),
        vec![format!("QR-Code:{NUMBER}")]
    );
}
