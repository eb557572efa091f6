//! The virtual ESC/POS printer on a loopback TCP port. It answers `DLE EOT 1–4` and `GS r 1`
//! like an Epson TM model, can be put into paper-out, near-end, cover-open, offline, silent or
//! slow states, and renders every job to PNG and text with the bundled Japanese font.

use kiosk_app::receipt::decode::{decode, Element};
use kiosk_app::receipt::raster::{Align, LineRenderer, Raster};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
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
}

impl Mode {
    /// Answers to DLE EOT 1..4 (as measured on emupos, escpos-and-outbox.md A3).
    fn status(self, n: u8) -> u8 {
        let table: [u8; 4] = match self {
            Mode::Ready | Mode::Silent => [0x12, 0x12, 0x12, 0x12],
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
}

#[derive(Default)]
pub struct PrinterState {
    pub mode: Mode,
    /// Delay before confirming a job.
    pub slow: Duration,
    /// Every completed job's bytes (status queries removed).
    pub jobs: Vec<Vec<u8>>,
    pub out_dir: Option<PathBuf>,
    pub paper_mm: u32,
}

#[derive(Clone)]
pub struct VirtualPrinter {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<PrinterState>>,
}

impl VirtualPrinter {
    pub fn start(port: u16, out_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(PrinterState {
            out_dir,
            paper_mm: 80,
            ..Default::default()
        }));
        let printer = VirtualPrinter { addr, state };
        let p = printer.clone();
        std::thread::Builder::new()
            .name("vprinter".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    let p = p.clone();
                    std::thread::spawn(move || p.serve(conn));
                }
            })?;
        Ok(printer)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn jobs(&self) -> Vec<Vec<u8>> {
        self.state.lock().unwrap().jobs.clone()
    }

    fn serve(&self, mut conn: TcpStream) {
        let _ = conn.set_nodelay(true);
        let mut job: Vec<u8> = vec![];
        let mut pending: Vec<u8> = vec![];
        let mut buf = [0u8; 4096];
        loop {
            let n = match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            pending.extend_from_slice(&buf[..n]);
            let mut i = 0;
            while i < pending.len() {
                let mode = self.state.lock().unwrap().mode;
                let rest = &pending[i..];
                if rest.starts_with(&[0x10, 0x04]) {
                    if rest.len() < 3 {
                        break;
                    }
                    if mode != Mode::Silent && conn.write_all(&[mode.status(rest[2])]).is_err() {
                        return;
                    }
                    i += 3;
                } else if rest.starts_with(&[0x1D, 0x72]) {
                    if rest.len() < 3 {
                        break;
                    }
                    i += 3;
                    if mode.prints() {
                        let slow = self.state.lock().unwrap().slow;
                        std::thread::sleep(slow); // simulates a slow mechanism, not test synchronisation
                        self.complete(std::mem::take(&mut job));
                        let paper = if mode == Mode::NearEnd { 0x03 } else { 0x00 };
                        if conn.write_all(&[paper]).is_err() {
                            return;
                        }
                    } else {
                        // Offline printers do not execute GS r; the job stays unprinted.
                        job.clear();
                    }
                } else {
                    job.push(rest[0]);
                    i += 1;
                }
            }
            pending.drain(..i);
        }
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
