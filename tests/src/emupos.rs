//! The third-party ESC/POS oracle: emupos's simulated Epson TM-T20III (PyPI, installed by
//! `deploy/setup.sh` into `target/pyenv`), run by `tests/oracle/emupos_printer.py` on a
//! loopback TCP port. It shares no code with the kiosk: what it prints, how it answers
//! `DLE EOT` and `GS r 1`, and what it does in a fault state are emupos's reading of Epson's
//! reference, so a bug the kiosk's encoder shares with its own decoder cannot cancel out.
//! emupos does not read kanji mode (it draws Shift_JIS bytes as code page 437); kanji text is
//! checked with the kiosk's `receipt::decode` only.

use anyhow::{anyhow, bail, Context};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// A receipt emupos finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    /// What ended it: `cut`, or `connection-closed` when the host hung up before a cut.
    pub boundary: String,
    pub png: PathBuf,
}

/// One emupos printer process; killed on drop.
pub struct Emupos {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    pub address: String,
}

/// A fault state of emupos's printer.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    PaperNearEnd,
    PaperOut,
    CoverOpen,
    Offline,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::PaperNearEnd => "paper-near-end",
            Fault::PaperOut => "paper-out",
            Fault::CoverOpen => "cover-open",
            Fault::Offline => "offline",
        }
    }
}

/// The workspace root (this crate is `tests/`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// How long emupos may take to start or to answer a control command.
const PATIENCE: Duration = Duration::from_secs(20);

impl Emupos {
    /// Starts the printer; its receipts go to `out_dir` as PNG and text.
    pub fn start(out_dir: &Path) -> anyhow::Result<Self> {
        let root = repo_root();
        let python = root.join("target/pyenv/bin/python");
        if !python.exists() {
            bail!(
                "{} is missing: run ./deploy/setup.sh (it installs the ESC/POS oracle)",
                python.display()
            );
        }
        let mut child = Command::new(python)
            .arg(root.join("tests/oracle/emupos_printer.py"))
            .arg(out_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting emupos")?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut me = Emupos {
            child,
            stdin,
            lines,
            address: String::new(),
        };
        let first = me.next_line(PATIENCE)?;
        me.address = first
            .strip_prefix("listening ")
            .ok_or_else(|| anyhow!("emupos said {first:?}"))?
            .to_string();
        Ok(me)
    }

    /// The kiosk's `printer.connection` for this printer.
    pub fn connection(&self) -> String {
        format!("tcp://{}", self.address)
    }

    fn next_line(&self, within: Duration) -> anyhow::Result<String> {
        match self.lines.recv_timeout(within) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => bail!("emupos said nothing for {within:?}"),
            Err(RecvTimeoutError::Disconnected) => bail!("emupos exited"),
        }
    }

    /// Sets or clears a fault; returns once emupos has applied it.
    pub fn set_fault(&mut self, fault: Fault, on: bool) -> anyhow::Result<()> {
        let state = if on { "on" } else { "off" };
        writeln!(self.stdin, "fault {} {state}", fault.name())?;
        self.stdin.flush()?;
        match self.next_line(PATIENCE)?.as_str() {
            "ok" => Ok(()),
            other => bail!("emupos answered {other:?}"),
        }
    }

    /// The next receipt emupos finishes, waiting up to `within`; `None` if none was.
    pub fn next_receipt(&self, within: Duration) -> anyhow::Result<Option<Printed>> {
        let line = match self.lines.recv_timeout(within) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => return Ok(None),
            Err(RecvTimeoutError::Disconnected) => bail!("emupos exited"),
        };
        let words: Vec<&str> = line.splitn(4, ' ').collect();
        if let ["receipt", _n, boundary, png] = words[..] {
            return Ok(Some(Printed {
                boundary: boundary.into(),
                png: png.into(),
            }));
        }
        bail!("emupos said {line:?}");
    }
}

impl Drop for Emupos {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The symbols `zbarimg` (Debian's zbar-tools, another third party) reads in a PNG, as
/// `TYPE:data` lines.
pub fn zbarimg(png: &Path) -> anyhow::Result<Vec<String>> {
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(png)
        .output()
        .context("running zbarimg (Debian package zbar-tools)")?;
    // Exit status 4: no symbol found.
    if !out.status.success() && out.status.code() != Some(4) {
        bail!(
            "zbarimg failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8(out.stdout)?
        .lines()
        .map(|l| format!("QR-Code:{l}"))
        .collect())
}
