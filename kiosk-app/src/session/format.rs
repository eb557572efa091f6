//! Dates for residents: Japanese with the era (elderly residents think in 和暦), English plain.

use crate::domain::Lang;

const ERAS: [(i32, u8, u8, &str); 5] = [
    (2019, 5, 1, "令和"),
    (1989, 1, 8, "平成"),
    (1926, 12, 25, "昭和"),
    (1912, 7, 30, "大正"),
    (1868, 10, 23, "明治"),
];

fn era(date: time::Date) -> Option<String> {
    let key = (date.year(), date.month() as u8, date.day());
    ERAS.iter()
        .find(|(y, m, d, _)| key >= (*y, *m, *d))
        .map(|(y, _, _, name)| {
            let n = date.year() - y + 1;
            if n == 1 {
                format!("{name}元年")
            } else {
                format!("{name}{n}年")
            }
        })
}

pub fn format_date(date: time::Date, lang: Lang) -> String {
    match lang {
        Lang::Ja => match era(date) {
            Some(e) => format!(
                "{}年（{}）{}月{}日",
                date.year(),
                e,
                date.month() as u8,
                date.day()
            ),
            None => format!("{}年{}月{}日", date.year(), date.month() as u8, date.day()),
        },
        Lang::En => format!("{} {} {}", date.day(), month_en(date.month()), date.year()),
    }
}

/// "Closed now; processed from …", for the done screen and the receipt. Japan time.
pub fn processing_note(from: time::OffsetDateTime, lang: Lang, municipality: &str) -> String {
    let t = from.to_offset(counter_core::hours::JST);
    let day = t.weekday().number_days_from_monday() as usize;
    match lang {
        Lang::Ja => {
            let minute = if t.minute() == 0 {
                String::new()
            } else {
                format!("{}分", t.minute())
            };
            format!(
                "{municipality}は現在受付時間外です。この申請は{}月{}日（{}）{}時{minute}から処理されます。",
                t.month() as u8,
                t.day(),
                ["月", "火", "水", "木", "金", "土", "日"][day],
                t.hour(),
            )
        }
        Lang::En => format!(
            "{municipality} is closed now. Your application will be processed from {} {} {} at {}:{:02}.",
            ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][day],
            t.day(),
            &month_en(t.month())[..3],
            t.hour(),
            t.minute()
        ),
    }
}

fn month_en(m: time::Month) -> &'static str {
    use time::Month::*;
    match m {
        January => "January",
        February => "February",
        March => "March",
        April => "April",
        May => "May",
        June => "June",
        July => "July",
        August => "August",
        September => "September",
        October => "October",
        November => "November",
        December => "December",
    }
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
            format_birth("19800217", Lang::Ja),
            "1980年（昭和55年）2月17日"
        );
        assert_eq!(
            format_birth("19890108", Lang::Ja),
            "1989年（平成元年）1月8日"
        );
        assert_eq!(
            format_birth("19890107", Lang::Ja),
            "1989年（昭和64年）1月7日"
        );
        assert_eq!(
            format_birth("20190501", Lang::Ja),
            "2019年（令和元年）5月1日"
        );
        assert_eq!(format_birth("19800217", Lang::En), "17 February 1980");
        assert_eq!(format_birth("garbage", Lang::En), "garbage");
    }
}
