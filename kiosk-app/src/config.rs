//! The kiosk's configuration: the shared file of counter-sync plus the kiosk's own sections.

use crate::catalogue::{Catalogue, CatalogueError};
use crate::receipt::link::Connection;
use crate::routing::{Router, RouterError};
use counter_core::config::{
    parse_config_text, read_config_text, At, ConfigError, Problem, SyncConfig,
};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The whole per-kiosk file: counter-sync's part and the kiosk's own sections, each parsed
/// from the same text (no `flatten`, so an unknown key is refused with its line).
#[derive(Debug, Clone)]
pub struct KioskConfig {
    /// What counter-sync reads too.
    pub sync: SyncConfig,
    /// The card reader.
    pub card: CardConfig,
    /// The receipt printer.
    pub printer: PrinterConfig,
    /// The touchscreen.
    pub ui: UiConfig,
    /// The municipality code list.
    pub routing: RoutingConfig,
    /// Staff mode.
    pub staff: StaffConfig,
}

/// The kiosk's own sections of the file.
#[derive(Deserialize)]
struct KioskSections {
    #[serde(default)]
    card: CardConfig,
    printer: PrinterConfig,
    #[serde(default)]
    ui: UiConfig,
    routing: RoutingConfig,
    #[serde(default)]
    staff: StaffConfig,
}

/// Staff mode (`[staff]`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StaffConfig {
    /// Argon2id PHC string of the 6-digit staff PIN (`kioskctl staff hash-pin`). Without it
    /// staff mode cannot be opened on the touchscreen (`kioskctl` still works).
    pub pin_hash: Option<String>,
}

/// The card reader (`[card]`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CardConfig {
    /// Only readers whose name contains this text are used (all readers when absent).
    pub reader: Option<String>,
}

/// The receipt printer (`[printer]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    /// Where the ESC/POS printer is: `tcp://host:9100`, `usb:/dev/usb/lp0`,
    /// `serial:/dev/ttyUSB0?baud=38400&flow=rtscts` or `file:/path` (see [`Connection`]).
    #[serde(alias = "address")]
    pub connection: Connection,
    /// 58 or 80.
    #[serde(default = "default_paper")]
    pub paper_mm: u8,
    /// The whole budget of one print (host lookup, connection, status, job, confirmation);
    /// the session hears the outcome by this plus a fixed margin, whatever the printer does.
    #[serde(default = "default_printer_timeout")]
    pub timeout_ms: u64,
}

fn default_paper() -> u8 {
    80
}

fn default_printer_timeout() -> u64 {
    5_000
}

/// The touchscreen (`[ui]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// Seconds without a touch before the "Continue?" countdown appears.
    pub idle_warning_secs: u64,
    /// Length of that countdown; then the session is wiped.
    pub idle_countdown_secs: u64,
    /// How long "your card was removed" stays before the welcome screen.
    pub card_removed_secs: u64,
    /// The language each session starts in.
    pub default_language: String,
    /// Window size on a desktop (the kiosk itself runs full screen).
    pub width: u32,
    /// Window height (desktop runs).
    pub height: u32,
    /// Degrees clockwise the picture is turned on the panel (0, 90, 180, 270): portrait
    /// kiosks on landscape panels. Applied by `kioskctl display apply`.
    pub rotation: crate::display::Rotation,
    /// Where the kiosk serves its Prometheus metrics (`127.0.0.1:9465`); none when absent.
    pub metrics_listen: Option<String>,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            idle_warning_secs: 45,
            idle_countdown_secs: 15,
            card_removed_secs: 5,
            default_language: "ja".into(),
            width: 1080,
            height: 1920,
            rotation: Default::default(),
            metrics_listen: None,
        }
    }
}

/// The municipality code list (`[routing]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// CSV of the municipalities of the service area (see `assets/municipalities.csv`).
    pub municipality_list: PathBuf,
}

/// Why the kiosk cannot start with this config.
#[derive(Debug, thiserror::Error)]
pub enum KioskConfigError {
    /// The config itself.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A procedure catalogue.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    /// The municipality code list.
    #[error(transparent)]
    Router(#[from] RouterError),
}

impl KioskConfig {
    /// Reads the config and everything it names.
    pub fn load(path: &Path) -> Result<Self, KioskConfigError> {
        let text = read_config_text(path)?;
        let cfg = Self::load_unchecked(path, &text)?;
        cfg.sync.validate(path)?;
        if let Some(p) = cfg.kiosk_problems().into_iter().next() {
            return Err(ConfigError::Invalid {
                path: path.into(),
                message: p.message,
            }
            .into());
        }
        Ok(cfg)
    }

    /// The config in `text` (read from `path`, against whose directory relative paths are
    /// resolved) as its types allow, before [`SyncConfig::problems`] and
    /// [`KioskConfig::kiosk_problems`] are asked.
    pub fn load_unchecked(path: &Path, text: &str) -> Result<Self, KioskConfigError> {
        let own: KioskSections = parse_config_text(path, text)?;
        let mut cfg = KioskConfig {
            sync: parse_config_text(path, text)?,
            card: own.card,
            printer: own.printer,
            ui: own.ui,
            routing: own.routing,
            staff: own.staff,
        };
        let base = path.parent().unwrap_or(Path::new("."));
        cfg.sync.resolve_paths(base);
        cfg.routing.municipality_list = base.join(&cfg.routing.municipality_list);
        Ok(cfg)
    }

    /// The files the config names that cannot be read or are not what they should be.
    pub fn file_problems(&self) -> Vec<Problem> {
        let mut problems = vec![];
        if let Err(e) = Router::load(&self.routing.municipality_list) {
            problems.push(Problem {
                at: At::key("routing", "municipality_list"),
                message: e.to_string(),
                fix:
                    "point it at the packaged list, /usr/share/madoguchi/assets/municipalities.csv"
                        .into(),
            });
        }
        for (i, m) in self.sync.municipalities.iter().enumerate() {
            if let Err(e) = Catalogue::load(&m.catalogue) {
                problems.push(Problem {
                    at: At::entry("municipality", i, "catalogue"),
                    message: e.to_string(),
                    fix: "point it at a catalogue under /usr/share/madoguchi/assets/catalogues/"
                        .into(),
                });
            }
            if let Err(e) = std::fs::read(&m.public_key) {
                problems.push(Problem {
                    at: At::entry("municipality", i, "public_key"),
                    message: format!("{}: {e}", m.public_key.display()),
                    fix: "copy the municipality's public key (PEM) there; applications are sealed to it".into(),
                });
            }
            if let Some(ca) = &m.ca {
                if let Err(e) = std::fs::read(ca) {
                    problems.push(Problem {
                        at: At::entry("municipality", i, "ca"),
                        message: format!("{}: {e}", ca.display()),
                        fix: "copy the municipality's CA certificate (PEM) there".into(),
                    });
                }
            }
        }
        if let Some(tls) = &self.sync.tls {
            for (key, file) in [
                ("client_cert", &tls.client_cert),
                ("client_key", &tls.client_key),
            ] {
                if !file.exists() {
                    problems.push(Problem {
                        at: At::key("tls", key),
                        message: format!("{} does not exist", file.display()),
                        fix: "make the key and request with `kioskctl tls request`, and put the certificate the municipalities' CA signed beside it".into(),
                    });
                }
            }
        }
        problems
    }

    /// What the kiosk's own sections say that their types cannot check, each with its place
    /// and fix (counter-sync's part: [`SyncConfig::problems`]).
    pub fn kiosk_problems(&self) -> Vec<Problem> {
        let mut problems = vec![];
        if ![58, 80].contains(&self.printer.paper_mm) {
            problems.push(Problem {
                at: At::key("printer", "paper_mm"),
                message: format!(
                    "printer.paper_mm must be 58 or 80, not {}",
                    self.printer.paper_mm
                ),
                fix: "measure the roll's width: 58 or 80".into(),
            });
        }
        for (section, key, value) in [
            ("printer", "timeout_ms", self.printer.timeout_ms),
            ("ui", "idle_warning_secs", self.ui.idle_warning_secs),
            ("ui", "idle_countdown_secs", self.ui.idle_countdown_secs),
        ] {
            if value == 0 {
                problems.push(Problem {
                    at: At::key(section, key),
                    message: format!("{section}.{key} is 0; leave it out for the default"),
                    fix: "remove the line for the default".into(),
                });
            }
        }
        if let Some(addr) = &self.ui.metrics_listen {
            let loopback = addr
                .parse::<std::net::SocketAddr>()
                .is_ok_and(|a| a.ip().is_loopback());
            if !loopback {
                problems.push(Problem {
                    at: At::key("ui", "metrics_listen"),
                    message: format!(
                        "ui.metrics_listen {addr:?} must be a loopback address and port such as \"127.0.0.1:9465\" (the metrics have no authentication)"
                    ),
                    fix: "use 127.0.0.1:9465 and let Prometheus reach it through a local agent or tunnel".into(),
                });
            }
        }
        if let Some(hash) = &self.staff.pin_hash {
            if let Err(e) = crate::staff_pin::validate_hash(hash) {
                problems.push(Problem {
                    at: At::key("staff", "pin_hash"),
                    message: e.to_string(),
                    fix: "make it again with `kioskctl staff hash-pin --pin-stdin` and paste the whole line".into(),
                });
            }
        }
        if crate::domain::Lang::from_code(&self.ui.default_language).is_none() {
            problems.push(Problem {
                at: At::key("ui", "default_language"),
                message: format!(
                    "ui.default_language {:?} is not supported",
                    self.ui.default_language
                ),
                fix: format!(
                    "use one of: {}",
                    crate::domain::Lang::all()
                        .map(|l| l.code())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        problems
    }

    /// Loads everything a session needs: the municipality list and every catalogue.
    pub fn load_world(&self) -> Result<crate::session::World, KioskConfigError> {
        let router = Router::load(&self.routing.municipality_list)?;
        let mut municipalities = vec![];
        for m in &self.sync.municipalities {
            municipalities.push(crate::session::MunicipalityInfo {
                code: m.code.clone(),
                name_ja: m.name_ja.clone(),
                name_en: m.name_en.clone(),
                names: m.names.clone(),
                catalogue: Catalogue::load(&m.catalogue)?,
                // Validated when the config was loaded.
                hours: m.hours().unwrap_or_default(),
            });
        }
        Ok(crate::session::World {
            router,
            municipalities,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_example_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kiosk.example.toml");
        let cfg = KioskConfig::load(&path).unwrap();
        assert_eq!(cfg.sync.municipalities.len(), 2);
        let m = &cfg.sync.municipalities[0];
        assert!(m.ca.is_some() && cfg.sync.tls.is_some());
        let hours = m.hours().unwrap();
        // Saturday noon, Japan time: closed; Monday 08:30 opens.
        let saturday = time::macros::datetime!(2026-11-21 12:00 +09:00);
        assert!(!hours.is_open(saturday));
        assert_eq!(
            hours.next_open(saturday),
            Some(time::macros::datetime!(2026-11-23 08:30 +09:00))
        );
    }

    #[test]
    fn bad_printer_connection_and_staff_hash_are_named_with_the_file() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kiosk.example.toml");
        let text = std::fs::read_to_string(&example).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiosk.toml");
        for (from, to, expect) in [
            (
                "connection = \"tcp://192.168.10.20:9100\"",
                "connection = \"lpt:/dev/lp0\"",
                "lpt:/dev/lp0",
            ),
            (
                "connection = \"tcp://192.168.10.20:9100\"",
                "connection = \"serial:/dev/ttyS0?baud=12345\"",
                "baud",
            ),
            (
                "# pin_hash = \"$argon2id$v=19$m=19456,t=2,p=1$…\"",
                "pin_hash = \"sha256:0123\"",
                "staff.pin_hash",
            ),
        ] {
            assert!(text.contains(from), "{from}");
            std::fs::write(&path, text.replace(from, to)).unwrap();
            let err = KioskConfig::load(&path).unwrap_err().to_string();
            assert!(err.contains("kiosk.toml") && err.contains(expect), "{err}");
        }
        // A typo in any section is refused with its key and line, not silently lost.
        for (from, to, key) in [
            ("batch_size = 32", "batchsize = 32", "batchsize"),
            ("paper_mm = 80", "paper_mm = 80\ncut = true", "cut"),
            ("[routing]", "[routeing]", "routeing"),
            (
                "name_en = \"Ogose Town\"",
                "name_en = \"Ogose Town\"\ncaa = \"x.pem\"",
                "caa",
            ),
            (
                "default_language = \"ja\"",
                "default_languge = \"ja\"",
                "default_languge",
            ),
        ] {
            assert!(text.contains(from), "{from}");
            let broken = text.replacen(from, to, 1);
            let line = broken
                .lines()
                .position(|l| l.starts_with(key) || l == format!("[{key}]"))
                .unwrap()
                + 1;
            std::fs::write(&path, &broken).unwrap();
            let err = KioskConfig::load(&path).unwrap_err().to_string();
            assert!(
                err.contains("kiosk.toml") && err.contains(&format!("`{key}`")),
                "{err}"
            );
            assert!(err.contains(&format!("line {line}")), "line {line}: {err}");
        }
        // Zero intervals would spin.
        for (from, to, key) in [
            (
                "poll_interval_ms = 500",
                "poll_interval_ms = 0",
                "sync.poll_interval_ms",
            ),
            (
                "backoff_base_ms = 2000",
                "backoff_base_ms = 0",
                "sync.backoff_base_ms",
            ),
            ("timeout_ms = 5000", "timeout_ms = 0", "printer.timeout_ms"),
        ] {
            std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
            let err = KioskConfig::load(&path).unwrap_err().to_string();
            assert!(
                err.contains("kiosk.toml") && err.contains(key) && err.contains("is 0"),
                "{err}"
            );
        }
        // The old key still works.
        std::fs::write(&path, text.replace("connection = \"tcp://", "address = \"")).unwrap();
        assert_eq!(
            KioskConfig::load(&path).unwrap().printer.connection,
            Connection::Tcp("192.168.10.20:9100".into())
        );
    }
}
