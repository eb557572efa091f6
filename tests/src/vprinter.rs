//! The virtual ESC/POS printer, on a loopback TCP port or behind a pseudo-terminal that stands
//! in for a USB (`/dev/usb/lp*`) or serial port. It answers `DLE EOT 1–4` and `GS r 1` like an
//! Epson TM model, can be put into paper-out, near-end, cover-open, offline, silent, deaf or
//! slow states, can send automatic status back (ASB) packets unasked and run out of paper in
//! the middle of a job, can be switched off and on again at the same address, and renders
//! every job to PNG and text with the bundled Japanese font.

use kiosk_app::receipt::decode::{decode, Element};
use kiosk_app::receipt::raster::{Align, LineRenderer, Raster};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::{AsFd, OwnedFd};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Ready,
    NearEnd,
    PaperOut,
    CoverOpen,
    Offline,
    /// Accepts the connection and never answers.
    Silent,
    /// Accepts the connection and never reads from it (nor answers): a hung network printer.
    Deaf,
}

impl Mode {
    /// Answers to DLE EOT 1..4 (as measured on emupos, escpos-and-outbox.md A3).
    fn status(self, n: u8) -> u8 {
        let table: [u8; 4] = match self {
            Mode::Ready | Mode::Silent | Mode::Deaf => [0x12, 0x12, 0x12, 0x12],
            Mode::NearEnd => [0x12, 0x12, 0x12, 0x1E],
            Mode::PaperOut => [0x1A, 0x32, 0x12, 0x7E],
            Mode::CoverOpen => [0x1A, 0x16, 0x12, 0x12],
            Mode::Offline => [0x1A, 0x12, 0x12, 0x12],
        };
        table[(n.clamp(1, 4) - 1) as usize]
    }

    fn prints(self) -> bool {
        matches!(self, Mode::Ready | Mode::NearEnd)
    }

    /// The ASB packet for this state (as measured on emupos with `GS a 0x0F`).
    fn asb(self) -> [u8; 4] {
        match self {
            Mode::Ready | Mode::Silent | Mode::Deaf => [0x10, 0x00, 0x00, 0x00],
            Mode::NearEnd => [0x10, 0x00, 0x03, 0x00],
            Mode::PaperOut => [0x18, 0x00, 0x0F, 0x00],
            Mode::CoverOpen => [0x38, 0x00, 0x00, 0x00],
            Mode::Offline => [0x18, 0x00, 0x00, 0x00],
        }
    }
}

#[derive(Default)]
pub struct PrinterState {
    pub mode: Mode,
    /// Delay before confirming a job.
    pub slow: Duration,
    /// Delay before each answer to `DLE EOT`.
    pub status_delay: Duration,
    /// Automatic status back is on: a packet when a job starts and when the state changes
    /// (as left on by a memory switch or an earlier host's `GS a`).
    pub asb: bool,
    /// `GS a` is not obeyed (a clone, or a setting fixed by memory switch): ASB stays as is.
    pub asb_ignores_gs_a: bool,
    /// ASB packets sent so far.
    pub asb_sent: usize,
    /// The paper runs out while the next job prints: the job is lost, the printer goes
    /// paper-out (an ASB packet says so when ASB is on) and its `GS r 1` is never answered.
    pub paper_runs_out_in_next_job: bool,
    /// Every completed job's bytes (status queries removed).
    pub jobs: Vec<Vec<u8>>,
    pub out_dir: Option<PathBuf>,
    pub paper_mm: u32,
    /// The line settings the host left on a tty port when it sent its last bytes:
    /// (speed, raw mode: no echo, no line editing, no CR/LF translation).
    pub tty_line: Option<(u32, bool)>,
    /// The control modes (`c_cflag`) the host left on a tty port: flow control, stop bits.
    pub tty_cflag: Option<rustix::termios::ControlModes>,
    /// Confirmations (`GS r` answers) sent after the slow mechanism's delay.
    pub late_answers: usize,
}

/// How the printer is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Port {
    Tcp(SocketAddr),
    /// A pseudo-terminal reached through a stable symlink (like a udev `SYMLINK+=` name).
    /// `Usb`: the port behaves like `usblp`, a raw byte pipe that the host does not configure.
    /// `Serial`: the port starts as a fresh tty (cooked, echoing) and the host must set it up.
    Usb(PathBuf),
    Serial(PathBuf),
}

/// One power-on period: the threads serving it stop when `stop` becomes readable.
struct PowerOn {
    stop_tx: OwnedFd,
    thread: JoinHandle<()>,
}

#[derive(Clone)]
pub struct VirtualPrinter {
    pub port: Port,
    pub state: Arc<Mutex<PrinterState>>,
    power: Arc<Mutex<Option<PowerOn>>>,
    /// While a network printer is off: a socket bound to its address that does not listen, so
    /// that connections are refused and no other test can take the port (see [`claim`]).
    held: Arc<Mutex<Option<OwnedFd>>>,
}

impl VirtualPrinter {
    /// A network printer on `127.0.0.1:port` (0: any free port).
    pub fn start(port: u16, out_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let socket = claim(SocketAddr::from(([127, 0, 0, 1], port)))?;
        // getsockname through std's type; the socket is not listening yet.
        let socket = TcpListener::from(socket);
        let addr = socket.local_addr()?;
        let socket = OwnedFd::from(socket);
        let printer = Self::off(Port::Tcp(addr), out_dir);
        *printer.held.lock().unwrap() = Some(socket);
        printer.power_on()?;
        Ok(printer)
    }

    /// A printer behind a pseudo-terminal whose path is `port`'s symlink.
    pub fn with_port(port: Port, out_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let printer = Self::off(port, out_dir);
        if let Port::Tcp(addr) = printer.port {
            *printer.held.lock().unwrap() = Some(claim(addr)?);
        }
        printer.power_on()?;
        Ok(printer)
    }

    fn off(port: Port, out_dir: Option<PathBuf>) -> Self {
        VirtualPrinter {
            port,
            state: Arc::new(Mutex::new(PrinterState {
                out_dir,
                paper_mm: 80,
                ..Default::default()
            })),
            power: Arc::new(Mutex::new(None)),
            held: Arc::new(Mutex::new(None)),
        }
    }

    /// What the kiosk's `printer.connection` says to reach this printer.
    pub fn connection(&self) -> String {
        match &self.port {
            Port::Tcp(a) => format!("tcp://{a}"),
            Port::Usb(p) => format!("usb:{}", p.display()),
            Port::Serial(p) => format!("serial:{}?baud=115200", p.display()),
        }
    }

    /// Switches the printer off: the listener or device goes away, open connections are cut
    /// and an unfinished job is lost, as with the power switch. Returns when it is off.
    pub fn power_off(&self) {
        let mut power = self.power.lock().unwrap();
        if power.is_none() {
            return;
        }
        if let Port::Tcp(addr) = self.port {
            // Hold the address before the listener goes: no moment when it is free.
            *self.held.lock().unwrap() = Some(claim(addr).expect("the printer's own address"));
        }
        let Some(on) = power.take() else {
            return;
        };
        let _ = rustix::io::write(&on.stop_tx, b"x");
        let _ = on.thread.join();
    }

    /// Switches the printer on again, at the same address or path.
    pub fn power_on(&self) -> anyhow::Result<()> {
        let mut power = self.power.lock().unwrap();
        if power.is_some() {
            return Ok(());
        }
        let (stop_rx, stop_tx) = rustix::pipe::pipe()?;
        let stop = Arc::new(stop_rx);
        let p = self.clone();
        let thread = match &self.port {
            Port::Tcp(addr) => {
                let socket = claim(*addr)?;
                rustix::net::listen(&socket, 128)?;
                let listener = TcpListener::from(socket);
                // Listening now: the placeholder can go.
                drop(self.held.lock().unwrap().take());
                std::thread::Builder::new()
                    .name("vprinter".into())
                    .spawn(move || p.accept(listener, stop))?
            }
            Port::Usb(link) | Port::Serial(link) => {
                let (master, slave) = open_pty(link, matches!(self.port, Port::Usb(_)))?;
                let link = link.clone();
                std::thread::Builder::new()
                    .name("vprinter-tty".into())
                    .spawn(move || {
                        p.serve(File::from(master), Some(&slave), &stop);
                        drop(slave);
                        let _ = std::fs::remove_file(link);
                    })?
            }
        };
        *power = Some(PowerOn { stop_tx, thread });
        Ok(())
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn jobs(&self) -> Vec<Vec<u8>> {
        self.state.lock().unwrap().jobs.clone()
    }

    fn accept(&self, listener: TcpListener, stop: Arc<OwnedFd>) {
        let mut connections = vec![];
        while wait_readable(&listener, &stop) {
            let Ok((conn, _)) = listener.accept() else {
                continue;
            };
            let _ = conn.set_nodelay(true);
            let (p, stop) = (self.clone(), stop.clone());
            // Finished connections are joined as new ones come: an unjoined thread keeps its
            // stack mapped, which over a long soak (a connection per print and per status
            // poll) grew the process by some 20 KB a session.
            let (done, open): (Vec<_>, Vec<_>) = connections
                .into_iter()
                .partition(|c: &JoinHandle<()>| c.is_finished());
            done.into_iter().for_each(|c| drop(c.join()));
            connections = open;
            connections.push(std::thread::spawn(move || p.serve(conn, None, &stop)));
        }
        drop(listener);
        for c in connections {
            let _ = c.join();
        }
    }

    /// The printer's side of one connection, until the host hangs up or the power goes off.
    fn serve<S: Read + Write + AsFd>(&self, mut conn: S, tty: Option<&OwnedFd>, stop: &OwnedFd) {
        if self.state.lock().unwrap().mode == Mode::Deaf {
            // Never reads: what the host sends piles up in the socket buffers.
            wait_stop(stop);
            return;
        }
        let mut job: Vec<u8> = vec![];
        let mut pending: Vec<u8> = vec![];
        let mut buf = [0u8; 4096];
        while wait_readable(&conn, stop) {
            let n = match conn.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            if let Some(line) = tty.and_then(|t| rustix::termios::tcgetattr(t).ok()) {
                let raw = !line.local_modes.intersects(
                    rustix::termios::LocalModes::ECHO | rustix::termios::LocalModes::ICANON,
                ) && !line
                    .output_modes
                    .contains(rustix::termios::OutputModes::OPOST);
                let mut s = self.state.lock().unwrap();
                s.tty_line = Some((line.output_speed(), raw));
                s.tty_cflag = Some(line.control_modes);
            }
            pending.extend_from_slice(&buf[..n]);
            let mut i = 0;
            while i < pending.len() {
                let mode = self.state.lock().unwrap().mode;
                let rest = &pending[i..];
                if rest.starts_with(&[0x10, 0x04]) {
                    if rest.len() < 3 {
                        break;
                    }
                    if mode != Mode::Silent {
                        let delay = self.state.lock().unwrap().status_delay;
                        std::thread::sleep(delay); // simulates a slow printer, not test synchronisation
                        if conn.write_all(&[mode.status(rest[2])]).is_err() {
                            return;
                        }
                    }
                    i += 3;
                } else if rest.starts_with(&[0x1D, 0x61]) {
                    if rest.len() < 3 {
                        break;
                    }
                    let on = rest[2] != 0;
                    i += 3;
                    let mut s = self.state.lock().unwrap();
                    if !s.asb_ignores_gs_a {
                        s.asb = on;
                        drop(s);
                        // Enabling ASB sends the current status at once.
                        if on && !self.send_asb(&mut conn, mode) {
                            return;
                        }
                    }
                } else if rest.starts_with(&[0x1D, 0x72]) {
                    if rest.len() < 3 {
                        break;
                    }
                    i += 3;
                    let runs_out =
                        std::mem::take(&mut self.state.lock().unwrap().paper_runs_out_in_next_job);
                    if runs_out && mode.prints() {
                        self.set_mode(Mode::PaperOut);
                        job.clear();
                        if !self.send_asb(&mut conn, Mode::PaperOut) {
                            return;
                        }
                    } else if mode.prints() {
                        let slow = self.state.lock().unwrap().slow;
                        std::thread::sleep(slow); // simulates a slow mechanism, not test synchronisation
                        self.complete(std::mem::take(&mut job));
                        let paper = if mode == Mode::NearEnd { 0x03 } else { 0x00 };
                        if conn.write_all(&[paper]).is_err() {
                            return;
                        }
                        if !slow.is_zero() {
                            self.state.lock().unwrap().late_answers += 1;
                        }
                    } else {
                        // Offline printers do not execute GS r; the job stays unprinted.
                        job.clear();
                    }
                } else if let Some(len) = command_len(rest) {
                    // A command with data of its own is copied whole: its data is never read
                    // as commands.
                    let Some(len) = len else { break };
                    if job.is_empty() && !self.send_asb(&mut conn, mode) {
                        return;
                    }
                    job.extend_from_slice(&rest[..len]);
                    i += len;
                } else {
                    // A printer with ASB on reports its state as a job starts.
                    if job.is_empty() && !self.send_asb(&mut conn, mode) {
                        return;
                    }
                    job.push(rest[0]);
                    i += 1;
                }
            }
            pending.drain(..i);
        }
    }

    /// Sends `mode`'s ASB packet if ASB is on; `false` when the host is gone.
    fn send_asb<S: Write>(&self, conn: &mut S, mode: Mode) -> bool {
        let mut s = self.state.lock().unwrap();
        if !s.asb {
            return true;
        }
        s.asb_sent += 1;
        drop(s);
        conn.write_all(&mode.asb()).is_ok()
    }

    fn complete(&self, job: Vec<u8>) {
        let mut s = self.state.lock().unwrap();
        s.jobs.push(job.clone());
        if let Some(dir) = s.out_dir.clone() {
            let n = s.jobs.len();
            let width = if s.paper_mm <= 58 { 384 } else { 576 };
            drop(s);
            if let Err(e) = render_to_files(&job, width, &dir, &format!("receipt-{n:03}")) {
                eprintln!("vprinter: cannot render job {n}: {e}");
            }
        }
    }
}

/// The whole length of a command that carries data of its own — raster images (`GS v 0`), 2D
/// codes and graphics (`GS ( k`, `GS ( L` and the other `GS (` / `FS (` / `ESC (` forms with
/// `pL pH`), `GS 8 L`, bit images (`ESC *`) and fixed-parameter commands — so that `10 04 n`,
/// `1D 72 n` or `1D 61 n` inside its data or parameters is never taken for a command of its
/// own (Epson's reference: the printer reads them as data). `Some(None)`: `rest` starts such a
/// command but more bytes must arrive; `None`: it starts no such command.
fn command_len(rest: &[u8]) -> Option<Option<usize>> {
    let at = |i: usize| rest.get(i).map(|&b| b as usize);
    let need = |n: usize| Some((rest.len() >= n).then_some(n));
    match rest {
        [0x1D, 0x76, 0x30, ..] => match (at(4), at(5), at(6), at(7)) {
            (Some(xl), Some(xh), Some(yl), Some(yh)) => need(8 + (xl + 256 * xh) * (yl + 256 * yh)),
            _ => Some(None),
        },
        [0x1B..=0x1D, 0x28, ..] => match (at(3), at(4)) {
            (Some(pl), Some(ph)) => need(5 + pl + 256 * ph),
            _ => Some(None),
        },
        [0x1D, 0x38, 0x4C, ..] => match (at(3), at(4), at(5), at(6)) {
            (Some(a), Some(b), Some(c), Some(d)) => need(7 + a + (b << 8) + (c << 16) + (d << 24)),
            _ => Some(None),
        },
        [0x1B, 0x2A, ..] => match (at(2), at(3), at(4)) {
            (Some(m), Some(nl), Some(nh)) => {
                need(5 + (nl + 256 * nh) * if m == 32 || m == 33 { 3 } else { 1 })
            }
            _ => Some(None),
        },
        // Commands with one parameter byte (ESC ! a d E - R t 3 J M, GS ! B h w H f L V, FS C)
        // and GS V m n (feed and cut).
        [0x1D, 0x56, 65 | 66 | 97 | 98 | 103 | 104, ..] => need(4),
        [0x1B, b'!' | b'a' | b'd' | b'E' | b'-' | b'R' | b't' | b'3' | b'J' | b'M' | b'G', ..]
        | [0x1D, b'!' | b'B' | b'h' | b'w' | b'H' | b'f' | b'V', ..]
        | [0x1C, b'C', ..] => need(3),
        _ => None,
    }
}

/// A TCP socket bound to `addr` (port 0: any free one) with `SO_REUSEPORT`, not listening. The
/// printer's listener and the placeholder that holds its address while it is off both come
/// from here, so that one can be bound before the other goes: the port is never free for
/// another test to take, and connecting while nothing listens is refused at once.
fn claim(addr: SocketAddr) -> std::io::Result<OwnedFd> {
    use rustix::net::{sockopt, AddressFamily, SocketFlags, SocketType};
    let socket = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    sockopt::set_socket_reuseaddr(&socket, true)?;
    sockopt::set_socket_reuseport(&socket, true)?;
    rustix::net::bind(&socket, &addr)?;
    Ok(socket)
}

/// Blocks until the power goes off.
fn wait_stop(stop: &OwnedFd) {
    let mut fds = [PollFd::new(stop, PollFlags::IN)];
    while let Err(rustix::io::Errno::INTR) = poll(&mut fds, None) {}
}

/// Blocks until `fd` has something to read (true) or the power went off (false).
fn wait_readable(fd: &impl AsFd, stop: &OwnedFd) -> bool {
    loop {
        let mut fds = [
            PollFd::new(fd, PollFlags::IN),
            PollFd::new(stop, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Ok(_) if !fds[1].revents().is_empty() => return false,
            Ok(_) => return true,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}

/// A pseudo-terminal pair, with `link` pointing at its slave. The printer keeps the slave
/// open too, so the master stays usable while no host has the port open; a `usblp`-like port
/// is put in raw mode here.
fn open_pty(link: &std::path::Path, raw: bool) -> anyhow::Result<(OwnedFd, OwnedFd)> {
    use rustix::pty::{grantpt, openpt, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let name = rustix::pty::ptsname(&master, Vec::new())?;
    let slave: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
        .open(name.to_str()?)?
        .into();
    if raw {
        let mut t = rustix::termios::tcgetattr(&slave)?;
        t.make_raw();
        rustix::termios::tcsetattr(&slave, rustix::termios::OptionalActions::Now, &t)?;
    }
    // Replace the symlink atomically, like udev does for a re-plugged device.
    let tmp = link.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(name.to_str()?, &tmp)?;
    std::fs::rename(&tmp, link)?;
    Ok((master, slave))
}

/// Renders a job to `<dir>/<name>.png` and `<dir>/<name>.txt`.
pub fn render_to_files(
    job: &[u8],
    width: u32,
    dir: &std::path::Path,
    name: &str,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let decoded = decode(job)?;
    let text: Vec<String> = decoded
        .elements
        .iter()
        .map(|e| match e {
            Element::Text { text, .. } => text.clone(),
            Element::Feed => String::new(),
            Element::Qr { data, .. } => format!("[QR {data}]"),
            Element::Raster {
                width_bytes,
                height,
                ..
            } => format!("[raster {}x{height}]", width_bytes * 8),
            Element::Cut => "[cut]".into(),
            Element::Query(a, b) => format!("[query {a:02X} {b:02X}]"),
        })
        .collect();
    std::fs::write(dir.join(format!("{name}.txt")), text.join("\n") + "\n")?;
    let png = dir.join(format!("{name}.png"));
    render_png(&decoded.elements, width, &png)?;
    Ok(png)
}

/// Draws the decoded receipt on a white strip `width` dots wide, text with the kiosk's own
/// line renderer (the bundled fonts at Font A's 12×24 dots).
pub fn render_png(elements: &[Element], width: u32, path: &std::path::Path) -> anyhow::Result<()> {
    let renderer = LineRenderer::bundled();
    let mut rows: Vec<Vec<u8>> = vec![];
    let blank = |rows: &mut Vec<Vec<u8>>, n: u32| {
        for _ in 0..n {
            rows.push(vec![255u8; width as usize]);
        }
    };
    let paint = |rows: &mut Vec<Vec<u8>>, image: &Raster| {
        for y in 0..image.height {
            rows.push(
                (0..width as usize)
                    .map(|x| {
                        if x < image.width_bytes * 8 && image.is_set(x, y) {
                            0
                        } else {
                            255
                        }
                    })
                    .collect(),
            );
        }
    };
    blank(&mut rows, 16);
    for e in elements {
        match e {
            Element::Text {
                text,
                height,
                bold,
                align,
                ..
            } => {
                let align = match align {
                    1 => Align::Center,
                    2 => Align::Right,
                    _ => Align::Left,
                };
                let scale = u32::from((*height).max(1));
                paint(
                    &mut rows,
                    &renderer.render(text, width, scale, align, *bold),
                );
                blank(&mut rows, 6 * scale);
            }
            Element::Feed => blank(&mut rows, 30),
            Element::Qr { data, module } => {
                let code = qrcode::QrCode::new(data.as_bytes())?;
                let n = code.width() as u32;
                let m = (*module).max(1) as u32;
                let x0 = (width.saturating_sub(n * m)) / 2;
                let colors = code.to_colors();
                for y in 0..n * m {
                    let mut row = vec![255u8; width as usize];
                    for x in 0..n * m {
                        if colors[((y / m) * n + x / m) as usize] == qrcode::Color::Dark
                            && x0 + x < width
                        {
                            row[(x0 + x) as usize] = 0;
                        }
                    }
                    rows.push(row);
                }
                blank(&mut rows, 8);
            }
            Element::Raster {
                width_bytes,
                height,
                data,
            } => {
                let image = Raster {
                    width_bytes: *width_bytes,
                    height: *height,
                    data: data.clone(),
                };
                paint(&mut rows, &image);
                blank(&mut rows, 6);
            }
            Element::Cut => {
                blank(&mut rows, 12);
                rows.push(
                    (0..width)
                        .map(|x| if (x / 8) % 2 == 0 { 0 } else { 255 })
                        .collect(),
                );
                blank(&mut rows, 4);
            }
            Element::Query(..) => {}
        }
    }
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = png::Encoder::new(file, width, rows.len() as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()?.write_image_data(&rows.concat())?;
    Ok(())
}
