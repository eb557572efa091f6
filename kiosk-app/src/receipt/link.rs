//! Printer transports: where the bytes go. A connection string from the config names one —
//! `tcp://host:9100` (or plain `host:port`), `usb:/dev/usb/lp0`, `serial:/dev/ttyUSB0?baud=
//! 38400&flow=rtscts`, or `file:/path` — and every job opens it anew, so a printer that was
//! switched off and on (a new TCP listener, a USB device node that came back) prints again on
//! the next receipt without restarting anything.

use super::printer::PrinterLink;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::termios::{self, ControlModes, OptionalActions};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Serial speeds a receipt printer's DIP switches offer.
pub const BAUD_RATES: [u32; 6] = [4800, 9600, 19200, 38400, 57600, 115200];

/// Where the printer is, parsed from `printer.connection`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// `host:port` (port 9100 on network printers).
    Tcp(String),
    /// A USB printer-class device node (`usblp`), bidirectional.
    Usb(PathBuf),
    /// A serial port, set to raw 8N1 at `baud`, with RTS/CTS handshake when `rtscts`.
    Serial {
        path: PathBuf,
        baud: u32,
        rtscts: bool,
    },
    /// Write-only: a spooler's raw queue, a named pipe or a capture file. Such a printer cannot
    /// be asked its state or confirm a receipt, so every receipt stays unconfirmed.
    File(PathBuf),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("printer connection {text:?}: {why}")]
pub struct ConnectionError {
    text: String,
    why: String,
}

impl FromStr for Connection {
    type Err = ConnectionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: String| ConnectionError {
            text: s.into(),
            why,
        };
        let device = |rest: &str| -> Result<PathBuf, ConnectionError> {
            if rest.starts_with('/') && rest.len() > 1 {
                Ok(PathBuf::from(rest))
            } else {
                Err(bad(format!("{rest:?} is not an absolute path")))
            }
        };
        let (scheme, rest) = match s.split_once(':') {
            Some((scheme, rest))
                if ["tcp", "usb", "serial", "file"].contains(&scheme) && !rest.is_empty() =>
            {
                (scheme, rest)
            }
            // A bare `host:port`, as in configs before the other drivers existed.
            _ => ("tcp", s),
        };
        match scheme {
            "tcp" => {
                let addr = rest.strip_prefix("//").unwrap_or(rest);
                match addr.rsplit_once(':') {
                    Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                        Ok(Connection::Tcp(addr.into()))
                    }
                    _ => Err(bad(
                        "expected tcp://host:port, usb:/dev/usb/lp0, serial:/dev/ttyS0?baud=38400 or file:/path"
                            .into(),
                    )),
                }
            }
            "usb" => Ok(Connection::Usb(device(rest)?)),
            "file" => Ok(Connection::File(device(rest)?)),
            _ => {
                let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
                let (mut baud, mut rtscts) = (38400, false);
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    match pair.split_once('=') {
                        Some(("baud", v)) => {
                            baud = v
                                .parse()
                                .ok()
                                .filter(|b| BAUD_RATES.contains(b))
                                .ok_or_else(|| {
                                    bad(format!("baud {v:?} is not one of {BAUD_RATES:?}"))
                                })?
                        }
                        Some(("flow", "rtscts")) => rtscts = true,
                        Some(("flow", "none")) => rtscts = false,
                        _ => {
                            return Err(bad(format!(
                                "unknown option {pair:?} (baud=…, flow=rtscts|none)"
                            )))
                        }
                    }
                }
                Ok(Connection::Serial {
                    path: device(path)?,
                    baud,
                    rtscts,
                })
            }
        }
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Connection::Tcp(a) => write!(f, "tcp://{a}"),
            Connection::Usb(p) => write!(f, "usb:{}", p.display()),
            Connection::Serial { path, baud, rtscts } => write!(
                f,
                "serial:{}?baud={baud}&flow={}",
                path.display(),
                if *rtscts { "rtscts" } else { "none" }
            ),
            Connection::File(p) => write!(f, "file:{}", p.display()),
        }
    }
}

impl TryFrom<String> for Connection {
    type Error = ConnectionError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl<'de> serde::Deserialize<'de> for Connection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Connection {
    /// Whether the printer can answer: status queries and job confirmations.
    pub fn answers(&self) -> bool {
        !matches!(self, Connection::File(_))
    }

    /// Opens the link for one job (or one status query).
    pub fn open(&self, timeout: Duration) -> std::io::Result<Box<dyn PrinterLink>> {
        Ok(match self {
            Connection::Tcp(address) => {
                Box::new(super::printer::TcpLink::connect(address, timeout)?)
            }
            Connection::Usb(path) => Box::new(DeviceLink::open(path, timeout)?),
            Connection::Serial { path, baud, rtscts } => {
                let link = DeviceLink::open(path, timeout)?;
                configure_serial(&link.file, *baud, *rtscts)?;
                Box::new(link)
            }
            Connection::File(path) => Box::new(FileLink(
                OpenOptions::new().append(true).create(true).open(path)?,
            )),
        })
    }
}

/// Raw 8N1 at `baud`: no echo, no line editing, no CR/LF translation — ESC/POS is binary.
fn configure_serial(file: &File, baud: u32, rtscts: bool) -> std::io::Result<()> {
    let mut t = termios::tcgetattr(file)?;
    t.make_raw();
    t.set_speed(baud)?;
    t.control_modes |= ControlModes::CLOCAL | ControlModes::CREAD;
    t.control_modes.set(ControlModes::CRTSCTS, rtscts);
    t.control_modes
        .remove(ControlModes::CSTOPB | ControlModes::PARENB);
    termios::tcsetattr(file, OptionalActions::Now, &t)?;
    Ok(())
}

/// A character device (usblp, a tty) opened non-blocking, so that neither a printer that
/// stops reading (flow control, a full buffer) nor one that never answers can hang the kiosk.
pub struct DeviceLink {
    file: File,
    timeout: Duration,
}

impl DeviceLink {
    fn open(path: &std::path::Path, timeout: Duration) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(device_open_flags())
            .open(path)?;
        let mut link = DeviceLink { file, timeout };
        // Whatever the printer said to an earlier host that gave up waiting is stale now.
        let mut stale = [0u8; 256];
        while matches!(link.file.read(&mut stale), Ok(n) if n > 0) {}
        Ok(link)
    }

    fn wait(&self, flags: PollFlags, timeout: Duration) -> std::io::Result<bool> {
        let mut fds = [PollFd::new(&self.file, flags)];
        let ts = Timespec::try_from(timeout).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        });
        loop {
            match poll(&mut fds, Some(&ts)) {
                Ok(0) => return Ok(false),
                Ok(_) => {
                    let r = fds[0].revents();
                    if r.intersects(PollFlags::ERR | PollFlags::NVAL)
                        || (r.contains(PollFlags::HUP) && !r.contains(PollFlags::IN))
                    {
                        return Err(std::io::Error::new(
                            ErrorKind::BrokenPipe,
                            "the printer went away",
                        ));
                    }
                    return Ok(true);
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn device_open_flags() -> i32 {
    // O_NONBLOCK | O_NOCTTY: a tty must not become the kiosk's controlling terminal.
    (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32
}

impl PrinterLink for DeviceLink {
    fn send(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        let deadline = Instant::now() + self.timeout;
        while !bytes.is_empty() {
            match self.file.write(bytes) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() || !self.wait(PollFlags::OUT, left)? {
                        return Err(std::io::Error::new(
                            ErrorKind::TimedOut,
                            "the printer stopped taking data",
                        ));
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read_byte(&mut self, timeout: Duration) -> std::io::Result<Option<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut b = [0u8; 1];
            match self.file.read(&mut b) {
                Ok(0) => {
                    return Err(std::io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "the printer went away",
                    ))
                }
                Ok(_) => return Ok(Some(b[0])),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() || !self.wait(PollFlags::IN, left)? {
                        return Ok(None);
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Write-only; reads never answer.
struct FileLink(File);

impl PrinterLink for FileLink {
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.write_all(bytes)?;
        self.0.flush()
    }

    fn read_byte(&mut self, _timeout: Duration) -> std::io::Result<Option<u8>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings() {
        let ok = |s: &str| s.parse::<Connection>().unwrap();
        assert_eq!(
            ok("192.168.10.20:9100"),
            Connection::Tcp("192.168.10.20:9100".into())
        );
        assert_eq!(
            ok("tcp://printer.local:9100"),
            Connection::Tcp("printer.local:9100".into())
        );
        assert_eq!(ok("tcp://[::1]:9100"), Connection::Tcp("[::1]:9100".into()));
        assert_eq!(
            ok("usb:/dev/usb/lp0"),
            Connection::Usb("/dev/usb/lp0".into())
        );
        assert_eq!(
            ok("serial:/dev/ttyUSB0"),
            Connection::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 38400,
                rtscts: false
            }
        );
        assert_eq!(
            ok("serial:/dev/ttyS1?baud=115200&flow=rtscts"),
            Connection::Serial {
                path: "/dev/ttyS1".into(),
                baud: 115200,
                rtscts: true
            }
        );
        assert_eq!(
            ok("file:/tmp/receipts.bin"),
            Connection::File("/tmp/receipts.bin".into())
        );
        for c in [
            ok("tcp://a:1"),
            ok("usb:/dev/usb/lp1"),
            ok("serial:/dev/ttyS0?baud=9600&flow=rtscts"),
            ok("file:/x"),
        ] {
            assert_eq!(ok(&c.to_string()), c, "round trip of {c}");
        }
        assert!(!ok("file:/x").answers() && ok("usb:/dev/usb/lp0").answers());
        for bad in [
            "",
            "printer",
            "tcp://host",
            "tcp://host:99999",
            "usb:lp0",
            "usb:/",
            "serial:/dev/ttyS0?baud=12345",
            "serial:/dev/ttyS0?parity=even",
            "file:relative.bin",
        ] {
            let err = bad.parse::<Connection>().unwrap_err().to_string();
            assert!(err.contains(bad), "{bad:?} named in {err:?}");
        }
    }
}
