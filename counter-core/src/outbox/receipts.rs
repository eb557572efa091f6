//! Whether each receipt was printed: what staff mode's reprint list is made of.

use super::*;

impl Outbox {
    /// The printer confirmed the receipt.
    pub fn mark_printed(&mut self, receipt_number: &str) -> Result<(), OutboxError> {
        self.set_print_outcome(receipt_number, None)
    }

    /// The receipt was not confirmed (`problem` is a `PrintProblem` code): staff can reprint it.
    pub fn mark_print_failed(
        &mut self,
        receipt_number: &str,
        problem: &str,
    ) -> Result<(), OutboxError> {
        self.set_print_outcome(receipt_number, Some(problem))
    }

    pub(super) fn set_print_outcome(
        &mut self,
        receipt_number: &str,
        problem: Option<&str>,
    ) -> Result<(), OutboxError> {
        let n = self.conn.execute(
            "UPDATE application SET printed = (?2 IS NULL), print_problem = ?2 WHERE receipt_number = ?1",
            params![receipt_number, problem],
        )?;
        if n == 0 {
            return Err(OutboxError::NotFound(receipt_number.into()));
        }
        Ok(())
    }

    /// Receipts never confirmed by the printer, oldest first: the reprint list.
    pub fn unprinted(&self) -> Result<Vec<Row>, OutboxError> {
        self.select_all(
            &format!("{ROW_SELECT} WHERE printed = 0 ORDER BY submitted_at, receipt_number"),
            row_from_sql,
        )
    }
}
