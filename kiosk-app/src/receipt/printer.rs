//! The printer edge: a byte link ([`PrinterLink`]; the transports are in [`super::link`]), and the truthful print
//! sequence: ask `DLE EOT 1–4` first, refuse to print on a fault, send the job, and wait for
//! the answer to the trailing `GS r 1` before calling the receipt printed.

use super::link::Connection;
use crate::session::PrintProblem;
use serde::Serialize;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// A bidirectional byte link to a printer.
pub trait PrinterLink {
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// One byte, or `None` when the printer said nothing within `timeout`.
    fn read_byte(&mut self, timeout: Duration) -> std::io::Result<Option<u8>>;
}

pub struct TcpLink(TcpStream);

impl TcpLink {
    pub fn connect(address: &str, timeout: Duration) -> std::io::Result<Self> {
        let mut last = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{address} does not resolve"),
        );
        for addr in address.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(s) => {
                    s.set_nodelay(true)?;
                    s.set_write_timeout(Some(timeout))?;
                    return Ok(TcpLink(s));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

impl PrinterLink for TcpLink {
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.write_all(bytes)?;
        self.0.flush()
    }

    fn read_byte(&mut self, timeout: Duration) -> std::io::Result<Option<u8>> {
        self.0
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let mut b = [0u8; 1];
        match self.0.read(&mut b) {
            Ok(0) => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "printer closed the connection",
            )),
            Ok(_) => Ok(Some(b[0])),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// The printer's state from `DLE EOT 1–4`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PrinterStatus {
    pub online: bool,
    pub cover_open: bool,
    pub paper_out: bool,
    pub paper_near_end: bool,
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

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PrinterError {
    #[error("cannot reach the printer: {0}")]
    Unreachable(String),
    #[error("the printer did not answer the status query")]
    Silent,
    #[error("the printer sent an invalid status byte")]
    Garbled,
    #[error("the printer reports a problem: {}", .0.code())]
    NotReady(PrintProblem, PrinterStatus),
    #[error("the printer did not confirm the receipt")]
    Unconfirmed,
    #[error("printer link error: {0}")]
    Io(String),
    #[error("the job was written, but a write-only printer cannot report its state or confirm a receipt")]
    WriteOnly,
}

impl PrinterError {
    /// What the resident and staff are told.
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

/// Asks `DLE EOT 1–4`, one at a time, each answer awaited. A late `GS r` answer left over
/// from a job that timed out (bit 4 clear, where every status byte has it set) is skipped.
pub fn query_status(
    link: &mut dyn PrinterLink,
    timeout: Duration,
) -> Result<PrinterStatus, PrinterError> {
    let mut answers = [0u8; 4];
    for (n, slot) in answers.iter_mut().enumerate() {
        link.send(&[0x10, 0x04, n as u8 + 1]).map_err(io)?;
        *slot = next_byte(link, timeout, |b| !is_gs_r_answer(b))?.ok_or(PrinterError::Silent)?;
    }
    PrinterStatus::from_bytes(answers).ok_or(PrinterError::Garbled)
}

/// Prints a job that ends with `GS r 1`, truthfully. Returns the status seen before printing
/// (so that staff hear about a paper near end).
pub fn print_job(
    link: &mut dyn PrinterLink,
    job: &[u8],
    timeout: Duration,
) -> Result<PrinterStatus, PrinterError> {
    let status = query_status(link, timeout)?;
    if let Some(p) = status.problem() {
        return Err(PrinterError::NotReady(p, status));
    }
    link.send(job).map_err(io)?;
    // The answer to GS r 1 comes once everything before it was processed. Stray
    // real-time answers (pattern 0xx1xx10) are skipped.
    next_byte(link, timeout, is_gs_r_answer)?.ok_or(PrinterError::Unconfirmed)?;
    Ok(status)
}

/// A `GS r` answer has bits 4 and 7 clear; every real-time status byte has bit 4 set.
fn is_gs_r_answer(b: u8) -> bool {
    b & 0x90 == 0x00
}

/// The first byte that `wanted` accepts within `timeout`, skipping the others; `None` when
/// none came in time.
fn next_byte(
    link: &mut dyn PrinterLink,
    timeout: Duration,
    wanted: impl Fn(u8) -> bool,
) -> Result<Option<u8>, PrinterError> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        match link.read_byte(left).map_err(io)? {
            Some(b) if wanted(b) => return Ok(Some(b)),
            Some(_) => continue,
            None => return Ok(None),
        }
    }
}

/// Opens the configured printer and prints, truthfully. A write-only printer gets the job
/// but the answer is [`PrinterError::WriteOnly`]: the receipt stays unconfirmed.
pub fn print(
    connection: &Connection,
    job: &[u8],
    timeout: Duration,
) -> Result<PrinterStatus, PrinterError> {
    let mut link = open(connection, timeout)?;
    if !connection.answers() {
        link.send(job).map_err(io)?;
        return Err(PrinterError::WriteOnly);
    }
    print_job(link.as_mut(), job, timeout)
}

/// Opens the configured printer and asks its state.
pub fn status(connection: &Connection, timeout: Duration) -> Result<PrinterStatus, PrinterError> {
    if !connection.answers() {
        return Err(PrinterError::WriteOnly);
    }
    query_status(open(connection, timeout)?.as_mut(), timeout)
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

    struct Fake {
        answers: VecDeque<Option<u8>>,
        sent: Vec<u8>,
    }

    impl PrinterLink for Fake {
        fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            self.sent.extend_from_slice(bytes);
            Ok(())
        }
        fn read_byte(&mut self, _t: Duration) -> std::io::Result<Option<u8>> {
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
}
