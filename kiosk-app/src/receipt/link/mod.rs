//! Printer transports: where the bytes go. A connection string from the config names one —
//! `tcp://host:9100` (or plain `host:port`), `usb:/dev/usb/lp0`, `serial:/dev/ttyUSB0?baud=
//! 38400&flow=rtscts`, or `file:/path` — and every job opens it anew, so a printer that was
//! switched off and on (a new TCP listener, a USB device node that came back) prints again on
//! the next receipt without restarting anything.
//!
//! [`PrinterLink`] is the one edge the print protocol (`super::printer`) talks to; the
//! transports behind it are [`net`] (TCP, with host names looked up under a deadline) and
//! [`device`] (USB and serial character devices, a write-only file or pipe).

pub mod device;
pub mod net;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// A bidirectional byte link to a printer.
pub trait PrinterLink {
    /// All of `bytes`, or an error once the deadline the link was opened with has passed.
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// One byte, or `None` when the printer said nothing within `timeout`.
    fn read_byte(&mut self, timeout: Duration) -> std::io::Result<Option<u8>>;
}

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
        /// The serial device.
        path: PathBuf,
        /// Its speed.
        baud: u32,
        /// Hardware flow control.
        rtscts: bool,
    },
    /// Write-only: a spooler's raw queue, a named pipe or a capture file. Such a printer cannot
    /// be asked its state or confirm a receipt, so every receipt stays unconfirmed.
    File(PathBuf),
}

/// A connection string that does not parse.
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
            Connection::Tcp(address) => Box::new(net::TcpLink::connect(address, timeout)?),
            Connection::Usb(path) => Box::new(device::DeviceLink::open(path, timeout)?),
            Connection::Serial { path, baud, rtscts } => {
                let link = device::DeviceLink::open_serial(path, timeout, *baud, *rtscts)?;
                Box::new(link)
            }
            Connection::File(path) => Box::new(device::FileLink::open(path, timeout)?),
        })
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
