//! How often each service started, and how often after dying rather than stopping: the
//! restart counts of the fleet's metrics, kept where they survive the restart they count.

use super::*;

/// One service's starts so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProcessRuns {
    /// Every start, this one included.
    pub starts: u64,
    /// Starts whose previous run never reached [`Outbox::record_clean_stop`].
    pub unclean_restarts: u64,
}

impl Outbox {
    /// Counts this start of `name`; a previous run still marked running died uncleanly.
    pub fn record_start(&mut self, name: &str) -> Result<ProcessRuns, OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO process_run(name, starts, unclean_restarts, running) VALUES (?1, 1, 0, 1)
             ON CONFLICT(name) DO UPDATE SET starts = starts + 1,
                 unclean_restarts = unclean_restarts + running, running = 1",
            params![name],
        )?;
        let runs = Self::runs_in(&tx, name)?;
        tx.commit()?;
        Ok(runs.unwrap_or(ProcessRuns {
            starts: 1,
            unclean_restarts: 0,
        }))
    }

    /// `name` is stopping on request (SIGTERM, the end of its event loop).
    pub fn record_clean_stop(&mut self, name: &str) -> Result<(), OutboxError> {
        self.conn.execute(
            "UPDATE process_run SET running = 0 WHERE name = ?1",
            params![name],
        )?;
        Ok(())
    }

    /// `name`'s counts, if it ever started.
    pub fn process_runs(&self, name: &str) -> Result<Option<ProcessRuns>, OutboxError> {
        Self::runs_in(&self.conn, name)
    }

    fn runs_in(conn: &Connection, name: &str) -> Result<Option<ProcessRuns>, OutboxError> {
        Ok(conn
            .query_row(
                "SELECT starts, unclean_restarts FROM process_run WHERE name = ?1",
                params![name],
                |r| {
                    Ok(ProcessRuns {
                        starts: r.get::<_, i64>(0)? as u64,
                        unclean_restarts: r.get::<_, i64>(1)? as u64,
                    })
                },
            )
            .optional()?)
    }
}
