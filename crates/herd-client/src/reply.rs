//! Replies: where one ends in a byte stream, and what it says.
//!
//! A reply to IAMAT, and any `?` reply, is one line. A WHATSAT reply is the AT line, the Places
//! JSON, then an empty line; a JSON that itself holds `\n\n` (some servers do not squeeze blank
//! lines) is not taken for the end, because the end is only accepted where the JSON before it
//! parses.

use herd_wire::{AtLine, fields};
use serde_json::Value;

/// The shape of the reply a command gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    /// One line (IAMAT, and every `?`).
    OneLine,
    /// An AT line, the Places JSON, an empty line (or one `?` line).
    Whatsat,
}

impl ReplyKind {
    /// The reply shape for a command line, by its first word.
    pub fn for_command(line: &[u8]) -> ReplyKind {
        match fields::split(line).next() {
            Some(b"WHATSAT") => ReplyKind::Whatsat,
            _ => ReplyKind::OneLine,
        }
    }
}

/// The reply kinds a raw request (possibly several lines) gets: one per line that is not blank.
pub fn kinds_for_request(request: &[u8]) -> Vec<ReplyKind> {
    request
        .split(|b| *b == b'\n')
        .filter(|line| !fields::trim(line).is_empty())
        .map(ReplyKind::for_command)
        .collect()
}

/// Where the reply of `kind` that starts `buf` ends, once it is complete.
pub fn reply_end(buf: &[u8], kind: ReplyKind) -> Option<usize> {
    let newline = buf.iter().position(|b| *b == b'\n')?;
    if kind == ReplyKind::OneLine || is_invalid_reply(&buf[..newline]) {
        return Some(newline + 1);
    }
    let mut from = newline;
    while let Some(offset) = find(&buf[from..], b"\n\n") {
        let end = from + offset;
        if serde_json::from_slice::<Value>(&buf[newline + 1..end]).is_ok() {
            return Some(end + 2);
        }
        from = end + 1;
    }
    None
}

/// Where the last of several consecutive replies ends, once all are complete.
pub fn replies_end(buf: &[u8], kinds: &[ReplyKind]) -> Option<usize> {
    let mut at = 0;
    for kind in kinds {
        at += reply_end(&buf[at..], *kind)?;
    }
    Some(at)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// True for a `?` line.
pub fn is_invalid_reply(line: &[u8]) -> bool {
    fields::trim(line).starts_with(b"?")
}

/// What a server answered.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// An AT line, and for WHATSAT the Places JSON.
    At {
        at: Box<AtLine>,
        places: Option<Value>,
    },
    /// A `?` line (trimmed, as text).
    Invalid(String),
}

/// Why a reply could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotUnderstood {
    #[error("the server sent nothing")]
    Empty,
    #[error("the first line is not an AT line ({cause}): `{line}`")]
    NotAt { cause: String, line: String },
    #[error("unexpected bytes after the AT line: `{0}`")]
    Trailing(String),
    #[error("the AT line is not followed by the Places JSON")]
    NoPlaces,
    #[error("the Places JSON after the AT line does not parse ({0})")]
    BadJson(String),
}

/// Shortens `bytes` for an error message.
pub fn excerpt(bytes: &[u8]) -> String {
    const LIMIT: usize = 120;
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end();
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Parses one reply of `kind` (the whole of `bytes`, surrounding white space ignored).
pub fn parse_reply(bytes: &[u8], kind: ReplyKind) -> Result<Reply, NotUnderstood> {
    let start = bytes.iter().take_while(|b| fields::is_space(**b)).count();
    let bytes = &bytes[start..];
    if bytes.is_empty() {
        return Err(NotUnderstood::Empty);
    }
    let newline = bytes
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(bytes.len());
    let (first, rest) = bytes.split_at(newline);
    if is_invalid_reply(first) {
        return Ok(Reply::Invalid(
            String::from_utf8_lossy(fields::trim(first)).into_owned(),
        ));
    }
    let at = AtLine::parse(first).map_err(|e| NotUnderstood::NotAt {
        cause: e.to_string(),
        line: excerpt(first),
    })?;
    let rest = fields::trim(rest);
    match kind {
        ReplyKind::OneLine if rest.is_empty() => Ok(Reply::At {
            at: Box::new(at),
            places: None,
        }),
        ReplyKind::OneLine => Err(NotUnderstood::Trailing(excerpt(rest))),
        ReplyKind::Whatsat if rest.is_empty() => Err(NotUnderstood::NoPlaces),
        ReplyKind::Whatsat => serde_json::from_slice(rest)
            .map(|places| Reply::At {
                at: Box::new(at),
                places: Some(places),
            })
            .map_err(|e| NotUnderstood::BadJson(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "AT Riley +0.000100000 kiwi +34-118 1621464827.959498503";

    #[test]
    fn one_line_replies_end_at_the_newline() {
        let buf = format!("{AT}\nmore");
        assert_eq!(
            reply_end(buf.as_bytes(), ReplyKind::OneLine),
            Some(AT.len() + 1)
        );
        assert_eq!(reply_end(AT.as_bytes(), ReplyKind::OneLine), None);
    }

    #[test]
    fn whatsat_replies_end_after_the_empty_line_that_follows_the_json() {
        let json = "{\n   \"a\" : \"x\\n\\ny\",\n\n   \"results\" : []\n}";
        let buf = format!("{AT}\n{json}\n\n");
        assert_eq!(
            reply_end(buf.as_bytes(), ReplyKind::Whatsat),
            Some(buf.len())
        );
        assert_eq!(
            reply_end(&buf.as_bytes()[..buf.len() - 1], ReplyKind::Whatsat),
            None
        );
        let invalid = "? WHATSAT kiwi 51 5\n";
        assert_eq!(
            reply_end(invalid.as_bytes(), ReplyKind::Whatsat),
            Some(invalid.len())
        );
    }

    #[test]
    fn several_replies_end_one_after_the_other() {
        let buf = format!("{AT}\n? FOO\n{AT}\n{{}}\n\n");
        let kinds = kinds_for_request(b"IAMAT a b c\nFOO\n\n  \nWHATSAT kiwi 1 0");
        assert_eq!(
            kinds,
            vec![ReplyKind::OneLine, ReplyKind::OneLine, ReplyKind::Whatsat]
        );
        assert_eq!(replies_end(buf.as_bytes(), &kinds), Some(buf.len()));
    }

    #[test]
    fn parses_at_places_and_invalid() {
        let Ok(Reply::At { at, places: None }) = parse_reply(AT.as_bytes(), ReplyKind::OneLine)
        else {
            panic!("AT reply")
        };
        assert_eq!(at.server(), "Riley");
        let whatsat = format!("{AT}\n{{\"status\" : \"OK\"}}\n\n");
        let Ok(Reply::At {
            places: Some(places),
            ..
        }) = parse_reply(whatsat.as_bytes(), ReplyKind::Whatsat)
        else {
            panic!("WHATSAT reply")
        };
        assert_eq!(places["status"], "OK");
        assert_eq!(
            parse_reply(b"? FOO bar\n", ReplyKind::Whatsat),
            Ok(Reply::Invalid("? FOO bar".to_owned()))
        );
    }

    #[test]
    fn says_what_is_wrong() {
        assert_eq!(
            parse_reply(b"  \n", ReplyKind::OneLine),
            Err(NotUnderstood::Empty)
        );
        assert!(matches!(
            parse_reply(b"HELLO\n", ReplyKind::OneLine),
            Err(NotUnderstood::NotAt { .. })
        ));
        assert_eq!(
            parse_reply(format!("{AT}\n").as_bytes(), ReplyKind::Whatsat),
            Err(NotUnderstood::NoPlaces)
        );
        assert!(matches!(
            parse_reply(format!("{AT}\n{{nope\n\n").as_bytes(), ReplyKind::Whatsat),
            Err(NotUnderstood::BadJson(_))
        ));
        assert!(matches!(
            parse_reply(format!("{AT}\njunk").as_bytes(), ReplyKind::OneLine),
            Err(NotUnderstood::Trailing(_))
        ));
    }
}
