//! Card operations as APDU sequences over any [`CardTransport`]: identify, count tries, read
//! the basic 4 attributes. PIN safety lives here: the tries are read before every VERIFY,
//! a locked PIN is never tried, and each PIN is tried on exactly one application.

use super::apdu::{
    self, Response, AID_JPKI, AID_TEXT, EF_JPKI_AUTH_CERT, EF_JPKI_AUTH_KEY, EF_JPKI_AUTH_PIN,
    EF_JPKI_TOKEN, EF_TEXT_BASIC4, EF_TEXT_PIN,
};
use super::basic4::{self, Basic4};
use super::{CardError, CardTransport};
use crate::secret::Pin;
use serde::Serialize;

/// What kind of card is in the reader, from the JPKI token label (never from the ATR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    MyNumberCard,
    JukiCard,
    SmartphoneToken,
    Unknown,
}

impl CardKind {
    /// Only the My Number card can be used at the kiosk.
    pub fn check_usable(self) -> Result<(), CardError> {
        match self {
            CardKind::MyNumberCard => Ok(()),
            CardKind::JukiCard => Err(CardError::JukiCard),
            CardKind::SmartphoneToken => Err(CardError::SmartphoneToken),
            CardKind::Unknown => Err(CardError::UnsupportedCard),
        }
    }
}

fn send(t: &mut dyn CardTransport, apdu: &[u8]) -> Result<Response, CardError> {
    Response::parse(&t.transmit(apdu)?)
}

/// SELECT JPKI, read the 32-byte token label.
pub fn identify(t: &mut dyn CardTransport) -> Result<CardKind, CardError> {
    let r = send(t, &apdu::select_df(&AID_JPKI))?;
    if r.sw == 0x6A82 {
        return Ok(CardKind::Unknown);
    }
    if r.sw != apdu::SW_OK {
        return Ok(CardKind::Unknown);
    }
    send(t, &apdu::select_ef(EF_JPKI_TOKEN))?.ok("SELECT token info")?;
    let label = read_binary(t, 0, 32)?;
    let text: String = label
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    Ok(match text.trim_end() {
        "JPKIAPICCTOKEN2" => CardKind::MyNumberCard,
        "JPKIAPICCTOKEN" => CardKind::JukiCard,
        "JPKIAPGPSETOKEN" | "JPKIAPIOSTOKEN" => CardKind::SmartphoneToken,
        _ => CardKind::Unknown,
    })
}

/// A [`read_basic4_checked`] check: with one try left, the PIN is tried only with explicit
/// consent (`kioskctl card read --allow-last-try`; on the kiosk, the last-try screen).
pub fn last_try_needs_consent(consent: bool) -> impl FnOnce(u8) -> Result<(), CardError> {
    move |tries| match tries {
        1 if !consent => Err(CardError::PinLastTry),
        _ => Ok(()),
    }
}

/// A [`read_basic4_checked`] check: the tries left must be the ones the holder was shown
/// (anything else means another card, or another VERIFY meanwhile).
pub fn tries_as_shown(shown: u8) -> impl FnOnce(u8) -> Result<(), CardError> {
    move |tries| {
        if tries == shown {
            Ok(())
        } else {
            tracing::warn!(
                shown,
                tries,
                "PIN tries differ from those shown; PIN not tried"
            );
            Err(CardError::CardChanged)
        }
    }
}

/// Tries left of the 券面事項入力補助 PIN (empty VERIFY; uses no attempt).
pub fn text_pin_tries(t: &mut dyn CardTransport) -> Result<u8, CardError> {
    select_text_pin(t)?;
    query_tries(t)
}

/// Tries left of the JPKI user-authentication PIN.
pub fn jpki_auth_pin_tries(t: &mut dyn CardTransport) -> Result<u8, CardError> {
    select_jpki(t)?;
    send(t, &apdu::select_ef(EF_JPKI_AUTH_PIN))?.ok("SELECT JPKI auth PIN")?;
    query_tries(t)
}

fn select_text_pin(t: &mut dyn CardTransport) -> Result<(), CardError> {
    let r = send(t, &apdu::select_df(&AID_TEXT))?;
    if r.sw == 0x6A82 {
        return Err(CardError::NoTextAp);
    }
    r.ok("SELECT text AP")?;
    send(t, &apdu::select_ef(EF_TEXT_PIN))?.ok("SELECT text PIN")?;
    Ok(())
}

fn query_tries(t: &mut dyn CardTransport) -> Result<u8, CardError> {
    let r = send(t, &apdu::verify_query())?;
    match (apdu::tries_in(r.sw), r.sw) {
        (Some(n), _) => Ok(n),
        (None, 0x6984) => Ok(0),
        (None, sw) => Err(CardError::CardStatus {
            operation: "PIN tries query".into(),
            sw,
        }),
    }
}

/// Verifies the PIN on the text AP and reads the basic 4 attributes: 6 APDUs for files up to
/// 256 bytes (SELECT AP, SELECT PIN, tries query, VERIFY, SELECT EF, READ), 7 on a card that
/// answers the oversized first READ with `6Cxx`.
pub fn read_basic4(t: &mut dyn CardTransport, pin: &Pin) -> Result<Basic4, CardError> {
    read_basic4_checked(t, pin, |_| Ok(()))
}

/// [`read_basic4`] where `check` judges the tries left before the PIN is tried (refuse the
/// last try without consent, or insist on the count the holder was shown); and the transport
/// confirms, right before VERIFY, that the card is still the one the tries were read from.
pub fn read_basic4_checked(
    t: &mut dyn CardTransport,
    pin: &Pin,
    check: impl FnOnce(u8) -> Result<(), CardError>,
) -> Result<Basic4, CardError> {
    select_text_pin(t)?;
    let tries = query_tries(t)?;
    if tries == 0 {
        return Err(CardError::PinLocked);
    }
    check(tries)?;
    t.ensure_same_card()?;
    verify_selected(t, pin)?;
    send(t, &apdu::select_ef(EF_TEXT_BASIC4))?.ok("SELECT basic-4")?;
    let file = read_whole(t)?;
    basic4::parse(&file)
}

/// The JPKI user-authentication certificate (DER): its length comes from the DER header.
pub fn read_auth_certificate(t: &mut dyn CardTransport) -> Result<Vec<u8>, CardError> {
    select_jpki(t)?;
    send(t, &apdu::select_ef(EF_JPKI_AUTH_CERT))?.ok("SELECT auth certificate")?;
    read_whole(t)
}

/// Identity evidence for a procedure: the user-authentication certificate and a signature
/// over `document` (SHA-256, PKCS#1 v1.5) made by the card with the 利用者証明用 PIN.
#[derive(Debug, Clone)]
pub struct JpkiEvidence {
    pub certificate: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Verifies the 利用者証明用 PIN (after checking the tries) and signs `document` with the
/// user-authentication key. Tries only this PIN, only once.
pub fn jpki_authenticate(
    t: &mut dyn CardTransport,
    pin: &Pin,
    document: &[u8],
) -> Result<JpkiEvidence, CardError> {
    use sha2::Digest;
    let certificate = read_auth_certificate(t)?;
    send(t, &apdu::select_ef(EF_JPKI_AUTH_PIN))?.ok("SELECT JPKI auth PIN")?;
    if query_tries(t)? == 0 {
        return Err(CardError::PinLocked);
    }
    t.ensure_same_card()?;
    verify_selected(t, pin)?;
    send(t, &apdu::select_ef(EF_JPKI_AUTH_KEY))?.ok("SELECT auth key")?;
    let mut digest_info = apdu::SHA256_DIGEST_INFO_PREFIX.to_vec();
    digest_info.extend_from_slice(&sha2::Sha256::digest(document));
    let signature = send(t, &apdu::jpki_sign(&digest_info))?.ok("SIGN")?;
    if signature.len() != 256 {
        return Err(CardError::Malformed {
            detail: format!("signature of {} bytes, expected 256", signature.len()),
        });
    }
    Ok(JpkiEvidence {
        certificate,
        signature,
    })
}

fn select_jpki(t: &mut dyn CardTransport) -> Result<(), CardError> {
    let r = send(t, &apdu::select_df(&AID_JPKI))?;
    if r.sw == 0x6A82 {
        return Err(CardError::UnsupportedCard);
    }
    r.ok("SELECT JPKI").map(drop)
}

/// VERIFY on the selected PIN EF, mapping the status words of a wrong or locked PIN.
fn verify_selected(t: &mut dyn CardTransport, pin: &Pin) -> Result<(), CardError> {
    let r = send(t, &apdu::verify(pin.as_bytes()))?;
    match r.sw {
        apdu::SW_OK => Ok(()),
        0x6984 | 0x63C0 | 0x6983 => Err(CardError::PinLocked),
        sw if apdu::tries_in(sw).is_some() => Err(CardError::WrongPin {
            tries_left: (sw & 0xF) as u8,
        }),
        sw => Err(CardError::CardStatus {
            operation: "VERIFY".into(),
            sw,
        }),
    }
}

/// READ BINARY of up to `le` bytes at `offset`. When fewer bytes are left than asked, cards
/// answer in one of three ways (mynumber-card.md §6, ISO 7816-4): the bytes left with `9000`;
/// the bytes left with `6282` (end of file reached before `Le` bytes); or no data and `6Cxx`
/// (wrong length, xx = the bytes left, `00` meaning 256), which is asked again, once, with
/// that exact `Le`.
fn read_binary(t: &mut dyn CardTransport, offset: u16, le: u16) -> Result<Vec<u8>, CardError> {
    let r = send(t, &apdu::read_binary(offset, le))?;
    let r = match r.sw {
        sw if sw & 0xFF00 == 0x6C00 => {
            let exact = match sw & 0xFF {
                0 => 256,
                n => n,
            };
            send(t, &apdu::read_binary(offset, exact))?
        }
        _ => r,
    };
    match r.sw {
        apdu::SW_OK | apdu::SW_END_OF_FILE if r.data.len() <= le as usize => Ok(r.data),
        apdu::SW_OK | apdu::SW_END_OF_FILE => Err(CardError::Malformed {
            detail: format!("{} bytes answered to Le {le}", r.data.len()),
        }),
        sw => Err(CardError::CardStatus {
            operation: "READ BINARY".into(),
            sw,
        }),
    }
}

/// Largest file the kiosk will read (a defence against a lying length field).
const MAX_FILE: usize = 8192;

/// Reads a BER-encoded EF from offset 0: first chunk of 256 bytes, then the rest as the
/// header says, in chunks of at most 256 bytes.
fn read_whole(t: &mut dyn CardTransport) -> Result<Vec<u8>, CardError> {
    let mut file = read_binary(t, 0, 256)?;
    let total = ber::total_len(&file)?.ok_or_else(|| CardError::Malformed {
        detail: "file header incomplete".into(),
    })?;
    if total > MAX_FILE {
        return Err(CardError::Malformed {
            detail: format!("file claims {total} bytes"),
        });
    }
    while file.len() < total {
        let want = (total - file.len()).min(256) as u16;
        let chunk = read_binary(t, file.len() as u16, want)?;
        if chunk.is_empty() {
            return Err(CardError::Malformed {
                detail: "file shorter than its header says".into(),
            });
        }
        file.extend(chunk);
    }
    file.truncate(total);
    Ok(file)
}

use super::ber;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Replays scripted answers and records the commands.
    struct Script {
        answers: VecDeque<Vec<u8>>,
        sent: Vec<Vec<u8>>,
    }

    impl Script {
        fn new(answers: &[&[u8]]) -> Self {
            Script {
                answers: answers.iter().map(|a| a.to_vec()).collect(),
                sent: vec![],
            }
        }
    }

    impl CardTransport for Script {
        fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
            self.sent.push(apdu.to_vec());
            self.answers.pop_front().ok_or(CardError::CardRemoved)
        }
    }

    /// A card that is swapped (or reset) after the n-th APDU: from then on the transport says
    /// so, and every later APDU would reach the other card.
    struct SwappedAfter {
        inner: Script,
        after: usize,
    }

    impl CardTransport for SwappedAfter {
        fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
            self.inner.transmit(apdu)
        }
        fn ensure_same_card(&mut self) -> Result<(), CardError> {
            if self.inner.sent.len() >= self.after {
                Err(CardError::CardChanged)
            } else {
                Ok(())
            }
        }
    }

    fn verifies_with_data(sent: &[Vec<u8>]) -> usize {
        sent.iter().filter(|a| a.len() > 4 && a[1] == 0x20).count()
    }

    #[test]
    fn card_swapped_after_the_tries_query_gets_no_verify() {
        let file = file_answer();
        let pin = Pin::new_4_digits(b"1234").unwrap();
        // Swapped right after the tries query (APDU 3): no VERIFY with the PIN is sent.
        let mut s = SwappedAfter {
            inner: Script::new(&[OK, OK, &[0x63, 0xC3], OK, OK, &file]),
            after: 3,
        };
        assert_eq!(
            read_basic4(&mut s, &pin).unwrap_err(),
            CardError::CardChanged
        );
        assert_eq!(verifies_with_data(&s.inner.sent), 0);
        assert_eq!(s.inner.sent.len(), 3);
        // The same for the JPKI user authentication (its tries query is its last APDU so far).
        let cert: &[u8] = &[0x30, 0x03, 1, 2, 3, 0x90, 0x00];
        let mut s = SwappedAfter {
            inner: Script::new(&[OK, OK, cert, OK, &[0x63, 0xC3], OK]),
            after: 5,
        };
        assert_eq!(
            jpki_authenticate(&mut s, &pin, b"doc").unwrap_err(),
            CardError::CardChanged
        );
        assert_eq!(verifies_with_data(&s.inner.sent), 0);
        assert_eq!(s.inner.sent.len(), 5);
        // A card removed or reset under the connection: the error ends the read, no retry.
        let mut s = Script::new(&[OK, OK, &[0x63, 0xC3]]);
        assert_eq!(
            read_basic4(&mut s, &pin).unwrap_err(),
            CardError::CardRemoved
        );
        assert_eq!(s.sent.len(), 4, "one VERIFY, never sent again");
    }

    #[test]
    fn tries_not_as_shown_get_no_verify() {
        let pin = Pin::new_4_digits(b"1234").unwrap();
        let mut s = Script::new(&[OK, OK, &[0x63, 0xC2]]);
        assert_eq!(
            read_basic4_checked(&mut s, &pin, tries_as_shown(3)).unwrap_err(),
            CardError::CardChanged
        );
        assert_eq!(verifies_with_data(&s.sent), 0);
        let file = file_answer();
        let mut s = Script::new(&[OK, OK, &[0x63, 0xC2], OK, OK, &file]);
        assert!(read_basic4_checked(&mut s, &pin, tries_as_shown(2)).is_ok());
    }

    #[test]
    fn last_try_is_refused_without_consent() {
        let pin = Pin::new_4_digits(b"1234").unwrap();
        let mut s = Script::new(&[OK, OK, &[0x63, 0xC1]]);
        assert_eq!(
            read_basic4_checked(&mut s, &pin, last_try_needs_consent(false)).unwrap_err(),
            CardError::PinLastTry
        );
        assert_eq!(verifies_with_data(&s.sent), 0);
        let file = file_answer();
        let mut s = Script::new(&[OK, OK, &[0x63, 0xC1], OK, OK, &file]);
        assert!(read_basic4_checked(&mut s, &pin, last_try_needs_consent(true)).is_ok());
        let mut s = Script::new(&[OK, OK, &[0x63, 0xC2], OK, OK, &file]);
        assert!(read_basic4_checked(&mut s, &pin, last_try_needs_consent(false)).is_ok());
    }

    const OK: &[u8] = &[0x90, 0x00];

    fn file_answer() -> Vec<u8> {
        let mut f = basic4::encode(
            "山田　太郎",
            "埼玉県入間郡毛呂山町中央２丁目１番地",
            "19800217",
            "1",
        );
        f.extend_from_slice(OK);
        f
    }

    #[test]
    fn read_takes_six_apdus() {
        let file = file_answer();
        let mut s = Script::new(&[OK, OK, &[0x63, 0xC3], OK, OK, &file]);
        let b = read_basic4(&mut s, &Pin::new_4_digits(b"1234").unwrap()).unwrap();
        assert_eq!(b.name.expose(), "山田　太郎");
        assert_eq!(s.sent.len(), 6);
        // That no operation touches EF 0001 (the My Number) in any form is checked against
        // the virtual card, with one matcher: tests/src/vcard.rs `touches_my_number_file`.
    }

    #[test]
    fn oversized_le_answered_with_end_of_file() {
        let mut file = file_answer();
        let n = file.len();
        file[n - 2..].copy_from_slice(&[0x62, 0x82]);
        let mut s = Script::new(&[OK, OK, &[0x63, 0xC3], OK, OK, &file]);
        let b = read_basic4(&mut s, &Pin::new_4_digits(b"1234").unwrap()).unwrap();
        assert_eq!(b.name.expose(), "山田　太郎");
        assert_eq!(s.sent.len(), 6);
    }

    #[test]
    fn oversized_le_answered_with_wrong_length() {
        let file = file_answer();
        let exact = (file.len() - 2) as u8;
        let mut s = Script::new(&[OK, OK, &[0x63, 0xC3], OK, OK, &[0x6C, exact], &file]);
        let b = read_basic4(&mut s, &Pin::new_4_digits(b"1234").unwrap()).unwrap();
        assert_eq!(b.birth.expose(), "19800217");
        assert_eq!(s.sent[5], apdu::read_binary(0, 256));
        assert_eq!(
            s.sent[6],
            apdu::read_binary(0, exact as u16),
            "asked again, exactly"
        );
        assert_eq!(s.sent.len(), 7);
        // Asked once again only: a second 6Cxx is an error, not a loop.
        let mut s = Script::new(&[OK, OK, &[0x63, 0xC3], OK, OK, &[0x6C, exact], &[0x6C, 5]]);
        assert!(matches!(
            read_basic4(&mut s, &Pin::new_4_digits(b"1234").unwrap()).unwrap_err(),
            CardError::CardStatus { sw: 0x6C05, .. }
        ));
        assert_eq!(s.sent.len(), 7);
    }

    #[test]
    fn wrong_pin_reports_tries() {
        for (sw, expected) in [
            (0x63C2u16, CardError::WrongPin { tries_left: 2 }),
            (0x63C1, CardError::WrongPin { tries_left: 1 }),
            (0x63C0, CardError::PinLocked),
            (0x6984, CardError::PinLocked),
        ] {
            let mut s = Script::new(&[OK, OK, &[0x63, 0xC3], &sw.to_be_bytes()]);
            let err = read_basic4(&mut s, &Pin::new_4_digits(b"1111").unwrap()).unwrap_err();
            assert_eq!(err, expected, "{sw:04X}");
        }
    }

    #[test]
    fn a_locked_pin_is_never_tried() {
        let mut s = Script::new(&[OK, OK, &[0x63, 0xC0]]);
        assert_eq!(
            read_basic4(&mut s, &Pin::new_4_digits(b"1234").unwrap()).unwrap_err(),
            CardError::PinLocked
        );
        assert_eq!(s.sent.len(), 3, "no VERIFY with data after 63C0");
    }

    #[test]
    fn other_status_words_and_broken_answers() {
        let pin = Pin::new_4_digits(b"1234").unwrap();
        let mut s = Script::new(&[&[0x6A, 0x82]]);
        assert_eq!(read_basic4(&mut s, &pin).unwrap_err(), CardError::NoTextAp);
        for sw in [[0x69, 0x82], [0x6D, 0x00], [0x67, 0x00]] {
            let mut s = Script::new(&[OK, OK, &[0x63, 0xC3], OK, OK, &sw]);
            assert!(matches!(
                read_basic4(&mut s, &pin).unwrap_err(),
                CardError::CardStatus { .. }
            ));
        }
        let mut s = Script::new(&[OK, OK, &[0x63, 0xC3], OK, OK, &[0xFF]]);
        assert!(matches!(
            read_basic4(&mut s, &pin).unwrap_err(),
            CardError::Malformed { .. }
        ));
        // Oversized length field.
        let mut s = Script::new(&[
            OK,
            OK,
            &[0x63, 0xC3],
            OK,
            OK,
            &[0xFF, 0x20, 0x82, 0xFF, 0xFF, 0x90, 0x00],
        ]);
        assert!(matches!(
            read_basic4(&mut s, &pin).unwrap_err(),
            CardError::Malformed { .. }
        ));
        // Truncated: header promises more than the card delivers.
        let mut file = file_answer();
        file.drain(20..file.len() - 2);
        let mut s = Script::new(&[OK, OK, &[0x63, 0xC3], OK, OK, &file, &[0x6B, 0x00]]);
        assert!(read_basic4(&mut s, &pin).is_err());
    }

    #[test]
    fn identify_by_label() {
        let label = |l: &str| {
            let mut v = l.as_bytes().to_vec();
            v.resize(32, b' ');
            v.extend_from_slice(OK);
            v
        };
        for (l, kind) in [
            ("JPKIAPICCTOKEN2", CardKind::MyNumberCard),
            ("JPKIAPICCTOKEN", CardKind::JukiCard),
            ("JPKIAPGPSETOKEN", CardKind::SmartphoneToken),
            ("SOMETHING", CardKind::Unknown),
        ] {
            let mut s = Script::new(&[OK, OK, &label(l)]);
            assert_eq!(identify(&mut s).unwrap(), kind);
        }
        let mut s = Script::new(&[&[0x6A, 0x82]]);
        assert_eq!(identify(&mut s).unwrap(), CardKind::Unknown);
    }
}
