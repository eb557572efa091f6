//! The per-kiosk configuration file (TOML), the part that the outbox and the daemon need.
//!
//! One file per kiosk: the kiosk app reads the same file and adds its own sections
//! (card, printer, ui). Relative paths are resolved against the file's directory.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where technicians put the file; every command takes `--config PATH` to override it.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/madoguchi/kiosk.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Deserialize)]
pub struct SyncConfig {
    pub kiosk: KioskIdentity,
    pub outbox: OutboxConfig,
    #[serde(default)]
    pub sync: SyncTuning,
    #[serde(rename = "municipality", default)]
    pub municipalities: Vec<MunicipalityConfig>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct KioskIdentity {
    /// Sent as `kiosk_id` with every application and used as the receipt-number prefix.
    pub id: String,
    /// Shown on receipts, e.g. the counter's name.
    pub counter_name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OutboxConfig {
    pub path: PathBuf,
    /// Days the non-personal metadata of delivered applications is kept for the day report.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
}

fn default_retention_days() -> u32 {
    30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SyncTuning {
    /// How often an idle worker looks for new applications.
    pub poll_interval_ms: u64,
    pub request_timeout_secs: u64,
    pub connect_timeout_secs: u64,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    /// A claimed row whose worker died becomes due again after this long.
    pub lease_secs: u64,
    /// Upper bound for an honoured `Retry-After`.
    pub max_retry_after_secs: u64,
}

impl Default for SyncTuning {
    fn default() -> Self {
        Self {
            poll_interval_ms: 500,
            request_timeout_secs: 20,
            connect_timeout_secs: 5,
            backoff_base_ms: 2_000,
            backoff_cap_ms: 600_000,
            lease_secs: 60,
            max_retry_after_secs: 3_600,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct MunicipalityConfig {
    /// 6-digit 全国地方公共団体コード (JIS X 0402, check digit included).
    pub code: String,
    pub name_ja: String,
    pub name_en: String,
    /// Base URL of the municipality's v1 API.
    pub endpoint: String,
    /// The municipality's EC P-256 public key (PEM); applications are sealed to it.
    pub public_key: PathBuf,
    /// Procedure catalogue of this municipality (TOML).
    pub catalogue: PathBuf,
    /// Plain HTTP is refused unless the destination is explicitly a test destination.
    #[serde(default)]
    pub test_destination: bool,
}

impl SyncConfig {
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
        for m in &mut self.municipalities {
            m.public_key = base.join(&m.public_key);
            m.catalogue = base.join(&m.catalogue);
        }
    }

    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        if self.kiosk.id.is_empty() || !self.kiosk.id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(invalid(format!(
                "kiosk.id {:?} must be a non-empty ASCII alphanumeric name",
                self.kiosk.id
            )));
        }
        if self.municipalities.is_empty() {
            return Err(invalid("no [[municipality]] is configured".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for m in &self.municipalities {
            if !is_valid_municipality_code(&m.code) {
                return Err(invalid(format!(
                    "municipality code {:?} ({}) is not a valid 6-digit code with check digit",
                    m.code, m.name_ja
                )));
            }
            if !seen.insert(m.code.clone()) {
                return Err(invalid(format!(
                    "municipality code {} appears twice",
                    m.code
                )));
            }
            let url = m.endpoint.as_str();
            if !(url.starts_with("https://") || (url.starts_with("http://") && m.test_destination))
            {
                return Err(invalid(format!(
                    "endpoint {url:?} of {} must be https:// (plain http only with test_destination = true)",
                    m.code
                )));
            }
        }
        Ok(())
    }

    pub fn municipality(&self, code: &str) -> Option<&MunicipalityConfig> {
        self.municipalities.iter().find(|m| m.code == code)
    }
}

/// Reads a config file, naming the file in the error.
pub fn read_config_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Parses TOML into any config section, naming the file and the problem in the error.
pub fn parse_config_text<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Invalid {
        path: path.to_owned(),
        message: e.to_string(),
    })
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
mod tests {
    use super::*;

    #[test]
    fn check_digit_matches_published_examples() {
        assert!(is_valid_municipality_code("131041")); // 新宿区
        assert!(is_valid_municipality_code("131130")); // 渋谷区
        assert!(is_valid_municipality_code("131016")); // 千代田区
        assert!(is_valid_municipality_code("113263")); // 毛呂山町
        assert!(!is_valid_municipality_code("131017"));
        assert!(!is_valid_municipality_code("13101"));
        assert!(!is_valid_municipality_code("13101a"));
    }

    #[test]
    fn broken_config_names_file_and_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiosk.toml");
        std::fs::write(&path, "[kiosk]\nid = 3\n").unwrap();
        let err = SyncConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("kiosk.toml"), "{err}");
        assert!(err.contains("invalid type"), "{err}");
        let err = SyncConfig::load(&dir.path().join("missing.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing.toml") && err.contains("cannot read"),
            "{err}"
        );
    }

    #[test]
    fn plain_http_needs_test_destination() {
        let text = r#"
            [kiosk]
            id = "K01"
            counter_name = "x"
            [outbox]
            path = "o.db"
            [[municipality]]
            code = "113263"
            name_ja = "毛呂山町"
            name_en = "Moroyama"
            endpoint = "http://127.0.0.1:1/"
            public_key = "k.pem"
            catalogue = "c.toml"
        "#;
        let p = Path::new("/etc/k.toml");
        let cfg: SyncConfig = parse_config_text(p, text).unwrap();
        let err = cfg.validate(p).unwrap_err().to_string();
        assert!(err.contains("test_destination"), "{err}");
    }
}
