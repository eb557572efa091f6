//! The printer edge: a byte link ([`PrinterLink`]; the transports are in [`super::link`]), and the truthful print
//! sequence: turn automatic status back off, ask `DLE EOT 1–4`, refuse to print on a fault,
//! send the job, and wait for the answer to the trailing `GS r 1` before calling the receipt
//! printed. The whole sequence, opening the link included, keeps to one timeout: whatever the
//! printer does, a print ends by then.

use super::link::{Connection, PrinterLink};
use crate::domain::PrintProblem;
use serde::Serialize;
use std::time::{Duration, Instant};

/// The printer's state from `DLE EOT 1–4`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PrinterStatus {
    /// It answers and is online.
    pub online: bool,
    /// The cover is open.
    pub cover_open: bool,
    /// Out of paper.
    pub paper_out: bool,
    /// Paper nearly out.
    pub paper_near_end: bool,
    /// A mechanical or cutter error.
    pub error: bool,
}

impl PrinterStatus {
    /// Decodes the four answers (Epson's table; every valid byte matches `0xx1xx10`).
    pub fn from_bytes(b: [u8; 4]) -> Option<Self> {
        if b.iter().any(|&x| x & 0x93 != 0x12) {
            return None;
        }
        Some(PrinterStatus {
            online: b[0] & 0x08 == 0,
            cover_open: b[1] & 0x04 != 0,
            paper_out: b[1] & 0x20 != 0 || b[3] & 0x60 == 0x60,
            paper_near_end: b[3] & 0x0C == 0x0C,
            error: b[1] & 0x40 != 0 || b[2] & 0x68 != 0,
        })
    }

    /// Why this printer must not print now, if it must not.
    pub fn problem(&self) -> Option<PrintProblem> {
        if self.paper_out {
            Some(PrintProblem::PaperOut)
        } else if self.cover_open {
            Some(PrintProblem::CoverOpen)
        } else if self.error {
            Some(PrintProblem::Error)
        } else if !self.online {
            Some(PrintProblem::Offline)
        } else {
            None
        }
    }
}

/// Why a print or status query failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PrinterError {
    /// It cannot be reached.
    #[error("cannot reach the printer: {0}")]
    Unreachable(String),
    /// It did not answer in time.
    #[error("the printer did not answer the status query")]
    Silent,
    /// An answer that is not a status.
    #[error("the printer sent an invalid status byte")]
    Garbled,
    /// It reports a problem.
    #[error("the printer reports a problem: {}", .0.code())]
    NotReady(PrintProblem, PrinterStatus),
    /// The job was sent but not confirmed.
    #[error("the printer did not confirm the receipt")]
    Unconfirmed,
    /// A read or write failed.
    #[error("printer link error: {0}")]
    Io(String),
    /// The link cannot read answers.
    #[error("the job was written, but a write-only printer cannot report its state or confirm a receipt")]
    WriteOnly,
}

impl PrinterError {
    /// What the resident and staff are told.
    /// Stable machine-readable code: a printer that reports a problem gives that problem's
    /// code, the same the resident's screen, the outbox and the logs use.
    pub fn code(&self) -> &'static str {
        match self {
            PrinterError::NotReady(p, _) => p.code(),
            PrinterError::Unreachable(_) => "printer-unreachable",
            PrinterError::Silent => "printer-silent",
            other => other.problem().code(),
        }
    }

    /// What the resident is told.
    pub fn problem(&self) -> PrintProblem {
        match self {
            PrinterError::NotReady(p, _) => *p,
            PrinterError::Unreachable(_) | PrinterError::Silent => PrintProblem::Offline,
            PrinterError::Unconfirmed | PrinterError::WriteOnly => PrintProblem::Unconfirmed,
            PrinterError::Garbled | PrinterError::Io(_) => PrintProblem::Error,
        }
    }
}

fn io(e: std::io::Error) -> PrinterError {
    PrinterError::Io(e.to_string())
}

/// `GS a 0`: automatic status back off. A printer left with ASB on by its memory switches or
/// another program sends 4-byte status packets unasked; this job needs none of them.
const ASB_OFF: [u8; 3] = [0x1D, 0x61, 0x00];

/// At most this many bytes already waiting are read (and dropped) before the job is sent.
const MAX_STALE: usize = 4096;

/// What arrived from the printer, told apart by Epson's identification of status bytes
/// (escpos-and-outbox.md A3): a real-time answer is `0xx1xx10`, the first byte of an ASB
/// packet `0xx1xx00` (three `0xx0xxxx` bytes follow), a `GS r` answer `0xx0xxxx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// The answer to a `DLE EOT n`.
    RealTime(u8),
    /// The answer to `GS r 1`: the paper sensor, once everything before it was processed.
    PaperSensor(u8),
    /// An automatic status back packet: never an answer to anything asked.
    Asb,
    /// Anything else (XON/XOFF, noise): taken for a status answer, which then reads as garbled.
    Other(u8),
}

/// Asks `DLE EOT 1–4`, one at a time, each answer awaited. Late `GS r` answers and ASB
/// packets are skipped.
pub fn query_status(
    link: &mut dyn PrinterLink,
    timeout: Duration,
) -> Result<PrinterStatus, PrinterError> {
    query_status_by(link, Instant::now() + timeout)
}

fn query_status_by(
    link: &mut dyn PrinterLink,
    deadline: Instant,
) -> Result<PrinterStatus, PrinterError> {
    let mut answers = [0u8; 4];
    for (n, slot) in answers.iter_mut().enumerate() {
        link.send(&[0x10, 0x04, n as u8 + 1]).map_err(io)?;
        *slot = next_reply(link, deadline, |r| match r {
            Reply::RealTime(b) | Reply::Other(b) => Some(b),
            _ => None,
        })?
        .ok_or(PrinterError::Silent)?;
    }
    PrinterStatus::from_bytes(answers).ok_or(PrinterError::Garbled)
}

/// Prints a job that ends with `GS r 1`, truthfully, all within `timeout`. Returns the status
/// seen before printing (so that staff hear about a paper near end).
pub fn print_job(
    link: &mut dyn PrinterLink,
    job: &[u8],
    timeout: Duration,
) -> Result<PrinterStatus, PrinterError> {
    print_job_by(link, job, Instant::now() + timeout)
}

fn print_job_by(
    link: &mut dyn PrinterLink,
    job: &[u8],
    deadline: Instant,
) -> Result<PrinterStatus, PrinterError> {
    link.send(&ASB_OFF).map_err(io)?;
    let status = query_status_by(link, deadline)?;
    if let Some(p) = status.problem() {
        return Err(PrinterError::NotReady(p, status));
    }
    // Whatever is already waiting was sent before the job's GS r 1 and cannot answer it.
    drain(link, deadline)?;
    link.send(job).map_err(io)?;
    // The answer to GS r 1 comes once everything before it was processed; real-time answers
    // and ASB packets are skipped. An answer that says the paper is gone confirms nothing.
    match next_reply(link, deadline, |r| match r {
        Reply::PaperSensor(b) => Some(b),
        _ => None,
    })? {
        Some(b) if b & 0x0C != 0 => Err(PrinterError::NotReady(PrintProblem::PaperOut, status)),
        Some(_) => Ok(status),
        None => Err(PrinterError::Unconfirmed),
    }
}

/// Reads and drops what the printer already sent (at most [`MAX_STALE`] bytes), whole ASB
/// packets included.
fn drain(link: &mut dyn PrinterLink, deadline: Instant) -> Result<(), PrinterError> {
    for _ in 0..MAX_STALE {
        if Instant::now() >= deadline {
            break;
        }
        match link.read_byte(Duration::ZERO).map_err(io)? {
            Some(b) if classify(b) == Reply::Asb => {
                skip_asb_rest(link, deadline)?;
            }
            Some(_) => {}
            None => break,
        }
    }
    Ok(())
}

/// What a first byte is; [`Reply::Asb`] means three more bytes belong to it.
fn classify(b: u8) -> Reply {
    match b {
        _ if b & 0x93 == 0x12 => Reply::RealTime(b),
        _ if b & 0x93 == 0x10 => Reply::Asb,
        _ if b & 0x90 == 0x00 => Reply::PaperSensor(b),
        _ => Reply::Other(b),
    }
}

/// The three bytes after an ASB packet's first; `false` when they did not come in time.
fn skip_asb_rest(link: &mut dyn PrinterLink, deadline: Instant) -> Result<bool, PrinterError> {
    for _ in 0..3 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || link.read_byte(left).map_err(io)?.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The first reply that `wanted` accepts before `deadline`, skipping the others (ASB packets
/// whole); `None` when none came in time. A byte arriving exactly at the deadline is late.
fn next_reply<T>(
    link: &mut dyn PrinterLink,
    deadline: Instant,
    wanted: impl Fn(Reply) -> Option<T>,
) -> Result<Option<T>, PrinterError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let Some(b) = link.read_byte(left).map_err(io)? else {
            return Ok(None);
        };
        match classify(b) {
            Reply::Asb => {
                if !skip_asb_rest(link, deadline)? {
                    return Ok(None);
                }
            }
            r => {
                if let Some(t) = wanted(r) {
                    return Ok(Some(t));
                }
            }
        }
    }
}

/// Opens the configured printer and prints, truthfully, opening included within `timeout`.
/// A write-only printer gets the job but the answer is [`PrinterError::WriteOnly`]: the
/// receipt stays unconfirmed.
pub fn print(
    connection: &Connection,
    job: &[u8],
    timeout: Duration,
) -> Result<PrinterStatus, PrinterError> {
    let deadline = Instant::now() + timeout;
    let mut link = open(connection, timeout)?;
    if !connection.answers() {
        link.send(job).map_err(io)?;
        return Err(PrinterError::WriteOnly);
    }
    print_job_by(link.as_mut(), job, deadline)
}

/// Opens the configured printer and asks its state, all within `timeout`.
pub fn status(connection: &Connection, timeout: Duration) -> Result<PrinterStatus, PrinterError> {
    if !connection.answers() {
        return Err(PrinterError::WriteOnly);
    }
    let deadline = Instant::now() + timeout;
    query_status_by(open(connection, timeout)?.as_mut(), deadline)
}

fn open(connection: &Connection, timeout: Duration) -> Result<Box<dyn PrinterLink>, PrinterError> {
    connection
        .open(timeout)
        .map_err(|e| PrinterError::Unreachable(format!("{connection}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A printer that says `answers` one by one as the host waits for them (a look without
    /// waiting finds nothing).
    struct Fake {
        answers: VecDeque<Option<u8>>,
        sent: Vec<u8>,
    }

    impl PrinterLink for Fake {
        fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            self.sent.extend_from_slice(bytes);
            Ok(())
        }
        fn read_byte(&mut self, t: Duration) -> std::io::Result<Option<u8>> {
            if t.is_zero() {
                return Ok(None);
            }
            Ok(self.answers.pop_front().flatten())
        }
    }

    fn fake(a: &[Option<u8>]) -> Fake {
        Fake {
            answers: a.iter().copied().collect(),
            sent: vec![],
        }
    }

    const T: Duration = Duration::from_millis(50);

    #[test]
    fn status_bytes_measured_on_emupos() {
        let ok = PrinterStatus::from_bytes([0x12; 4]).unwrap();
        assert_eq!(ok.problem(), None);
        let near = PrinterStatus::from_bytes([0x12, 0x12, 0x12, 0x1E]).unwrap();
        assert!(near.paper_near_end && near.problem().is_none());
        assert_eq!(
            PrinterStatus::from_bytes([0x1A, 0x32, 0x12, 0x7E])
                .unwrap()
                .problem(),
            Some(PrintProblem::PaperOut)
        );
        assert_eq!(
            PrinterStatus::from_bytes([0x1A, 0x16, 0x12, 0x12])
                .unwrap()
                .problem(),
            Some(PrintProblem::CoverOpen)
        );
        assert_eq!(
            PrinterStatus::from_bytes([0x1A, 0x12, 0x12, 0x12])
                .unwrap()
                .problem(),
            Some(PrintProblem::Offline)
        );
        assert!(PrinterStatus::from_bytes([0x00, 0x12, 0x12, 0x12]).is_none());
    }

    #[test]
    fn prints_only_when_ready_and_confirmed() {
        let mut f = fake(&[Some(0x12), Some(0x12), Some(0x12), Some(0x12), Some(0x00)]);
        assert!(print_job(&mut f, b"JOB", T).is_ok());
        assert!(f.sent.ends_with(b"JOB"));
        let mut f = fake(&[Some(0x1A), Some(0x32), Some(0x12), Some(0x7E)]);
        let err = print_job(&mut f, b"JOB", T).unwrap_err();
        assert_eq!(err.problem(), PrintProblem::PaperOut);
        assert!(!f.sent.ends_with(b"JOB"), "nothing printed on paper out");
        let mut f = fake(&[Some(0x12), None]);
        assert_eq!(
            print_job(&mut f, b"JOB", T).unwrap_err(),
            PrinterError::Silent
        );
        let mut f = fake(&[Some(0x12), Some(0x12), Some(0x12), Some(0x12), None]);
        assert_eq!(
            print_job(&mut f, b"JOB", T).unwrap_err(),
            PrinterError::Unconfirmed
        );
        // A late confirmation of an earlier job before the status answer is skipped.
        let mut f = fake(&[
            Some(0x00),
            Some(0x12),
            Some(0x12),
            Some(0x12),
            Some(0x12),
            Some(0x00),
        ]);
        assert!(print_job(&mut f, b"JOB", T).is_ok());
        let mut f = fake(&[Some(0x12), Some(0xFF), Some(0x12), Some(0x12)]);
        assert_eq!(
            print_job(&mut f, b"JOB", T).unwrap_err(),
            PrinterError::Garbled
        );
    }

    #[test]
    fn asb_packet_is_never_taken_for_the_confirmation() {
        let ready = [Some(0x12); 4];
        // ASB left on: a packet when the job starts (10 00 00 00), another when the paper runs
        // out (18 00 0F 00); GS r 1 is never answered. Their 00 bytes look like a GS r answer.
        let asb = [0x10, 0x00, 0x00, 0x00, 0x18, 0x00, 0x0F, 0x00].map(Some);
        let mut f = fake(&[&ready[..], &asb[..]].concat());
        assert_eq!(
            print_job(&mut f, b"JOB", T).unwrap_err(),
            PrinterError::Unconfirmed
        );
        assert!(f.sent.starts_with(&ASB_OFF), "ASB is turned off first");
        // Packets during the status query are skipped too, and the real answer still counts.
        let mut f = fake(
            &[
                &asb[..4],
                &ready[..2],
                &asb[4..],
                &ready[2..],
                &asb[..4],
                &[Some(0x00)],
            ]
            .concat(),
        );
        assert!(print_job(&mut f, b"JOB", T).is_ok());
        // A GS r answer that says the paper is gone confirms nothing.
        let mut f = fake(&[&ready[..], &[Some(0x0C)]].concat());
        assert_eq!(
            print_job(&mut f, b"JOB", T).unwrap_err().problem(),
            PrintProblem::PaperOut
        );
    }
}
