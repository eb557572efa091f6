//! The kiosk's side: applications into the outbox, each with its receipt number.

use super::*;

impl Outbox {
    /// Durably enqueues one application and returns its receipt number. When this returns,
    /// the application survives `kill -9` of either process and a power cut.
    pub fn enqueue(&mut self, app: &NewApplication, now_ms: i64) -> Result<String, OutboxError> {
        Ok(self
            .enqueue_many(std::slice::from_ref(app), now_ms)?
            .remove(0))
    }

    /// Enqueues several applications in one transaction (synthetic load, benchmarks).
    pub fn enqueue_many(
        &mut self,
        apps: &[NewApplication],
        now_ms: i64,
    ) -> Result<Vec<String>, OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let numbers = apps
            .iter()
            .map(|app| insert_application(&tx, app, now_ms))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(numbers)
    }
}

/// Inserts one application with the next receipt number of its kiosk and day.
pub(super) fn insert_application(
    tx: &Connection,
    app: &NewApplication,
    now_ms: i64,
) -> Result<String, OutboxError> {
    let day = app
        .submitted_at
        .format(time::macros::format_description!(
            "[year repr:last_two][month][day]"
        ))
        .unwrap_or_default();
    let prefix = format!("{}-{}-", app.kiosk_id, day);
    let bumped: Option<i64> = tx
        .query_row(
            "UPDATE receipt_counter SET last = last + 1 WHERE prefix = ?1 RETURNING last",
            [&prefix],
            |r| r.get(0),
        )
        .optional()?;
    let seq = match bumped {
        Some(seq) => seq,
        // First of the day (or a database from before the counter): continue after the
        // highest number already used, compared as numbers (past 9999 text order differs).
        None => tx.query_row(
            "INSERT INTO receipt_counter(prefix, last) VALUES (?1,
                 1 + (SELECT COALESCE(MAX(CAST(substr(receipt_number, length(?1) + 1) AS INTEGER)), 0)
                      FROM application WHERE receipt_number >= ?1 AND receipt_number < ?1 || '~'))
             RETURNING last",
            [&prefix],
            |r| r.get(0),
        )?,
    };
    let receipt_number = format!("{prefix}{seq:04}");
    let submitted_at = app
        .submitted_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let envelope = ApplicationEnvelope {
        application_id: app.application_id.to_string(),
        kiosk_id: app.kiosk_id.clone(),
        municipality_code: app.municipality_code.clone(),
        procedure_code: app.procedure_code.clone(),
        submitted_at: submitted_at.clone(),
        receipt_number: receipt_number.clone(),
        sealed: app.sealed.clone(),
    };
    let body = serde_json::to_vec(&envelope)?;
    tx.execute(
            "INSERT INTO application(id, receipt_number, kiosk_id, municipality_code, procedure_code, submitted_at, body, state, next_attempt_at, receipt_lang)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'waiting', ?8, ?9)",
            params![envelope.application_id, receipt_number, app.kiosk_id, app.municipality_code, app.procedure_code, submitted_at, body, now_ms, app.receipt_lang],
        )?;
    Ok(receipt_number)
}
