//! The card module over real PC/SC (pcscd + vpcd + the virtual card): JPKI user
//! authentication, the APDU budget of the basic-4 read, each status word of a wrong or
//! locked PIN, broken answers, a card pulled out in the middle of a read, a restart of the
//! test's own pcscd (never the machine's), a second reader, and each way a card answers an
//! oversized `Le`.

use kiosk_app::card::ops::{self, CardKind};
use kiosk_app::card::pcsc_reader::{with_card, CardCommand, CardService};
use kiosk_app::card::CardError;
use kiosk_app::domain::CardEvent;
use kiosk_app::secret::Pin;
use madoguchi_tests::harness::{ensure_pcscd, wait_until, Events, FileLock};
use madoguchi_tests::vcard::{CardModel, Fault, LeBeyondEnd, VirtualCard};
use std::sync::mpsc;
use std::time::Duration;

/// The kiosk's reader in these tests (the first vpcd slot).
pub(crate) const READER: Option<&str> = Some("Virtual PCD 00 00");

pub(crate) fn pin(p: &str) -> Pin {
    Pin::new_4_digits(p.as_bytes()).unwrap()
}

/// A virtual card in the kiosk's reader, once pcscd reports it.
pub(crate) fn inserted(model: CardModel) -> VirtualCard {
    let card = VirtualCard::new(ensure_pcscd().unwrap().vpcd_port(), model);
    card.insert().unwrap();
    wait_until(Duration::from_secs(10), "pcscd sees the card", || {
        with_card(READER, |_| Ok(())).is_ok()
    })
    .unwrap();
    card
}

/// The My Number file (EF 0001) was never selected or read, in any form.
fn assert_my_number_untouched(card: &VirtualCard) {
    assert_eq!(
        card.with(|m| m.my_number_accesses()),
        Vec::<Vec<u8>>::new(),
        "EF 0001 (the My Number) is never touched, in any form"
    );
}

fn verify(cert_der: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let cert = openssl::x509::X509::from_der(cert_der).unwrap();
    let key = cert.public_key().unwrap();
    let mut v = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    v.update(message).unwrap();
    v.verify(signature).unwrap_or(false)
}

/// No card, then a card: identification and the basic-4 read within their APDU budget, and
/// JPKI user authentication whose signature verifies.
#[test]
fn reads_identify_and_authenticate_within_their_apdu_budgets() {
    ensure_pcscd().unwrap();
    let _slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();

    // Reader with no card.
    assert_eq!(
        with_card(READER, |_| Ok(())).unwrap_err(),
        CardError::NoCard
    );

    // Identify and read with 6 APDUs, tries query included.
    let card = inserted(CardModel::default());
    let before = card.with(|m| m.apdu_count);
    let b = with_card(READER, |t| ops::read_basic4(t, &pin("1234"))).unwrap();
    assert_eq!(b.name.expose(), "山田　太郎");
    assert_eq!(
        card.with(|m| m.apdu_count) - before,
        6,
        "basic-4 read APDU budget"
    );
    let before = card.with(|m| m.apdu_count);
    assert_eq!(
        with_card(READER, ops::identify).unwrap(),
        CardKind::MyNumberCard
    );
    assert_eq!(with_card(READER, ops::text_pin_tries).unwrap(), 3);
    assert_eq!(
        card.with(|m| m.apdu_count) - before,
        6,
        "insertion probe: identify (3) + tries (3)"
    );

    // JPKI user authentication: certificate read in ≤256-byte chunks, signature verifies.
    let doc = "申請書 K01-261121-0001".as_bytes();
    let ev = with_card(READER, |t| ops::jpki_authenticate(t, &pin("1234"), doc)).unwrap();
    assert!(
        ev.certificate.len() > 256,
        "the certificate needs several READ BINARY chunks"
    );
    assert!(
        verify(&ev.certificate, doc, &ev.signature),
        "signature verifies against the card's certificate"
    );
    card.with(|m| {
        assert!(
            m.log.iter().all(|a| a.len() <= 5 + 255 + 1),
            "short APDUs only"
        );
        assert!(
            m.log.iter().filter(|a| a[1] == 0xB0).all(|a| a.len() == 5),
            "READ BINARY with short Le"
        );
    });
    assert_my_number_untouched(&card);
}

/// Wrong PINs count down to a lock; a locked card is never sent a VERIFY, and the JPKI
/// counter is its own.
#[test]
fn wrong_pins_count_down_and_a_locked_card_gets_no_verify() {
    ensure_pcscd().unwrap();
    let _slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let card = inserted(CardModel::default());

    // Wrong PIN: 63C2, 63C1, then 63C0 locks; afterwards 6984 and no VERIFY is even sent.
    assert_eq!(
        with_card(READER, |t| ops::read_basic4(t, &pin("0000"))).unwrap_err(),
        CardError::WrongPin { tries_left: 2 }
    );
    assert_eq!(
        with_card(READER, |t| ops::read_basic4(t, &pin("0000"))).unwrap_err(),
        CardError::WrongPin { tries_left: 1 }
    );
    assert_eq!(
        with_card(READER, |t| ops::read_basic4(t, &pin("0000"))).unwrap_err(),
        CardError::PinLocked
    );
    let verifies = card.with(|m| m.log.iter().filter(|a| a.len() > 4 && a[1] == 0x20).count());
    assert_eq!(
        with_card(READER, |t| ops::read_basic4(t, &pin("1234"))).unwrap_err(),
        CardError::PinLocked
    );
    assert_eq!(
        card.with(|m| m.log.iter().filter(|a| a.len() > 4 && a[1] == 0x20).count()),
        verifies,
        "locked: no VERIFY"
    );
    assert_eq!(
        with_card(READER, ops::jpki_auth_pin_tries).unwrap(),
        3,
        "the JPKI counter is separate"
    );
    card.with(|m| m.text_tries = 3);
    assert_my_number_untouched(&card);
}

/// Status words and broken answers at each APDU of a read: each has its stable code, and none
/// costs a real try.
#[test]
fn injected_status_words_and_broken_answers_get_stable_codes() {
    ensure_pcscd().unwrap();
    let _slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let card = inserted(CardModel::default());

    // Status words and broken answers injected at the n-th APDU of the next read
    // (1 SELECT AP, 2 SELECT PIN, 3 tries, 4 VERIFY, 5 SELECT EF, 6 READ).
    let cases: Vec<(usize, Vec<u8>, &str)> = vec![
        (4, vec![0x69, 0x84], "pin-locked"),
        (4, vec![0x63, 0xC0], "pin-locked"),
        (5, vec![0x69, 0x82], "card-status"),
        (1, vec![0x6A, 0x82], "no-text-ap"),
        (6, vec![0x6D, 0x00], "card-status"),
        (6, vec![0x67, 0x00], "card-status"),
        (
            6,
            vec![0xFF, 0x20, 0x40, 0xDF, 0x21, 0x90, 0x00],
            "malformed-response",
        ),
        (
            6,
            vec![0xFF, 0x20, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x90, 0x00],
            "malformed-response",
        ),
        (6, vec![0x90], "reader-error"), // no status word at all
    ];
    for (at, answer, code) in cases {
        card.with(|m| {
            let n = m.apdu_count;
            m.faults.push((n + at, Fault::Answer(answer.clone())));
        });
        let err = with_card(READER, |t| ops::read_basic4(t, &pin("1234"))).unwrap_err();
        assert_eq!(err.code(), code, "answer {answer:02X?} at APDU {at}: {err}");
        card.with(|m| m.faults.clear());
    }
    assert_eq!(
        card.with(|m| m.text_tries),
        3,
        "injected answers cost no real try"
    );
    assert_my_number_untouched(&card);
}

/// The card service: insertion, a card pulled out in the middle of a read, pcscd stopped
/// and started again; the My Number is never touched.
#[test]
fn card_service_follows_insertion_removal_and_a_pcscd_restart() {
    let pcscd = ensure_pcscd().unwrap();
    let _slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let card = inserted(CardModel::default());

    // The card service: insertion, a card pulled out in the middle of a read, pcscd restart.
    let (tx, rx) = mpsc::channel();
    let service = CardService::spawn(READER.map(String::from), move |e| {
        let _ = tx.send(e);
    });
    // Each phase below waits for its events under one overall deadline.
    let mut events = Events::new(rx, Duration::from_secs(30));
    let mut ev = events.next("first state");
    while !matches!(ev, CardEvent::Inserted { .. }) {
        ev = events.next("inserted");
    }
    assert!(
        matches!(
            ev,
            CardEvent::Inserted {
                kind: CardKind::MyNumberCard,
                text_pin_tries: Some(3),
                error: None,
                ..
            }
        ),
        "{ev:?}"
    );
    let CardEvent::Inserted { insertion, .. } = ev else {
        unreachable!()
    };
    card.with(|m| {
        let n = m.apdu_count;
        m.faults.push((n + 6, Fault::Remove)); // pulled out on the READ BINARY
    });
    service.send(CardCommand::ReadBasic4 {
        pin: pin("1234"),
        insertion,
        tries_shown: 3,
    });
    events.renew(Duration::from_secs(30));
    let mut got_read = false;
    let mut got_removed = false;
    while !(got_read && got_removed) {
        match events.next("read result and removal") {
            CardEvent::Read(r) => {
                let err = r.expect_err("no identity from a half-read card");
                assert!(
                    matches!(
                        err,
                        CardError::CardRemoved | CardError::NoCard | CardError::Reader { .. }
                    ),
                    "{err:?}"
                );
                got_read = true;
            }
            CardEvent::Removed => got_removed = true,
            _ => {}
        }
    }

    // pcscd goes away and comes back: the service reports it and recovers without a restart.
    // Only this test's own pcscd is stopped; the machine's daemon is never touched.
    events.renew(Duration::from_secs(30));
    pcscd.stop().unwrap();
    loop {
        if let CardEvent::ReaderProblem(_) = events.next("pcscd gone") {
            break;
        }
    }
    pcscd.start().unwrap();
    card.insert().unwrap();
    events.renew(Duration::from_secs(30));
    loop {
        if let CardEvent::Inserted { kind, .. } = events.next("card back after pcscd restart") {
            assert_eq!(kind, CardKind::MyNumberCard);
            break;
        }
    }
    assert_my_number_untouched(&card);
    card.remove();
}

/// A second reader: the configured reader ignores a card in the other slot, while an
/// unfiltered lookup finds it.
#[test]
fn only_the_configured_reader_is_used() {
    let pcscd = ensure_pcscd().unwrap();
    let _slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();

    // A second reader: the kiosk's configured reader ignores a card in the other slot,
    // while an unfiltered lookup finds it.
    let other = VirtualCard::new(pcscd.vpcd_port() + 1, CardModel::default());
    other.insert().unwrap();
    wait_until(
        Duration::from_secs(10),
        "the second reader sees its card",
        || with_card(Some("Virtual PCD 00 01"), |_| Ok(())).is_ok(),
    )
    .unwrap();
    assert_eq!(
        with_card(READER, |_| Ok(())).unwrap_err(),
        CardError::NoCard
    );
    assert_eq!(
        with_card(None, ops::identify).unwrap(),
        CardKind::MyNumberCard
    );
    other.remove();
}

/// Each way a card answers a READ BINARY asking for more than is left (the rest with `9000`,
/// the rest with `6282`, or `6Cxx` with the exact length), over pcscd: the kiosk reads the
/// basic-4 file and the multi-chunk certificate under each, with the APDUs each way costs.
#[test]
fn reads_under_each_oversized_le_answer() {
    ensure_pcscd().unwrap();
    let _slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    for (mode, sw, basic4_apdus) in [
        (LeBeyondEnd::Remainder, 0x9000, 6),
        (LeBeyondEnd::EndOfFile, 0x6282, 6),
        (LeBeyondEnd::WrongLength, 0x6C68, 7),
    ] {
        let mut model = CardModel::default();
        model.le_beyond_end = mode;
        let card = inserted(model);
        let before = card.with(|m| m.log.len());
        let b = with_card(READER, |t| ops::read_basic4(t, &pin("1234"))).unwrap();
        assert_eq!(
            (b.name.expose().as_str(), b.birth.expose().as_str()),
            ("山田　太郎", "19800217"),
            "{mode:?}"
        );
        card.with(|m| {
            assert_eq!(m.log.len() - before, basic4_apdus, "{mode:?}");
            assert!(
                m.sw_log[m.sw_log.len() - basic4_apdus..].contains(&sw),
                "{mode:?}: the card answered {sw:04X}"
            );
        });
        let cert = with_card(READER, ops::read_auth_certificate).unwrap();
        assert_eq!(cert, card.with(|m| m.pki.auth_cert_der.clone()), "{mode:?}");
        assert_eq!(card.with(|m| m.my_number_accesses()), Vec::<Vec<u8>>::new());
        card.remove();
        wait_until(Duration::from_secs(10), "card gone", || {
            with_card(READER, |_| Ok(())) == Err(CardError::NoCard)
        })
        .unwrap();
    }
}
