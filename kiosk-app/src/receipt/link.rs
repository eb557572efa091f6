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
use std::net::{SocketAddr, ToSocketAddrs};
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
            Connection::File(path) => Box::new(FileLink::open(path, timeout)?),
        })
    }
}

/// The addresses of `host:port`. An IP literal needs no lookup; a host name is looked up on a
/// helper thread and given up on at `deadline`, since the system resolver has no timeout of
/// its own (a lookup left behind ends by itself and is ignored).
pub fn resolve(address: &str, deadline: Instant) -> std::io::Result<Vec<SocketAddr>> {
    resolve_with(address, deadline, |a| {
        a.to_socket_addrs().map(|addrs| addrs.collect())
    })
}

fn resolve_with(
    address: &str,
    deadline: Instant,
    lookup: impl FnOnce(&str) -> std::io::Result<Vec<SocketAddr>> + Send + 'static,
) -> std::io::Result<Vec<SocketAddr>> {
    if let Ok(addr) = address.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let owned = address.to_owned();
    std::thread::Builder::new()
        .name("printer-dns".into())
        .spawn(move || {
            let _ = tx.send(lookup(&owned));
        })?;
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            ErrorKind::TimedOut,
            format!("{address} did not resolve in time"),
        )),
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

/// At most this many stale bytes are dropped when a device is opened: a printer that never
/// stops talking must not keep the job from starting.
const MAX_STALE: usize = 16 * 1024;

/// A character device (usblp, a tty) opened non-blocking, so that neither a printer that
/// stops reading (flow control, a full buffer) nor one that never answers can hang the kiosk;
/// every write gives up at the deadline set when it was opened.
pub struct DeviceLink {
    file: File,
    deadline: Instant,
}

impl DeviceLink {
    fn open(path: &std::path::Path, timeout: Duration) -> std::io::Result<Self> {
        let deadline = Instant::now() + timeout;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(device_open_flags())
            .open(path)?;
        let mut link = DeviceLink { file, deadline };
        // Whatever the printer said to an earlier host that gave up waiting is stale now.
        let mut stale = [0u8; 256];
        let mut dropped = 0;
        while dropped < MAX_STALE && Instant::now() < deadline {
            match link.file.read(&mut stale) {
                Ok(n) if n > 0 => dropped += n,
                _ => break,
            }
        }
        Ok(link)
    }
}

/// Waits until `file` is ready for `flags` (true) or `timeout` passed (false).
fn wait(file: &File, flags: PollFlags, timeout: Duration) -> std::io::Result<bool> {
    let mut fds = [PollFd::new(file, flags)];
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

fn device_open_flags() -> i32 {
    // O_NONBLOCK | O_NOCTTY: a tty must not become the kiosk's controlling terminal.
    (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32
}

/// Writes all of `bytes` to a non-blocking `file`, giving up at `deadline`.
fn write_by(file: &mut File, mut bytes: &[u8], deadline: Instant) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match file.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || !wait(file, PollFlags::OUT, left)? {
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

impl PrinterLink for DeviceLink {
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        write_by(&mut self.file, bytes, self.deadline)
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
                    if left.is_zero() || !wait(&self.file, PollFlags::IN, left)? {
                        return Ok(None);
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Write-only; reads never answer. Opened non-blocking: a named pipe that nothing reads
/// fails at once (`ENXIO`: not connected) instead of waiting in `open` for a reader, and a
/// reader that stops reading cannot hold a write past the deadline.
struct FileLink {
    file: File,
    deadline: Instant,
}

impl FileLink {
    fn open(path: &std::path::Path, timeout: Duration) -> std::io::Result<Self> {
        let deadline = Instant::now() + timeout;
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .custom_flags(device_open_flags())
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(code) if code == rustix::io::Errno::NXIO.raw_os_error() => {
                    std::io::Error::new(
                        ErrorKind::NotConnected,
                        "nothing reads this named pipe (printer not connected)",
                    )
                }
                _ => e,
            })?;
        Ok(FileLink { file, deadline })
    }
}

impl PrinterLink for FileLink {
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        write_by(&mut self.file, bytes, self.deadline)
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

    #[test]
    fn host_name_that_never_resolves_is_given_up_at_the_deadline() {
        let (answer, asked) = std::sync::mpsc::channel();
        let (_never, hang) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_millis(200);
            // A resolver that never answers (an unreachable DNS server).
            let result = resolve_with("printer.example:9100", deadline, move |_| {
                let _ = hang.recv();
                Ok(vec![])
            });
            let _ = answer.send(result);
        });
        let result = asked
            .recv_timeout(Duration::from_secs(5))
            .expect("the lookup is given up on at the deadline");
        assert_eq!(result.unwrap_err().kind(), ErrorKind::TimedOut);
        // IP literals are never looked up.
        let never = Instant::now();
        assert_eq!(
            resolve_with("127.0.0.1:9100", never, |_| unreachable!()).unwrap(),
            vec!["127.0.0.1:9100".parse().unwrap()]
        );
    }
}
