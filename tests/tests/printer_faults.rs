//! The truthful print sequence against the virtual ESC/POS printer over TCP, one case per
//! fault: status is asked before every job, nothing is printed on paper out, cover open or
//! offline, a near end is reported, a silent printer and a confirmation that comes too late
//! leave the receipt unconfirmed, a slow one within the timeout is confirmed, and a printer
//! that is switched off (nothing listening) is reported unreachable. (The kiosk connects anew
//! for every job, so a TCP printer that is back prints on the next one; the same-address
//! power cycle and the USB and serial drivers are still to come with issue 5.)

use kiosk_app::receipt::layout::{receipt_bytes, ReceiptContext};
use kiosk_app::receipt::printer::{print_tcp, PrinterError};
use kiosk_app::session::{Lang, PrintProblem, ReceiptJob};
use madoguchi_tests::vprinter::{Mode, VirtualPrinter};
use std::time::Duration;

fn job() -> Vec<u8> {
    let job = ReceiptJob {
        receipt_number: "K01-261122-0042".into(),
        submitted_at: counter_sync::hours::japan_now(),
        lang: Lang::Ja,
        municipality_ja: "越生町".into(),
        municipality_local: "越生町".into(),
        procedure_ja: "転出届".into(),
        procedure_local: "転出届".into(),
        processing_from: None,
    };
    let ctx = ReceiptContext {
        counter_name: "毛呂山・越生 共同窓口".into(),
        paper_mm: 80,
    };
    receipt_bytes(&job, &ctx).unwrap()
}

#[test]
fn every_printer_fault_gives_a_truthful_answer() {
    let printer = VirtualPrinter::start(0, None).unwrap();
    let addr = printer.addr.to_string();
    let timeout = Duration::from_millis(1500);
    let bytes = job();

    let status = print_tcp(&addr, &bytes, timeout).expect("ready printer prints");
    assert!(!status.paper_near_end);
    assert_eq!(printer.jobs().len(), 1);

    printer.set_mode(Mode::NearEnd);
    let status = print_tcp(&addr, &bytes, timeout).expect("near end still prints");
    assert!(status.paper_near_end, "staff are warned of a near end");
    assert_eq!(printer.jobs().len(), 2);

    for (mode, problem) in [
        (Mode::PaperOut, PrintProblem::PaperOut),
        (Mode::CoverOpen, PrintProblem::CoverOpen),
        (Mode::Offline, PrintProblem::Offline),
    ] {
        printer.set_mode(mode);
        let err = print_tcp(&addr, &bytes, timeout).unwrap_err();
        assert!(
            matches!(&err, PrinterError::NotReady(p, _) if *p == problem),
            "{mode:?}: {err:?}"
        );
        assert_eq!(printer.jobs().len(), 2, "{mode:?}: nothing may be printed");
    }

    printer.set_mode(Mode::Silent);
    assert_eq!(
        print_tcp(&addr, &bytes, timeout).unwrap_err(),
        PrinterError::Silent
    );

    // Slow, but within the timeout: confirmed. Slower than the timeout: unconfirmed (it can
    // be reprinted), never reported as printed.
    printer.set_mode(Mode::Ready);
    printer.state.lock().unwrap().slow = Duration::from_millis(300);
    assert!(print_tcp(&addr, &bytes, timeout).is_ok());
    printer.state.lock().unwrap().slow = Duration::from_millis(2500);
    assert_eq!(
        print_tcp(&addr, &bytes, timeout).unwrap_err(),
        PrinterError::Unconfirmed
    );
    printer.state.lock().unwrap().slow = Duration::ZERO;

    // What was printed is the receipt, with its QR code.
    let decoded = kiosk_app::receipt::decode::decode(printer.jobs().last().unwrap()).unwrap();
    assert_eq!(decoded.qr_payloads(), vec!["K01-261122-0042".to_string()]);

    // Switched off (a loopback port nobody listens on): unreachable, shown as offline.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let off = print_tcp(&nobody.to_string(), &bytes, timeout).unwrap_err();
    assert!(matches!(off, PrinterError::Unreachable(_)), "{off:?}");
    assert_eq!(off.problem(), PrintProblem::Offline);
}
