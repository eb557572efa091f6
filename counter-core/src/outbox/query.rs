//! Reading rows and counts.

use super::*;

impl Outbox {
    /// Entries per municipality and state (every state listed, zeros included).
    pub fn counts(&self, municipalities: &[String]) -> Result<Vec<Count>, OutboxError> {
        let mut stmt = self
            .conn
            .prepare("SELECT municipality_code, state, COUNT(*) FROM application GROUP BY 1, 2")?;
        let mut found = std::collections::HashMap::new();
        for row in stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)? as u64,
            ))
        })? {
            let (m, s, n) = row?;
            found.insert((m, s), n);
        }
        let mut codes: Vec<String> = municipalities.to_vec();
        for (m, _) in found.keys() {
            if !codes.contains(m) {
                codes.push(m.clone());
            }
        }
        let mut out = vec![];
        for m in codes {
            for state in State::ALL {
                let count = found
                    .get(&(m.clone(), state.as_str().to_string()))
                    .copied()
                    .unwrap_or(0);
                out.push(Count {
                    municipality_code: m.clone(),
                    state,
                    count,
                });
            }
        }
        Ok(out)
    }

    /// Applications in one state, all municipalities (an index count, cheap on a full outbox).
    pub fn count_in(&self, state: State) -> Result<u64, OutboxError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM application WHERE state = ?1",
            [state.as_str()],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// One application by id or receipt number.
    pub fn get(&self, id: &str) -> Result<Row, OutboxError> {
        self.conn
            .query_row(
                &format!("{ROW_SELECT} WHERE id = ?1 OR receipt_number = ?1"),
                [id],
                row_from_sql,
            )
            .optional()?
            .ok_or_else(|| OutboxError::NotFound(id.into()))
    }

    /// Every application, oldest first.
    pub fn list(&self) -> Result<Vec<Row>, OutboxError> {
        self.select_all(&format!("{ROW_SELECT} ORDER BY submitted_at"), row_from_sql)
    }
}

pub(super) const ROW_SELECT: &str = "SELECT id, receipt_number, municipality_code, procedure_code, submitted_at, state, attempts,
    next_attempt_at, last_status, last_error, municipality_reference, remote_status, printed, body IS NOT NULL,
    delivered_at, receipt_lang, print_problem FROM application";

pub(super) fn row_from_sql(r: &rusqlite::Row) -> rusqlite::Result<Row> {
    let state: String = r.get(5)?;
    Ok(Row {
        id: r.get(0)?,
        receipt_number: r.get(1)?,
        municipality_code: r.get(2)?,
        procedure_code: r.get(3)?,
        submitted_at: r.get(4)?,
        state: State::parse(&state).ok_or(rusqlite::Error::InvalidColumnType(
            5,
            "state".into(),
            rusqlite::types::Type::Text,
        ))?,
        attempts: r.get(6)?,
        next_attempt_at: r.get(7)?,
        last_status: r.get(8)?,
        last_error: r.get(9)?,
        municipality_reference: r.get(10)?,
        remote_status: r.get(11)?,
        printed: r.get(12)?,
        has_payload: r.get(13)?,
        delivered_at: r.get(14)?,
        receipt_lang: r.get(15)?,
        print_problem: r.get(16)?,
    })
}
