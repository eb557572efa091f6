//! Opening hours of a municipality's systems, in Japan time.
//!
//! Many core systems only run on weekdays 9:00–17:00. Outside their hours counter-sync sends
//! nothing to them (no hammering a closed system), and the kiosk tells the resident when
//! processing is expected to start. Pure: every function takes the time it is asked about.

use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Japan Standard Time (no daylight saving).
pub const JST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("valid offset"),
};

/// The time in Japan, for receipts, dates and hours. (Not the process's local offset: the
/// `time` crate cannot read it in a multi-threaded program and would fall back to UTC.)
pub fn japan_now() -> OffsetDateTime {
    OffsetDateTime::now_utc().to_offset(JST)
}

/// An opening-hours entry that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("opening hours {entry:?}: {problem} (expected e.g. \"mon-fri 09:00-17:00\")")]
pub struct HoursError {
    /// The entry as written.
    pub entry: String,
    /// What is wrong with it.
    pub problem: String,
}

/// One rule: a set of weekdays and one time window on each of them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    days: [bool; 7], // Monday first
    open: Time,
    close: Time,
}

/// When a destination accepts deliveries. Empty rules mean always open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpeningHours {
    windows: Vec<Window>,
    closed_dates: Vec<Date>,
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_index(name: &str) -> Option<usize> {
    DAY_NAMES.iter().position(|d| *d == name)
}

fn parse_time(s: &str) -> Option<Time> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    if h == 24 && m == 0 {
        return Some(Time::MIDNIGHT); // "24:00" closes at the end of the day
    }
    Time::from_hms(h, m, 0).ok()
}

impl OpeningHours {
    /// Parses rules like `"mon-fri 09:00-17:00"`, `"sat 09:00-12:00"`, `"mon,wed 13:00-24:00"`
    /// and closed dates `YYYY-MM-DD` (holidays, 年末年始).
    pub fn parse(rules: &[String], closed_dates: &[String]) -> Result<Self, HoursError> {
        let mut windows = vec![];
        for entry in rules {
            let err = |problem: &str| HoursError {
                entry: entry.clone(),
                problem: problem.into(),
            };
            let lower = entry.trim().to_ascii_lowercase();
            let (days_part, times_part) = lower
                .split_once(char::is_whitespace)
                .ok_or_else(|| err("needs days and a time range"))?;
            let mut days = [false; 7];
            for item in days_part.split(',') {
                match item.split_once('-') {
                    Some((a, b)) => {
                        let a = day_index(a).ok_or_else(|| err("unknown day"))?;
                        let b = day_index(b).ok_or_else(|| err("unknown day"))?;
                        if a > b {
                            return Err(err("day range runs backwards"));
                        }
                        days[a..=b].iter_mut().for_each(|d| *d = true);
                    }
                    None => days[day_index(item).ok_or_else(|| err("unknown day"))?] = true,
                }
            }
            let (open, close) = times_part
                .trim()
                .split_once('-')
                .ok_or_else(|| err("needs a time range HH:MM-HH:MM"))?;
            let open = parse_time(open.trim()).ok_or_else(|| err("bad opening time"))?;
            let close_text = close.trim();
            let close = parse_time(close_text).ok_or_else(|| err("bad closing time"))?;
            let ends_at_midnight = close_text == "24:00";
            if !ends_at_midnight && close <= open {
                return Err(err("closes before it opens"));
            }
            windows.push(Window { days, open, close });
        }
        let closed_dates = closed_dates
            .iter()
            .map(|d| {
                Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).map_err(
                    |_| HoursError {
                        entry: d.clone(),
                        problem: "closed date must be YYYY-MM-DD".into(),
                    },
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            windows,
            closed_dates,
        })
    }

    /// Always open (no rules configured).
    pub fn always() -> Self {
        Self::default()
    }

    /// No hours configured: open around the clock (test destinations).
    pub fn is_always_open(&self) -> bool {
        self.windows.is_empty() && self.closed_dates.is_empty()
    }

    fn open_on(&self, date: Date, t: Time) -> bool {
        if self.closed_dates.contains(&date) {
            return false;
        }
        if self.windows.is_empty() {
            return true;
        }
        let day = date.weekday().number_days_from_monday() as usize;
        self.windows
            .iter()
            .any(|w| w.days[day] && t >= w.open && (w.close == Time::MIDNIGHT || t < w.close))
    }

    /// Whether the municipality is open at `at`.
    pub fn is_open(&self, at: OffsetDateTime) -> bool {
        let local = at.to_offset(JST);
        self.open_on(local.date(), local.time())
    }

    /// The next moment at or after `at` when the destination is open; `None` when the rules
    /// never open within two weeks (a configuration the doctor reports).
    pub fn next_open(&self, at: OffsetDateTime) -> Option<OffsetDateTime> {
        if self.is_open(at) {
            return Some(at);
        }
        let local = at.to_offset(JST);
        for offset in 0..15 {
            let date = local.date() + Duration::days(offset);
            if self.closed_dates.contains(&date) {
                continue;
            }
            let mut opens: Vec<Time> = if self.windows.is_empty() {
                vec![Time::MIDNIGHT]
            } else {
                let day = date.weekday().number_days_from_monday() as usize;
                self.windows
                    .iter()
                    .filter(|w| w.days[day])
                    .map(|w| w.open)
                    .collect()
            };
            opens.sort();
            for open in opens {
                let candidate = PrimitiveDateTime::new(date, open).assume_offset(JST);
                if candidate > at {
                    return Some(candidate);
                }
            }
        }
        None
    }

    /// When a destination that is closed at `at` opens again; `None` when it is open (or never
    /// opens). What the resident is told about processing.
    pub fn reopens_at(&self, at: OffsetDateTime) -> Option<OffsetDateTime> {
        if self.is_open(at) {
            None
        } else {
            self.next_open(at)
        }
    }

    /// How long until the next opening (zero when open now).
    pub fn wait_from(&self, at: OffsetDateTime) -> Option<std::time::Duration> {
        self.next_open(at)
            .map(|t| (t - at).try_into().unwrap_or(std::time::Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn weekdays() -> OpeningHours {
        OpeningHours::parse(
            &["mon-fri 09:00-17:00".into(), "sat 09:00-12:00".into()],
            &["2026-11-23".into()], // 勤労感謝の日 (a Monday)
        )
        .unwrap()
    }

    #[test]
    fn open_and_closed_in_japan_time() {
        let h = weekdays();
        // Friday 2026-11-20 10:00 JST = 01:00 UTC.
        assert!(h.is_open(datetime!(2026-11-20 01:00 UTC)));
        // Friday 17:00 JST is closed (close is exclusive).
        assert!(!h.is_open(datetime!(2026-11-20 08:00 UTC)));
        // Friday 08:59 JST.
        assert!(!h.is_open(datetime!(2026-11-19 23:59 UTC)));
        // Saturday 11:00 JST open, 12:00 closed; Sunday closed; the holiday closed.
        assert!(h.is_open(datetime!(2026-11-21 02:00 UTC)));
        assert!(!h.is_open(datetime!(2026-11-21 03:00 UTC)));
        assert!(!h.is_open(datetime!(2026-11-22 02:00 UTC)));
        assert!(!h.is_open(datetime!(2026-11-23 02:00 UTC)));
    }

    #[test]
    fn next_opening_skips_weekend_and_holiday() {
        let h = weekdays();
        // Saturday 13:00 JST → Tuesday 09:00 JST (Monday is a holiday).
        let next = h.next_open(datetime!(2026-11-21 04:00 UTC)).unwrap();
        assert_eq!(next, datetime!(2026-11-24 09:00 +9));
        assert_eq!(
            h.wait_from(datetime!(2026-11-24 08:30 +9)),
            Some(std::time::Duration::from_secs(1800))
        );
        let open_now = datetime!(2026-11-24 10:00 +9);
        assert_eq!(h.next_open(open_now), Some(open_now));
        assert_eq!(h.reopens_at(open_now), None);
        assert_eq!(
            h.reopens_at(datetime!(2026-11-21 04:00 UTC)),
            Some(datetime!(2026-11-24 09:00 +9))
        );
        assert!(OpeningHours::always().is_open(open_now));
    }

    #[test]
    fn until_midnight_and_bad_rules() {
        let h = OpeningHours::parse(&["sun 13:00-24:00".into()], &[]).unwrap();
        assert!(h.is_open(datetime!(2026-11-22 23:59 +9)));
        assert!(!h.is_open(datetime!(2026-11-22 12:59 +9)));
        for bad in [
            "weekdays 09:00-17:00",
            "mon 17:00-09:00",
            "mon 9-17",
            "fri-mon 09:00-17:00",
            "mon",
        ] {
            let e = OpeningHours::parse(&[bad.into()], &[]).unwrap_err();
            assert_eq!(e.entry, bad);
        }
        assert!(OpeningHours::parse(&[], &["23 Nov".into()]).is_err());
        let never = OpeningHours::parse(&[], &[]).unwrap();
        assert!(never.is_always_open());
    }
}
