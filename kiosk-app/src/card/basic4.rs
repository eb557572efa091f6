//! The basic 4 attributes (基本4情報) of text-AP EF 0002:
//! `FF20 { DF21 offsets, DF22 name, DF23 address, DF24 birth YYYYMMDD, DF25 sex }`, UTF-8.
//! Name and address are kept exactly as on the card (U+3000, full-width digits included).

use super::ber;
use super::CardError;
use crate::secret::SecretString;

/// ISO 5218 sex code as stored on the card. Personal data: its `Debug` prints `***`, so a
/// `{:?}` of anything that holds it (a [`Basic4`], a view, an error) never shows it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    /// Not known (0).
    NotKnown,
    /// Male (1).
    Male,
    /// Female (2).
    Female,
    /// Not applicable (9).
    NotApplicable,
}

impl Sex {
    /// The ISO 5218 digit as the card has it.
    pub fn code(self) -> &'static str {
        match self {
            Sex::NotKnown => "0",
            Sex::Male => "1",
            Sex::Female => "2",
            Sex::NotApplicable => "9",
        }
    }
}

impl std::fmt::Debug for Sex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The card holder as read from the card; every field is a secret (`Debug` prints `***`).
#[derive(Debug, Clone)]
pub struct Basic4 {
    /// As on the card.
    pub name: SecretString,
    /// As on the card.
    pub address: SecretString,
    /// `YYYYMMDD`, validated as a real Gregorian date.
    pub birth: SecretString,
    /// As on the card.
    pub sex: Sex,
}

fn malformed(detail: &str) -> CardError {
    CardError::Malformed {
        detail: format!("basic-4 file: {detail}"),
    }
}

/// Parses the whole EF 0002 content. Either every field is valid or nothing is returned:
/// a half-read identity never reaches the screen.
pub fn parse(file: &[u8]) -> Result<Basic4, CardError> {
    let (outer, _) = ber::parse_one(file)?;
    if outer.tag != 0xFF20 {
        return Err(malformed(&format!(
            "outer tag {:X}, expected FF20",
            outer.tag
        )));
    }
    let (mut name, mut address, mut birth, mut sex) = (None, None, None, None);
    let mut offsets = None;
    for tlv in ber::parse_all(outer.value)? {
        match tlv.tag {
            0xDF21 => offsets = Some(tlv.value),
            0xDF22 => name = Some(utf8(tlv.value, "name")?),
            0xDF23 => address = Some(utf8(tlv.value, "address")?),
            0xDF24 => birth = Some(date(tlv.value)?),
            0xDF25 => {
                sex = Some(match tlv.value {
                    b"0" => Sex::NotKnown,
                    b"1" => Sex::Male,
                    b"2" => Sex::Female,
                    b"9" => Sex::NotApplicable,
                    _ => return Err(malformed("sex code is not 0, 1, 2 or 9")),
                })
            }
            _ => {}
        }
    }
    if let Some(offsets) = offsets {
        check_offsets(file, outer.header_len, offsets)?;
    }
    match (name, address, birth, sex) {
        (Some(name), Some(address), Some(birth), Some(sex)) => Ok(Basic4 {
            name,
            address,
            birth,
            sex,
        }),
        _ => Err(malformed("a field is missing")),
    }
}

/// DF21 holds four big-endian offsets, from the start of the file, of the DF22–DF25 headers.
fn check_offsets(file: &[u8], _outer_header: usize, table: &[u8]) -> Result<(), CardError> {
    if table.len() != 8 {
        return Err(malformed("offset table is not 8 bytes"));
    }
    for (i, pair) in table.chunks(2).enumerate() {
        let off = u16::from_be_bytes([pair[0], pair[1]]) as usize;
        let expected = [0xDF, 0x22 + i as u8];
        if file.get(off..off + 2) != Some(&expected[..]) {
            return Err(malformed(&format!(
                "offset table entry {i} does not point at DF{:02X}",
                0x22 + i
            )));
        }
    }
    Ok(())
}

fn utf8(bytes: &[u8], what: &str) -> Result<SecretString, CardError> {
    let s = std::str::from_utf8(bytes).map_err(|_| malformed(&format!("{what} is not UTF-8")))?;
    if s.trim().is_empty() || s.chars().any(|c| c.is_control()) {
        return Err(malformed(&format!(
            "{what} is empty or has control characters"
        )));
    }
    Ok(SecretString::new(s.to_owned()))
}

fn date(bytes: &[u8]) -> Result<SecretString, CardError> {
    let s = std::str::from_utf8(bytes)
        .ok()
        .filter(|s| s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()));
    let s = s.ok_or_else(|| malformed("birth date is not YYYYMMDD"))?;
    let (y, m, d) = (
        s[..4].parse::<i32>().unwrap_or(0),
        s[4..6].parse::<u8>().unwrap_or(0),
        s[6..].parse::<u8>().unwrap_or(0),
    );
    let month = time::Month::try_from(m).map_err(|_| malformed("birth month out of range"))?;
    time::Date::from_calendar_date(y, month, d)
        .map_err(|_| malformed("birth date is not a real date"))?;
    Ok(SecretString::new(s.to_owned()))
}

/// Builds an EF 0002 file: used by the virtual card and the tests.
pub fn encode(name: &str, address: &str, birth: &str, sex: &str) -> Vec<u8> {
    fn tlv(tag: [u8; 2], value: &[u8]) -> Vec<u8> {
        let mut v = tag.to_vec();
        v.extend(encode_len(value.len()));
        v.extend_from_slice(value);
        v
    }
    let fields = [
        tlv([0xDF, 0x22], name.as_bytes()),
        tlv([0xDF, 0x23], address.as_bytes()),
        tlv([0xDF, 0x24], birth.as_bytes()),
        tlv([0xDF, 0x25], sex.as_bytes()),
    ];
    let inner_len = 11 + fields.iter().map(Vec::len).sum::<usize>();
    let outer_header = 2 + encode_len(inner_len).len();
    let mut offsets = vec![];
    let mut pos = outer_header + 11;
    for f in &fields {
        offsets.extend_from_slice(&(pos as u16).to_be_bytes());
        pos += f.len();
    }
    let mut inner = tlv([0xDF, 0x21], &offsets);
    for f in fields {
        inner.extend(f);
    }
    tlv([0xFF, 0x20], &inner)
}

/// BER length bytes (short form, or `81`/`82`).
pub fn encode_len(len: usize) -> Vec<u8> {
    match len {
        0..=0x7F => vec![len as u8],
        0x80..=0xFF => vec![0x81, len as u8],
        _ => vec![0x82, (len >> 8) as u8, len as u8],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "山田　太郎";
    const ADDR: &str = "埼玉県入間郡毛呂山町中央２丁目１番地";

    #[test]
    fn round_trip_keeps_the_text_exactly() {
        let file = encode(NAME, ADDR, "19800217", "1");
        let b = parse(&file).unwrap();
        assert_eq!(b.name.expose(), NAME);
        assert_eq!(b.address.expose(), ADDR);
        assert_eq!(b.birth.expose(), "19800217");
        assert_eq!(b.sex, Sex::Male);
        assert_eq!(format!("{b:?}").matches("***").count(), 4);
        assert!(!format!("{b:?}").contains("山田"));
    }

    #[test]
    fn basic4_debug_prints_no_personal_value() {
        for (code, sex) in [
            ("0", Sex::NotKnown),
            ("1", Sex::Male),
            ("2", Sex::Female),
            ("9", Sex::NotApplicable),
        ] {
            let b = parse(&encode(NAME, ADDR, "19800217", code)).unwrap();
            assert_eq!(b.sex, sex);
            let printed = format!("{b:?} {b:#?} {:?}", b.sex);
            for value in [NAME, "山田", ADDR, "19800217", "1980"] {
                assert!(!printed.contains(value), "{value} in {printed}");
            }
            for variant in ["NotKnown", "Male", "Female", "NotApplicable"] {
                assert!(!printed.contains(variant), "{variant} in {printed}");
            }
            assert!(
                !printed
                    .replace("Basic4", "")
                    .chars()
                    .any(|c| c.is_ascii_digit()),
                "a sex code or a date digit in {printed}"
            );
        }
    }

    #[test]
    fn long_form_lengths_and_the_fixture_layout() {
        // A long address forces 81/82 lengths on the outer object and the address.
        let addr = "埼玉県入間郡毛呂山町".repeat(10);
        let file = encode(NAME, &addr, "19800217", "2");
        assert_eq!(&file[..3], &[0xFF, 0x20, 0x82]);
        assert_eq!(parse(&file).unwrap().address.expose(), &addr);
        // The myna-card fixture shape: FF 20 65, DF21 offsets 14/32/89/100.
        let file = encode("あいうえお", &"あ".repeat(18), "19800217", "1");
        assert_eq!(&file[..3], &[0xFF, 0x20, 0x65]);
        assert_eq!(
            &file[3..13],
            &[0xDF, 0x21, 0x08, 0x00, 0x0E, 0x00, 0x20, 0x00, 0x59, 0x00]
        );
    }

    #[test]
    fn half_valid_files_are_rejected() {
        let good = encode(NAME, ADDR, "19800217", "1");
        for cut in [0, 3, 10, 40, good.len() - 1] {
            assert!(parse(&good[..cut]).is_err(), "truncated at {cut}");
        }
        assert!(
            parse(&encode(NAME, ADDR, "19800230", "1")).is_err(),
            "30 February"
        );
        assert!(parse(&encode(NAME, ADDR, "1980021", "1")).is_err());
        assert!(parse(&encode(NAME, ADDR, "19800217", "5")).is_err());
        assert!(parse(&encode("", ADDR, "19800217", "1")).is_err());
        let mut bad_utf8 = good.clone();
        let i = bad_utf8.windows(2).position(|w| w == [0xDF, 0x22]).unwrap() + 3;
        bad_utf8[i] = 0xFF;
        assert!(parse(&bad_utf8).is_err());
        let mut bad_offsets = good.clone();
        bad_offsets[6] ^= 1;
        assert!(parse(&bad_offsets).is_err());
    }
}
