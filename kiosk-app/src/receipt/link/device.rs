//! Character devices (`usblp`, a serial tty) and write-only files or named pipes, all opened
//! non-blocking with poll() deadlines.

use super::PrinterLink;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::termios::{self, ControlModes, OptionalActions};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

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
    /// A serial port, set to raw 8N1 at `baud` with or without RTS/CTS.
    pub fn open_serial(
        path: &std::path::Path,
        timeout: Duration,
        baud: u32,
        rtscts: bool,
    ) -> std::io::Result<Self> {
        let link = Self::open(path, timeout)?;
        configure_serial(&link.file, baud, rtscts)?;
        Ok(link)
    }

    /// Opens the device, non-blocking, with `timeout` for each operation.
    pub fn open(path: &std::path::Path, timeout: Duration) -> std::io::Result<Self> {
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
pub struct FileLink {
    file: File,
    deadline: Instant,
}

impl FileLink {
    /// Opens the file or pipe, non-blocking, with `timeout` for each write.
    pub fn open(path: &std::path::Path, timeout: Duration) -> std::io::Result<Self> {
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
