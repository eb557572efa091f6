//! Short ISO 7816-4 APDUs of the My Number card (mynumber-card.md §5) and response parsing.

use super::CardError;
use zeroize::Zeroizing;

/// The JPKI application (利用者証明用).
pub const AID_JPKI: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
/// The card information input support application (券面事項入力補助).
pub const AID_TEXT: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];

/// JPKI token info (label in the first 32 bytes).
pub const EF_JPKI_TOKEN: u16 = 0x0006;
/// JPKI user-authentication PIN.
pub const EF_JPKI_AUTH_PIN: u16 = 0x0018;
/// JPKI user-authentication certificate (free to read on a physical card).
pub const EF_JPKI_AUTH_CERT: u16 = 0x000A;
/// JPKI user-authentication private key (signs after EF 0018 is verified).
pub const EF_JPKI_AUTH_KEY: u16 = 0x0017;
/// 券面事項入力補助 PIN.
pub const EF_TEXT_PIN: u16 = 0x0011;
/// Basic 4 attributes. (EF 0001, the My Number, is never selected.)
pub const EF_TEXT_BASIC4: u16 = 0x0002;

/// Success.
pub const SW_OK: u16 = 0x9000;
/// READ BINARY: end of file reached before `Le` bytes (the data that was left comes with it).
pub const SW_END_OF_FILE: u16 = 0x6282;

/// SELECT FILE by application id.
pub fn select_df(aid: &[u8]) -> Vec<u8> {
    let mut v = vec![0x00, 0xA4, 0x04, 0x0C, aid.len() as u8];
    v.extend_from_slice(aid);
    v
}

/// SELECT FILE by file id within the selected application.
pub fn select_ef(fid: u16) -> Vec<u8> {
    let [hi, lo] = fid.to_be_bytes();
    vec![0x00, 0xA4, 0x02, 0x0C, 0x02, hi, lo]
}

/// READ BINARY at `offset` (15 bits), `le` 1..=256 (256 is sent as `00`).
pub fn read_binary(offset: u16, le: u16) -> Vec<u8> {
    debug_assert!(offset <= 0x7FFF && (1..=256).contains(&le));
    let [hi, lo] = offset.to_be_bytes();
    vec![0x00, 0xB0, hi & 0x7F, lo, (le & 0xFF) as u8]
}

/// VERIFY without data: asks for the tries left and uses no attempt. Never a login.
pub fn verify_query() -> Vec<u8> {
    vec![0x00, 0x20, 0x00, 0x80]
}

/// VERIFY with the PIN; the buffer is zeroised when dropped.
pub fn verify(pin: &[u8]) -> Zeroizing<Vec<u8>> {
    assert!(!pin.is_empty(), "an empty VERIFY is a query, never a login");
    let mut v = Zeroizing::new(Vec::with_capacity(5 + pin.len()));
    v.extend_from_slice(&[0x00, 0x20, 0x00, 0x80, pin.len() as u8]);
    v.extend_from_slice(pin);
    v
}

/// JPKI signature with the selected key: PKCS#1 v1.5 over the given DigestInfo (`80 2A 00 80`).
pub fn jpki_sign(digest_info: &[u8]) -> Vec<u8> {
    assert!(!digest_info.is_empty() && digest_info.len() <= 245);
    let mut v = vec![0x80, 0x2A, 0x00, 0x80, digest_info.len() as u8];
    v.extend_from_slice(digest_info);
    v.push(0x00);
    v
}

/// DER prefix of a SHA-256 DigestInfo; append the 32-byte hash.
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// A response split into data and status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The answer's data.
    pub data: Vec<u8>,
    /// Its status word.
    pub sw: u16,
}

impl Response {
    /// Splits a raw answer into data and status word.
    pub fn parse(raw: &[u8]) -> Result<Self, CardError> {
        if raw.len() < 2 {
            return Err(CardError::Malformed {
                detail: format!("response of {} bytes has no status word", raw.len()),
            });
        }
        let (data, sw) = raw.split_at(raw.len() - 2);
        Ok(Response {
            data: data.to_vec(),
            sw: u16::from_be_bytes([sw[0], sw[1]]),
        })
    }

    /// `9000`, or a [`CardError::CardStatus`] naming the operation.
    pub fn ok(self, operation: &str) -> Result<Vec<u8>, CardError> {
        if self.sw == SW_OK {
            Ok(self.data)
        } else {
            Err(CardError::CardStatus {
                operation: operation.into(),
                sw: self.sw,
            })
        }
    }
}

/// The tries left in a `63Cx` status word.
pub fn tries_in(sw: u16) -> Option<u8> {
    (sw & 0xFFF0 == 0x63C0).then_some((sw & 0x000F) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_match_the_reference_trace() {
        assert_eq!(
            select_df(&AID_TEXT),
            [
                0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04,
                0x08
            ]
        );
        assert_eq!(
            select_ef(0x0011),
            [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x11]
        );
        assert_eq!(read_binary(0, 256), [0x00, 0xB0, 0x00, 0x00, 0x00]);
        assert_eq!(read_binary(0x0102, 7), [0x00, 0xB0, 0x01, 0x02, 0x07]);
        assert_eq!(
            &verify(b"1234")[..],
            [0x00, 0x20, 0x00, 0x80, 0x04, 0x31, 0x32, 0x33, 0x34]
        );
        assert_eq!(verify_query(), [0x00, 0x20, 0x00, 0x80]);
    }

    #[test]
    fn responses() {
        assert_eq!(
            Response::parse(&[0x90, 0x00]).unwrap(),
            Response {
                data: vec![],
                sw: 0x9000
            }
        );
        assert_eq!(Response::parse(&[1, 2, 0x63, 0xC2]).unwrap().sw, 0x63C2);
        assert!(matches!(
            Response::parse(&[0x90]),
            Err(CardError::Malformed { .. })
        ));
        assert!(matches!(
            Response::parse(&[]),
            Err(CardError::Malformed { .. })
        ));
        assert_eq!(tries_in(0x63C2), Some(2));
        assert_eq!(tries_in(0x63C0), Some(0));
        assert_eq!(tries_in(0x6984), None);
    }
}
