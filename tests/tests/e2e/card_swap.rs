//! A card swapped for another between the PIN tries query and VERIFY (issue 10, finding 1),
//! over real PC/SC (pcscd + vpcd + the virtual card): the PIN reaches neither card and the
//! change is reported. Its own test binary, so that its card service (a thread that lives as
//! long as the process) never probes the cards of another test.

use crate::card_pcsc::{inserted, pin, READER};
use kiosk_app::card::ops::{self, CardKind};
use kiosk_app::card::pcsc_reader::{with_card, CardCommand, CardService};
use kiosk_app::card::CardError;
use kiosk_app::domain::CardEvent;
use madoguchi_tests::harness::{ensure_pcscd, wait_until, Events, FileLock};
use madoguchi_tests::vcard::{CardModel, Fault, VirtualCard};
use std::sync::mpsc;
use std::time::Duration;

/// The reader's card present flag and PC/SC event count, as any other client sees them.
fn reader_now(reader: &str) -> (bool, u32) {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let name = std::ffi::CString::new(reader).unwrap();
    let mut st = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
    let _ = ctx.get_status_change(Duration::ZERO, &mut st);
    (
        st[0].event_state().contains(pcsc::State::PRESENT),
        st[0].event_count(),
    )
}

fn verifies_with_data(card: &VirtualCard) -> usize {
    card.with(|m| m.log.iter().filter(|a| a.len() > 4 && a[1] == 0x20).count())
}

/// Finding 1 of issue 10: the card is taken out and another one put in right after its PIN
/// tries were read for the screen, before the resident's PIN is sent. The PIN must reach
/// neither card; the service reports the change (the read says `card-changed`, the watcher a
/// removal and a new insertion); the second card's tries are untouched. Both cards have the
/// same PIN and the same tries: only the card's identity can tell them apart.
#[test]
fn card_swapped_between_tries_query_and_verify() {
    let port = ensure_pcscd().unwrap().vpcd_port();
    let _slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let mut other = CardModel::default();
    other.holder.name = "川口　花子".into();
    let second = VirtualCard::new(port, other);
    let first = inserted(CardModel::default());

    // The service's insertion probe is identify (3 APDUs) then the tries query (3): right
    // after answering the tries query, the card is swapped.
    first.with(|m| {
        let n = m.apdu_count;
        m.faults
            .push((n + 6, Fault::SwapTo(Box::new(second.clone()))));
    });
    let (tx, rx) = mpsc::channel();
    let service = CardService::spawn(READER.map(String::from), move |e| {
        let _ = tx.send(e);
    });
    // All the events this test waits for, under one overall deadline.
    let events = Events::new(rx, Duration::from_secs(45));
    let next = |what: &str| events.next(what);
    let insertion = loop {
        if let CardEvent::Inserted {
            kind,
            text_pin_tries,
            insertion,
            ..
        } = next("the first card")
        {
            assert_eq!((kind, text_pin_tries), (CardKind::MyNumberCard, Some(3)));
            break insertion;
        }
    };
    // pcscd has seen the swap: a card is present again, under a new event count.
    wait_until(
        Duration::from_secs(10),
        "pcscd sees the second card",
        || {
            let (present, count) = reader_now(&insertion.reader);
            present && count != insertion.event_count
        },
    )
    .unwrap();

    // The resident types the first card's PIN after seeing its tries.
    service.send(CardCommand::ReadBasic4 {
        pin: pin("1234"),
        insertion: insertion.clone(),
        tries_shown: 3,
    });
    let (mut read, mut removed, mut new_card) = (None, false, None);
    while read.is_none() || new_card.is_none() {
        match next("the read's answer and the new card") {
            CardEvent::Read(r) => read = Some(r.map(|b| b.name.expose().clone())),
            CardEvent::Removed => removed = true,
            CardEvent::Inserted {
                insertion: i,
                text_pin_tries,
                ..
            } => {
                assert!(removed, "the swap is reported as a removal first");
                assert_ne!(i, insertion, "the second card is a new insertion");
                new_card = Some(text_pin_tries);
            }
            _ => {}
        }
    }
    assert_eq!(
        read.unwrap(),
        Err(CardError::CardChanged),
        "the read names the card change"
    );
    assert_eq!(new_card.unwrap(), Some(3), "the second card's own tries");
    assert_eq!(
        verifies_with_data(&second),
        0,
        "no VERIFY with the PIN reached the second card"
    );
    assert_eq!(verifies_with_data(&first), 0);
    assert_eq!(second.with(|m| m.text_tries), 3, "its tries are untouched");

    // The same swap inside one connection (between the tries query and VERIFY of a read):
    // the connection sees the card go and the read ends there; it is never retried.
    let before = second.with(|m| m.apdu_count);
    let third = VirtualCard::new(port, CardModel::default());
    second.with(|m| {
        m.faults
            .push((before + 3, Fault::SwapTo(Box::new(third.clone()))))
    });
    let err = with_card(READER, |t| ops::read_basic4(t, &pin("1234"))).unwrap_err();
    assert!(
        matches!(
            err,
            CardError::CardChanged | CardError::CardRemoved | CardError::Reader { .. }
        ),
        "{err:?}"
    );
    assert_eq!(verifies_with_data(&second), 0);
    assert_eq!(
        verifies_with_data(&third),
        0,
        "no VERIFY on the card put in"
    );
    assert_eq!(third.with(|m| m.text_tries), 3);
    // Leave the reader empty for the next card test.
    third.remove();
    wait_until(Duration::from_secs(10), "card gone", || {
        !reader_now(&insertion.reader).0
    })
    .unwrap();
    drop(service);
}
