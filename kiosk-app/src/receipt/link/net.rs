//! Network printers: host names resolved under a deadline, and a TCP link whose every write
//! and read keeps to it.

use super::PrinterLink;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

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

/// A network printer. Writes give up at the deadline the link was opened with, so a printer
/// that stops reading (or reads a byte now and then) cannot hold a job.
pub struct TcpLink {
    stream: TcpStream,
    deadline: Instant,
}

impl TcpLink {
    /// Connects within `timeout`, host name resolution included.
    pub fn connect(address: &str, timeout: Duration) -> std::io::Result<Self> {
        let deadline = Instant::now() + timeout;
        let mut last = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{address} does not resolve"),
        );
        for addr in resolve(address, deadline)? {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out(format!("no connection to {address} in time")));
            }
            match TcpStream::connect_timeout(&addr, left) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    return Ok(TcpLink { stream, deadline });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

fn timed_out(why: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, why)
}

impl PrinterLink for TcpLink {
    fn send(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out("the printer stopped taking data".into()));
            }
            self.stream.set_write_timeout(Some(left))?;
            match self.stream.write(bytes) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        self.stream.flush()
    }

    fn read_byte(&mut self, timeout: Duration) -> std::io::Result<Option<u8>> {
        self.stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let mut b = [0u8; 1];
        match self.stream.read(&mut b) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

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
