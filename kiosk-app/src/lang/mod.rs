//! The resident's languages, as data: each is a file `assets/lang/<code>.toml` (its name, its
//! date and time patterns, the "closed now" note) embedded at build time, with its UI
//! translation in `ui/lang/<code>/`. Catalogue texts and municipality names are keyed by the
//! same codes. Adding a language is adding those files; no code names a language but
//! Japanese (the administrative language every receipt carries) and English (the UI's source
//! language).

mod template;

use serde::Deserialize;
use std::sync::LazyLock;

mod built_in {
    include!(concat!(env!("OUT_DIR"), "/languages.rs"));
}

/// A language of the kiosk: a small copyable handle on a built-in [`Language`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lang(u8);

impl Lang {
    /// Japanese.
    pub const JA: Lang = Lang(0);
    /// English.
    pub const EN: Lang = Lang(1);

    /// Every built-in language, Japanese first.
    pub fn all() -> impl Iterator<Item = Lang> {
        (0..LANGUAGES.len()).map(|i| Lang(i as u8))
    }

    /// The built-in language with this code.
    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::all().find(|l| l.code() == code)
    }

    /// Its code ("ja", "en", …): the key of catalogue texts, names and translations.
    pub fn code(self) -> &'static str {
        &self.language().code
    }

    /// Its name in its own script, for the language buttons.
    pub fn name(self) -> &'static str {
        &self.language().name
    }

    /// Its file.
    pub fn language(self) -> &'static Language {
        &LANGUAGES[usize::from(self.0)]
    }
}

impl std::fmt::Debug for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// One language's file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Language {
    code: String,
    name: String,
    /// Monday first.
    weekdays: [String; 7],
    months: [String; 12],
    months_short: [String; 12],
    /// A date; `{era}` is the Japanese era, when the date has one.
    date: String,
    /// A date before the first era the file lists.
    #[serde(default)]
    date_without_era: Option<String>,
    /// Date and time, for receipts.
    time: String,
    /// "Closed now; processed from …".
    processing_note: String,
    /// The minutes in a processing note, left out on the hour.
    #[serde(default)]
    minute_part: Option<String>,
    #[serde(default)]
    era: String,
    #[serde(default)]
    era_first_year: String,
    /// Newest first.
    #[serde(default)]
    eras: Vec<Era>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Era {
    /// Its first day, `YYYY-MM-DD`.
    from: String,
    name: String,
}

static LANGUAGES: LazyLock<Vec<Language>> = LazyLock::new(|| {
    built_in::BUILT_IN
        .iter()
        .map(|(code, text)| {
            let l: Language = toml::from_str(text)
                .unwrap_or_else(|e| panic!("assets/lang/{code}.toml is broken: {e}"));
            assert_eq!(l.code, *code, "assets/lang/{code}.toml names another code");
            l
        })
        .collect()
});

impl Language {
    /// A date as residents read it (with the era in Japanese).
    pub fn date(&self, d: time::Date) -> String {
        let era = self.era_of(d);
        let pattern = match (&era, &self.date_without_era) {
            (None, Some(plain)) if self.date.contains("{era}") => plain,
            _ => &self.date,
        };
        self.fill(pattern, d, None, &[("era", era.unwrap_or_default())])
    }

    /// Date and time, for receipts.
    pub fn time(&self, t: time::OffsetDateTime) -> String {
        self.fill(&self.time, t.date(), Some(t.time()), &[])
    }

    /// "`municipality` is closed now; the application is processed from `from`."
    pub fn processing_note(&self, from: time::OffsetDateTime, municipality: &str) -> String {
        let minute_part = match &self.minute_part {
            Some(p) if from.minute() != 0 => template::fill(p, &[("minute", from.minute().into())]),
            _ => String::new(),
        };
        let extra = [
            ("municipality", municipality.to_owned()),
            ("minute_part", minute_part),
        ];
        self.fill(
            &self.processing_note,
            from.date(),
            Some(from.time()),
            &extra,
        )
    }

    fn fill(
        &self,
        pattern: &str,
        d: time::Date,
        t: Option<time::Time>,
        extra: &[(&str, String)],
    ) -> String {
        let month = usize::from(d.month() as u8) - 1;
        let weekday = usize::from(d.weekday().number_days_from_monday());
        let (hour, minute) = t.map_or((0, 0), |t| (t.hour(), t.minute()));
        let mut values: Vec<(&str, template::Value)> = vec![
            ("year", d.year().into()),
            ("month", (month as i32 + 1).into()),
            ("day", d.day().into()),
            ("hour", hour.into()),
            ("minute", minute.into()),
            ("month_name", self.months[month].as_str().into()),
            ("month_short", self.months_short[month].as_str().into()),
            ("weekday", self.weekdays[weekday].as_str().into()),
        ];
        values.extend(extra.iter().map(|(k, v)| (*k, v.as_str().into())));
        template::fill(pattern, &values)
    }

    /// "令和8年" (or "令和元年"), when the language counts years by era and `d` has one.
    fn era_of(&self, d: time::Date) -> Option<String> {
        let key = (d.year(), d.month() as u8, d.day());
        self.eras.iter().find_map(|e| {
            let (y, m, day) = parse_ymd(&e.from)?;
            (key >= (y, m, day)).then(|| {
                let n = d.year() - y + 1;
                let pattern = if n == 1 {
                    &self.era_first_year
                } else {
                    &self.era
                };
                template::fill(
                    pattern,
                    &[("era_name", e.name.as_str().into()), ("era_year", n.into())],
                )
            })
        })
    }
}

fn parse_ymd(s: &str) -> Option<(i32, u8, u8)> {
    let mut it = s.split('-');
    let y = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok()?;
    let d = it.next()?.parse().ok()?;
    Some((y, m, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_language_loads_with_japanese_and_english_first() {
        let codes: Vec<_> = Lang::all().map(Lang::code).collect();
        assert_eq!(&codes[..2], ["ja", "en"]);
        for l in Lang::all() {
            assert_eq!(Lang::from_code(l.code()), Some(l));
            assert!(!l.name().is_empty());
            // Every pattern fills without a placeholder left over.
            let t = time::macros::datetime!(2026-11-24 09:05 +09:00);
            for text in [
                l.language().date(t.date()),
                l.language().time(t),
                l.language().processing_note(t, "X"),
            ] {
                assert!(!text.contains('{'), "{}: {text}", l.code());
            }
        }
        assert_eq!(Lang::from_code("xx"), None);
    }
}
