//! The truthful print sequence against the virtual ESC/POS printer on each driver — TCP, USB
//! (`usblp`-like port) and serial (a tty the kiosk must set to raw 115200 baud), the latter two
//! on pseudo-terminals — one case per fault: status is asked before every job, nothing is
//! printed on paper out, cover open or offline, a near end is reported, a silent printer and a
//! confirmation that comes too late leave the receipt unconfirmed, a slow one within the
//! timeout is confirmed, a printer switched off is unreachable and prints again once switched
//! back on at the same address, and a write-only file printer never claims a confirmation.
//! Whatever the printer does, a print ends within its timeout: a named pipe nothing reads, a
//! device that never stops talking, answers that each come just in time; and status packets
//! the printer sends unasked (ASB) never pass for a confirmation.

use kiosk_app::domain::{Lang, PrintProblem};
use kiosk_app::receipt::layout::{receipt_bytes, ReceiptContext};
use kiosk_app::receipt::link::Connection;
use kiosk_app::receipt::printer::{self, PrinterError};
use kiosk_app::receipt::service::PRINT_MARGIN;
use kiosk_app::session::ReceiptJob;
use madoguchi_tests::vprinter::{Mode, Port, VirtualPrinter};
use std::time::Duration;

fn receipt_job() -> ReceiptJob {
    ReceiptJob {
        receipt_number: "K01-261122-0042".into(),
        submitted_at: counter_core::hours::japan_now(),
        lang: Lang::JA,
        municipality_ja: "越生町".into(),
        municipality_local: "越生町".into(),
        procedure_ja: "転出届".into(),
        procedure_local: "転出届".into(),
        processing_from: None,
        reissue: false,
    }
}

fn job() -> Vec<u8> {
    let job = receipt_job();
    let ctx = ReceiptContext {
        counter_name: "毛呂山・越生 共同窓口".into(),
        paper_mm: 80,
    };
    receipt_bytes(&job, &ctx).unwrap()
}

const TIMEOUT: Duration = Duration::from_millis(1500);

fn connection(printer: &VirtualPrinter) -> Connection {
    printer.connection().parse().unwrap()
}

/// Every fault state, in order, on one printer.
fn every_fault_gives_a_truthful_answer(printer: &VirtualPrinter) {
    let conn = connection(printer);
    let print = |bytes: &[u8]| printer::print(&conn, bytes, TIMEOUT);
    let bytes = job();

    let status = print(&bytes).expect("ready printer prints");
    assert!(!status.paper_near_end);
    assert_eq!(printer.jobs().len(), 1);
    assert_eq!(
        printer.jobs()[0],
        bytes[..bytes.len() - 3],
        "every byte arrived unchanged"
    );

    printer.set_mode(Mode::NearEnd);
    let status = print(&bytes).expect("near end still prints");
    assert!(status.paper_near_end, "staff are warned of a near end");
    assert_eq!(printer.jobs().len(), 2);

    for (mode, problem) in [
        (Mode::PaperOut, PrintProblem::PaperOut),
        (Mode::CoverOpen, PrintProblem::CoverOpen),
        (Mode::Offline, PrintProblem::Offline),
    ] {
        printer.set_mode(mode);
        let err = print(&bytes).unwrap_err();
        assert!(
            matches!(&err, PrinterError::NotReady(p, _) if *p == problem),
            "{mode:?}: {err:?}"
        );
        assert_eq!(printer.jobs().len(), 2, "{mode:?}: nothing may be printed");
        assert_eq!(
            printer::status(&conn, TIMEOUT).unwrap().problem(),
            Some(problem)
        );
    }

    printer.set_mode(Mode::Silent);
    assert_eq!(print(&bytes).unwrap_err(), PrinterError::Silent);

    // Slow, but within the timeout: confirmed. Slower than the timeout: unconfirmed (it can
    // be reprinted), never reported as printed.
    printer.set_mode(Mode::Ready);
    printer.state.lock().unwrap().slow = Duration::from_millis(300);
    assert!(print(&bytes).is_ok());
    printer.state.lock().unwrap().slow = Duration::from_millis(2500);
    let late = print(&bytes).unwrap_err();
    assert_eq!(late, PrinterError::Unconfirmed);
    assert_eq!(late.problem(), PrintProblem::Unconfirmed);
    printer.state.lock().unwrap().slow = Duration::ZERO;
    // The late confirmation of the previous job is not taken for this one's.
    assert!(print(&bytes).is_ok());

    // What was printed is the receipt, with its QR code.
    let decoded = kiosk_app::receipt::decode::decode(printer.jobs().last().unwrap()).unwrap();
    assert_eq!(decoded.qr_payloads(), vec!["K01-261122-0042".to_string()]);
}

/// Switched off: unreachable, shown as offline. Switched on again at the same address: the
/// next receipt prints, with no restart of anything on the kiosk's side.
fn power_cycle(printer: &VirtualPrinter) {
    let conn = connection(printer);
    let bytes = job();
    printer.power_off();
    // (Counted once off: a job still in the mechanism at the switch is finished first.)
    let before = printer.jobs().len();
    let off = printer::print(&conn, &bytes, TIMEOUT).unwrap_err();
    assert!(matches!(off, PrinterError::Unreachable(_)), "{off:?}");
    assert_eq!(off.problem(), PrintProblem::Offline);
    assert!(matches!(
        printer::status(&conn, TIMEOUT),
        Err(PrinterError::Unreachable(_))
    ));
    printer.power_on().unwrap();
    printer::print(&conn, &bytes, TIMEOUT).expect("prints after power on");
    assert_eq!(printer.jobs().len(), before + 1);
}

#[test]
fn tcp_printer() {
    let printer = VirtualPrinter::start(0, None).unwrap();
    every_fault_gives_a_truthful_answer(&printer);
    power_cycle(&printer);
    // Never switched on (a loopback address held by a socket that does not listen).
    let nobody = madoguchi_tests::harness::Unreachable::new().unwrap();
    let conn = Connection::Tcp(nobody.addr.to_string());
    let off = printer::print(&conn, &job(), TIMEOUT).unwrap_err();
    assert!(matches!(off, PrinterError::Unreachable(_)), "{off:?}");
}

#[test]
fn usb_printer() {
    let dir = tempfile::tempdir().unwrap();
    let printer = VirtualPrinter::with_port(Port::Usb(dir.path().join("lp0")), None).unwrap();
    every_fault_gives_a_truthful_answer(&printer);
    power_cycle(&printer);
}

#[test]
fn serial_printer_is_set_to_raw_at_the_configured_speed() {
    let dir = tempfile::tempdir().unwrap();
    let printer =
        VirtualPrinter::with_port(Port::Serial(dir.path().join("ttyPrinter")), None).unwrap();
    every_fault_gives_a_truthful_answer(&printer);
    assert_eq!(printer.state.lock().unwrap().tty_line, Some((115200, true)));
    // Power-cycled, the port is a fresh (cooked) tty again and the kiosk sets it up again.
    power_cycle(&printer);
    assert_eq!(printer.state.lock().unwrap().tty_line, Some((115200, true)));
}

#[test]
fn file_printer_gets_the_job_but_never_claims_a_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("receipts.bin");
    let conn: Connection = format!("file:{}", path.display()).parse().unwrap();
    let bytes = job();
    let err = printer::print(&conn, &bytes, TIMEOUT).unwrap_err();
    assert_eq!(err, PrinterError::WriteOnly);
    assert_eq!(err.problem(), PrintProblem::Unconfirmed);
    printer::print(&conn, &bytes, TIMEOUT).unwrap_err();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        [&bytes[..], &bytes[..]].concat(),
        "appended"
    );
    assert_eq!(
        printer::status(&conn, TIMEOUT),
        Err(PrinterError::WriteOnly)
    );
    // A directory that does not exist: unreachable, with the path named.
    let gone: Connection = "file:/nonexistent/dir/receipts.bin".parse().unwrap();
    let err = printer::print(&gone, &bytes, TIMEOUT).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/dir"), "{err}");
}

/// Runs `f` on its own thread; fails the test if it has not ended by the print deadline (the
/// timeout plus the margin), with slack for a loaded machine.
fn within_deadline<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    let patience = TIMEOUT + PRINT_MARGIN;
    rx.recv_timeout(patience)
        .unwrap_or_else(|_| panic!("{what} did not end within {patience:?}"))
}

#[test]
fn fifo_printer_without_reader_is_not_connected() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("printer.fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let conn = Connection::File(fifo);
    let err = within_deadline("a print to a pipe nothing reads", move || {
        printer::print(&conn, &job(), TIMEOUT)
    })
    .unwrap_err();
    assert!(matches!(err, PrinterError::Unreachable(_)), "{err:?}");
    assert_eq!(err.problem(), PrintProblem::Offline);
    assert!(err.to_string().contains("not connected"), "{err}");
}

#[test]
fn usb_printer_that_never_stops_talking_cannot_stall_the_job() {
    // /dev/zero always has more to say, like a printer stuck sending.
    let conn = Connection::Usb("/dev/zero".into());
    let err = within_deadline("a print to a device that never stops talking", move || {
        printer::print(&conn, &job(), TIMEOUT)
    })
    .unwrap_err();
    assert_eq!(err, PrinterError::Silent);
}

#[test]
fn slow_status_answers_cannot_stretch_a_print_past_its_timeout() {
    // Each answer comes within the timeout, four of them do not.
    let printer = VirtualPrinter::start(0, None).unwrap();
    printer.state.lock().unwrap().status_delay = Duration::from_millis(1400);
    let conn = connection(&printer);
    let err = within_deadline("a print to a slow printer", move || {
        printer::print(&conn, &job(), TIMEOUT)
    })
    .unwrap_err();
    assert_eq!(err, PrinterError::Silent);
    assert!(printer.jobs().is_empty());
}

#[test]
fn asb_packets_never_pass_for_the_confirmation() {
    let printer = VirtualPrinter::start(0, None).unwrap();
    let conn = connection(&printer);
    let print = |conn: &Connection| {
        let conn = conn.clone();
        within_deadline("a print", move || printer::print(&conn, &job(), TIMEOUT))
    };
    let asb_on = |ignores_gs_a: bool, runs_out: bool| {
        printer.set_mode(Mode::Ready);
        let mut s = printer.state.lock().unwrap();
        s.asb = true;
        s.asb_ignores_gs_a = ignores_gs_a;
        s.paper_runs_out_in_next_job = runs_out;
    };

    // ASB left on, paper out during the job: the kiosk turns ASB off first, so no packet comes.
    asb_on(false, true);
    assert_eq!(print(&conn).unwrap_err(), PrinterError::Unconfirmed);
    {
        let s = printer.state.lock().unwrap();
        assert!(!s.asb, "the kiosk turned ASB off");
        assert_eq!(s.asb_sent, 0);
    }

    // A printer that ignores GS a sends a packet as the job starts and another when the paper
    // runs out; neither is the answer to GS r 1.
    asb_on(true, true);
    assert_eq!(print(&conn).unwrap_err(), PrinterError::Unconfirmed);
    assert!(printer.state.lock().unwrap().asb_sent >= 2);
    assert!(printer.jobs().is_empty(), "nothing was printed");

    // Nor do its packets hide the real confirmation.
    asb_on(true, false);
    assert!(print(&conn).is_ok());
    assert_eq!(printer.jobs().len(), 1);
}

/// The late confirmation of a job the kiosk gave up on is still on its way when the next job
/// asks for status — over a USB or serial port the byte stream persists between jobs (over
/// TCP each job has its own connection, so the late answer goes nowhere). That next job is one
/// the printer never confirms (its paper runs out): the late answer must not confirm it.
#[test]
fn late_confirmation_on_a_persistent_port_is_not_taken_for_the_next_job() {
    let dir = tempfile::tempdir().unwrap();
    for port in [
        Port::Usb(dir.path().join("lp0")),
        Port::Serial(dir.path().join("ttyPrinter")),
    ] {
        let printer = VirtualPrinter::with_port(port.clone(), None).unwrap();
        let conn = connection(&printer);
        let bytes = job();
        printer.state.lock().unwrap().slow = Duration::from_millis(2500);
        assert_eq!(
            printer::print(&conn, &bytes, TIMEOUT).unwrap_err(),
            PrinterError::Unconfirmed
        );
        {
            let mut s = printer.state.lock().unwrap();
            s.slow = Duration::ZERO;
            s.paper_runs_out_in_next_job = true;
        }
        assert_eq!(
            printer::print(&conn, &bytes, TIMEOUT).unwrap_err(),
            PrinterError::Unconfirmed,
            "{port:?}: the first job's late answer confirmed the second"
        );
        let s = printer.state.lock().unwrap();
        assert_eq!(s.late_answers, 1, "{port:?}: the late answer was sent");
        assert_eq!(s.jobs.len(), 1, "{port:?}: only the first job printed");
    }
}

/// Paper runs out in the middle of a job, with no status packets (ASB off): the receipt is
/// not confirmed, nothing is printed, and the printer then reads as out of paper.
#[test]
fn paper_out_in_the_middle_of_a_job_is_never_a_printed_receipt() {
    let printer = VirtualPrinter::start(0, None).unwrap();
    let conn = connection(&printer);
    printer.state.lock().unwrap().paper_runs_out_in_next_job = true;
    let err = printer::print(&conn, &job(), TIMEOUT).unwrap_err();
    assert_eq!(err, PrinterError::Unconfirmed);
    assert!(printer.jobs().is_empty(), "nothing was printed");
    assert_eq!(
        printer::status(&conn, TIMEOUT).unwrap().problem(),
        Some(PrintProblem::PaperOut)
    );
    let again = printer::print(&conn, &job(), TIMEOUT).unwrap_err();
    assert!(
        matches!(again, PrinterError::NotReady(PrintProblem::PaperOut, _)),
        "{again:?}"
    );
}

/// Raster and QR data that happen to hold `10 04 n` (DLE EOT), `1D 72 n` (GS r) and `1D 61 n`
/// (GS a) are data: the printer neither answers them nor ends the job there.
#[test]
fn status_commands_inside_raster_and_qr_data_are_data() {
    let printer = VirtualPrinter::start(0, None).unwrap();
    let conn = connection(&printer);
    let mut bytes = vec![0x1B, 0x40];
    // GS v 0: 2 bytes wide, 6 rows.
    bytes.extend_from_slice(&[0x1D, 0x76, 0x30, 0x00, 2, 0, 6, 0]);
    bytes.extend_from_slice(&[
        0x10, 0x04, 0x01, 0x1D, 0x72, 0x01, 0x1D, 0x61, 0x0F, 0x10, 0x04, 0x02, 0, 0,
    ]);
    // GS ( k: store "\x10\x04\x03" as the QR symbol's data, then print it.
    bytes.extend_from_slice(&[0x1D, 0x28, 0x6B, 6, 0, 0x31, 0x50, 0x30, 0x10, 0x04, 0x03]);
    bytes.extend_from_slice(&[0x1D, 0x28, 0x6B, 3, 0, 0x31, 0x51, 0x30]);
    bytes.extend_from_slice(&[0x1D, 0x56, 0x42, 0x00, 0x1D, 0x72, 0x01]);
    printer::print(&conn, &bytes, TIMEOUT).expect("confirmed");
    let s = printer.state.lock().unwrap();
    assert_eq!(
        s.jobs,
        vec![bytes[..bytes.len() - 3].to_vec()],
        "one job, every byte"
    );
    assert!(!s.asb, "GS a inside the image turned nothing on");
}

/// A receipt with a line outside JIS X 0208 (printed as a raster image) through the virtual
/// printer on a USB port: confirmed, every byte printed, the line an image of that text.
#[test]
fn gaiji_receipt_prints_through_the_virtual_printer() {
    let dir = tempfile::tempdir().unwrap();
    let printer = VirtualPrinter::with_port(
        Port::Usb(dir.path().join("lp0")),
        Some(dir.path().join("out")),
    )
    .unwrap();
    let conn = connection(&printer);
    let ctx = ReceiptContext {
        counter_name: "髙﨑𠮷田 共同窓口".into(),
        paper_mm: 80,
    };
    let bytes = receipt_bytes(&receipt_job(), &ctx).unwrap();
    printer::print(&conn, &bytes, TIMEOUT).expect("confirmed");
    assert_eq!(printer.jobs(), vec![bytes[..bytes.len() - 3].to_vec()]);
    let decoded = kiosk_app::receipt::decode::decode(&printer.jobs()[0]).unwrap();
    let rasters = decoded
        .elements
        .iter()
        .filter(|e| matches!(e, kiosk_app::receipt::decode::Element::Raster { .. }))
        .count();
    assert_eq!(rasters, 1, "the 外字 line is an image");
    assert_eq!(decoded.qr_payloads(), vec!["K01-261122-0042".to_string()]);
    assert!(dir.path().join("out/receipt-001.png").exists());
}

/// The serial line the kiosk leaves on the port, read back through the pty: RTS/CTS as
/// configured and one stop bit. (A Linux pty always reports CS8 and no parity whatever is
/// set, so those two are checked where they are asked for: the strace test below.)
#[test]
fn serial_line_has_rtscts_as_configured_and_one_stop_bit() {
    use rustix::termios::ControlModes;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ttyPrinter");
    let printer = VirtualPrinter::with_port(Port::Serial(path.clone()), None).unwrap();
    for (flow, rtscts) in [("rtscts", true), ("none", false)] {
        let conn: Connection = format!("serial:{}?baud=38400&flow={flow}", path.display())
            .parse()
            .unwrap();
        printer::print(&conn, &job(), TIMEOUT).expect("confirmed");
        let cflag = printer.state.lock().unwrap().tty_cflag.expect("line seen");
        assert_eq!(cflag.contains(ControlModes::CRTSCTS), rtscts, "flow={flow}");
        assert!(!cflag.contains(ControlModes::CSTOPB), "one stop bit");
        assert_eq!(printer.state.lock().unwrap().tty_line, Some((38400, true)));
    }
}

/// 8N1 and the configured flow control, as the kiosk asks the kernel for them. A pty reports
/// CS8 and no parity whatever was set, so the line is read where it is asked for: strace (a
/// third-party decoder of the termios ioctls) shows what `kioskctl printer status` passes.
#[test]
fn serial_line_asked_of_the_kernel_is_8n1_with_the_configured_flow() {
    use madoguchi_tests::harness::{binary, Fixture, FixtureOptions};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ttyPrinter");
    let _printer = VirtualPrinter::with_port(Port::Serial(path.clone()), None).unwrap();
    let kioskctl = binary("kioskctl").unwrap();
    for (flow, rtscts) in [("rtscts", true), ("none", false)] {
        let fx = Fixture::new(FixtureOptions {
            printer_connection: Some(format!("serial:{}?baud=38400&flow={flow}", path.display())),
            ..Default::default()
        })
        .unwrap();
        let trace = fx.dir.join("strace.txt");
        let out = std::process::Command::new("strace")
            .args(["-f", "-qq", "-v", "-e", "trace=ioctl", "-o"])
            .arg(&trace)
            .arg(&kioskctl)
            .arg("--config")
            .arg(&fx.config_path)
            .args(["printer", "status", "--json"])
            .output()
            .expect("strace runs (deploy/setup.sh installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let trace = std::fs::read_to_string(&trace).unwrap();
        let sets: Vec<&str> = trace
            .lines()
            .filter(|l| l.contains("TCSETS") && l.contains("c_cflag="))
            .collect();
        let last = sets
            .last()
            .unwrap_or_else(|| panic!("no TCSETS in {trace}"));
        let cflag: Vec<&str> = last
            .split("c_cflag=")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap()
            .split('|')
            .collect();
        for (flag, wanted) in [
            ("CS8", true),
            ("PARENB", false),
            ("CSTOPB", false),
            ("CREAD", true),
            ("CLOCAL", true),
            ("CRTSCTS", rtscts),
        ] {
            assert_eq!(
                cflag.contains(&flag),
                wanted,
                "flow={flow}: {flag} in {last}"
            );
        }
        assert!(last.contains("B38400"), "38400 baud: {last}");
    }
}
