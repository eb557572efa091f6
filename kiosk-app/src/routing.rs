//! Which municipality handles a resident, from the address on the card.
//!
//! The card gives an address string, not a code. We match it against the municipality list
//! in `assets/` (prefecture, optional district, name); the longest match wins. An address that
//! matches nothing is reported as unknown: the kiosk never guesses.

use std::path::Path;

/// One municipality of the national code list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MunicipalityEntry {
    /// 6-digit code.
    pub code: String,
    /// Its prefecture.
    pub prefecture: String,
    /// Its district (郡), if any.
    pub district: String,
    /// As written.
    pub name_ja: String,
    /// Romanised.
    pub name_en: String,
    /// Names in other languages, by language code (none in the national list yet).
    pub names: std::collections::BTreeMap<String, String>,
}

/// Finds the municipality an address belongs to.
#[derive(Debug, Clone)]
pub struct Router {
    entries: Vec<MunicipalityEntry>,
}

/// Why the code list cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// It cannot be read.
    #[error("cannot read municipality list {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What reading it said.
        source: std::io::Error,
    },
    /// A line is wrong.
    #[error("municipality list {path}, line {line}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl Router {
    /// Loads `code,prefecture,district,name_ja,name_en` lines (`#` comments allowed) and checks
    /// every code's check digit.
    pub fn load(path: &Path) -> Result<Self, RouterError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RouterError::Read {
            path: p.clone(),
            source,
        })?;
        let mut entries = vec![];
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("code,") {
                continue;
            }
            let invalid = |message: String| RouterError::Invalid {
                path: p.clone(),
                line: i + 1,
                message,
            };
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            if f.len() != 5 {
                return Err(invalid(format!("expected 5 fields, found {}", f.len())));
            }
            if !counter_core::config::is_valid_municipality_code(f[0]) {
                return Err(invalid(format!(
                    "{} is not a valid municipality code",
                    f[0]
                )));
            }
            entries.push(MunicipalityEntry {
                code: f[0].into(),
                prefecture: f[1].into(),
                district: f[2].into(),
                name_ja: f[3].into(),
                name_en: f[4].into(),
                names: Default::default(),
            });
        }
        Ok(Router { entries })
    }

    /// A router over these municipalities.
    pub fn from_entries(entries: Vec<MunicipalityEntry>) -> Self {
        Router { entries }
    }

    /// The municipality whose name the address starts with (with or without the district).
    pub fn find(&self, address: &str) -> Option<&MunicipalityEntry> {
        let address: String = address.chars().filter(|c| !c.is_whitespace()).collect();
        self.entries
            .iter()
            .filter_map(|e| {
                let full = format!("{}{}{}", e.prefecture, e.district, e.name_ja);
                let short = format!("{}{}", e.prefecture, e.name_ja);
                [full, short]
                    .into_iter()
                    .filter(|p| address.starts_with(p.as_str()))
                    .map(|p| (p.len(), e))
                    .max_by_key(|(l, _)| *l)
            })
            .max_by_key(|(l, _)| *l)
            .map(|(_, e)| e)
    }

    /// The municipality with `code`.
    pub fn get(&self, code: &str) -> Option<&MunicipalityEntry> {
        self.entries.iter().find(|e| e.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/municipalities.csv"))
            .unwrap()
    }

    #[test]
    fn finds_neighbouring_towns() {
        let r = router();
        assert_eq!(
            r.find("埼玉県入間郡毛呂山町中央２丁目１番地").unwrap().code,
            "113263"
        );
        assert_eq!(
            r.find("埼玉県入間郡越生町大字越生９００番地").unwrap().code,
            "113271"
        );
        assert_eq!(
            r.find("埼玉県坂戸市千代田一丁目１番１号").unwrap().code,
            "112399"
        );
        assert_eq!(
            r.find("埼玉県毛呂山町中央２丁目").unwrap().code,
            "113263",
            "without the district"
        );
        assert!(r.find("東京都千代田区千代田１番１号").is_none());
        assert!(r.find("").is_none());
    }

    #[test]
    fn bad_code_is_reported_with_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        std::fs::write(&p, "# comment\n113264,埼玉県,入間郡,毛呂山町,Moroyama\n").unwrap();
        let err = Router::load(&p).unwrap_err().to_string();
        assert!(err.contains("m.csv, line 2"), "{err}");
    }
}
