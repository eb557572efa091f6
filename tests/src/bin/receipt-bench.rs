//! Receipt figures for BENCHMARKS.md:
//! 1. layout + ESC/POS encoding time per receipt (Japanese, English session, a 外字 counter
//!    name that becomes a raster line; 80 mm and 58 mm);
//! 2. bytes per receipt, and one line as text next to the same line as a raster image;
//! 3. time to a confirmed print (status query, job, `GS r 1` answer) on the virtual printer over
//!    TCP, a USB-like port and a serial port (ptys), and the write-only file driver.
//!
//! `cargo run -p madoguchi-tests --bin receipt-bench -- [N]` (default 200).

use kiosk_app::domain::Lang;
use kiosk_app::receipt::layout::{receipt_bytes, ReceiptContext};
use kiosk_app::receipt::link::Connection;
use kiosk_app::receipt::printer::{self, PrinterError};
use kiosk_app::receipt::raster::{Align, LineRenderer};
use kiosk_app::session::ReceiptJob;
use madoguchi_tests::vprinter::{Port, VirtualPrinter};
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn timed(n: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut t: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    t.sort();
    (percentile(&t, 0.5), percentile(&t, 0.95))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn job(lang: Lang) -> ReceiptJob {
    let en = lang == Lang::EN;
    ReceiptJob {
        receipt_number: "K01-261122-0042".into(),
        submitted_at: counter_core::hours::japan_now(),
        lang,
        municipality_ja: "毛呂山町".into(),
        municipality_local: if en { "Moroyama Town" } else { "毛呂山町" }.into(),
        procedure_ja: "住民票の写しの交付申請".into(),
        procedure_local: if en {
            "Request a copy of your residence certificate (住民票)"
        } else {
            "住民票の写しの交付申請"
        }
        .into(),
        processing_from: Some(counter_core::hours::japan_now() + time::Duration::days(2)),
        reissue: false,
    }
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let plain = "毛呂山・越生 共同窓口";
    let gaiji = "髙﨑・𠮷田 出張窓口";

    let start = Instant::now();
    let _ = LineRenderer::bundled();
    println!(
        "font load (first raster line of the process): {}",
        ms(start.elapsed())
    );

    println!("\n| receipt | paper | layout + encoding p50 | p95 | bytes |");
    println!("|---|---|---|---|---|");
    for (name, lang, counter) in [
        ("Japanese session", Lang::JA, plain),
        ("English session (bilingual)", Lang::EN, plain),
        ("外字 counter name (raster line)", Lang::JA, gaiji),
    ] {
        for paper_mm in [80u8, 58] {
            let j = job(lang);
            let ctx = ReceiptContext {
                counter_name: counter.into(),
                paper_mm,
            };
            let bytes = receipt_bytes(&j, &ctx)?.len();
            let (p50, p95) = timed(n, || {
                receipt_bytes(&j, &ctx).unwrap();
            });
            println!(
                "| {name} | {paper_mm} mm | {} | {} | {bytes} |",
                ms(p50),
                ms(p95)
            );
        }
    }

    println!("\n| one line, 80 mm | as text (Shift_JIS) | as raster (GS v 0) |");
    println!("|---|---|---|");
    for line in [plain, gaiji] {
        let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(line);
        let raster = LineRenderer::bundled()
            .render(line, 576, 1, Align::Center, true)
            .gs_v_0()
            .len();
        let text = if unmappable {
            "— (not in JIS X 0208)".to_string()
        } else {
            format!("{} bytes", sjis.len() + 1)
        };
        println!("| {line} | {text} | {raster} bytes |");
    }

    let bytes = receipt_bytes(
        &job(Lang::EN),
        &ReceiptContext {
            counter_name: plain.into(),
            paper_mm: 80,
        },
    )?;
    let dir = tempfile::tempdir()?;
    let timeout = Duration::from_secs(3);
    println!(
        "\n| driver (virtual printer) | confirmed print p50 | p95 | (English receipt, {} bytes, n = {}) |",
        bytes.len(),
        n / 4
    );
    println!("|---|---|---|---|");
    let tcp = VirtualPrinter::start(0, None)?;
    let usb = VirtualPrinter::with_port(Port::Usb(dir.path().join("lp0")), None)?;
    let serial = VirtualPrinter::with_port(Port::Serial(dir.path().join("ttyS")), None)?;
    for (name, printer) in [
        ("TCP", &tcp),
        ("USB (pty)", &usb),
        ("serial 115200 (pty)", &serial),
    ] {
        let conn: Connection = printer.connection().parse()?;
        let (p50, p95) = timed(n / 4, || {
            printer::print(&conn, &bytes, timeout).expect("confirmed");
        });
        println!("| {name} | {} | {} | |", ms(p50), ms(p95));
    }
    let file: Connection = format!("file:{}", dir.path().join("spool.bin").display()).parse()?;
    let (p50, p95) = timed(n / 4, || {
        assert_eq!(
            printer::print(&file, &bytes, timeout),
            Err(PrinterError::WriteOnly)
        );
    });
    println!(
        "| file (written, never confirmed) | {} | {} | |",
        ms(p50),
        ms(p95)
    );
    Ok(())
}
