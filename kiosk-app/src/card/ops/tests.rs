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
