//! Reports of a run: the terminal one (streamed as tests finish), JUnit XML and JSON, and the
//! first-difference helpers they share (bytes are shown with [`crate::shown::escape`]).

pub mod json;
pub mod junit;
pub mod terminal;

use crate::shown::escape;

/// The byte offset where `a` and `b` first differ (`None` when equal), moved back to the start
/// of a UTF-8 character.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    if a == b {
        return None;
    }
    let mut at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    while at > 0 && a.get(at).is_some_and(|&c| (0x80..0xc0).contains(&c)) {
        at -= 1;
    }
    Some(at)
}

/// Longest escaped text shown whole, with every differing span marked.
const WHOLE: usize = 160;

/// Expected and actual, escaped. When both are short they are shown whole with every differing
/// span marked (`^` under what only the expected has, and under what only the actual has);
/// longer ones are cut to a window around their first difference, with a caret under it.
/// Returns the lines to print (without the indent).
pub fn compare_lines(expected: &[u8], actual: &[u8]) -> Vec<String> {
    let diff = first_difference(expected, actual);
    let (e, a) = (escape(expected), escape(actual));
    match diff {
        Some(at)
            if !actual.is_empty() && e.chars().count() <= WHOLE && a.chars().count() <= WHOLE =>
        {
            every_span(&e, &a, at, expected.len(), actual.len())
        }
        _ => around_first(expected, actual, diff),
    }
}

/// Both texts whole, every differing span marked under each.
fn every_span(e: &str, a: &str, at: usize, e_len: usize, a_len: usize) -> Vec<String> {
    // By words: a span is a whole differing field, which is what a reader looks for.
    let diff = similar::TextDiff::from_words(e, a);
    let (mut e_marks, mut a_marks) = (String::new(), String::new());
    let mut spans = 0;
    let mut in_span = false;
    for op in diff.ops() {
        for change in diff.iter_changes(op) {
            let width = change.value().chars().count();
            match change.tag() {
                similar::ChangeTag::Equal => {
                    e_marks.push_str(&" ".repeat(width));
                    a_marks.push_str(&" ".repeat(width));
                    in_span = false;
                }
                similar::ChangeTag::Delete => {
                    e_marks.push_str(&"^".repeat(width));
                    spans += usize::from(!in_span);
                    in_span = true;
                }
                similar::ChangeTag::Insert => {
                    a_marks.push_str(&"^".repeat(width));
                    spans += usize::from(!in_span);
                    in_span = true;
                }
            }
        }
    }
    let mut lines = vec![format!("expected: {e}")];
    if !e_marks.trim().is_empty() {
        lines.push(format!("          {}", e_marks.trim_end()));
    }
    lines.push(format!("actual:   {a}"));
    if !a_marks.trim().is_empty() {
        lines.push(format!("          {}", a_marks.trim_end()));
    }
    lines.push(format!(
        "          {spans} differing span{} marked; first difference at byte {at} (expected {e_len} bytes, got {a_len})",
        if spans == 1 { "" } else { "s" }
    ));
    lines
}

/// A window around the first difference, with a caret line under it.
fn around_first(expected: &[u8], actual: &[u8], diff: Option<usize>) -> Vec<String> {
    const BEFORE: usize = 50;
    const AFTER: usize = 60;
    let at = diff.unwrap_or(0);
    // Work on characters of the escaped text, so the caret lines up.
    let prefix = escape(&expected[..at.min(expected.len())]);
    let prefix_chars = prefix.chars().count();
    let window = |bytes: &[u8]| -> (String, usize) {
        let text: Vec<char> = escape(bytes).chars().collect();
        let start = prefix_chars.saturating_sub(BEFORE);
        let end = (prefix_chars + AFTER).min(text.len());
        let mut shown = String::new();
        if start > 0 {
            shown.push('…');
        }
        shown.extend(&text[start.min(text.len())..end.max(start.min(text.len()))]);
        if end < text.len() {
            shown.push('…');
        }
        (shown, prefix_chars - start + usize::from(start > 0))
    };
    let (e, caret) = window(expected);
    let (mut a, _) = window(actual);
    if actual.is_empty() {
        a = "(nothing)".to_owned();
    }
    let mut lines = vec![format!("expected: {e}"), format!("actual:   {a}")];
    if let Some(at) = diff.filter(|_| !actual.is_empty()) {
        lines.push(format!(
            "          {}^ first difference at byte {at} (expected {} bytes, got {})",
            " ".repeat(caret),
            expected.len(),
            actual.len()
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape(b"a\tb\r\n\x00\xff\xc3\xa9"),
            "a\\tb\\r\\n\\x00\\xffé"
        );
    }

    #[test]
    fn differences() {
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert_eq!(first_difference(b"abc", b"abd"), Some(2));
        assert_eq!(first_difference(b"ab", b"abc"), Some(2));
        assert_eq!(first_difference("aé".as_bytes(), "aè".as_bytes()), Some(1));
        let lines = compare_lines(b"AT x +34.068930\n", b"AT x +34.06893\n");
        assert_eq!(
            lines,
            [
                "expected: AT x +34.068930\\n",
                "               ^^^^^^^^^^^^",
                "actual:   AT x +34.06893\\n",
                "               ^^^^^^^^^^^",
                "          1 differing span marked; first difference at byte 14 (expected 16 bytes, got 15)",
            ]
        );
        // Every deviation of a line is shown, not only the first.
        let lines = compare_lines(
            b"AT R +1.500000000 c +34.068930-118.4 1\n",
            b"AT R 1.500000 c +34.06893-118.4 1\n",
        );
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert_eq!(lines[1], "               ^^^^^^^^^^^^   ^^^^^^^^^^^^^^^^");
        assert!(lines[4].contains("2 differing spans marked"), "{lines:?}");
        let long_e = [vec![b'a'; 200], b"X".to_vec(), vec![b'b'; 200]].concat();
        let long_a = [vec![b'a'; 200], b"Y".to_vec(), vec![b'b'; 200]].concat();
        let lines = compare_lines(&long_e, &long_a);
        let caret = lines[2].find('^').unwrap_or(0);
        assert_eq!(lines[0].chars().nth(caret), Some('X'));
        assert_eq!(lines[1].chars().nth(caret), Some('Y'));
    }
}
