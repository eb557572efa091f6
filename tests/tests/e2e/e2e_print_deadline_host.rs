//! A network printer configured by a host name that does not resolve. The lookup is bounded
//! (the system resolver has no timeout of its own), so the resident sees the receipt number
//! and "The printer is not connected" within the print deadline, the receipt is on the
//! reprint list, and `kioskctl printer test` gives up within the deadline too. One `#[test]`:
//! Slint's event loop runs once per process.

use madoguchi_tests::driver::unconfirmable_printer_session;
use std::time::Duration;

/// `printer.timeout_ms` here, and how long anything may take: the timeout, the 2 s margin of
/// the print deadline, and slack for a loaded machine.
const TIMEOUT_MS: u64 = 1500;
const PATIENCE: Duration = Duration::from_millis(TIMEOUT_MS + 2000 + 2500);

#[test]
fn unresolvable_printer_host_ends_on_the_receipt_screen() {
    let test = unconfirmable_printer_session(
        // `.invalid` never resolves (RFC 6761).
        "tcp://receipt-printer.invalid:9100".into(),
        TIMEOUT_MS,
        PATIENCE,
        "unresolvable host",
    );
    assert!(
        test.stderr.contains("receipt-printer.invalid"),
        "{}",
        test.stderr
    );
}
