//! PC/SC edge: the [`CardTransport`] over pcscd, a one-shot helper for `kioskctl`, and the
//! [`CardService`] thread that watches readers and runs card operations for the session.

use super::ops::{self, CardKind};
use super::{CardError, CardTransport};
use crate::domain::{CardEvent, CardInsertion};
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
/// It remembers the reader's PC/SC event count from before it connected: any removal or
/// insertion since moves that count on, however fast the swap.
pub struct PcscCard {
    card: pcsc::Card,
    ctx: Context,
    reader: CString,
    event_count: u32,
}

/// Bytes as spaced hex, for the APDU trace (headers and status words only).
fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl CardTransport for PcscCard {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        let mut buf = zeroize::Zeroizing::new([0u8; 258]);
        let answer = self.card.transmit(apdu, &mut buf[..]).map_err(map_err)?;
        if answer.len() < 2 {
            // Seen when the card leaves mid-command: end the operation, the watcher reports it.
            return Err(CardError::Reader {
                detail: "the reader returned no status word".into(),
            });
        }
        // For diagnosis: the command header, how many data bytes went and came back, and the
        // status word. Never the data: it carries the PIN out and the holder's data back.
        let (data, sw) = answer.split_at(answer.len() - 2);
        tracing::trace!(
            header = %hex(&apdu[..apdu.len().min(4)]),
            body_len = apdu.len().saturating_sub(4),
            data_len = data.len(),
            sw = %hex(sw),
            "APDU"
        );
        Ok(answer.to_vec())
    }

    /// The connection itself (pcscd marks it when the card is reset or removed; such a
    /// connection is never reconnected) and the reader's event count must both still say
    /// "the same card".
    fn ensure_same_card(&mut self) -> Result<(), CardError> {
        match self.card.status2_owned() {
            Ok(_) => {}
            Err(
                e @ (pcsc::Error::ResetCard | pcsc::Error::RemovedCard | pcsc::Error::NoSmartcard),
            ) => {
                tracing::warn!(error = %e, "card reset or removed under the connection; PIN not tried");
                return Err(CardError::CardChanged);
            }
            Err(e) => return Err(map_err(e)),
        }
        let (present, count) = reader_state(&self.ctx, &self.reader)?;
        if !present || count != self.event_count {
            tracing::warn!(
                expected = self.event_count,
                now = count,
                present,
                "card removed or replaced since it was seen; PIN not tried"
            );
            return Err(CardError::CardChanged);
        }
        Ok(())
    }
}

/// Whether the reader holds a usable card, and its event count, without waiting.
fn reader_state(ctx: &Context, reader: &CStr) -> Result<(bool, u32), CardError> {
    let mut states = [ReaderState::new(reader.to_owned(), State::UNAWARE)];
    match ctx.get_status_change(Duration::ZERO, &mut states) {
        Ok(()) | Err(pcsc::Error::Timeout) => {}
        Err(e) => return Err(map_err(e)),
    }
    Ok((
        card_present(states[0].event_state()),
        states[0].event_count(),
    ))
}

/// A reader as `kioskctl card status` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ReaderInfo {
    /// As pcscd names it.
    pub name: String,
    /// A card is in it.
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

/// A PC/SC context, or why there is none.
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
        None,
        f,
    )
}

/// Runs `f` on the card in `reader` over an exclusive connection. With `expected`, the
/// reader's event count must still be that one (the card seen then is the card used now);
/// without, the card present at connection time is the one `f` may talk to.
fn run_on<T>(
    ctx: &Context,
    reader: &CStr,
    expected: Option<u32>,
    f: impl FnOnce(&mut dyn CardTransport) -> Result<T, CardError>,
) -> Result<T, CardError> {
    let (_, event_count) = reader_state(ctx, reader)?;
    if expected.is_some_and(|e| e != event_count) {
        tracing::warn!(
            expected,
            now = event_count,
            "the card was removed or replaced since it was seen"
        );
        return Err(CardError::CardChanged);
    }
    let card = ctx
        .connect(reader, ShareMode::Exclusive, Protocols::ANY)
        .map_err(|e| match e {
            pcsc::Error::NoSmartcard => CardError::NoCard,
            e => map_err(e),
        })?;
    let mut card = PcscCard {
        card,
        ctx: ctx.clone(),
        reader: reader.to_owned(),
        event_count,
    };
    // Swapped while connecting: nothing is sent.
    let result = match card.ensure_same_card() {
        Ok(()) => f(&mut card),
        Err(e) => Err(e),
    };
    let _ = card.card.disconnect(Disposition::LeaveCard);
    result
}

/// Runs `f` on the card of `insertion` only: if that card has left the reader since (another
/// card may be in it now, even after the fastest swap), nothing is sent and the answer is
/// [`CardError::CardChanged`] (or [`CardError::NoCard`] when the reader is empty).
pub fn with_inserted_card<T>(
    insertion: &CardInsertion,
    f: impl FnOnce(&mut dyn CardTransport) -> Result<T, CardError>,
) -> Result<T, CardError> {
    let ctx = establish()?;
    let reader = CString::new(insertion.reader.clone()).map_err(|_| CardError::NoReader)?;
    run_on(&ctx, &reader, Some(insertion.event_count), f)
}

/// What the session asks of the card service.
pub enum CardCommand {
    /// Verify `pin` and read the basic 4 attributes, on the card of `insertion` only, and only
    /// if its tries left are still `tries_shown` (what the holder saw before typing the PIN).
    ReadBasic4 {
        /// Zeroised after use.
        pin: Pin,
        /// The card the PIN is for.
        insertion: CardInsertion,
        /// The tries the resident saw before typing it.
        tries_shown: u8,
    },
}

type Events = Arc<dyn Fn(CardEvent) + Send + Sync>;

/// Watches readers on its own thread and runs card operations for the session, each on a
/// short-lived thread with its own PC/SC context and an exclusive connection.
pub struct CardService {
    events: Events,
}

impl CardService {
    /// Starts the watcher; `on_event` gets every card event.
    pub fn spawn(
        filter: Option<String>,
        events: impl Fn(CardEvent) + Send + Sync + 'static,
    ) -> Self {
        let events: Events = Arc::new(events);
        let watcher = Watcher {
            filter,
            events: events.clone(),
        };
        std::thread::Builder::new()
            .name("card-watch".into())
            .spawn(move || watcher.run())
            .expect("spawn card thread");
        CardService { events }
    }

    /// Runs a command now; its result arrives as a [`CardEvent`].
    pub fn send(&self, cmd: CardCommand) {
        let events = self.events.clone();
        let spawned = std::thread::Builder::new()
            .name("card-op".into())
            .spawn(move || match cmd {
                CardCommand::ReadBasic4 {
                    pin,
                    insertion,
                    tries_shown,
                } => {
                    let result = with_inserted_card(&insertion, |t| {
                        ops::read_basic4_checked(t, &pin, ops::tries_as_shown(tries_shown))
                    });
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
            (_, true) => Seen::Problem("no-reader".into()),
            (None, false) => Seen::Empty,
            (Some((name, count)), false) => Seen::Card(name.clone(), *count),
        };
        let change = transition(seen, &next);
        if change.removed {
            (self.events)(CardEvent::Removed);
        }
        match &next {
            _ if !change.report => {}
            Seen::Problem(_) => (self.events)(CardEvent::ReaderProblem(CardError::NoReader)),
            Seen::Empty => (self.events)(CardEvent::NoCard),
            Seen::Card(name, count) => {
                let insertion = CardInsertion {
                    reader: name.to_string_lossy().into_owned(),
                    event_count: *count,
                };
                let probe = run_on(ctx, name, Some(*count), |t| {
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
                            insertion,
                        })
                    }
                    Err(CardError::CardRemoved) | Err(CardError::NoCard) => {
                        // Pulled out while we read it: report nothing half-read.
                        *seen = Seen::Empty;
                        (self.events)(CardEvent::NoCard);
                        return;
                    }
                    Err(CardError::CardChanged) => {
                        // Swapped while we read it: the next look finds the new card.
                        *seen = Seen::Empty;
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(code = e.code(), error = %e, "card could not be identified");
                        (self.events)(CardEvent::Inserted {
                            kind: CardKind::Unknown,
                            text_pin_tries: None,
                            error: Some(e),
                            insertion,
                        })
                    }
                }
            }
            Seen::Unknown => {}
        }
        *seen = next;
    }
}

/// What a new look at the readers means for the session.
#[derive(Debug, PartialEq, Eq)]
struct Change {
    /// The card the session knew has gone (a swap is a removal, then an insertion).
    removed: bool,
    /// Report the new state (probe a new card, say "no card" or "no reader").
    report: bool,
}

/// A card is the same card only in the same reader with the same event count: pcscd moves
/// the count on at every removal and insertion, so a swap between two looks is seen even when
/// both looks find a card.
fn transition(seen: &Seen, next: &Seen) -> Change {
    if seen == next {
        return Change {
            removed: false,
            report: false,
        };
    }
    Change {
        removed: matches!(seen, Seen::Card(..)),
        report: true,
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

#[cfg(test)]
mod tests;
