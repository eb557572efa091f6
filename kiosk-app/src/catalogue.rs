//! Procedure catalogues: data files in `assets/`, one per municipality, not code.
//! Every question is a choice, a date or a number, so nobody has to type kanji.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Text in several languages, keyed by language code; Japanese is the fallback.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(transparent)]
pub struct Text(pub BTreeMap<String, String>);

impl Text {
    /// The text in `lang`, else Japanese.
    pub fn get(&self, lang: &str) -> &str {
        self.0
            .get(lang)
            .or_else(|| self.0.get("ja"))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The Japanese text.
    pub fn ja(&self) -> &str {
        self.get("ja")
    }
}

/// One municipality's procedures (a TOML file).
#[derive(Debug, Clone, Deserialize)]
pub struct Catalogue {
    /// In the order the list shows them.
    #[serde(rename = "procedure")]
    pub procedures: Vec<Procedure>,
}

/// One procedure.
#[derive(Debug, Clone, Deserialize)]
pub struct Procedure {
    /// Sent with the application.
    pub code: String,
    /// Its title.
    pub title: Text,
    /// One line on what it is for.
    #[serde(default)]
    pub summary: Text,
    /// Asked in this order.
    #[serde(rename = "question", default)]
    pub questions: Vec<Question>,
}

/// One question.
#[derive(Debug, Clone, Deserialize)]
pub struct Question {
    /// Sent with the answer.
    pub id: String,
    /// Its title.
    pub title: Text,
    /// Help under it; may be empty.
    #[serde(default)]
    pub help: Text,
    /// What it asks for.
    #[serde(flatten)]
    pub kind: QuestionKind,
}

/// What a question asks for.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum QuestionKind {
    /// One of several options.
    Choice {
        /// The options.
        #[serde(rename = "choice")]
        choices: Vec<Choice>,
    },
    /// A number.
    Number {
        /// Lowest.
        min: i64,
        /// Highest.
        max: i64,
        /// Where it starts (else `min`).
        #[serde(default)]
        default: Option<i64>,
        /// Its unit ("copies").
        #[serde(default)]
        unit: Text,
    },
    /// A date within `[today + min_days, today + max_days]`, starting at today.
    /// A date within days of today.
    Date {
        /// Earliest, in days from today (may be negative).
        min_days: i64,
        /// Latest, in days from today.
        max_days: i64,
    },
}

/// One option.
#[derive(Debug, Clone, Deserialize)]
pub struct Choice {
    /// Sent with the application.
    pub value: String,
    /// Shown.
    pub label: Text,
}

/// Why a catalogue cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// It cannot be read.
    #[error("cannot read procedure catalogue {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What reading it said.
        source: std::io::Error,
    },
    /// It is not a valid catalogue.
    #[error("procedure catalogue {path} is not valid: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Catalogue {
    /// Reads and checks a catalogue.
    pub fn load(path: &Path) -> Result<Self, CatalogueError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CatalogueError::Read {
            path: p.clone(),
            source,
        })?;
        let cat: Catalogue = toml::from_str(&text).map_err(|e| CatalogueError::Invalid {
            path: p.clone(),
            message: e.to_string(),
        })?;
        cat.validate()
            .map_err(|message| CatalogueError::Invalid { path: p, message })?;
        Ok(cat)
    }

    fn validate(&self) -> Result<(), String> {
        if self.procedures.is_empty() {
            return Err("no [[procedure]]".into());
        }
        for p in &self.procedures {
            if p.title.ja().is_empty() {
                return Err(format!("procedure {} has no Japanese title", p.code));
            }
            for q in &p.questions {
                match &q.kind {
                    QuestionKind::Choice { choices } if choices.is_empty() => {
                        return Err(format!("question {}.{} has no choices", p.code, q.id))
                    }
                    QuestionKind::Number {
                        min, max, default, ..
                    } if min > max || default.is_some_and(|d| d < *min || d > *max) => {
                        return Err(format!("question {}.{}: bad number range", p.code, q.id))
                    }
                    QuestionKind::Date { min_days, max_days }
                        if min_days > max_days || *min_days > 0 || *max_days < 0 =>
                    {
                        return Err(format!(
                            "question {}.{}: date range must include today",
                            p.code, q.id
                        ))
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_catalogue_loads_with_three_real_procedures() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/catalogues/saitama-iruma.toml");
        let cat = Catalogue::load(&path).unwrap();
        let titles: Vec<&str> = cat.procedures.iter().map(|p| p.title.ja()).collect();
        assert!(titles.contains(&"住民票の写しの交付申請"), "{titles:?}");
        assert!(titles.contains(&"印鑑登録証明書の交付申請"));
        assert!(titles.contains(&"転出届"));
        for p in &cat.procedures {
            assert!(!p.title.get("en").is_empty(), "{} lacks English", p.code);
        }
    }

    #[test]
    fn broken_catalogue_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[[procedure]]\ncode = \"x\"\ntitle.ja = \"a\"\n[[procedure.question]]\nid = \"n\"\nkind = \"number\"\ntitle.ja = \"n\"\nmin = 5\nmax = 1\n").unwrap();
        let err = Catalogue::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("c.toml") && err.contains("bad number range"),
            "{err}"
        );
    }
}
