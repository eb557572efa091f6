//! Blocking work (printers, PIN hashing, the outbox) off the session thread: each job runs on
//! a thread of its own under [`watchdog::run`] and answers the session with exactly one input.

use crate::session::Input;
use crate::watchdog::{self, Outcome};
use std::sync::mpsc::Sender;
use std::time::Duration;

/// Runs `job` on its own thread (printers and PIN hashing block) under [`watchdog::run`], on a
/// supervising thread, and sends the session exactly one input: `finish` of the outcome
/// (`limit` passed or the job panicked included), or `fallback` when not even that could be
/// done (no thread could be started, or `finish` itself panicked).
pub(super) fn worker<T: Send + 'static>(
    tx: &Sender<Input>,
    name: &'static str,
    limit: Option<Duration>,
    fallback: Input,
    job: impl FnOnce() -> T + Send + 'static,
    finish: impl FnOnce(Outcome<T>) -> Input + Send + 'static,
) {
    let answer = Answer {
        tx: tx.clone(),
        fallback: Some(fallback),
    };
    let spawned = std::thread::Builder::new()
        .name(format!("{name}-watch"))
        .spawn(move || {
            let outcome = watchdog::run(name, limit, job);
            answer.send(finish(outcome));
        });
    if let Err(e) = spawned {
        // The closure was dropped unrun, and with it `answer`: the fallback is on its way.
        tracing::error!(error = %e, thread = name, "cannot start a worker thread");
    }
}

/// A worker's one answer to the session: sent, or else the fallback when dropped.
struct Answer {
    tx: Sender<Input>,
    fallback: Option<Input>,
}

impl Answer {
    fn send(mut self, input: Input) {
        self.fallback = None;
        let _ = self.tx.send(input);
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some(fallback) = self.fallback.take() {
            let _ = self.tx.send(fallback);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PrintProblem;
    use crate::runner::printed;
    use std::sync::mpsc;

    const PATIENCE: Duration = Duration::from_secs(10);

    /// A worker that panics answers with an error at once; so does one whose answer could not
    /// be made.
    #[test]
    fn panicking_worker_becomes_an_error_input() {
        let (tx, rx) = mpsc::channel();
        let finish = |outcome: Outcome<()>| {
            Input::Printed(match outcome {
                Outcome::Done(()) => Ok(()),
                Outcome::Late => Err(PrintProblem::Unconfirmed),
                Outcome::Crashed => Err(PrintProblem::Error),
            })
        };
        let fallback = || Input::Printed(Err(PrintProblem::Offline));
        worker(
            &tx,
            "print",
            None,
            fallback(),
            || panic!("worker bug"),
            finish,
        );
        assert_eq!(
            printed(rx.recv_timeout(PATIENCE).unwrap()),
            Err(PrintProblem::Error)
        );
        worker(
            &tx,
            "print",
            Some(PATIENCE),
            fallback(),
            || (),
            |_| -> Input { panic!("answer bug") },
        );
        assert_eq!(
            printed(rx.recv_timeout(PATIENCE).unwrap()),
            Err(PrintProblem::Offline),
            "the fallback"
        );
        drop(tx);
        assert!(rx.recv().is_err(), "one answer each");
    }
}
