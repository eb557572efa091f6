//! counter-sync's side: claiming due applications, recording each attempt's outcome, and the
//! per-municipality destination state (pauses, backoff, broken).

use super::*;

impl Outbox {
    /// Claims up to `max` due applications of one municipality, oldest first, for one attempt
    /// each. Nothing while the destination is paused or in its own backoff, and a single probe
    /// right after. Rows whose lease ran out (their worker died) are due again.
    pub fn claim_batch(
        &mut self,
        municipality: &str,
        now_ms: i64,
        lease: Duration,
        max: u32,
    ) -> Result<Vec<Claimed>, OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let destination = destination_in(&tx, municipality)?;
        if destination
            .as_ref()
            .and_then(|d| d.blocked_until(now_ms))
            .is_some()
        {
            return Ok(vec![]);
        }
        // A destination that failed is probed with one application, not a whole batch.
        let max = if destination.is_some_and(|d| d.failures > 0) {
            1
        } else {
            max
        };
        let claimed = {
            let mut stmt = tx.prepare_cached(
                // Two index range scans (application_due), so a claim costs the same however
                // many delivered rows the outbox keeps: expired leases first, then due rows.
                "UPDATE application SET state = 'sending', lease_until = ?3, attempts = attempts + 1
                 WHERE id IN (
                     SELECT id FROM application
                      WHERE municipality_code = ?1 AND state = 'sending' AND lease_until <= ?2
                     UNION ALL
                     SELECT id FROM (SELECT id FROM application
                      WHERE municipality_code = ?1 AND state = 'waiting' AND next_attempt_at <= ?2
                        AND body IS NOT NULL
                      ORDER BY next_attempt_at LIMIT ?4)
                     LIMIT ?4)
                 RETURNING id, body, attempts, submitted_at",
            )?;
            let rows = stmt.query_map(
                params![municipality, now_ms, now_ms + lease.as_millis() as i64, max],
                |r| {
                    let submitted: String = r.get(3)?;
                    Ok(Claimed {
                        id: r.get(0)?,
                        body: r.get(1)?,
                        attempts: r.get(2)?,
                        submitted_ms: time::OffsetDateTime::parse(
                            &submitted,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .map_or(0, |t| (t.unix_timestamp_nanos() / 1_000_000) as i64),
                    })
                },
            )?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        tx.commit()?;
        Ok(claimed)
    }

    /// Pulls every stored time of one municipality that lies further ahead than `horizon`
    /// back to `now + horizon`, and says how many it moved. The daemon calls it before each
    /// claim, so no clock jump can hold work back for longer than the policy allows.
    pub fn clamp_schedule(
        &mut self,
        municipality: &str,
        now_ms: i64,
        horizon: Horizon,
    ) -> Result<usize, OutboxError> {
        let at = |d: Duration| now_ms.saturating_add(d.as_millis() as i64);
        let (retry, pause, lease) = (at(horizon.retry), at(horizon.pause), at(horizon.lease));
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut moved = tx.execute(
            "UPDATE destination SET retry_at = ?2 WHERE municipality_code = ?1 AND retry_at > ?2",
            params![municipality, retry],
        )?;
        moved += tx.execute(
            "UPDATE destination SET paused_until = ?2 WHERE municipality_code = ?1 AND paused_until > ?2",
            params![municipality, pause],
        )?;
        // Index range scans (application_due); nothing to scan in the normal case.
        moved += tx.execute(
            "UPDATE application SET next_attempt_at = ?2
              WHERE municipality_code = ?1 AND state = 'waiting' AND next_attempt_at > ?2",
            params![municipality, retry],
        )?;
        moved += tx.execute(
            "UPDATE application SET lease_until = ?2
              WHERE municipality_code = ?1 AND state = 'sending' AND lease_until > ?2",
            params![municipality, lease],
        )?;
        tx.commit()?;
        Ok(moved)
    }

    /// Records (or, with `None`, clears) why the daemon cannot deliver to a municipality.
    pub fn set_broken(
        &mut self,
        municipality: &str,
        reason: Option<&str>,
    ) -> Result<(), OutboxError> {
        self.conn.execute(
            "INSERT INTO destination(municipality_code, broken_reason) VALUES (?1, ?2)
             ON CONFLICT(municipality_code) DO UPDATE SET broken_reason = ?2",
            params![municipality, reason],
        )?;
        Ok(())
    }

    /// Records the outcomes of one batch and what they mean for the destination, in one
    /// transaction. A row that is no longer `sending` (requeued or purged meanwhile) is skipped.
    pub fn finish_batch(
        &mut self,
        municipality: &str,
        records: &[(String, Record)],
        destination: &DestinationUpdate,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (id, record) in records {
            apply_record(&tx, id, record, now_ms)?;
        }
        update_destination(&tx, municipality, destination)?;
        tx.commit()?;
        Ok(())
    }

    /// Puts rows claimed by a process that is gone back in line. Called by the one running
    /// daemon (which holds the daemon lock) before its workers start.
    pub fn release_orphans(&mut self) -> Result<usize, OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE application SET state = 'waiting', lease_until = NULL WHERE state = 'sending'",
            [],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// Puts a failed (or waiting) application back in line for an immediate attempt.
    pub fn requeue(&mut self, id: &str, now_ms: i64) -> Result<(), OutboxError> {
        self.update(
            id,
            "UPDATE application SET state = 'waiting', next_attempt_at = ?2, lease_until = NULL WHERE id = ?1 AND state IN ('failed','waiting') AND body IS NOT NULL",
            params![id, now_ms],
        )
    }

    /// Staff fixed the cause of a pause or want an immediate attempt: clear the schedule.
    pub fn resume_destination(&mut self, municipality: &str) -> Result<(), OutboxError> {
        update_destination(&self.conn, municipality, &DestinationUpdate::Healthy)
    }

    /// The destination state of one municipality, if it has one yet.
    pub fn destination(&self, municipality: &str) -> Result<Option<Destination>, OutboxError> {
        destination_in(&self.conn, municipality)
    }

    /// Every destination's state.
    pub fn destinations(&self) -> Result<Vec<Destination>, OutboxError> {
        self.select_all(
            &format!("{DESTINATION_SELECT} ORDER BY municipality_code"),
            destination_from_sql,
        )
    }

    pub(super) fn select_all<T>(
        &self,
        sql: &str,
        row: fn(&rusqlite::Row) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, OutboxError> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map([], row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Delivered applications whose final state at the municipality is not yet known and
    /// that were last asked before `asked_before_ms`.
    pub fn due_status_checks(
        &self,
        municipality: &str,
        asked_before_ms: i64,
        max: u32,
    ) -> Result<Vec<String>, OutboxError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM application WHERE municipality_code = ?1 AND state = 'delivered'
               AND (remote_status IS NULL OR remote_status NOT IN ('completed','rejected'))
               AND COALESCE(remote_checked_at, delivered_at, 0) <= ?2
             ORDER BY COALESCE(remote_checked_at, delivered_at, 0) LIMIT ?3",
        )?;
        let ids = stmt
            .query_map(params![municipality, asked_before_ms, max], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// Records the municipality's answer to a status query (or only the time of the question
    /// when it could not answer).
    pub fn set_remote_status(
        &mut self,
        id: &str,
        remote: Option<RemoteStatus>,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        self.update(
            id,
            "UPDATE application SET remote_status = COALESCE(?2, remote_status), remote_checked_at = ?3 WHERE id = ?1",
            params![id, remote.map(RemoteStatus::as_str), now_ms],
        )
    }

    /// Deletes the metadata of applications delivered before `delivered_before_ms`; the day
    /// report only needs the retention period. Returns how many rows went.
    pub fn purge_delivered(&mut self, delivered_before_ms: i64) -> Result<usize, OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "DELETE FROM application WHERE state = 'delivered' AND delivered_at < ?1",
            [delivered_before_ms],
        )?;
        tx.commit()?;
        Ok(n)
    }
}

pub(super) const DESTINATION_SELECT: &str =
    "SELECT municipality_code, paused_until, pause_reason, retry_at, failures, last_error, broken_reason FROM destination";

pub(super) fn destination_from_sql(r: &rusqlite::Row) -> rusqlite::Result<Destination> {
    Ok(Destination {
        municipality_code: r.get(0)?,
        paused_until: r.get(1)?,
        pause_reason: r.get(2)?,
        retry_at: r.get(3)?,
        failures: r.get(4)?,
        last_error: r.get(5)?,
        broken_reason: r.get(6)?,
    })
}

pub(super) fn destination_in(
    conn: &Connection,
    municipality: &str,
) -> Result<Option<Destination>, OutboxError> {
    Ok(conn
        .query_row(
            &format!("{DESTINATION_SELECT} WHERE municipality_code = ?1"),
            [municipality],
            destination_from_sql,
        )
        .optional()?)
}

pub(super) fn update_destination(
    conn: &Connection,
    municipality: &str,
    update: &DestinationUpdate,
) -> Result<(), OutboxError> {
    match update {
        DestinationUpdate::Healthy => conn.execute(
            "INSERT INTO destination(municipality_code, failures) VALUES (?1, 0)
             ON CONFLICT(municipality_code) DO UPDATE SET paused_until = NULL, pause_reason = NULL,
                 retry_at = NULL, failures = 0, last_error = NULL",
            [municipality],
        )?,
        DestinationUpdate::Backoff { retry_at, error } => conn.execute(
            "INSERT INTO destination(municipality_code, retry_at, failures, last_error) VALUES (?1, ?2, 1, ?3)
             ON CONFLICT(municipality_code) DO UPDATE SET retry_at = ?2, failures = failures + 1, last_error = ?3",
            params![municipality, retry_at, error],
        )?,
        DestinationUpdate::Wait { retry_at, error } => conn.execute(
            "INSERT INTO destination(municipality_code, retry_at, failures, last_error) VALUES (?1, ?2, 0, ?3)
             ON CONFLICT(municipality_code) DO UPDATE SET retry_at = ?2, failures = 0, last_error = ?3",
            params![municipality, retry_at, error],
        )?,
        DestinationUpdate::Pause { until, reason } => conn.execute(
            "INSERT INTO destination(municipality_code, paused_until, pause_reason, failures, last_error) VALUES (?1, ?2, ?3, 1, ?3)
             ON CONFLICT(municipality_code) DO UPDATE SET paused_until = ?2, pause_reason = ?3,
                 failures = failures + 1, last_error = ?3",
            params![municipality, until, reason],
        )?,
    };
    Ok(())
}

/// Applies one attempt's outcome to a row that is still `sending` (or `waiting`).
pub(super) fn apply_record(
    conn: &Connection,
    id: &str,
    record: &Record,
    now_ms: i64,
) -> Result<(), OutboxError> {
    match record {
        Record::Delivered {
            status,
            reference,
            remote,
        } => conn.execute(
            "UPDATE application SET state = 'delivered', body = NULL, lease_until = NULL, last_status = ?2,
                    last_error = NULL, municipality_reference = ?3, remote_status = ?4, delivered_at = ?5
             WHERE id = ?1 AND state IN ('sending','waiting')",
            params![id, status, reference, remote.as_str(), now_ms],
        )?,
        Record::Retry {
            status,
            error,
            next_attempt_at,
        } => conn.execute(
            "UPDATE application SET state = 'waiting', lease_until = NULL, last_status = ?2, last_error = ?3,
                    next_attempt_at = ?4
             WHERE id = ?1 AND state IN ('sending','waiting')",
            params![id, status, error, next_attempt_at],
        )?,
        Record::Failed { status, error } => conn.execute(
            "UPDATE application SET state = 'failed', lease_until = NULL, last_status = ?2, last_error = ?3
             WHERE id = ?1 AND state IN ('sending','waiting')",
            params![id, status, error],
        )?,
    };
    Ok(())
}
