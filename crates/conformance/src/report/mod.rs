//! Reports of a run: the terminal one (streamed as tests finish), JUnit XML and JSON, and the
//! byte-escaping and first-difference helpers they share.

pub mod json;
pub mod junit;
pub mod terminal;

/// Bytes as readable text: valid UTF-8 as is except `\n`, `\r`, `\t`, `\\` and other control
/// characters, which are escaped; invalid bytes as `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

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

/// Expected and actual, escaped, cut to a window around their first difference when long, with
/// a caret line under the difference. Returns the lines to print (without the indent).
pub fn compare_lines(expected: &[u8], actual: &[u8]) -> Vec<String> {
    const BEFORE: usize = 50;
    const AFTER: usize = 60;
    let diff = first_difference(expected, actual);
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
        assert_eq!(lines[0], "expected: AT x +34.068930\\n");
        assert_eq!(lines[1], "actual:   AT x +34.06893\\n");
        assert_eq!(
            lines[2],
            format!(
                "          {}^ first difference at byte 14 (expected 16 bytes, got 15)",
                " ".repeat(14)
            )
        );
        let long_e = [vec![b'a'; 200], b"X".to_vec(), vec![b'b'; 200]].concat();
        let long_a = [vec![b'a'; 200], b"Y".to_vec(), vec![b'b'; 200]].concat();
        let lines = compare_lines(&long_e, &long_a);
        let caret = lines[2].find('^').unwrap_or(0);
        assert_eq!(lines[0].chars().nth(caret), Some('X'));
        assert_eq!(lines[1].chars().nth(caret), Some('Y'));
    }
}
