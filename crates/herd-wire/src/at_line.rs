//! The AT line: `AT Clark +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503`.
//!
//! A server produces it once, on the IAMAT; after that the exact bytes travel through the herd and
//! are served unchanged by every WHATSAT, so the line keeps its original text beside the parsed
//! fields.

use crate::client_time::{ClientTime, TimeDiff};
use crate::fields;
use crate::position::Position;
use crate::request::Iamat;

/// One AT line, parsed, with its exact text. The server name, client ID and position are kept as
/// ranges of the text rather than copies: a line is parsed on every server it floods through,
/// and only a WHATSAT reads the position.
#[derive(Clone, Debug, PartialEq)]
pub struct AtLine {
    text: Vec<u8>,
    server: std::ops::Range<usize>,
    diff: TimeDiff,
    client: std::ops::Range<usize>,
    position: std::ops::Range<usize>,
    /// Where the latitude ends, counted from the position's start.
    lat_end: usize,
    time: ClientTime,
}

/// Where `field` (a subslice of `line`) lies in `line`.
fn range_in(line: &[u8], field: &[u8]) -> std::ops::Range<usize> {
    let start = field.as_ptr() as usize - line.as_ptr() as usize;
    start..start + field.len()
}

/// Why a line is not an AT line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AtLineError {
    #[error("an AT line has 6 fields: AT SERVER DIFF CLIENT POSITION TIME")]
    FieldCount,
    #[error("an AT line starts with the word AT")]
    NotAt,
    #[error("the server name is not UTF-8")]
    ServerName,
    #[error("the time difference must have an explicit sign, digits and at most 9 fraction digits")]
    Diff,
    #[error("the position is not ISO 6709: {0}")]
    Position(#[from] crate::position::PositionError),
    #[error("the client time is not valid: {0}")]
    Time(#[from] crate::client_time::ClientTimeError),
}

impl AtLine {
    /// The line a server named `server` answers to `iamat`, received at `received`.
    pub fn answer(server: &str, received: ClientTime, iamat: &Iamat) -> Self {
        let diff = iamat.time().until(received);
        let mut text = Vec::with_capacity(64 + server.len() + iamat.client().len());
        text.extend_from_slice(b"AT ");
        text.extend_from_slice(server.as_bytes());
        let server_range = 3..text.len();
        text.push(b' ');
        diff.push_to(&mut text);
        text.push(b' ');
        let client_start = text.len();
        text.extend_from_slice(iamat.client());
        let client_range = client_start..text.len();
        text.push(b' ');
        let position_start = text.len();
        text.extend_from_slice(iamat.position().as_str().as_bytes());
        let position_range = position_start..text.len();
        text.push(b' ');
        text.extend_from_slice(iamat.time_text());
        Self {
            text,
            server: server_range,
            diff,
            client: client_range,
            position: position_range,
            lat_end: iamat.position().lat_end(),
            time: iamat.time(),
        }
    }

    /// Parses an AT line (surrounding white space ignored; fields separated by any white space,
    /// but the stored text is the trimmed line exactly as given).
    pub fn parse(line: &[u8]) -> Result<Self, AtLineError> {
        let line = fields::trim(line);
        let ([word, server, diff, client, position, time], 6) = fields::split_array::<6>(line)
        else {
            return Err(AtLineError::FieldCount);
        };
        if word != b"AT" {
            return Err(AtLineError::NotAt);
        }
        // Names are ASCII in practice; the full UTF-8 check is for the rest.
        if !server.is_ascii() && std::str::from_utf8(server).is_err() {
            return Err(AtLineError::ServerName);
        }
        let diff = TimeDiff::parse_bytes(diff).ok_or(AtLineError::Diff)?;
        let lat_end = Position::check(position)?;
        let time = ClientTime::parse(time)?;
        Ok(Self {
            server: range_in(line, server),
            client: range_in(line, client),
            position: range_in(line, position),
            lat_end,
            text: line.to_vec(),
            diff,
            time,
        })
    }

    /// The exact line, without a newline.
    pub fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    /// The name of the server that received the IAMAT.
    pub fn server(&self) -> &str {
        // Checked to be UTF-8 when the line was parsed or made.
        std::str::from_utf8(&self.text[self.server.clone()]).unwrap_or_default()
    }

    /// Server receive time minus client time.
    pub fn diff(&self) -> TimeDiff {
        self.diff
    }

    /// The client ID, byte for byte.
    pub fn client(&self) -> &[u8] {
        &self.text[self.client.clone()]
    }

    /// The client's position (made on each call: only a WHATSAT asks).
    pub fn position(&self) -> Position {
        // Checked when the line was parsed or made, so ASCII.
        let text = std::str::from_utf8(&self.text[self.position.clone()]).unwrap_or_default();
        Position::checked(text, self.lat_end)
    }

    /// The client's own time.
    pub fn time(&self) -> ClientTime {
        self.time
    }

    /// True when this update should replace `stored`: a later client time, or for equal times the
    /// byte-wise greater line. The tie-break makes concurrent equal-time updates converge to the
    /// same value on every server whatever order they arrive in.
    pub fn supersedes(&self, stored: &AtLine) -> bool {
        (self.time, &self.text) > (stored.time, &stored.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] =
        b"AT Clark +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503";

    #[test]
    fn answer_copies_operands_byte_for_byte() {
        let iamat = Iamat::new(
            b"kiwi.cs.ucla.edu".to_vec(),
            Position::parse(b"+34.068930-118.445127").unwrap(),
            ClientTime::parse(b"1621464827.959498503").unwrap(),
            b"1621464827.959498503".to_vec(),
        );
        let received = ClientTime::parse(b"1621464828.223371889").unwrap();
        let at = AtLine::answer("Clark", received, &iamat);
        assert_eq!(at.as_bytes(), LINE);
    }

    #[test]
    fn parse_keeps_text_and_fields() {
        let at = AtLine::parse(LINE).unwrap();
        assert_eq!(at.as_bytes(), LINE);
        assert_eq!(at.server(), "Clark");
        assert_eq!(at.diff().as_nanos(), 263_873_386);
        assert_eq!(at.client(), b"kiwi.cs.ucla.edu");
        assert_eq!(at.position().as_str(), "+34.068930-118.445127");
        assert_eq!(at.time().as_nanos(), 1_621_464_827_959_498_503);
    }

    #[test]
    fn parse_rejects_foreign_lines() {
        assert_eq!(AtLine::parse(b"AT a b"), Err(AtLineError::FieldCount));
        assert_eq!(
            AtLine::parse(b"XT a +1.0 c +1+1 1"),
            Err(AtLineError::NotAt)
        );
        assert_eq!(
            AtLine::parse(b"AT a --1.0 c +1+1 1"),
            Err(AtLineError::Diff)
        );
    }

    #[test]
    fn newer_time_wins_and_ties_break_on_the_text() {
        let old = AtLine::parse(b"AT A +0.1 c +1+1 10").unwrap();
        let new = AtLine::parse(b"AT A +0.1 c +1+1 11").unwrap();
        assert!(new.supersedes(&old));
        assert!(!old.supersedes(&new));
        assert!(!old.supersedes(&old));
        let tie_a = AtLine::parse(b"AT A +0.1 c +1+1 10").unwrap();
        let tie_b = AtLine::parse(b"AT B +0.1 c +2+2 10").unwrap();
        assert!(tie_b.supersedes(&tie_a));
        assert!(!tie_a.supersedes(&tie_b));
    }
}
