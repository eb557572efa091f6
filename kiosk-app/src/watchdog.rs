//! Work that must end by a deadline whatever it does. Printers, DNS and the kernel can each
//! block a thread longer than anyone should wait; the job runs on its own thread and its
//! answer is awaited only until the deadline. A late answer is dropped unread, a panic is
//! reported rather than lost.

use std::sync::mpsc;
use std::time::Duration;

/// How a job ended, as far as its caller is concerned.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    /// It answered in time.
    Done(T),
    /// No answer by the deadline; whatever the job does afterwards is ignored.
    Late,
    /// The job panicked, or no thread could be started for it.
    Crashed,
}

/// Runs `job` on a thread named `name` and waits for it, at most `limit` when given.
pub fn run<T: Send + 'static>(
    name: &str,
    limit: Option<Duration>,
    job: impl FnOnce() -> T + Send + 'static,
) -> Outcome<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    // A panic drops `tx` while unwinding, which wakes the receiver at once.
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = tx.send(job());
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, thread = name, "cannot start a worker thread");
        return Outcome::Crashed;
    }
    let answer = match limit {
        Some(limit) => rx.recv_timeout(limit),
        None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
    };
    match answer {
        Ok(t) => Outcome::Done(t),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            tracing::error!(thread = name, ?limit, "worker gave no answer in time");
            Outcome::Late
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            tracing::error!(thread = name, "worker crashed");
            Outcome::Crashed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_late_answer_and_panic() {
        assert_eq!(
            run("quick", Some(Duration::from_secs(5)), || 7),
            Outcome::Done(7)
        );
        let (release, stuck) = mpsc::channel::<()>();
        let (finished_tx, finished) = mpsc::channel();
        let late = run("stuck", Some(Duration::from_millis(50)), move || {
            let _ = stuck.recv();
            let _ = finished_tx.send(());
            1
        });
        assert_eq!(late, Outcome::Late);
        // Released after the deadline, the job ends and its answer goes nowhere.
        release.send(()).unwrap();
        finished.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(
            run("panics", None, || -> u8 { panic!("worker bug") }),
            Outcome::Crashed
        );
        assert_eq!(
            run("panics", Some(Duration::from_secs(5)), || -> u8 {
                panic!("worker bug")
            }),
            Outcome::Crashed
        );
    }
}
