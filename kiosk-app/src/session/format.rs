//! Dates for residents, in each language's own patterns (`crate::lang`): Japanese with the
//! era (elderly residents think in 和暦).

use crate::domain::Lang;

/// A date as residents read it: Japanese with the era, other languages by their file.
pub fn format_date(date: time::Date, lang: Lang) -> String {
    lang.language().date(date)
}

/// "Closed now; processed from …", for the done screen and the receipt. Japan time.
pub fn processing_note(from: time::OffsetDateTime, lang: Lang, municipality: &str) -> String {
    let t = from.to_offset(counter_core::hours::JST);
    lang.language().processing_note(t, municipality)
}

/// `YYYYMMDD` from the card, formatted; the raw text when it is not a date.
pub fn format_birth(yyyymmdd: &str, lang: Lang) -> String {
    parse_yyyymmdd(yyyymmdd)
        .map(|d| format_date(d, lang))
        .unwrap_or_else(|| yyyymmdd.to_owned())
}

pub fn parse_yyyymmdd(s: &str) -> Option<time::Date> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let month = time::Month::try_from(s[4..6].parse::<u8>().ok()?).ok()?;
    time::Date::from_calendar_date(s[..4].parse().ok()?, month, s[6..].parse().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eras() {
        assert_eq!(
            format_birth("19800217", Lang::JA),
            "1980年（昭和55年）2月17日"
        );
        assert_eq!(
            format_birth("19890108", Lang::JA),
            "1989年（平成元年）1月8日"
        );
        assert_eq!(
            format_birth("19890107", Lang::JA),
            "1989年（昭和64年）1月7日"
        );
        assert_eq!(
            format_birth("20190501", Lang::JA),
            "2019年（令和元年）5月1日"
        );
        assert_eq!(format_birth("19800217", Lang::EN), "17 February 1980");
        assert_eq!(format_birth("garbage", Lang::EN), "garbage");
    }
}
