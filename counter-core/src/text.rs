//! Text that comes from outside (a municipality's answer, a server's header) on its way into
//! logs and the database: control characters could forge journal lines or hide text
//! (CR/LF, ESC, bidi overrides), and an unbounded string could fill the disk.

/// Longest municipality reference kept; the API documents it as at most this long.
pub const MAX_REFERENCE: usize = 64;
/// Longest excerpt of a foreign answer kept in a reason.
pub const MAX_SNIPPET: usize = 200;

/// `text` with every control or invisible formatting character replaced by `�` and cut to
/// `max_chars` characters (an ellipsis marks the cut).
pub fn external(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        out.push(if is_unsafe(c) { '\u{FFFD}' } else { c });
    }
    out
}

/// Control characters (C0, DEL, C1), line and paragraph separators, and the invisible
/// direction and zero-width marks that make a line read differently from what it holds.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_log_lines_and_bidi_tricks_are_neutralised() {
        let forged =
            "R-1\r\n2026-12-02T04:00:00Z  INFO delivered application_id=x\u{1b}[2J\u{202E}";
        let clean = external(forged, 200);
        assert!(!clean.chars().any(|c| c.is_control()), "{clean:?}");
        assert!(!clean.contains('\u{202E}'));
        assert!(clean.starts_with("R-1\u{FFFD}\u{FFFD}2026"), "{clean:?}");
    }

    #[test]
    fn long_text_is_bounded_in_characters_not_bytes() {
        let long = "受".repeat(10_000);
        let cut = external(&long, MAX_REFERENCE);
        assert_eq!(cut.chars().count(), MAX_REFERENCE + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(external("R-000123", MAX_REFERENCE), "R-000123");
    }
}
