//! Polls the printer and the card reader for the metrics, once a minute and only while the
//! kiosk is idle on the welcome screen: no resident is waiting, and no print is under way on
//! the printer's one connection.

use crate::metrics::KioskState;
use crate::receipt::service::{printer_state, ReceiptPrinter};
use crate::watchdog::{self, Outcome};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Between polls.
pub const EVERY: Duration = Duration::from_secs(60);

/// Starts the monitor thread (the first poll at once).
pub fn start(
    state: Arc<KioskState>,
    printer: ReceiptPrinter,
    reader_filter: Option<String>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("device-monitor".into())
        .spawn(move || loop {
            if state.idle.load(Ordering::Relaxed) {
                let p = printer.clone();
                match watchdog::run("printer-poll", Some(printer.deadline()), move || {
                    printer_state(&p)
                }) {
                    Outcome::Done(s) => state.printer(&s),
                    Outcome::Late | Outcome::Crashed => state.printer(
                        &crate::domain::PrinterState::Problem(crate::domain::PrintProblem::Offline),
                    ),
                }
                let present = pcsc::Context::establish(pcsc::Scope::User)
                    .ok()
                    .and_then(|ctx| {
                        crate::card::pcsc_reader::list_readers(&ctx, reader_filter.as_deref()).ok()
                    })
                    .is_some_and(|readers| !readers.is_empty());
                state.reader(present);
            }
            std::thread::sleep(EVERY);
        })?;
    Ok(())
}
