//! Values the toolkit's command lines share: the two client framings of protocol.md §1 and
//! durations written as `10`, `2.5`, `10s` or `500ms`. One definition, so that `herd-client`,
//! `herd-bench` and `conformance` accept the same spellings and explain mistakes the same way.

use std::fmt;
use std::time::Duration;

/// How a client frames a request on its connection (protocol.md §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Framing {
    /// Newline-terminated commands on a connection that stays open; each reply read to its end.
    Line,
    /// One command written, the write side shut down, the reply read until the server closes.
    Eof,
}

impl Framing {
    /// The name the command lines take.
    pub fn name(self) -> &'static str {
        match self {
            Framing::Line => "line",
            Framing::Eof => "eof",
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A duration argument: a plain number is seconds (`10`, `2.5`); anything else is read as a
/// humantime duration (`10s`, `500ms`, `1m 30s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return text
            .parse::<f64>()
            .ok()
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
            .ok_or_else(|| format!("`{text}` is not a duration; try 10, 2.5, 10s or 500ms"));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration ({e}); try 10, 2.5, 10s or 500ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_are_seconds_and_units_are_humantime() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration(" 500ms "), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn mistakes_say_what_is_accepted() {
        for bad in ["", "-1", "1.2.3", "ten", "5 parsecs", "1e3"] {
            let error = parse_duration(bad).unwrap_err();
            assert!(
                error.contains("try 10, 2.5, 10s or 500ms"),
                "{bad}: {error}"
            );
        }
    }
}
