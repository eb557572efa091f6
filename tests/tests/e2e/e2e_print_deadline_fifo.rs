//! A write-only printer on a named pipe that nothing reads (the spooler is stopped): opening
//! it used to wait for a reader forever, leaving the resident on "Submitting". Now the resident
//! sees the receipt number and "The printer is not connected" within the print deadline, the
//! receipt is on the reprint list, and `kioskctl printer test` gives up just as fast. One
//! `#[test]`: Slint's event loop runs once per process.

use madoguchi_tests::driver::unconfirmable_printer_session;
use std::time::Duration;

/// `printer.timeout_ms` here, and how long anything may take: the timeout, the 2 s margin of
/// the print deadline, and slack for a loaded machine.
const TIMEOUT_MS: u64 = 1500;
const PATIENCE: Duration = Duration::from_millis(TIMEOUT_MS + 2000 + 2500);

#[test]
fn fifo_printer_without_reader_ends_on_the_receipt_screen() {
    let pipe_dir = tempfile::tempdir().unwrap();
    let fifo = pipe_dir.path().join("printer.fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let test = unconfirmable_printer_session(
        format!("file:{}", fifo.display()),
        TIMEOUT_MS,
        PATIENCE,
        "FIFO without reader",
    );
    assert!(test.stderr.contains("not connected"), "{}", test.stderr);
}
