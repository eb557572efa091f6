//! The kiosk's configured receipt printer, and what the outbox remembers of each receipt: a
//! receipt is marked printed only when the printer confirmed it, otherwise it keeps the
//! reason and stays on the reprint list that staff mode and `kioskctl printer` show. A
//! reprint rebuilds the receipt from the outbox row (number, municipality, procedure, time,
//! language — nothing personal) and the catalogues, and says 再発行 on the paper.

use super::layout::{receipt_bytes, ReceiptContext};
use super::link::Connection;
use super::printer::{self, PrinterError, PrinterStatus};
use crate::config::KioskConfig;
use crate::domain::{Lang, PrintProblem, PrinterState};
use crate::session::{ReceiptJob, UnconfirmedReceipt, World};
use counter_core::outbox::{Outbox, OutboxError, Row};
use std::time::Duration;

/// How much longer than `printer.timeout_ms` the kiosk waits for a print, reprint or status
/// query before it gives up on it: the printer code keeps to the timeout itself, and this
/// covers what it cannot (a system call that blocks regardless, a bug).
pub const PRINT_MARGIN: Duration = Duration::from_secs(2);

/// The printer as configured: where it is, how long it may take, what paper it has.
#[derive(Debug, Clone)]
pub struct ReceiptPrinter {
    /// Where the printer is.
    pub connection: Connection,
    /// Each operation's time limit.
    pub timeout: Duration,
    /// What every receipt carries.
    pub context: ReceiptContext,
}

impl ReceiptPrinter {
    /// The printer the config names.
    pub fn from_config(cfg: &KioskConfig) -> Self {
        ReceiptPrinter {
            connection: cfg.printer.connection.clone(),
            timeout: Duration::from_millis(cfg.printer.timeout_ms),
            context: ReceiptContext {
                counter_name: cfg.sync.kiosk.counter_name.clone(),
                paper_mm: cfg.printer.paper_mm,
            },
        }
    }

    /// Lays out and prints one receipt; `Ok` only when the printer confirmed it.
    pub fn print(&self, job: &ReceiptJob) -> Result<PrinterStatus, PrinterError> {
        let bytes =
            receipt_bytes(job, &self.context).map_err(|e| PrinterError::Io(e.to_string()))?;
        printer::print(&self.connection, &bytes, self.timeout)
    }

    /// Asks the printer for its state.
    pub fn status(&self) -> Result<PrinterStatus, PrinterError> {
        printer::status(&self.connection, self.timeout)
    }

    /// When anyone waiting for this printer gives up: the timeout plus [`PRINT_MARGIN`].
    pub fn deadline(&self) -> Duration {
        self.timeout + PRINT_MARGIN
    }
}

/// Why a receipt could not be printed again.
#[derive(Debug, thiserror::Error)]
pub enum ReprintError {
    /// The outbox could not be read or written.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// Its municipality is no longer configured.
    #[error("receipt {receipt}: municipality {code} is no longer configured on this kiosk")]
    UnknownMunicipality {
        /// The receipt.
        receipt: String,
        /// Its municipality.
        code: String,
    },
    /// Its stored time does not parse.
    #[error("receipt {receipt}: its submission time {value:?} is not a valid time")]
    BadTime {
        /// The receipt.
        receipt: String,
        /// The stored time.
        value: String,
    },
    /// The printer failed.
    #[error(transparent)]
    Printer(#[from] PrinterError),
}

/// Records the outcome of printing `receipt`: printed only when there was no problem.
pub fn record(
    outbox: &mut Outbox,
    receipt: &str,
    problem: Option<PrintProblem>,
) -> Result<(), OutboxError> {
    match problem {
        None => outbox.mark_printed(receipt),
        Some(p) => outbox.mark_print_failed(receipt, p.code()),
    }
}

/// The receipt of an outbox row again, marked as a reissue.
pub fn reissue_job(row: &Row, world: &World) -> Result<ReceiptJob, ReprintError> {
    let m = world
        .municipalities
        .iter()
        .find(|m| m.code == row.municipality_code)
        .ok_or_else(|| ReprintError::UnknownMunicipality {
            receipt: row.receipt_number.clone(),
            code: row.municipality_code.clone(),
        })?;
    let submitted_at = time::OffsetDateTime::parse(
        &row.submitted_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|_| ReprintError::BadTime {
        receipt: row.receipt_number.clone(),
        value: row.submitted_at.clone(),
    })?
    .to_offset(counter_core::hours::JST);
    let lang = Lang::from_code(&row.receipt_lang).unwrap_or(Lang::JA);
    let mut job = ReceiptJob::new(
        row.receipt_number.clone(),
        submitted_at,
        lang,
        m,
        &row.procedure_code,
    );
    job.reissue = true;
    Ok(job)
}

/// The reissue of the receipt numbered `receipt`, from its outbox row.
pub fn reissue(outbox: &Outbox, world: &World, receipt: &str) -> Result<ReceiptJob, ReprintError> {
    reissue_job(&outbox.get(receipt)?, world)
}

/// Reprints one receipt and records the outcome (`kioskctl printer reprint`).
pub fn reprint(
    outbox: &mut Outbox,
    world: &World,
    printer: &ReceiptPrinter,
    receipt: &str,
) -> Result<PrinterStatus, ReprintError> {
    let job = reissue(outbox, world, receipt)?;
    let result = printer.print(&job);
    record(
        outbox,
        &job.receipt_number,
        result.as_ref().err().map(PrinterError::problem),
    )?;
    Ok(result?)
}

/// The reprint list as staff mode shows it: names in Japanese from the catalogues (the codes,
/// for a municipality no longer configured).
pub fn unconfirmed(outbox: &Outbox, world: &World) -> Result<Vec<UnconfirmedReceipt>, OutboxError> {
    Ok(outbox
        .unprinted()?
        .into_iter()
        .map(|row| {
            let (municipality, procedure, submitted) = match reissue_job(&row, world) {
                Ok(job) => {
                    let t = job.submitted_at;
                    let when = format!(
                        "{:02}/{:02} {:02}:{:02}",
                        t.month() as u8,
                        t.day(),
                        t.hour(),
                        t.minute()
                    );
                    (job.municipality_ja, job.procedure_ja, when)
                }
                Err(_) => (
                    row.municipality_code.clone(),
                    row.procedure_code.clone(),
                    row.submitted_at.clone(),
                ),
            };
            UnconfirmedReceipt {
                number: row.receipt_number,
                submitted,
                municipality,
                procedure,
                problem: row
                    .print_problem
                    .as_deref()
                    .and_then(PrintProblem::from_code),
            }
        })
        .collect())
}

/// The printer's state for staff mode.
pub fn printer_state(printer: &ReceiptPrinter) -> PrinterState {
    match printer.status() {
        Ok(s) => match s.problem() {
            Some(p) => PrinterState::Problem(p),
            None if s.paper_near_end => PrinterState::NearEnd,
            None => PrinterState::Ready,
        },
        Err(PrinterError::WriteOnly) => PrinterState::WriteOnly,
        Err(e) => PrinterState::Problem(e.problem()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use crate::routing::Router;
    use crate::session::MunicipalityInfo;
    use counter_core::hours::OpeningHours;
    use counter_core::outbox::NewApplication;
    use std::path::Path;

    fn app(municipality: &str, procedure: &str) -> NewApplication {
        NewApplication {
            application_id: uuid::Uuid::new_v4(),
            kiosk_id: "K01".into(),
            municipality_code: municipality.into(),
            procedure_code: procedure.into(),
            submitted_at: time::macros::datetime!(2026-11-21 10:00 UTC), // Saturday 19:00 JST
            receipt_lang: "en".into(),
            sealed: "a.b.c.d.e".into(),
        }
    }

    #[test]
    fn reprint_list_and_reissued_receipt_come_from_the_outbox_row_and_catalogue() {
        let catalogue = Catalogue::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/catalogues/saitama-iruma.toml"),
        )
        .unwrap();
        let world = World {
            router: Router::from_entries(vec![]),
            municipalities: vec![MunicipalityInfo {
                code: "113263".into(),
                name_ja: "毛呂山町".into(),
                name_en: "Moroyama".into(),
                names: Default::default(),
                catalogue,
                hours: OpeningHours::parse(&["mon-fri 09:00-17:00".into()], &[]).unwrap(),
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(&dir.path().join("o.db")).unwrap();
        let known = outbox.enqueue(&app("113263", "juminhyo-copy"), 0).unwrap();
        let gone = outbox.enqueue(&app("999999", "old-procedure"), 0).unwrap();
        record(&mut outbox, &known, Some(PrintProblem::PaperOut)).unwrap();

        let list = unconfirmed(&outbox, &world).unwrap();
        assert_eq!(
            list[0],
            UnconfirmedReceipt {
                number: known.clone(),
                submitted: "11/21 19:00".into(),
                municipality: "毛呂山町".into(),
                procedure: "住民票の写しの交付申請".into(),
                problem: Some(PrintProblem::PaperOut),
            }
        );
        assert_eq!(
            (list[1].municipality.as_str(), list[1].procedure.as_str()),
            ("999999", "old-procedure")
        );
        assert_eq!(list[1].problem, None, "never tried");

        let job = reissue_job(&outbox.get(&known).unwrap(), &world).unwrap();
        assert!(job.reissue);
        assert_eq!(job.lang, Lang::EN);
        assert_eq!(job.municipality_local, "Moroyama");
        assert_eq!(
            job.procedure_local,
            "Request a copy of your residence certificate (住民票)"
        );
        assert_eq!(
            job.processing_from,
            Some(time::macros::datetime!(2026-11-23 09:00 +09:00)),
            "the same note as the first print: closed on Saturday evening"
        );
        assert!(matches!(
            reissue_job(&outbox.get(&gone).unwrap(), &world),
            Err(ReprintError::UnknownMunicipality { .. })
        ));
        record(&mut outbox, &known, None).unwrap();
        assert_eq!(unconfirmed(&outbox, &world).unwrap().len(), 1);
    }
}
