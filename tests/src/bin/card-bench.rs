//! Card timings through pcscd and the vpcd reader: card insertion → "ready for PIN"
//! (identified, tries known), PIN submit → basic-4 data, and the APDU count of each
//! operation. Prints one line per figure for BENCHMARKS.md.

use kiosk_app::card::ops;
use kiosk_app::card::pcsc_reader::{with_card, CardCommand, CardService};
use kiosk_app::domain::CardEvent;
use kiosk_app::secret::Pin;
use madoguchi_tests::harness::{ensure_pcscd, wait_until, FileLock};
use madoguchi_tests::vcard::{CardModel, VirtualCard};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const READER: Option<&str> = Some("Virtual PCD 00 00");

type Op<'a> = Box<dyn Fn() -> anyhow::Result<()> + 'a>;

fn stats(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: n={} min={:.2} ms median={:.2} ms p95={:.2} ms max={:.2} ms",
        v.len(),
        ms(v[0]),
        ms(v[v.len() / 2]),
        ms(v[v.len() * 95 / 100]),
        ms(v[v.len() - 1])
    );
}

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let pcscd = ensure_pcscd()?;
    let _slot = FileLock::acquire("madoguchi-vcard.lock")?;
    let card = VirtualCard::new(pcscd.vpcd_port(), CardModel::default());
    let (tx, rx) = mpsc::channel();
    let service = CardService::spawn(READER.map(String::from), move |e| {
        let _ = tx.send(e);
    });
    let wait = |pred: &dyn Fn(&CardEvent) -> bool| -> anyhow::Result<()> {
        loop {
            let e = rx.recv_timeout(Duration::from_secs(20))?;
            if pred(&e) {
                return Ok(());
            }
        }
    };
    wait(&|e| matches!(e, CardEvent::NoCard))?;
    let (mut ready, mut read) = (vec![], vec![]);
    for _ in 0..rounds {
        let t = Instant::now();
        card.insert()?;
        let insertion = loop {
            if let CardEvent::Inserted { insertion, .. } =
                rx.recv_timeout(Duration::from_secs(20))?
            {
                break insertion;
            }
        };
        ready.push(t.elapsed());
        let t = Instant::now();
        service.send(CardCommand::ReadBasic4 {
            pin: Pin::new_4_digits(b"1234")?,
            insertion,
            tries_shown: 3,
        });
        wait(&|e| matches!(e, CardEvent::Read(Ok(_))))?;
        read.push(t.elapsed());
        card.remove();
        wait(&|e| matches!(e, CardEvent::Removed))?;
    }
    stats("insertion -> ready for PIN (CardService)", ready);
    stats("PIN submit -> basic-4 data (CardService)", read);

    // APDU counts and raw operation times with the card held.
    card.insert()?;
    let count = |f: &dyn Fn() -> anyhow::Result<()>| -> anyhow::Result<(usize, Duration)> {
        let before = card.with(|m| m.apdu_count);
        let t = Instant::now();
        f()?;
        Ok((card.with(|m| m.apdu_count) - before, t.elapsed()))
    };
    let pin = Pin::new_4_digits(b"1234")?;
    wait_until(Duration::from_secs(10), "pcscd sees the card", || {
        with_card(READER, |_| Ok(())).is_ok()
    })?;
    let ops: Vec<(&str, Op)> = vec![
        (
            "identify (JPKI token label)",
            Box::new(|| Ok(with_card(READER, ops::identify).map(drop)?)),
        ),
        (
            "text-AP PIN tries",
            Box::new(|| Ok(with_card(READER, ops::text_pin_tries).map(drop)?)),
        ),
        (
            "JPKI auth PIN tries",
            Box::new(|| Ok(with_card(READER, ops::jpki_auth_pin_tries).map(drop)?)),
        ),
        (
            "basic-4 read with PIN (tries query included)",
            Box::new(|| Ok(with_card(READER, |t| ops::read_basic4(t, &pin)).map(drop)?)),
        ),
        (
            "auth certificate read",
            Box::new(|| Ok(with_card(READER, ops::read_auth_certificate).map(drop)?)),
        ),
        (
            "JPKI authenticate (cert + PIN + sign)",
            Box::new(|| {
                Ok(with_card(READER, |t| ops::jpki_authenticate(t, &pin, b"doc")).map(drop)?)
            }),
        ),
    ];
    for (name, f) in &ops {
        let mut times = vec![];
        let mut apdus = 0;
        for _ in 0..rounds {
            let (n, d) = count(f.as_ref())?;
            apdus = n;
            times.push(d);
        }
        print!("{name}: {apdus} APDUs; ");
        stats("time", times);
    }
    card.remove();
    Ok(())
}
