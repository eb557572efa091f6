//! PC/SC edge: the [`CardTransport`] over pcscd, a one-shot helper for `kioskctl`, and the
//! [`CardService`] thread that watches readers and runs card operations for the session.

use super::basic4::Basic4;
use super::ops::{self, CardKind};
use super::{CardError, CardTransport};
use crate::secret::Pin;
use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use serde::Serialize;
use std::ffi::{CStr, CString};
use std::sync::Arc;
use std::time::Duration;

fn map_err(e: pcsc::Error) -> CardError {
    use pcsc::Error as E;
    match e {
        E::RemovedCard | E::ResetCard | E::NoSmartcard | E::UnpoweredCard | E::UnresponsiveCard => {
            CardError::CardRemoved
        }
        E::ReaderUnavailable | E::UnknownReader | E::NoReadersAvailable => CardError::NoReader,
        E::NoService | E::ServiceStopped | E::InvalidHandle => CardError::NoService,
        other => CardError::Reader {
            detail: other.to_string(),
        },
    }
}

/// One connected card; the connection is exclusive, so no other process can interleave APDUs.
pub struct PcscCard(pcsc::Card);

impl CardTransport for PcscCard {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        let mut buf = zeroize::Zeroizing::new([0u8; 258]);
        let answer = self.0.transmit(apdu, &mut buf[..]).map_err(map_err)?;
        if answer.len() < 2 {
            // Seen when the card leaves mid-command: end the operation, the watcher reports it.
            return Err(CardError::Reader {
                detail: "the reader returned no status word".into(),
            });
        }
        Ok(answer.to_vec())
    }
}

/// A reader as `kioskctl card status` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ReaderInfo {
    pub name: String,
    pub card_present: bool,
}

fn matches_filter(name: &CStr, filter: Option<&str>) -> bool {
    filter.is_none_or(|f| name.to_string_lossy().contains(f))
}

/// Lists readers (matching the optional name filter) and whether each holds a card.
pub fn list_readers(ctx: &Context, filter: Option<&str>) -> Result<Vec<ReaderInfo>, CardError> {
    let names = match ctx.list_readers_owned() {
        Ok(n) => n,
        Err(pcsc::Error::NoReadersAvailable) => vec![],
        Err(e) => return Err(map_err(e)),
    };
    let mut states: Vec<ReaderState> = names
        .into_iter()
        .filter(|n| matches_filter(n, filter))
        .map(|n| ReaderState::new(n, State::UNAWARE))
        .collect();
    if states.is_empty() {
        return Ok(vec![]);
    }
    ctx.get_status_change(Duration::ZERO, &mut states)
        .map_err(map_err)?;
    Ok(states
        .iter()
        .map(|s| ReaderInfo {
            name: s.name().to_string_lossy().into_owned(),
            card_present: card_present(s.event_state()),
        })
        .collect())
}

fn card_present(state: State) -> bool {
    state.contains(State::PRESENT) && !state.contains(State::MUTE)
}

pub fn establish() -> Result<Context, CardError> {
    Context::establish(Scope::User).map_err(map_err)
}

/// Connects to the first reader holding a card, runs `f` with exclusive access, disconnects.
pub fn with_card<T>(
    filter: Option<&str>,
    f: impl FnOnce(&mut dyn CardTransport) -> Result<T, CardError>,
) -> Result<T, CardError> {
    let ctx = establish()?;
    let readers = list_readers(&ctx, filter)?;
    if readers.is_empty() {
        return Err(CardError::NoReader);
    }
    let reader = readers
        .iter()
        .find(|r| r.card_present)
        .ok_or(CardError::NoCard)?;
    run_on(
        &ctx,
        &CString::new(reader.name.clone()).expect("reader names have no NUL"),
        f,
    )
}

fn run_on<T>(
    ctx: &Context,
    reader: &CStr,
    f: impl FnOnce(&mut dyn CardTransport) -> Result<T, CardError>,
) -> Result<T, CardError> {
    let card = ctx
        .connect(reader, ShareMode::Exclusive, Protocols::ANY)
        .map_err(|e| match e {
            pcsc::Error::NoSmartcard => CardError::NoCard,
            e => map_err(e),
        })?;
    let mut card = PcscCard(card);
    let result = f(&mut card);
    let PcscCard(inner) = card;
    let _ = inner.disconnect(Disposition::LeaveCard);
    result
}

/// What the card service tells the session.
#[derive(Debug)]
pub enum CardEvent {
    /// No usable reader or no pcscd; the kiosk cannot take cards right now.
    ReaderProblem(CardError),
    /// Readers are fine and empty.
    NoCard,
    /// A card was inserted and identified.
    Inserted {
        kind: CardKind,
        text_pin_tries: Option<u8>,
        error: Option<CardError>,
    },
    Removed,
    /// Result of [`CardCommand::ReadBasic4`].
    Read(Result<Basic4, CardError>),
}

pub enum CardCommand {
    ReadBasic4(Pin),
}

type Events = Arc<dyn Fn(CardEvent) + Send + Sync>;

/// Watches readers on its own thread and runs card operations for the session, each on a
/// short-lived thread with its own PC/SC context and an exclusive connection.
pub struct CardService {
    filter: Option<String>,
    events: Events,
}

impl CardService {
    pub fn spawn(
        filter: Option<String>,
        events: impl Fn(CardEvent) + Send + Sync + 'static,
    ) -> Self {
        let events: Events = Arc::new(events);
        let watcher = Watcher {
            filter: filter.clone(),
            events: events.clone(),
        };
        std::thread::Builder::new()
            .name("card-watch".into())
            .spawn(move || watcher.run())
            .expect("spawn card thread");
        CardService { filter, events }
    }

    /// Runs a command now; its result arrives as a [`CardEvent`].
    pub fn send(&self, cmd: CardCommand) {
        let (filter, events) = (self.filter.clone(), self.events.clone());
        let spawned = std::thread::Builder::new()
            .name("card-op".into())
            .spawn(move || match cmd {
                CardCommand::ReadBasic4(pin) => {
                    let result = with_card(filter.as_deref(), |t| ops::read_basic4(t, &pin));
                    drop(pin);
                    if let Err(e) = &result {
                        tracing::info!(code = e.code(), "card read failed");
                    }
                    events(CardEvent::Read(result));
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a card operation");
            (self.events)(CardEvent::Read(Err(CardError::Reader {
                detail: e.to_string(),
            })));
        }
    }
}

struct Watcher {
    filter: Option<String>,
    events: Events,
}

#[derive(PartialEq)]
enum Seen {
    Unknown,
    Problem(String),
    Empty,
    Card(CString, u32),
}

impl Watcher {
    fn run(self) {
        let mut seen = Seen::Unknown;
        loop {
            let ctx = match establish() {
                Ok(c) => c,
                Err(e) => {
                    self.report_problem(&mut seen, e);
                    std::thread::sleep(Duration::from_secs(1)); // pcscd is down: retry calmly
                    continue;
                }
            };
            if let Err(e) = self.watch(&ctx, &mut seen) {
                tracing::warn!(error = %e, "card reader problem; re-establishing PC/SC");
                self.report_problem(&mut seen, e);
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }

    fn report_problem(&self, seen: &mut Seen, e: CardError) {
        if matches!(seen, Seen::Card(..)) {
            (self.events)(CardEvent::Removed);
        }
        let key = Seen::Problem(e.code().into());
        if *seen != key {
            tracing::warn!(code = e.code(), "card reader unavailable");
            (self.events)(CardEvent::ReaderProblem(e));
            *seen = key;
        }
    }

    fn watch(&self, ctx: &Context, seen: &mut Seen) -> Result<(), CardError> {
        let mut readers: Vec<ReaderState> = vec![];
        let mut names_known: Vec<CString> = vec![];
        loop {
            let names = match ctx.list_readers_owned() {
                Ok(n) => n,
                Err(pcsc::Error::NoReadersAvailable) => vec![],
                Err(e) => return Err(map_err(e)),
            };
            let names: Vec<CString> = names
                .into_iter()
                .filter(|n| matches_filter(n, self.filter.as_deref()))
                .collect();
            if names != names_known {
                readers = names
                    .iter()
                    .map(|n| ReaderState::new(n.clone(), State::UNAWARE))
                    .collect();
                names_known = names;
            }
            // Learn the current state without waiting, then act on it.
            let mut all = readers.clone_states();
            all.push(ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE));
            let now = Duration::ZERO;
            match ctx.get_status_change(now, &mut all) {
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(e) => return Err(map_err(e)),
            }
            let present = all[..readers.len()]
                .iter()
                .find(|s| card_present(s.event_state()))
                .map(|s| (s.name().to_owned(), s.event_count()));
            self.update(ctx, seen, readers.is_empty(), present);
            // Wait for any change (reader plugged, card in/out) or a command.
            for s in all.iter_mut() {
                s.sync_current_state();
            }
            match ctx.get_status_change(Duration::from_secs(2), &mut all) {
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(pcsc::Error::UnknownReader) | Err(pcsc::Error::ReaderUnavailable) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
    }

    fn update(
        &self,
        ctx: &Context,
        seen: &mut Seen,
        no_readers: bool,
        present: Option<(CString, u32)>,
    ) {
        let next = match (&present, no_readers) {
            (_, true) => Seen::Problem("no_reader".into()),
            (None, false) => Seen::Empty,
            (Some((name, count)), false) => Seen::Card(name.clone(), *count),
        };
        if *seen == next {
            return;
        }
        let was_card = matches!(seen, Seen::Card(..));
        let is_same_card =
            matches!((&*seen, &next), (Seen::Card(a, _), Seen::Card(b, _)) if a == b);
        if was_card && !is_same_card {
            (self.events)(CardEvent::Removed);
        }
        match &next {
            Seen::Problem(_) => (self.events)(CardEvent::ReaderProblem(CardError::NoReader)),
            Seen::Empty => (self.events)(CardEvent::NoCard),
            Seen::Card(name, _) if !is_same_card => {
                let probe = run_on(ctx, name, |t| {
                    let kind = ops::identify(t)?;
                    if kind != CardKind::MyNumberCard {
                        return Ok((kind, None, kind.check_usable().err()));
                    }
                    match ops::text_pin_tries(t) {
                        Ok(n) => Ok((kind, Some(n), None)),
                        Err(e @ CardError::NoTextAp) => Ok((kind, None, Some(e))),
                        Err(e) => Err(e),
                    }
                });
                match probe {
                    Ok((kind, tries, error)) => {
                        tracing::info!(kind = ?kind, tries_left = ?tries, "card inserted");
                        (self.events)(CardEvent::Inserted {
                            kind,
                            text_pin_tries: tries,
                            error,
                        })
                    }
                    Err(CardError::CardRemoved) | Err(CardError::NoCard) => {
                        // Pulled out while we read it: report nothing half-read.
                        *seen = Seen::Empty;
                        (self.events)(CardEvent::NoCard);
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(code = e.code(), error = %e, "card could not be identified");
                        (self.events)(CardEvent::Inserted {
                            kind: CardKind::Unknown,
                            text_pin_tries: None,
                            error: Some(e),
                        })
                    }
                }
            }
            Seen::Card(..) | Seen::Unknown => {}
        }
        *seen = next;
    }
}

trait CloneStates {
    fn clone_states(&self) -> Vec<ReaderState>;
}

impl CloneStates for Vec<ReaderState> {
    fn clone_states(&self) -> Vec<ReaderState> {
        self.iter()
            .map(|s| ReaderState::new(s.name().to_owned(), State::UNAWARE))
            .collect()
    }
}
