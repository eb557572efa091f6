//! What systemd would see of a service: an `sd_notify(3)` socket the test listens on (the
//! service finds it in `NOTIFY_SOCKET`), and the kiosk run under the cage compositor on
//! wlroots' headless backend, as `madoguchi-kiosk-cage.service` runs it on a kiosk.

use crate::harness::{binary, wait_until};
use anyhow::Context;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The service manager's end of `NOTIFY_SOCKET`.
pub struct NotifySocket {
    socket: UnixDatagram,
    pub path: PathBuf,
}

impl NotifySocket {
    /// Bound in `dir`, writable by any user (the kiosk runs as an unprivileged one).
    pub fn bind(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))?;
        Ok(Self { socket, path })
    }

    /// The next message, if one comes within `patience`.
    pub fn next(&self, patience: Duration) -> Option<String> {
        self.socket.set_read_timeout(Some(patience)).ok()?;
        let mut buf = [0u8; 4096];
        let n = self.socket.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Waits until a message has the line `line` (`READY=1`); returns that message.
    pub fn expect(&self, line: &str, patience: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            anyhow::ensure!(!left.is_zero(), "no {line} within {patience:?}");
            if let Some(m) = self.next(left) {
                if m.lines().any(|l| l == line) {
                    return Ok(m);
                }
            }
        }
    }

    /// How many messages with the line `line` arrive within `window` (a window derived from
    /// the watchdog period under test).
    pub fn count(&self, line: &str, window: Duration) -> usize {
        let deadline = Instant::now() + window;
        let mut n = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return n;
            }
            match self.next(left) {
                Some(m) if m.lines().any(|l| l == line) => n += 1,
                Some(_) => {}
                None => return n,
            }
        }
    }
}

/// The unprivileged user the kiosk runs as in these tests (cage refuses to run as root).
pub const KIOSK_USER: &str = "nobody";

/// cage on wlroots' headless backend with the kiosk as its one client, as the cage unit
/// runs it (`-d`; `rotations` times `-r` for a portrait panel), as [`KIOSK_USER`], in
/// `runtime` (its `XDG_RUNTIME_DIR`, where the Wayland socket appears).
pub struct CageKiosk {
    child: Child,
    pub runtime: PathBuf,
}

impl CageKiosk {
    pub fn start(
        config: &Path,
        runtime: &Path,
        notify: &Path,
        watchdog: Duration,
        rotations: usize,
    ) -> anyhow::Result<Self> {
        let log = std::fs::File::create(runtime.join("cage.log"))?;
        let mut cmd = as_kiosk_user("cage");
        cmd.arg("-d");
        for _ in 0..rotations {
            cmd.arg("-r");
        }
        cmd.arg("--")
            .arg(kiosk_copy(runtime)?)
            .arg("--config")
            .arg(config)
            .env("XDG_RUNTIME_DIR", runtime)
            .env("WLR_BACKENDS", "headless")
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .env("WLR_RENDERER", "pixman")
            .env("SLINT_BACKEND", "winit")
            .env("NOTIFY_SOCKET", notify)
            .env("WATCHDOG_USEC", watchdog.as_micros().to_string())
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = cmd.spawn().context("cannot start cage")?;
        Ok(Self {
            child,
            runtime: runtime.to_owned(),
        })
    }

    /// Waits for the kiosk's READY=1 on `notify`; fails at once, with the log, if cage ends.
    pub fn expect_ready(
        &mut self,
        notify: &NotifySocket,
        patience: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Some(m) = notify.next(Duration::from_millis(200)) {
                if m.lines().any(|l| l == "READY=1") {
                    return Ok(());
                }
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "cage ended ({status}) before the kiosk was ready:\n{}",
                    self.log()
                );
            }
        }
        anyhow::bail!("no READY=1 within {patience:?}:\n{}", self.log())
    }

    /// The kiosk's pid (cage's child named kiosk-app; cage also runs Xwayland).
    pub fn kiosk_pid(&self) -> anyhow::Result<i32> {
        let mut found = None;
        wait_until(Duration::from_secs(20), "cage starts kiosk-app", || {
            found = children(self.child.id()).into_iter().find(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() == "kiosk-app")
            });
            found.is_some()
        })?;
        Ok(found.unwrap_or_default() as i32)
    }

    /// A Wayland screenshot of the whole output with `grim`, as PNG bytes.
    pub fn grim(&self) -> anyhow::Result<Vec<u8>> {
        let socket = std::fs::read_dir(&self.runtime)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("wayland-") && !n.ends_with(".lock"))
            .context("cage has no Wayland socket yet")?;
        let out = as_kiosk_user("grim")
            .args(["-t", "png", "-"])
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env("WAYLAND_DISPLAY", socket)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "grim failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(out.stdout)
    }

    /// Waits for cage to end (it ends with its client); its exit status.
    pub fn wait_exit(&mut self, patience: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let mut status = None;
        wait_until(patience, "cage ends", || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        })?;
        status.context("no status")
    }

    /// What cage and the kiosk logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.runtime.join("cage.log")).unwrap_or_default()
    }
}

impl Drop for CageKiosk {
    fn drop(&mut self) {
        for pid in children(self.child.id()) {
            signal(pid as i32, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `program`, to be run as [`KIOSK_USER`] with no supplementary groups.
fn as_kiosk_user(program: &str) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid",
        KIOSK_USER,
        "--regid",
        "nogroup",
        "--clear-groups",
        "--",
        program,
    ]);
    cmd
}

/// The kiosk binary copied where [`KIOSK_USER`] may run it (the checkout may be under a home
/// directory others cannot enter).
fn kiosk_copy(runtime: &Path) -> anyhow::Result<PathBuf> {
    let copy = runtime.join("kiosk-app");
    if !copy.exists() {
        std::fs::copy(binary("kiosk-app")?, &copy)?;
        chown_to_kiosk_user(&copy)?;
    }
    Ok(copy)
}

/// Gives the kiosk user a fixture it can read wherever the checkout is: the assets the
/// config names are copied into the fixture's directory (`dir`) and the config pointed at
/// them, then everything in `dir` is handed to [`KIOSK_USER`].
pub fn hand_to_kiosk_user(dir: &Path, config: &Path) -> anyhow::Result<()> {
    let assets = crate::harness::repo_root().join("assets");
    let copy = dir.join("assets");
    std::fs::create_dir_all(copy.join("catalogues"))?;
    std::fs::copy(
        assets.join("municipalities.csv"),
        copy.join("municipalities.csv"),
    )?;
    for e in std::fs::read_dir(assets.join("catalogues"))? {
        let e = e?;
        std::fs::copy(e.path(), copy.join("catalogues").join(e.file_name()))?;
    }
    let text = std::fs::read_to_string(config)?.replace(
        &format!("{}/", assets.display()),
        &format!("{}/", copy.display()),
    );
    std::fs::write(config, text)?;
    chown_to_kiosk_user(dir)
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// kill(2).
pub fn signal(pid: i32, sig: libc::c_int) {
    // SAFETY: kill(2) with a pid this test started (directly or through cage).
    unsafe { libc::kill(pid, sig) };
}

/// A directory `KIOSK_USER` may use, as a kiosk's `XDG_RUNTIME_DIR` must be (0700, its own).
pub fn runtime_dir(parent: &Path) -> anyhow::Result<PathBuf> {
    let dir = parent.join("runtime");
    std::fs::create_dir_all(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    chown_to_kiosk_user(&dir)?;
    Ok(dir)
}

/// Gives `path` (and everything under it) to [`KIOSK_USER`].
pub fn chown_to_kiosk_user(path: &Path) -> anyhow::Result<()> {
    let status = Command::new("chown")
        .args(["-R", &format!("{KIOSK_USER}:nogroup")])
        .arg(path)
        .status()?;
    anyhow::ensure!(status.success(), "chown {} failed", path.display());
    Ok(())
}

/// An 8-bit RGB(A) PNG as RGBA pixels: (width, height, pixels).
pub fn decode_png(bytes: &[u8]) -> anyhow::Result<(u32, u32, Vec<u8>)> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().context("PNG too large")?];
    let info = reader.next_frame(&mut buf)?;
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => anyhow::bail!("unexpected PNG colour type {other:?}"),
    };
    Ok((info.width, info.height, rgba))
}

/// The share (0..=1) of `block`×`block` squares whose mean colour differs by more than
/// `tolerance` in any channel; 1 when the sizes differ. Two renderers (the compositor path may
/// draw with FemtoVG on Mesa, the reference with the software renderer) anti-alias glyph
/// edges differently, which a per-pixel comparison would count; a wrong, shifted, missing or
/// differently worded screen changes whole squares.
pub fn differing_blocks(
    a: &(u32, u32, Vec<u8>),
    b: &(u32, u32, Vec<u8>),
    block: u32,
    tolerance: f64,
) -> f64 {
    if (a.0, a.1) != (b.0, b.1) {
        return 1.0;
    }
    let (w, h) = (a.0, a.1);
    let mean = |img: &[u8], bx: u32, by: u32| {
        let mut sum = [0f64; 3];
        for y in by * block..(by + 1) * block {
            for x in bx * block..(bx + 1) * block {
                let i = ((y * w + x) * 4) as usize;
                for c in 0..3 {
                    sum[c] += img[i + c] as f64;
                }
            }
        }
        sum.map(|s| s / (block * block) as f64)
    };
    let (bw, bh) = (w / block, h / block);
    let mut differ = 0;
    for by in 0..bh {
        for bx in 0..bw {
            let (p, q) = (mean(&a.2, bx, by), mean(&b.2, bx, by));
            if p.iter().zip(q).any(|(x, y)| (x - y).abs() > tolerance) {
                differ += 1;
            }
        }
    }
    differ as f64 / (bw * bh) as f64
}

/// `GET path` over plain HTTP/1.0; the body.
pub fn http_get(addr: &str, path: &str) -> anyhow::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    let (head, body) = reply.split_once("\r\n\r\n").context("no HTTP reply")?;
    anyhow::ensure!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    Ok(body.to_owned())
}

/// The value of the sample `name` (no labels) in a Prometheus text body.
pub fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The address the kiosk logged for its metrics endpoint.
pub fn metrics_address(log: &str) -> Option<String> {
    let rest = log.split("metrics at http://").nth(1)?;
    Some(rest.split('/').next()?.to_owned())
}
