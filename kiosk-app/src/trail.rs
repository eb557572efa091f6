//! The path of each resident's session through the screens, for the journal: a random session
//! number and the screen names, nothing the resident typed or the card held. `kioskctl logs`
//! reads it back so that a technician can see where the last resident got stuck.

use crate::session::Screen;

/// Follows the screens shown and says which to log.
#[derive(Debug, Default)]
pub struct Trail {
    session: Option<String>,
    last: Option<Screen>,
}

/// One line for the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The session `session` reached `screen`.
    Screen {
        /// A random number of this session only.
        session: String,
        /// Where it is now.
        screen: Screen,
    },
    /// The session is over: back on the welcome screen.
    Ended {
        /// Which.
        session: String,
        /// The last screen it reached.
        last: Screen,
    },
}

impl Trail {
    /// `screen` is shown now; what to log, if anything. Sessions start when the welcome
    /// screen is left and end when it is back.
    pub fn shown(&mut self, screen: Screen) -> Option<Step> {
        let previous = self.last.replace(screen);
        if previous == Some(screen) {
            return None;
        }
        if screen == Screen::Welcome {
            let last = previous.unwrap_or(Screen::Welcome);
            return self
                .session
                .take()
                .map(|session| Step::Ended { session, last });
        }
        let session = self
            .session
            .get_or_insert_with(|| format!("{:08x}", rand::random::<u32>()))
            .clone();
        Some(Step::Screen { session, screen })
    }

    /// Logs what [`Trail::shown`] says; the step, for the metrics.
    pub fn log(&mut self, screen: Screen) -> Option<Step> {
        let step = self.shown(screen);
        match &step {
            Some(Step::Screen { session, screen }) => {
                tracing::info!(session = %session, screen = ?screen, "screen")
            }
            Some(Step::Ended { session, last }) => {
                tracing::info!(session = %session, last_screen = ?last, outcome = crate::metrics::outcome(*last), "session ended")
            }
            None => {}
        }
        step
    }
}

/// One step of a logged session, as `kioskctl logs` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoggedStep {
    /// Microseconds since the Unix epoch (the journal's time).
    pub time_us: u64,
    /// A screen name, or `ended`.
    pub screen: String,
}

/// The last session's steps in `journalctl -o json` output (one JSON object per line, the
/// kiosk's fields upper-cased by journald: `SESSION`, `SCREEN`), or those of `session`.
pub fn session_path(
    journal_json: &str,
    session: Option<&str>,
) -> Option<(String, Vec<LoggedStep>)> {
    let entries: Vec<serde_json::Value> = journal_json
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let field =
        |e: &serde_json::Value, k: &str| e.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let wanted = match session {
        Some(s) => s.to_owned(),
        None => entries.iter().rev().find_map(|e| field(e, "SESSION"))?,
    };
    let steps: Vec<LoggedStep> = entries
        .iter()
        .filter(|e| field(e, "SESSION").as_deref() == Some(wanted.as_str()))
        .map(|e| LoggedStep {
            time_us: field(e, "__REALTIME_TIMESTAMP")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0),
            screen: field(e, "SCREEN").unwrap_or_else(|| "ended".into()),
        })
        .collect();
    (!steps.is_empty()).then_some((wanted, steps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_numbered_from_leaving_welcome_to_coming_back() {
        let mut t = Trail::default();
        assert_eq!(t.shown(Screen::Welcome), None);
        let Some(Step::Screen { session, screen }) = t.shown(Screen::InsertCard) else {
            panic!()
        };
        assert_eq!(screen, Screen::InsertCard);
        assert_eq!(
            t.shown(Screen::InsertCard),
            None,
            "a repeated view is not a step"
        );
        assert_eq!(
            t.shown(Screen::Pin),
            Some(Step::Screen {
                session: session.clone(),
                screen: Screen::Pin
            })
        );
        assert_eq!(
            t.shown(Screen::Welcome),
            Some(Step::Ended {
                session: session.clone(),
                last: Screen::Pin
            })
        );
        let Some(Step::Screen { session: next, .. }) = t.shown(Screen::InsertCard) else {
            panic!()
        };
        assert_ne!(next, session, "each session has its own number");
    }

    #[test]
    fn the_last_session_path_is_read_back_from_the_journal() {
        let journal = [
            r#"{"__REALTIME_TIMESTAMP":"1","SESSION":"aaaa0001","SCREEN":"InsertCard","MESSAGE":"screen"}"#,
            r#"{"__REALTIME_TIMESTAMP":"2","SESSION":"aaaa0001","MESSAGE":"session ended"}"#,
            r#"{"__REALTIME_TIMESTAMP":"3","MESSAGE":"receipt printed and confirmed"}"#,
            r#"{"__REALTIME_TIMESTAMP":"4","SESSION":"bbbb0002","SCREEN":"InsertCard"}"#,
            "not json",
            r#"{"__REALTIME_TIMESTAMP":"5","SESSION":"bbbb0002","SCREEN":"Pin"}"#,
        ]
        .join("\n");
        let (id, steps) = session_path(&journal, None).unwrap();
        assert_eq!(id, "bbbb0002");
        assert_eq!(
            steps.iter().map(|s| s.screen.as_str()).collect::<Vec<_>>(),
            ["InsertCard", "Pin"]
        );
        let (_, steps) = session_path(&journal, Some("aaaa0001")).unwrap();
        assert_eq!(steps[1].screen, "ended");
        assert_eq!(session_path(&journal, Some("cccc")), None);
    }
}
