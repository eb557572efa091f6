//! Test and demo plumbing: pcscd with the vpcd reader, a kiosk configuration with two
//! participating municipalities served by reference backends, the virtual printer, and
//! counter-sync running as its own process (`counter-sync run`, as systemd runs it), or on a
//! thread of the test only where a test must inject the daemon's clock.

use crate::refbackend::RefBackend;
use crate::vcard::{CardModel, VirtualCard};
use crate::vprinter::VirtualPrinter;
use anyhow::Context;
use kiosk_app::config::KioskConfig;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use crate::pcscd::{ensure_pcscd, Pcscd};

/// Repository root (for assets).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// An exclusive lock on a file, released on drop: serialises use of the one vpcd slot across
/// test processes, and the start of pcscd.
pub struct FileLock(#[allow(dead_code)] std::fs::File);

impl FileLock {
    pub fn acquire(name: &str) -> anyhow::Result<Self> {
        use std::os::fd::AsRawFd;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(std::env::temp_dir().join(name))?;
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            anyhow::bail!("cannot lock {name}: {}", std::io::Error::last_os_error());
        }
        Ok(FileLock(f))
    }

    /// The lock if nobody holds it now, else `None` (never waits).
    pub fn try_acquire(name: &str) -> anyhow::Result<Option<Self>> {
        use std::os::fd::AsRawFd;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(std::env::temp_dir().join(name))?;
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(Some(FileLock(f)));
        }
        match std::io::Error::last_os_error() {
            e if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
            e => anyhow::bail!("cannot lock {name}: {e}"),
        }
    }
}

/// Events from a channel under one overall deadline: a loop that waits for a particular
/// event among others ends by the deadline, however many other events keep arriving.
pub struct Events<T> {
    rx: std::sync::mpsc::Receiver<T>,
    deadline: Instant,
}

impl<T> Events<T> {
    pub fn new(rx: std::sync::mpsc::Receiver<T>, patience: Duration) -> Self {
        Events {
            rx,
            deadline: Instant::now() + patience,
        }
    }

    /// The next event; panics naming `what` once the deadline has passed.
    pub fn next(&self, what: &str) -> T {
        let left = self.deadline.saturating_duration_since(Instant::now());
        self.rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no event by the deadline: {what}"))
    }

    /// A fresh deadline for the next phase of a test.
    pub fn renew(&mut self, patience: Duration) {
        self.deadline = Instant::now() + patience;
    }
}

/// Polls `cond` until it holds (each check is a real query, not a guess about timing).
pub fn wait_until(
    patience: Duration,
    what: &str,
    mut cond: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let deadline = start + patience;
    while !cond() {
        if Instant::now() > deadline {
            anyhow::bail!("timed out after {patience:?} waiting until {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if start.elapsed() > Duration::from_secs(1) {
        eprintln!("waited {:?} until {what}", start.elapsed());
    }
    Ok(())
}

/// Checks that `cond` keeps holding for the whole of `window` (polled every 20 ms), failing as
/// soon as it does not. For "nothing happened": the caller derives `window` from the policy
/// under test, so that the thing that must not happen would have happened within it.
pub fn holds_for(
    window: Duration,
    what: &str,
    mut cond: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        if !cond() {
            anyhow::bail!(
                "{what} stopped holding after {:?} (of {window:?})",
                start.elapsed()
            );
        }
        if start.elapsed() >= window {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A loopback address that certainly refuses connections while this value lives: a TCP socket
/// bound to it by the test that never listens. A connection to a bound port with no listener
/// is answered by the kernel with a reset (`ECONNREFUSED`) at once, and no other process can
/// bind the port meanwhile (our socket does not set `SO_REUSEADDR`), so unlike a guessed
/// port (`:9`, or one freed after bind-then-drop) nothing can ever answer on it — and unlike a
/// listener that never accepts, connecting does not hang until a timeout.
pub struct Unreachable {
    fd: std::os::fd::OwnedFd,
    pub addr: std::net::SocketAddr,
}

impl Unreachable {
    pub fn new() -> anyhow::Result<Self> {
        use std::os::fd::FromRawFd;
        // SAFETY: plain socket(2); the result is checked before it is owned.
        let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        anyhow::ensure!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        sin.sin_port = 0;
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        use std::os::fd::AsRawFd;
        // SAFETY: `sin` is a valid sockaddr_in of `len` bytes; `fd` is open.
        let bound = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sin as *const libc::sockaddr_in).cast(),
                len,
            )
        };
        anyhow::ensure!(bound == 0, "bind: {}", std::io::Error::last_os_error());
        let mut got_len = len;
        // SAFETY: `sin` has room for `got_len` bytes; `fd` is open.
        let named = unsafe {
            libc::getsockname(
                fd.as_raw_fd(),
                (&mut sin as *mut libc::sockaddr_in).cast(),
                &mut got_len,
            )
        };
        anyhow::ensure!(
            named == 0,
            "getsockname: {}",
            std::io::Error::last_os_error()
        );
        let addr =
            std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, u16::from_be(sin.sin_port)));
        Ok(Self { fd, addr })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        let _ = &self.fd;
        format!("http://{}", self.addr)
    }
}

/// A municipality served by a reference backend, with its key pair.
pub struct Municipality {
    pub code: &'static str,
    pub name_ja: &'static str,
    pub name_en: &'static str,
    pub backend: RefBackend,
    pub private_pem: Vec<u8>,
}

/// Everything a kiosk needs around it, in a temporary directory.
pub struct Fixture {
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub config_path: PathBuf,
    pub config: KioskConfig,
    pub municipalities: Vec<Municipality>,
    pub printer: VirtualPrinter,
}

/// The staff PIN of every fixture (and of the demo).
pub const STAFF_PIN: &str = "135790";

pub struct FixtureOptions {
    /// Keep files here instead of a temporary directory (the demo).
    pub dir: Option<PathBuf>,
    pub idle_warning_secs: u64,
    pub idle_countdown_secs: u64,
    pub printer_out: Option<PathBuf>,
    pub fixed_ports: bool,
    /// `printer.connection` instead of the virtual printer's address.
    pub printer_connection: Option<String>,
    pub printer_timeout_ms: u64,
}

impl Default for FixtureOptions {
    fn default() -> Self {
        FixtureOptions {
            dir: None,
            idle_warning_secs: 45,
            idle_countdown_secs: 15,
            printer_out: None,
            fixed_ports: false,
            printer_connection: None,
            printer_timeout_ms: 3000,
        }
    }
}

impl Fixture {
    pub fn new(opts: FixtureOptions) -> anyhow::Result<Self> {
        let (tmp, dir) = match &opts.dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                (None, d.clone())
            }
            None => {
                let t = tempfile::tempdir()?;
                let d = t.path().to_owned();
                (Some(t), d)
            }
        };
        let mut municipalities = vec![];
        for (i, (code, ja, en)) in [
            ("113263", "毛呂山町", "Moroyama Town"),
            ("113271", "越生町", "Ogose Town"),
        ]
        .into_iter()
        .enumerate()
        {
            let (private_pem, public_pem) = counter_core::seal::generate_key_pair()?;
            std::fs::write(dir.join(format!("{code}.pub.pem")), &public_pem)?;
            let port = if opts.fixed_ports {
                18080 + i as u16
            } else {
                0
            };
            let backend = RefBackend::start(code, private_pem.clone(), port)?;
            municipalities.push(Municipality {
                code,
                name_ja: ja,
                name_en: en,
                backend,
                private_pem,
            });
        }
        let printer = VirtualPrinter::start(
            if opts.fixed_ports { 19100 } else { 0 },
            opts.printer_out.clone(),
        )?;
        let root = repo_root();
        let mut toml = format!(
            r#"# Generated by the Madoguchi test harness.
[kiosk]
id = "K01"
counter_name = "毛呂山・越生 共同窓口"

[outbox]
path = "outbox.db"

[sync]
poll_interval_ms = 100
backoff_base_ms = 200
backoff_cap_ms = 2000

[card]
reader = "Virtual PCD 00 00"

[printer]
connection = "{printer}"
paper_mm = 80
timeout_ms = {timeout_ms}

[ui]
idle_warning_secs = {iw}
idle_countdown_secs = {ic}
card_removed_secs = 3

[routing]
municipality_list = "{root}/assets/municipalities.csv"

[staff]
pin_hash = "{staff_pin_hash}"
"#,
            staff_pin_hash = kiosk_app::staff_pin::hash_pin(STAFF_PIN.as_bytes())?,
            printer = opts
                .printer_connection
                .clone()
                .unwrap_or_else(|| printer.connection()),
            timeout_ms = opts.printer_timeout_ms,
            iw = opts.idle_warning_secs,
            ic = opts.idle_countdown_secs,
            root = root.display(),
        );
        for m in &municipalities {
            toml.push_str(&format!(
                r#"
[[municipality]]
code = "{code}"
name_ja = "{ja}"
name_en = "{en}"
endpoint = "{url}"
test_destination = true
public_key = "{code}.pub.pem"
catalogue = "{root}/assets/catalogues/saitama-iruma.toml"
"#,
                code = m.code,
                ja = m.name_ja,
                en = m.name_en,
                url = m.backend.url(),
                root = root.display(),
            ));
        }
        let config_path = dir.join("kiosk.toml");
        std::fs::write(&config_path, toml)?;
        let config = KioskConfig::load(&config_path)?;
        Ok(Fixture {
            dir,
            _tmp: tmp,
            config_path,
            config,
            municipalities,
            printer,
        })
    }

    pub fn municipality(&self, code: &str) -> &Municipality {
        self.municipalities
            .iter()
            .find(|m| m.code == code)
            .expect("configured municipality")
    }

    /// Runs `counter-sync run` as its own process until the returned guard is dropped.
    pub fn start_counter_sync(&self) -> SyncGuard {
        SyncGuard::process(&self.config_path).expect("counter-sync run starts")
    }

    /// Points a municipality at another endpoint, in the config file and in `config`.
    pub fn set_endpoint(&mut self, code: &str, url: &str) -> anyhow::Result<()> {
        let old = self.municipality(code).backend.url();
        let text = std::fs::read_to_string(&self.config_path)?;
        anyhow::ensure!(text.contains(&old), "{old} is not in the config");
        std::fs::write(&self.config_path, text.replace(&old, url))?;
        self.config = KioskConfig::load(&self.config_path)?;
        Ok(())
    }

    /// The virtual card in the vpcd slot of this process's pcscd, not yet inserted.
    pub fn card(&self, model: CardModel) -> VirtualCard {
        let pcscd = ensure_pcscd().expect("the suite's pcscd with vpcd");
        VirtualCard::new(pcscd.vpcd_port(), model)
    }
}

/// A running counter-sync daemon, stopped (SIGTERM, as systemd stops it) when dropped.
pub enum SyncGuard {
    /// `counter-sync run`, its own process; stderr (RUST_LOG=info) goes to `log`.
    Process {
        child: std::process::Child,
        log: PathBuf,
    },
    /// The daemon on a thread of the test: only where the test injects the clock, or a
    /// benchmark wants no process in its figures.
    Thread {
        stop: tokio::sync::watch::Sender<bool>,
        handle: Option<std::thread::JoinHandle<()>>,
    },
}

impl SyncGuard {
    /// `counter-sync --config <config> run` as its own process, logging to
    /// `counter-sync.log` beside the config file.
    pub fn process(config: &Path) -> anyhow::Result<Self> {
        let log = config.with_file_name("counter-sync.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = std::process::Command::new(binary("counter-sync")?)
            .arg("--config")
            .arg(config)
            .arg("run")
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .spawn()
            .context("cannot start counter-sync run")?;
        Ok(SyncGuard::Process { child, log })
    }

    /// What the daemon process logged so far (empty for the thread variant).
    pub fn log(&self) -> String {
        match self {
            SyncGuard::Process { log, .. } => std::fs::read_to_string(log).unwrap_or_default(),
            SyncGuard::Thread { .. } => String::new(),
        }
    }

    /// The daemon process's id (None for the thread variant).
    pub fn pid(&self) -> Option<u32> {
        match self {
            SyncGuard::Process { child, .. } => Some(child.id()),
            SyncGuard::Thread { .. } => None,
        }
    }

    /// counter-sync's daemon on a thread of this process with the system clock (benchmarks).
    pub fn in_process(cfg: counter_core::config::SyncConfig) -> Self {
        Self::spawn_with_clock(cfg, counter_sync::daemon::Clock::system())
    }

    /// The daemon on a thread, reading the time from `clock` (a test that moves the clock).
    pub fn spawn_with_clock(
        cfg: counter_core::config::SyncConfig,
        clock: counter_sync::daemon::Clock,
    ) -> Self {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(counter_sync::daemon::run_with_clock(cfg, rx, clock))
                .expect("counter-sync runs");
        });
        SyncGuard::Thread {
            stop: tx,
            handle: Some(handle),
        }
    }
}

impl Drop for SyncGuard {
    fn drop(&mut self) {
        match self {
            SyncGuard::Process { child, .. } => {
                // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
                unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
                let stopped = wait_until(Duration::from_secs(10), "counter-sync stops", || {
                    matches!(child.try_wait(), Ok(Some(_)))
                });
                if stopped.is_err() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            SyncGuard::Thread { stop, handle } => {
                let _ = stop.send(true);
                if let Some(h) = handle.take() {
                    let _ = h.join();
                }
            }
        }
    }
}

/// What one run of a command-line tool gave: exit code, stdout as JSON (`Null` when it was
/// not JSON), stderr.
pub struct CliOutput {
    pub code: i32,
    pub json: serde_json::Value,
    pub stderr: String,
}

/// Runs `bin --config <config> <args>`, with `stdin` as its standard input.
pub fn run_cli(bin: &Path, config: &Path, args: &[&str], stdin: Option<&str>) -> CliOutput {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// [`run_cli`], but the command must end within `patience`: otherwise it is killed and the
/// answer is `None`.
pub fn run_cli_within(
    bin: &Path,
    config: &Path,
    args: &[&str],
    patience: Duration,
) -> Option<CliOutput> {
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let what = format!("kioskctl {} ends", args.join(" "));
    if wait_until(patience, &what, || matches!(child.try_wait(), Ok(Some(_)))).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    let out = child.wait_with_output().unwrap();
    Some(CliOutput {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Path of a workspace binary (the CLI tests run the real binaries). `deploy/test.sh` builds
/// every target first and says so in `MADOGUCHI_BUILT`; otherwise (a developer running one test)
/// cargo is asked once per process to bring the workspace up to date, with the same targets as
/// `deploy/test.sh` so that one feature set is built. Cargo, not file times, decides what is
/// stale: it does not relink a binary whose inputs did not change. A tool binary of this crate
/// (`soak`, `madoguchi-demo`) run from another profile's directory uses the binaries beside it,
/// so that a release soak talks to a release counter-sync.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    if let Some(beside) = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(name)))
        .filter(|p| p.is_file())
    {
        return Ok(beside);
    }
    static BUILT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let path = target.join("debug").join(name);
    if std::env::var_os("MADOGUCHI_BUILT").is_none() {
        BUILT
            .get_or_init(|| {
                let _lock = FileLock::acquire("madoguchi-build.lock").map_err(|e| e.to_string())?;
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let status = std::process::Command::new(cargo)
                    .args(["build", "--quiet", "--workspace", "--all-targets"])
                    .current_dir(repo_root())
                    .status()
                    .map_err(|e| e.to_string())?;
                if status.success() {
                    Ok(())
                } else {
                    Err("cargo build of the binaries failed".into())
                }
            })
            .clone()
            .map_err(anyhow::Error::msg)?;
    }
    anyhow::ensure!(path.exists(), "{} was not built", path.display());
    Ok(path)
}

/// A valid 全国地方公共団体コード built from five digits (JIS X 0402 check digit added).
pub fn municipality_code(five_digits: u32) -> String {
    let base = format!("{five_digits:05}");
    let sum: u32 = base
        .chars()
        .zip([6, 5, 4, 3, 2])
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    format!("{base}{}", (11 - sum % 11) % 10)
}

/// Options of a delivery-only fixture (counter-sync and backends, no kiosk).
pub struct SyncOptions {
    pub municipalities: usize,
    /// Extra lines of the `[sync]` section.
    pub sync: String,
    /// Serve every backend over HTTPS with client certificates (a PKI per municipality).
    pub tls: bool,
    /// `opening_hours` lines per municipality index.
    pub opening_hours: Vec<(usize, Vec<String>)>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            municipalities: 2,
            sync: String::new(),
            tls: false,
            opening_hours: vec![],
        }
    }
}

/// counter-sync's world: a config file, an outbox path, and one reference backend per
/// municipality, each with its own key pair (and CA when TLS is on).
pub struct SyncFixture {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub config: counter_core::config::SyncConfig,
    pub codes: Vec<String>,
    pub backends: Vec<RefBackend>,
    /// With TLS: the kiosk's certificate and CA, and each municipality's CA and server.
    pub kiosk_pki: Option<crate::testpki::KioskPki>,
    pub pki: Vec<crate::testpki::MunicipalityPki>,
}

impl SyncFixture {
    pub fn new(opts: SyncOptions) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        let mut toml = format!(
            "[kiosk]\nid = \"K01\"\ncounter_name = \"test counter\"\n\n[outbox]\npath = \"outbox.db\"\n\n[sync]\n{}\n",
            opts.sync
        );
        let (mut codes, mut backends, mut pki, mut sections) = (vec![], vec![], vec![], vec![]);
        let kiosk_pki = if opts.tls {
            let k = crate::testpki::KioskPki::new("K01")?;
            std::fs::write(d.join("kiosk.crt.pem"), &k.client.cert_pem)?;
            crate::testpki::write_private_key(&d.join("kiosk.key.pem"), &k.client.key_pem)?;
            Some(k)
        } else {
            None
        };
        for i in 0..opts.municipalities {
            let code = municipality_code(11301 + i as u32 * 7);
            let (private_pem, public_pem) = counter_core::seal::generate_key_pair()?;
            std::fs::write(d.join(format!("{code}.pub.pem")), &public_pem)?;
            let mut section = format!(
                "\n[[municipality]]\ncode = \"{code}\"\nname_ja = \"試験町{i}\"\nname_en = \"Test Town {i}\"\npublic_key = \"{code}.pub.pem\"\ncatalogue = \"unused.toml\"\n"
            );
            let backend = if let Some(kiosk) = &kiosk_pki {
                let p = crate::testpki::MunicipalityPki::new(&code)?;
                std::fs::write(d.join(format!("{code}.ca.pem")), &p.ca.cert_pem)?;
                section.push_str(&format!("ca = \"{code}.ca.pem\"\n"));
                let tls = p.server_tls(&kiosk.ca)?;
                let b = RefBackend::start_with(&code, private_pem, 0, Some(tls))?;
                pki.push(p);
                b
            } else {
                section.push_str("test_destination = true\n");
                RefBackend::start(&code, private_pem, 0)?
            };
            section.push_str(&format!("endpoint = \"{}\"\n", backend.url()));
            if let Some((_, hours)) = opts.opening_hours.iter().find(|(n, _)| *n == i) {
                section.push_str(&format!("opening_hours = {hours:?}\n"));
            }
            sections.push(section);
            codes.push(code);
            backends.push(backend);
        }
        if opts.tls {
            toml.push_str(
                "[tls]\nclient_cert = \"kiosk.crt.pem\"\nclient_key = \"kiosk.key.pem\"\n",
            );
        }
        for s in sections {
            toml.push_str(&s);
        }
        let config_path = d.join("kiosk.toml");
        std::fs::write(&config_path, toml)?;
        let config = counter_core::config::SyncConfig::load(&config_path)?;
        Ok(Self {
            dir,
            config_path,
            config,
            codes,
            backends,
            kiosk_pki,
            pki,
        })
    }

    /// `counter-sync run` as its own process, stopped when the guard drops.
    pub fn start_daemon(&self) -> SyncGuard {
        SyncGuard::process(&self.config_path).expect("counter-sync run starts")
    }

    /// The daemon as its own process (`counter-sync run`), logging to `log`.
    pub fn spawn_daemon(&self, log: &Path) -> anyhow::Result<std::process::Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        Ok(std::process::Command::new(binary("counter-sync")?)
            .arg("--config")
            .arg(&self.config_path)
            .arg("run")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()?)
    }

    /// Runs a counter-sync subcommand to completion.
    pub fn cli(&self, args: &[&str]) -> anyhow::Result<std::process::Output> {
        Ok(std::process::Command::new(binary("counter-sync")?)
            .arg("--config")
            .arg(&self.config_path)
            .args(args)
            .output()?)
    }

    /// `counter-sync enqueue-synthetic --count N`, as a technician runs it: the new
    /// applications' ids.
    pub fn enqueue_synthetic(&self, count: usize) -> Vec<String> {
        let out = self
            .cli(&["enqueue-synthetic", "--count", &count.to_string(), "--json"])
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["application_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    }

    /// POSTs seen by all backends together.
    pub fn total_posts(&self) -> usize {
        self.backends
            .iter()
            .map(|b| b.store.lock().unwrap().posts)
            .sum()
    }
}

/// Every byte string that would give `holder` away, named: the name and the distinctive part
/// of the address (after the municipality, which is not personal) in UTF-8 (the card's own
/// encoding and Rust's), Shift_JIS (the printer's) and UTF-16; the birth date as the card
/// stores it, as the sealed content and the CLI write it, with slashes, and as each UI
/// language shows it. The secret-absence checks all search for these.
pub fn personal_data_needles(holder: &crate::vcard::Holder) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    let street = holder
        .address
        .split_once('町')
        .or_else(|| holder.address.split_once('市'))
        .map_or(holder.address.as_str(), |(_, rest)| rest);
    for (what, text) in [("name", holder.name.as_str()), ("street", street)] {
        out.push((format!("{what} in UTF-8"), text.as_bytes().to_vec()));
        let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
        if !unmappable {
            out.push((format!("{what} in Shift_JIS"), sjis.into_owned()));
        }
        let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        out.push((format!("{what} in UTF-16"), utf16));
    }
    let b = &holder.birth;
    let mut births = vec![
        b.clone(),
        format!("{}-{}-{}", &b[..4], &b[4..6], &b[6..]),
        format!("{}/{}/{}", &b[..4], &b[4..6], &b[6..]),
    ];
    for lang in kiosk_app::domain::Lang::all() {
        births.push(kiosk_app::session::format_birth(b, lang));
    }
    for form in births {
        out.push((format!("birth date {form}"), form.into_bytes()));
    }
    out
}

/// The needles of [`personal_data_needles`] found in `bytes`.
pub fn personal_data_in(bytes: &[u8], needles: &[(String, Vec<u8>)]) -> Vec<String> {
    needles
        .iter()
        .filter(|(_, n)| bytes.windows(n.len()).any(|w| w == n.as_slice()))
        .map(|(what, _)| what.clone())
        .collect()
}

/// Where the independent JWE implementation (Debian's `python3-jwcrypto`) is installed: the
/// system interpreter, not whatever `python3` comes first on `PATH` (a pyenv, a venv).
pub const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// Opens compact JWEs with jwcrypto (`tests/oracle/jwe_open.py`), which shares no code with
/// the kiosk's josekit: one JSON answer per JWE, `{"protected": …, "plaintext_hex": …}` or
/// `{"error": …}`.
pub fn jwcrypto_open(
    private_pem: &[u8],
    jwes: &[String],
) -> anyhow::Result<Vec<serde_json::Value>> {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("municipality.key.pem");
    std::fs::write(&key, private_pem)?;
    let mut child = std::process::Command::new(SYSTEM_PYTHON)
        .arg(repo_root().join("tests/oracle/jwe_open.py"))
        .arg(&key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| {
            format!("cannot run {SYSTEM_PYTHON} (apt-get install python3-jwcrypto)")
        })?;
    let mut stdin = child.stdin.take().expect("stdin");
    for j in jwes {
        writeln!(stdin, "{j}")?;
    }
    drop(stdin);
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "jwe_open.py failed (is python3-jwcrypto installed? deploy/setup.sh installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers = String::from_utf8(out.stdout)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<Vec<serde_json::Value>, _>>()?;
    anyhow::ensure!(answers.len() == jwes.len(), "one answer per JWE expected");
    Ok(answers)
}

/// The protected header the municipality API requires of `sealed` (product.md: RFC 7516
/// compact, ECDH-ES+A256KW, A256GCM, to the municipality's P-256 key), as an independent
/// parser read it: every problem found, empty when it conforms.
pub fn jwe_header_problems(protected: &serde_json::Value) -> Vec<String> {
    let mut problems = vec![];
    let mut want = |field: &str, value: &serde_json::Value, expected: &str| {
        if value.as_str() != Some(expected) {
            problems.push(format!("{field} is {value}, not {expected:?}"));
        }
    };
    want("alg", &protected["alg"], "ECDH-ES+A256KW");
    want("enc", &protected["enc"], "A256GCM");
    want("cty", &protected["cty"], "application/json");
    let epk = &protected["epk"];
    want("epk.kty", &epk["kty"], "EC");
    want("epk.crv", &epk["crv"], "P-256");
    for coordinate in ["x", "y"] {
        if !epk[coordinate].is_string() {
            problems.push(format!("epk.{coordinate} missing"));
        }
    }
    if !epk["d"].is_null() {
        problems.push("the ephemeral PRIVATE key is in the header".into());
    }
    if !protected["zip"].is_null() {
        problems.push("compressed before encryption (zip)".into());
    }
    problems
}

/// One round of the `submit-loop` crash tests: runs the loop with `env` over `config`, takes
/// `confirmed` receipt numbers it printed (each printed only once durably submitted), then
/// SIGKILLs it in the middle of the next submission. Returns every receipt number it printed,
/// those written just before it died included.
pub fn submit_loop_round(
    submit_loop: &Path,
    config: &Path,
    env: &[(&str, &Path)],
    confirmed: u64,
) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut command = Command::new(submit_loop);
    command
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("submit-loop starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut seen = vec![];
    for _ in 0..confirmed {
        seen.push(lines.next().expect("a receipt number").expect("readable"));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    // Whatever the process printed before it died was also confirmed.
    seen.extend(lines.map_while(Result::ok));
    seen
}
