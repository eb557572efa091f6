//! The per-kiosk configuration file (TOML), the part that the outbox and the daemon need.
//!
//! One file per kiosk: the kiosk app reads the same file and adds its own sections
//! (card, printer, ui). Relative paths are resolved against the file's directory.

use crate::hours::{HoursError, OpeningHours};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where technicians put the file; every command takes `--config PATH` to override it.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/madoguchi/kiosk.toml";

/// Why the config cannot be used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// What reading it said.
        source: std::io::Error,
    },
    /// The file parses but says something impossible (or does not parse).
    #[error("config file {path} is not valid: {message}")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
}

/// What counter-sync reads of the kiosk's one config file (the kiosk reads more of it).
#[derive(Debug, Clone, Deserialize)]
pub struct SyncConfig {
    /// The kiosk's identity.
    pub kiosk: KioskIdentity,
    /// The outbox file and its retention.
    pub outbox: OutboxConfig,
    /// Timing of delivery.
    #[serde(default)]
    pub sync: SyncTuning,
    /// The kiosk's client certificate for mutual TLS (required for any https endpoint).
    pub tls: Option<ClientTlsConfig>,
    /// The participating municipalities (`[[municipality]]`).
    #[serde(rename = "municipality", default)]
    pub municipalities: Vec<MunicipalityConfig>,
}

/// The kiosk's client certificate for mutual TLS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientTlsConfig {
    /// PEM: the kiosk's certificate (and any intermediates).
    pub client_cert: PathBuf,
    /// PEM: its private key (file mode 0600, owned by the counter-sync user).
    pub client_key: PathBuf,
}

/// Who the kiosk is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KioskIdentity {
    /// Sent as `kiosk_id` with every application and used as the receipt-number prefix.
    pub id: String,
    /// Shown on receipts, e.g. the counter's name.
    pub counter_name: String,
    /// The Madoguchi version this kiosk should run (`0.1.0`): `kioskctl doctor` reports a
    /// kiosk the fleet's upgrade missed.
    #[serde(default)]
    pub expected_version: Option<String>,
}

/// The outbox file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// The SQLite file both programs share.
    pub path: PathBuf,
    /// Days the non-personal metadata of delivered applications is kept for the day report.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
}

fn default_retention_days() -> u32 {
    30
}

/// Delivery timing; every field has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncTuning {
    /// How often an idle worker looks for new applications.
    pub poll_interval_ms: u64,
    /// One request's whole time limit.
    pub request_timeout_secs: u64,
    /// The TCP and TLS handshake's time limit.
    pub connect_timeout_secs: u64,
    /// First retry delay of an application.
    pub backoff_base_ms: u64,
    /// Longest retry delay of an application.
    pub backoff_cap_ms: u64,
    /// A claimed row whose worker died becomes due again after this long.
    pub lease_secs: u64,
    /// Upper bound for an honoured `Retry-After`.
    pub max_retry_after_secs: u64,
    /// Applications claimed and sent together (concurrently) by one worker.
    pub batch_size: u32,
    /// How often a delivered application's state at the municipality is asked again (0: at
    /// every idle round, still one poll interval apart).
    pub status_poll_secs: u64,
    /// How often a municipality that is down is probed with one application.
    pub probe_interval_ms: u64,
    /// `host:port` of the Prometheus metrics endpoint (loopback); none when absent.
    pub metrics_listen: Option<String>,
    /// The metrics have no authentication: listening beyond loopback needs this set.
    pub metrics_allow_remote: bool,
}

impl Default for SyncTuning {
    fn default() -> Self {
        Self {
            poll_interval_ms: 500,
            request_timeout_secs: 20,
            connect_timeout_secs: 5,
            backoff_base_ms: 2_000,
            backoff_cap_ms: 30_000,
            lease_secs: 60,
            max_retry_after_secs: 3_600,
            batch_size: 32,
            status_poll_secs: 900,
            probe_interval_ms: 3_000,
            metrics_listen: None,
            metrics_allow_remote: false,
        }
    }
}

/// One participating municipality (`[[municipality]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityConfig {
    /// 6-digit 全国地方公共団体コード (JIS X 0402, check digit included).
    pub code: String,
    /// As the municipality writes it.
    pub name_ja: String,
    /// Romanised, for residents who do not read kanji.
    pub name_en: String,
    /// Its name in other languages, by language code (`names = { vi = "…" }`); the English
    /// name stands in for the rest.
    #[serde(default)]
    pub names: std::collections::BTreeMap<String, String>,
    /// Base URL of the municipality's v1 API.
    pub endpoint: String,
    /// The municipality's EC P-256 public key (PEM); applications are sealed to it.
    pub public_key: PathBuf,
    /// Procedure catalogue of this municipality (TOML).
    pub catalogue: PathBuf,
    /// Plain HTTP is refused unless the destination is explicitly a test destination.
    #[serde(default)]
    pub test_destination: bool,
    /// PEM: the CA that issued this municipality's server certificate (and only that CA is
    /// trusted for it). Required for an https endpoint.
    pub ca: Option<PathBuf>,
    /// When the municipality's systems take deliveries, Japan time, e.g.
    /// `["mon-fri 09:00-17:00"]`; always when empty.
    #[serde(default)]
    pub opening_hours: Vec<String>,
    /// Days closed in spite of the rules (`YYYY-MM-DD`).
    #[serde(default)]
    pub closed_dates: Vec<String>,
}

impl MunicipalityConfig {
    /// Its opening hours (validated when the config is loaded).
    pub fn hours(&self) -> Result<OpeningHours, HoursError> {
        OpeningHours::parse(&self.opening_hours, &self.closed_dates)
    }
}

impl SyncConfig {
    /// Reads and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read_config_text(path)?;
        let mut cfg: SyncConfig = parse_config_text(path, &text)?;
        cfg.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Makes relative paths relative to the config file's directory.
    pub fn resolve_paths(&mut self, base: &Path) {
        self.outbox.path = base.join(&self.outbox.path);
        if let Some(tls) = &mut self.tls {
            tls.client_cert = base.join(&tls.client_cert);
            tls.client_key = base.join(&tls.client_key);
        }
        for m in &mut self.municipalities {
            m.public_key = base.join(&m.public_key);
            m.catalogue = base.join(&m.catalogue);
            if let Some(ca) = &mut m.ca {
                *ca = base.join(&*ca);
            }
        }
    }

    /// Checks what the types cannot: codes, URLs, TLS, hours, duplicates. The first of
    /// [`SyncConfig::problems`].
    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            Some(p) => Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: p.message,
            }),
            None => Ok(()),
        }
    }

    /// Everything the types cannot check, each with where it is and how to fix it.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = vec![];
        let mut problem = |at: At, message: String, fix: &str| {
            problems.push(Problem {
                at,
                message,
                fix: fix.into(),
            })
        };
        if self.kiosk.id.is_empty() || !self.kiosk.id.chars().all(|c| c.is_ascii_alphanumeric()) {
            problem(
                At::key("kiosk", "id"),
                format!(
                    "kiosk.id {:?} must be a non-empty ASCII alphanumeric name",
                    self.kiosk.id
                ),
                "use letters and digits only, e.g. id = \"K01\" (it starts every receipt number)",
            );
        }
        if self.municipalities.is_empty() {
            problem(
                At::section("municipality"),
                "no [[municipality]] is configured".into(),
                "add a [[municipality]] section per participating municipality (see kiosk.example.toml)",
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, m) in self.municipalities.iter().enumerate() {
            let at = |key: &str| At::entry("municipality", i, key);
            if !is_valid_municipality_code(&m.code) {
                problem(
                    at("code"),
                    format!(
                        "municipality code {:?} ({}) is not a valid 6-digit code with check digit",
                        m.code, m.name_ja
                    ),
                    "use the 6-digit 全国地方公共団体コード including its check digit (e.g. 113263 for 毛呂山町)",
                );
            } else if !seen.insert(m.code.clone()) {
                problem(
                    at("code"),
                    format!("municipality code {} appears twice", m.code),
                    "remove one of the two [[municipality]] sections",
                );
            }
            let url = m.endpoint.as_str();
            if !(url.starts_with("https://") || (url.starts_with("http://") && m.test_destination))
            {
                problem(
                    at("endpoint"),
                    format!(
                        "endpoint {url:?} of {} must be https:// (plain http only with test_destination = true)",
                        m.code
                    ),
                    "use the https:// address the municipality gave",
                );
            }
            if url.starts_with("https://") {
                if m.ca.is_none() {
                    problem(
                        at("endpoint"),
                        format!(
                            "municipality {} has an https endpoint but no `ca` (the PEM file of its CA)",
                            m.code
                        ),
                        "add ca = \"tls/<code>-ca.pem\", the CA certificate the municipality sent",
                    );
                }
                if self.tls.is_none() {
                    problem(
                        At::section("tls"),
                        format!(
                            "municipality {} has an https endpoint but [tls] client_cert/client_key of this kiosk are not set",
                            m.code
                        ),
                        "make the key and request with `kioskctl tls request`, then add [tls] with client_cert and client_key",
                    );
                }
            }
            if let Err(e) = m.hours() {
                problem(
                    at("opening_hours"),
                    format!("municipality {}: {e}", m.code),
                    "write hours as \"mon-fri 08:30-17:15\" and dates as \"2026-12-29\"",
                );
            }
        }
        let t = &self.sync;
        for (key, value) in [
            ("poll_interval_ms", t.poll_interval_ms),
            ("request_timeout_secs", t.request_timeout_secs),
            ("connect_timeout_secs", t.connect_timeout_secs),
            ("backoff_base_ms", t.backoff_base_ms),
            ("backoff_cap_ms", t.backoff_cap_ms),
            ("lease_secs", t.lease_secs),
            ("probe_interval_ms", t.probe_interval_ms),
        ] {
            if value == 0 {
                problem(
                    At::key("sync", key),
                    format!(
                        "sync.{key} is 0: a zero interval would make counter-sync spin; leave it out for the default"
                    ),
                    "remove the line for the default",
                );
            }
        }
        if t.backoff_cap_ms < t.backoff_base_ms {
            problem(
                At::key("sync", "backoff_cap_ms"),
                format!(
                    "sync.backoff_cap_ms ({}) is shorter than sync.backoff_base_ms ({})",
                    t.backoff_cap_ms, t.backoff_base_ms
                ),
                "make backoff_cap_ms at least backoff_base_ms, or remove both for the defaults",
            );
        }
        if t.batch_size == 0 || t.batch_size > 256 {
            problem(
                At::key("sync", "batch_size"),
                format!("sync.batch_size {} must be between 1 and 256", t.batch_size),
                "remove the line for the default (32)",
            );
        }
        if t.lease_secs <= t.request_timeout_secs + t.connect_timeout_secs {
            problem(
                At::key("sync", "lease_secs"),
                format!(
                    "sync.lease_secs ({}) must be longer than request_timeout_secs + connect_timeout_secs ({}), or a slow answer would let a second attempt start",
                    t.lease_secs,
                    t.request_timeout_secs + t.connect_timeout_secs
                ),
                "raise lease_secs, or remove it for the default (60)",
            );
        }
        if let Some(addr) = &t.metrics_listen {
            match addr.parse::<std::net::SocketAddr>() {
                Err(_) => problem(
                    At::key("sync", "metrics_listen"),
                    format!(
                        "sync.metrics_listen {addr:?} must be an address and port such as \"127.0.0.1:9464\""
                    ),
                    "write it as \"127.0.0.1:9464\"",
                ),
                Ok(parsed) if !parsed.ip().is_loopback() && !t.metrics_allow_remote => problem(
                    At::key("sync", "metrics_listen"),
                    format!(
                        "sync.metrics_listen {addr:?} is reachable from the network and the metrics have no authentication; use 127.0.0.1, or set sync.metrics_allow_remote = true behind a firewall"
                    ),
                    "use 127.0.0.1 and let Prometheus scrape through an SSH tunnel or a local agent",
                ),
                Ok(_) => {}
            }
        }
        problems
    }

    /// The municipality with `code`, if configured.
    pub fn municipality(&self, code: &str) -> Option<&MunicipalityConfig> {
        self.municipalities.iter().find(|m| m.code == code)
    }
}

/// Where in the config file something is: a section (`sync`), or the `index`-th of a repeated
/// section (`[[municipality]]`), and a key in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct At {
    /// The section.
    pub section: String,
    /// Which of a repeated section (0-based).
    pub index: Option<usize>,
    /// The key, if one is at fault.
    pub key: Option<String>,
}

impl At {
    /// A whole section.
    pub fn section(section: &str) -> Self {
        At {
            section: section.into(),
            index: None,
            key: None,
        }
    }

    /// A key of a section.
    pub fn key(section: &str, key: &str) -> Self {
        At {
            key: Some(key.into()),
            ..At::section(section)
        }
    }

    /// A key of the `index`-th repeated section.
    pub fn entry(section: &str, index: usize, key: &str) -> Self {
        At {
            index: Some(index),
            ..At::key(section, key)
        }
    }

    /// The 1-based line in `text`: the key's line, else its section's header (for a key left
    /// out), else none (a section left out).
    pub fn line_in(&self, text: &str) -> Option<usize> {
        let lines: Vec<&str> = text.lines().collect();
        let header = |l: &str| {
            let l = l.trim();
            l.starts_with('[')
                .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned())
        };
        let mut seen = 0;
        let start = lines.iter().position(|l| {
            header(l).as_deref() == Some(self.section.as_str()) && {
                seen += 1;
                seen > self.index.unwrap_or(0)
            }
        })?;
        let end = lines[start + 1..]
            .iter()
            .position(|l| header(l).is_some())
            .map_or(lines.len(), |n| start + 1 + n);
        let key_line = self.key.as_deref().and_then(|key| {
            (start + 1..end).find(|&i| {
                lines[i]
                    .trim_start()
                    .strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
        });
        Some(key_line.unwrap_or(start) + 1)
    }
}

/// One thing wrong in the config, where it is, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Where.
    pub at: At,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
}

/// Reads a config file, naming the file in the error.
pub fn read_config_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Top-level sections of the one per-kiosk file: counter-sync's own, then the kiosk's (which
/// the kiosk checks key by key). Anything else is a typo and refused.
pub const SECTIONS: &[&str] = &[
    "kiosk",
    "outbox",
    "sync",
    "tls",
    "municipality",
    "card",
    "printer",
    "ui",
    "routing",
    "staff",
];

/// Parses TOML into any config section, naming the file and the problem in the error. Unknown
/// top-level sections and (through `deny_unknown_fields` on every section) unknown keys are
/// refused with their line, so that a typo such as `batchsize` is not silently lost.
pub fn parse_config_text<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_owned(),
        message,
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    if let Some(key) = table.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
        let line = line_of_key(text, key).map_or(String::new(), |n| format!("line {n}: "));
        return Err(invalid(format!(
            "{line}unknown section or key `{key}` (known: {})",
            SECTIONS.join(", ")
        )));
    }
    toml::from_str(text).map_err(|e| invalid(e.to_string()))
}

/// The 1-based line where `key` is defined, as `[key]`, `[[key]]` or `key = …`.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            let l = l.trim_start_matches('[').trim_start();
            l.strip_prefix(key).is_some_and(|rest| {
                let rest = rest.trim_start();
                rest.starts_with('=') || rest.starts_with(']') || rest.starts_with('.')
            })
        })
        .map(|i| i + 1)
}

/// JIS X 0402 check: `c = (11 − (6·d1 + 5·d2 + 4·d3 + 3·d4 + 2·d5) mod 11) mod 10`.
pub fn is_valid_municipality_code(code: &str) -> bool {
    let digits: Vec<u32> = code.chars().filter_map(|c| c.to_digit(10)).collect();
    if code.len() != 6 || digits.len() != 6 {
        return false;
    }
    let sum: u32 = digits[..5]
        .iter()
        .zip([6, 5, 4, 3, 2])
        .map(|(d, w)| d * w)
        .sum();
    (11 - sum % 11) % 10 == digits[5]
}

#[cfg(test)]
mod tests;
