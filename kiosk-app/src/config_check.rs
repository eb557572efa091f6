//! `kioskctl config check`: every problem of a config file at once, each with its file, line
//! and fix, instead of the first one the services stop at. Syntax first (nothing else can be
//! read past a syntax error), then each section's keys and types, then what the values say
//! together, then the files the config names.

use crate::config::KioskConfig;
use counter_core::config::{read_config_text, At, Problem, SECTIONS};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The config file.
    pub file: PathBuf,
    /// 1-based, where the problem is (or the section it belongs in); none when the section
    /// itself is missing.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

/// Everything wrong with the config at `path` (empty: the kiosk and counter-sync accept it).
pub fn check(path: &Path) -> Vec<Finding> {
    let finding = |line: Option<usize>, message: String, fix: &str| Finding {
        file: path.to_owned(),
        line,
        message,
        fix: fix.into(),
    };
    let text = match read_config_text(path) {
        Ok(t) => t,
        Err(e) => {
            return vec![finding(
                None,
                e.to_string(),
                "give the file with --config, or copy /etc/madoguchi/kiosk.example.toml to /etc/madoguchi/kiosk.toml",
            )]
        }
    };
    let table: toml::Table = match toml::from_str(&text) {
        Ok(t) => t,
        Err(e) => {
            return vec![finding(
            line_of_span(&text, e.span()),
            format!("not valid TOML: {}", e.message().trim()),
            "correct this line: text in \"quotes\", one `key = value` per line, sections as [name]",
        )]
        }
    };
    let mut found = vec![];
    for key in table.keys().filter(|k| !SECTIONS.contains(&k.as_str())) {
        found.push(finding(
            At::section(key)
                .line_in(&text)
                .or_else(|| line_of_top_key(&text, key)),
            format!("unknown section or key `{key}`"),
            &format!(
                "remove it or correct its name; the sections are {}",
                SECTIONS.join(", ")
            ),
        ));
    }
    for (section, error) in section_errors(&text) {
        let message = error.message().trim().to_owned();
        let fix = if message.starts_with("unknown field") {
            "remove this key or correct its spelling (the keys this section knows are listed)"
                .to_string()
        } else if let Some(key) = message
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            if SECTIONS.contains(&key) {
                format!("add a [{key}] section (see /etc/madoguchi/kiosk.example.toml)")
            } else {
                format!("add `{key} = …` to [{section}] (see /etc/madoguchi/kiosk.example.toml)")
            }
        } else {
            "give this key a value of the kind named (text in quotes, numbers without)".into()
        };
        let line =
            line_of_span(&text, error.span()).or_else(|| At::section(section).line_in(&text));
        found.push(finding(line, format!("[{section}] {message}"), &fix));
    }
    if !found.is_empty() {
        return found; // the values cannot be read as a whole yet
    }
    let cfg = match KioskConfig::load_unchecked(path, &text) {
        Ok(cfg) => cfg,
        Err(e) => {
            return vec![finding(
                None,
                e.to_string(),
                "see /etc/madoguchi/kiosk.example.toml",
            )]
        }
    };
    let located = |p: Problem| Finding {
        file: path.to_owned(),
        line: p.at.line_in(&text),
        message: p.message,
        fix: p.fix,
    };
    found.extend(cfg.sync.problems().into_iter().map(located));
    found.extend(cfg.kiosk_problems().into_iter().map(located));
    found.extend(cfg.file_problems().into_iter().map(located));
    found
}

/// The first error of each section read on its own, so that one bad section does not hide
/// the others'.
fn section_errors(text: &str) -> Vec<(&'static str, toml::de::Error)> {
    macro_rules! section {
        ($name:literal, $t:ty) => {{
            #[derive(Deserialize)]
            #[allow(dead_code)]
            struct Only {
                #[serde(rename = $name)]
                section: $t,
            }
            toml::from_str::<Only>(text).err().map(|e| ($name, e))
        }};
    }
    use counter_core::config as core;
    [
        section!("kiosk", core::KioskIdentity),
        section!("outbox", core::OutboxConfig),
        section!("sync", Option<core::SyncTuning>),
        section!("tls", Option<core::ClientTlsConfig>),
        section!("municipality", Option<Vec<core::MunicipalityConfig>>),
        section!("card", Option<crate::config::CardConfig>),
        section!("printer", crate::config::PrinterConfig),
        section!("ui", Option<crate::config::UiConfig>),
        section!("routing", crate::config::RoutingConfig),
        section!("staff", Option<crate::config::StaffConfig>),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn line_of_span(text: &str, span: Option<std::ops::Range<usize>>) -> Option<usize> {
    let start = span?.start.min(text.len());
    Some(text[..start].matches('\n').count() + 1)
}

fn line_of_top_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}
