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
#[serde(rename_all = "kebab-case")]
pub enum CardKind {
    /// A My Number card.
    MyNumberCard,
    /// A Basic Resident Register card.
    JukiCard,
    /// A smartphone's My Number function.
    SmartphoneToken,
    /// Anything else.
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
    /// The user authentication certificate (DER).
    pub certificate: Vec<u8>,
    /// The signature over the challenge's DigestInfo.
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
mod tests;
