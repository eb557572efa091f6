//! A pcscd of the test process's own, with its own socket and its own vpcd ports, so that
//! tests never depend on (or stop) the machine's daemon and two test processes never share a
//! reader.
//!
//! pcsc-lite 1.9 (Debian 12) hard-codes the daemon's socket and pid file under `/run/pcscd`
//! (only the client library honours `PCSCLITE_CSOCK_NAME`), and a second daemon refuses to
//! start beside a running one. So the suite's pcscd runs in a mount namespace of its own
//! (`unshare --mount`), where a directory of the suite's is bind-mounted on `/run/pcscd`: its
//! socket appears at `/tmp/madoguchi-pcscd-<slot>/pcscd.comm`, and this process (and every
//! kiosk process it starts, through the environment) is pointed there with
//! `PCSCLITE_CSOCK_NAME`. Its reader configuration (`pcscd -c`) puts vpcd on a port pair of
//! its slot (`VPCD_BASE_PORT` + 2 × slot and the next one for the second reader), away from
//! the machine's 35963/35964. A slot is claimed with a lock file held for the process's life.

use crate::harness::{wait_until, FileLock};
use anyhow::Context;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::Duration;

/// First vpcd port of the suite's daemons (slot 0: 36100 and 36101).
const VPCD_BASE_PORT: u16 = 36100;
/// How many test processes can hold a pcscd of their own at once.
const SLOTS: u16 = 32;

/// The vpcd driver, as Debian's `vsmartcard-vpcd` installs it.
const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";

/// Inside the new mount namespace: our directory over `/run/pcscd`, then pcscd itself (the
/// same process, so its pid is the child's).
const START: &str = r#"mkdir -p /run/pcscd && mount --bind "$0" /run/pcscd && exec pcscd --foreground -c "$0/conf""#;

/// This process's own pcscd. Started once per process by [`ensure_pcscd`]; ends with the
/// process (SIGTERM via `PR_SET_PDEATHSIG`) or with [`Pcscd::stop`].
pub struct Pcscd {
    dir: PathBuf,
    vpcd_port: u16,
    child: Mutex<Option<Child>>,
    _slot: FileLock,
}

/// Starts this process's pcscd with the vpcd reader (once), points every PC/SC client of the
/// process and its children at it, and waits until it lists the reader. Call it before any
/// other PC/SC use in the process: the client library reads `PCSCLITE_CSOCK_NAME` once.
pub fn ensure_pcscd() -> anyhow::Result<&'static Pcscd> {
    static PCSCD: OnceLock<Pcscd> = OnceLock::new();
    static START_LOCK: Mutex<()> = Mutex::new(());
    let _one_at_a_time = START_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = PCSCD.get() {
        return Ok(p);
    }
    let p = Pcscd::claim_slot()?;
    std::env::set_var("PCSCLITE_CSOCK_NAME", p.dir.join("pcscd.comm"));
    p.start()?;
    Ok(PCSCD.get_or_init(|| p))
}

impl Pcscd {
    /// The first free slot: its lock is free and both its vpcd ports can be bound.
    fn claim_slot() -> anyhow::Result<Pcscd> {
        for slot in 0..SLOTS {
            let Some(lock) = FileLock::try_acquire(&format!("madoguchi-pcscd-slot-{slot}.lock"))?
            else {
                continue;
            };
            let port = VPCD_BASE_PORT + 2 * slot;
            let free = |p: u16| std::net::TcpListener::bind(("0.0.0.0", p)).is_ok();
            if !(free(port) && free(port + 1)) {
                continue;
            }
            let dir = std::env::temp_dir().join(format!("madoguchi-pcscd-{slot}"));
            std::fs::create_dir_all(dir.join("conf"))?;
            std::fs::write(
                dir.join("conf").join("vpcd"),
                format!(
                    "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   /dev/null:0x{port:X}\n\
                     LIBPATH      {VPCD_DRIVER}\nCHANNELID    0x{port:X}\n"
                ),
            )?;
            return Ok(Pcscd {
                dir,
                vpcd_port: port,
                child: Mutex::new(None),
                _slot: lock,
            });
        }
        anyhow::bail!("all {SLOTS} pcscd slots of the test suite are taken")
    }

    /// The TCP port vpcd listens on for the card of reader "Virtual PCD 00 00" (the next
    /// port is "Virtual PCD 00 01").
    pub fn vpcd_port(&self) -> u16 {
        self.vpcd_port
    }

    /// The socket PC/SC clients use to reach this daemon.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("pcscd.comm")
    }

    /// Starts the daemon (if it is not running) and waits until it lists the vpcd reader.
    pub fn start(&self) -> anyhow::Result<()> {
        let mut guard = self.child.lock().unwrap();
        if guard.is_some() {
            return Ok(());
        }
        anyhow::ensure!(
            std::path::Path::new(VPCD_DRIVER).exists(),
            "the vpcd virtual reader is not installed: apt-get install pcscd vsmartcard-vpcd"
        );
        // Left over by a daemon that was killed: ours alone (we hold the slot).
        for f in ["pcscd.comm", "pcscd.pid"] {
            let _ = std::fs::remove_file(self.dir.join(f));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("pcscd.log"))?;
        let mut cmd = Command::new("unshare");
        if unsafe { libc::geteuid() } != 0 {
            cmd.arg("--map-root-user");
        }
        cmd.args(["--mount", "--propagation", "private", "sh", "-c", START])
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = spawn_for_life_of_process(cmd).context("cannot start pcscd under unshare")?;
        *guard = Some(child);
        let child = guard.as_mut().expect("just set");
        let mut exited = None;
        let listed = wait_until(Duration::from_secs(20), "our pcscd lists vpcd", || {
            if let Ok(Some(status)) = child.try_wait() {
                exited = Some(status);
                return true;
            }
            vpcd_reader_listed()
        });
        if let Some(status) = exited {
            *guard = None;
            anyhow::bail!(
                "pcscd ended at start ({status}); see {}",
                self.dir.join("pcscd.log").display()
            );
        }
        listed
    }

    /// Stops this daemon, and no other: SIGTERM, then SIGKILL if it is not gone in 10 s.
    pub fn stop(&self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.lock().unwrap().take() else {
            return Ok(());
        };
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        if wait_until(Duration::from_secs(10), "our pcscd ends", || {
            matches!(child.try_wait(), Ok(Some(_)))
        })
        .is_err()
        {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }
}

fn vpcd_reader_listed() -> bool {
    let Ok(ctx) = pcsc::Context::establish(pcsc::Scope::User) else {
        return false;
    };
    let Ok(readers) = ctx.list_readers_owned() else {
        return false;
    };
    readers
        .iter()
        .any(|r| r.to_string_lossy().contains("Virtual PCD"))
}

/// Spawns `cmd` from a thread that lives as long as the process, with `PR_SET_PDEATHSIG`
/// SIGTERM: the kernel ties the signal to the thread that forked, so a daemon spawned from a
/// test's own thread would be stopped when that test ends while others (`cargo test` runs
/// several per process) still use it, and one spawned here ends when the process does, even
/// when it is killed.
fn spawn_for_life_of_process(mut cmd: Command) -> std::io::Result<Child> {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static KEEPER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("pcscd-keeper".into())
            .spawn(move || {
                for (mut cmd, answer) in rx {
                    let _ = answer.send(cmd.spawn());
                }
                // The senders live in a static: never reached, so the thread never ends.
            })
            .expect("pcscd keeper thread");
        Mutex::new(tx)
    });
    use std::os::unix::process::CommandExt;
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel();
    keeper
        .lock()
        .unwrap()
        .send((cmd, tx))
        .map_err(|_| std::io::Error::other("pcscd keeper thread gone"))?;
    rx.recv()
        .map_err(|_| std::io::Error::other("pcscd keeper thread gone"))?
}
