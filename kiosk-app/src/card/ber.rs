//! A tolerant BER-TLV reader for the card's files: one- to three-byte tags (the card uses
//! non-minimal `FF 10`-style private tags), short and long-form lengths up to `83`.
//! Every length is checked against the input; nothing here can panic on card data.

use super::CardError;

/// One BER-TLV element, borrowing its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag, all its bytes.
    pub tag: u32,
    /// Its value holds further elements.
    pub constructed: bool,
    /// The value's bytes.
    pub value: &'a [u8],
    /// Header length (tag + length bytes).
    pub header_len: usize,
}

fn malformed(detail: impl Into<String>) -> CardError {
    CardError::Malformed {
        detail: detail.into(),
    }
}

/// Parses a tag and length. Returns (tag, constructed, header length, value length).
/// `Ok(None)` when `input` ends inside the header (a partial read).
pub fn header(input: &[u8]) -> Result<Option<(u32, bool, usize, usize)>, CardError> {
    let Some(&first) = input.first() else {
        return Ok(None);
    };
    let constructed = first & 0x20 != 0;
    let mut tag = first as u32;
    let mut pos = 1;
    if first & 0x1F == 0x1F {
        loop {
            let Some(&b) = input.get(pos) else {
                return Ok(None);
            };
            tag = (tag << 8) | b as u32;
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
            if pos > 3 {
                return Err(malformed("tag longer than 3 bytes"));
            }
        }
    }
    let Some(&l0) = input.get(pos) else {
        return Ok(None);
    };
    pos += 1;
    let len = match l0 {
        0x00..=0x7F => l0 as usize,
        0x80 => return Err(malformed("indefinite length is not allowed")),
        0x81..=0x83 => {
            let n = (l0 & 0x7F) as usize;
            let Some(bytes) = input.get(pos..pos + n) else {
                return Ok(None);
            };
            pos += n;
            bytes.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize)
        }
        _ => return Err(malformed(format!("length field {l0:02X} is too large"))),
    };
    Ok(Some((tag, constructed, pos, len)))
}

/// Total size (header + value) of the object at the start of a partial read, if known yet.
pub fn total_len(partial: &[u8]) -> Result<Option<usize>, CardError> {
    Ok(header(partial)?.map(|(_, _, h, l)| h + l))
}

/// Parses one complete TLV and returns it with the rest of the input.
pub fn parse_one(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), CardError> {
    let (tag, constructed, header_len, len) =
        header(input)?.ok_or_else(|| malformed("truncated TLV header"))?;
    let end = header_len
        .checked_add(len)
        .ok_or_else(|| malformed("length overflow"))?;
    if end > input.len() {
        return Err(malformed(format!(
            "TLV {tag:X} claims {len} bytes but only {} follow",
            input.len() - header_len
        )));
    }
    Ok((
        Tlv {
            tag,
            constructed,
            value: &input[header_len..end],
            header_len,
        },
        &input[end..],
    ))
}

/// All TLVs in `input`, in order. Trailing `FF`/`00` padding (unused file space) is ignored.
pub fn parse_all(mut input: &[u8]) -> Result<Vec<Tlv<'_>>, CardError> {
    let mut out = vec![];
    while !input.is_empty() && !input.iter().all(|&b| b == 0xFF || b == 0x00) {
        let (tlv, rest) = parse_one(input)?;
        out.push(tlv);
        input = rest;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_byte_tags_and_long_lengths() {
        let (t, rest) = parse_one(&[0xDF, 0x22, 0x02, 0xAA, 0xBB, 0x01]).unwrap();
        assert_eq!(
            (t.tag, t.constructed, t.value, t.header_len),
            (0xDF22, false, &[0xAA, 0xBB][..], 3)
        );
        assert_eq!(rest, &[0x01]);
        let mut v = vec![0xFF, 0x20, 0x81, 0x80];
        v.extend(std::iter::repeat_n(0u8, 0x80));
        let (t, _) = parse_one(&v).unwrap();
        assert_eq!(
            (t.tag, t.constructed, t.value.len(), t.header_len),
            (0xFF20, true, 0x80, 4)
        );
        let mut v = vec![0x30, 0x82, 0x01, 0x00];
        v.extend(std::iter::repeat_n(7u8, 256));
        assert_eq!(parse_one(&v).unwrap().0.value.len(), 256);
        assert_eq!(total_len(&[0x30, 0x82, 0x06, 0x1F]).unwrap(), Some(1571));
        assert_eq!(total_len(&[0x30, 0x82, 0x06]).unwrap(), None);
        assert_eq!(total_len(&[0xFF]).unwrap(), None);
    }

    #[test]
    fn rejects_lies_without_panicking() {
        assert!(
            parse_one(&[0xDF, 0x22, 0x05, 1, 2]).is_err(),
            "length beyond data"
        );
        assert!(
            parse_one(&[0xDF, 0x22, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]).is_err(),
            "oversized length field"
        );
        assert!(parse_one(&[0xDF, 0x22, 0x80]).is_err(), "indefinite");
        assert!(
            parse_one(&[0xDF, 0xFF, 0xFF, 0xFF, 0x01]).is_err(),
            "endless tag"
        );
        assert!(parse_one(&[0xDF]).is_err());
        assert!(parse_one(&[]).is_err());
        assert!(parse_one(&[0x30, 0x83, 0xFF, 0xFF, 0xFF]).is_err());
    }

    #[test]
    fn padding_is_ignored() {
        let all = parse_all(&[0xDF, 0x25, 0x01, b'1', 0xFF, 0xFF]).unwrap();
        assert_eq!(all.len(), 1);
    }
}
