//! Deliberate faults, for testing graders: each switches on one realistic mistake seen in course
//! submissions (protocol.md §7), so the conformance suite can prove it catches that mistake on a
//! Rust server as well as on the Python target. Hidden from `--help`; never on by default.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use herd_wire::command::{Command, CommandError, parse_command};
use herd_wire::whatsat_args::WhatsatArgError;

use crate::connection::Frame;

/// One deliberate mistake (names match the Python target's `--fault` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Fault {
    /// Echo the position re-rendered from floats (`+34.068930` → `+34.06893`).
    FloatPosition,
    /// Six fraction digits in the time difference.
    SixDigits,
    /// A negative difference printed as `--1.500000000`.
    DoubleMinus,
    /// A positive difference printed without its `+`.
    NoSign,
    /// One newline after the WHATSAT JSON instead of two.
    SingleNewline,
    /// WHATSAT JSON indented by 4 spaces instead of Google's layout.
    Indent4,
    /// WHATSAT results not cut to the bound.
    Untrimmed,
    /// WHATSAT answers with a freshly computed AT line instead of the stored one.
    RecomputeDiff,
    /// No reply at all to an unknown command word.
    SilentInvalid,
    /// A fractional radius drops the connection without a reply.
    CrashFloatRadius,
    /// Only the first command of a connection is answered.
    OnePerConn,
    /// A radius over 50 km is accepted.
    NoRadiusLimit,
    /// A bound over 20 is accepted.
    NoBoundLimit,
    /// The `? ` copy keeps the line's surrounding white space.
    UntrimmedCopy,
    /// Older updates replace newer ones.
    StaleAccepted,
    /// Updates are never flooded.
    NoFlood,
    /// Updates go to direct neighbours only, never further.
    OneHop,
    /// Every received update is forwarded again, even when not newer, also back to its sender
    /// (bounded: 50 re-forwards per update).
    FloodLoop,
    /// A relayed update is rewritten with the relaying server's name and difference.
    RecomputeRelay,
    /// A dropped peer link is never re-opened.
    NoRelink,
    /// Every `? ` line is followed by an extra `\n` (the copy kept the command's newline).
    ErrorExtraNewline,
    /// A blank or white-space-only line gets `? \n` instead of no reply.
    ReplyBlank,
    /// The `? ` copy is rebuilt from the fields: one space between them, integers without
    /// leading zeros (`WHATSAT  kiwi 010 5x` → `? WHATSAT kiwi 10 5x`).
    RebuiltCopy,
    /// Times and positions with `inf`/`nan`/`Infinity` parts are answered with an AT line.
    AcceptNonfinite,
    /// WHATSAT re-renders the stored position from floats, losing the longitude's `+`
    /// (`-33.86+151.20` → `-33.86151.2`).
    WhatsatRerender,
    /// An IAMAT with a valid position but an invalid time is answered `?` yet still overwrites
    /// the position stored for that client.
    RejectedOverwrites,
    /// WHATSAT answers `?` for a client whose position has no fraction (`+34-118`).
    IntPositionRefused,
    /// A `nan` time for a new client is accepted and stored as later than any time, so every
    /// later update of that client is dropped.
    NanTimeBlocks,
    /// A line over 64 KiB closes the connection without a reply.
    LongLineDrop,
}

/// Line length above which [`Fault::LongLineDrop`] hangs up (asyncio's default `readline` limit).
const LONG_LINE_LIMIT: usize = 64 * 1024;

/// How often one update may be re-forwarded under [`Fault::FloodLoop`].
const LOOP_BOUND: u32 = 50;

/// The faults switched on for one server.
#[derive(Debug, Default)]
pub struct Faults {
    on: Vec<Fault>,
    loop_counts: Mutex<HashMap<Vec<u8>, u32>>,
}

impl Faults {
    /// A server with these faults.
    pub fn new(on: &[Fault]) -> Faults {
        Faults {
            on: on.to_vec(),
            loop_counts: Mutex::default(),
        }
    }

    /// True when `fault` is on.
    pub fn has(&self, fault: Fault) -> bool {
        self.on.contains(&fault)
    }

    /// True when no fault is on.
    pub fn is_empty(&self) -> bool {
        self.on.is_empty()
    }

    /// Under [`Fault::FloodLoop`], true while the update `key` may be re-forwarded once more.
    pub fn loop_again(&self, key: &[u8]) -> bool {
        let mut counts = self
            .loop_counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key.to_vec()).or_default();
        *count += 1;
        *count <= LOOP_BOUND
    }

    /// Parses a client line, letting through what `no-radius-limit` and `no-bound-limit` accept
    /// (clamped to 50 km and 20 places, as a server that never checked would still ask Places).
    pub fn parse(&self, line: &[u8]) -> Result<Option<Command>, CommandError> {
        let parsed = parse_command(line);
        if self.is_empty() {
            return parsed;
        }
        let clamp = match &parsed {
            Err(CommandError::Whatsat(WhatsatArgError::RadiusTooLarge))
                if self.has(Fault::NoRadiusLimit) =>
            {
                Some((2, &b"50"[..]))
            }
            Err(CommandError::Whatsat(WhatsatArgError::BoundTooLarge))
                if self.has(Fault::NoBoundLimit) =>
            {
                Some((3, &b"20"[..]))
            }
            _ => None,
        };
        let Some((index, value)) = clamp else {
            return parsed;
        };
        let mut fields: Vec<&[u8]> = herd_wire::fields::split(line).collect();
        fields[index] = value;
        self.parse(&fields.join(&b' '))
    }

    /// True for a WHATSAT whose radius has a fraction (what `crash-float-radius` chokes on).
    pub fn has_fractional_radius(line: &[u8]) -> bool {
        let fields: Vec<&[u8]> = herd_wire::fields::split(line).collect();
        fields.first() == Some(&&b"WHATSAT"[..]) && fields.get(2).is_some_and(|r| r.contains(&b'.'))
    }

    /// An update `at` received from a neighbour, as this server passes it on: re-labelled with
    /// its own name under [`Fault::RecomputeRelay`].
    pub fn relayed(&self, at: herd_wire::AtLine, name: &str) -> herd_wire::AtLine {
        if !self.has(Fault::RecomputeRelay) {
            return at;
        }
        herd_wire::AtLine::parse(&Self::relabelled(&at, name)).unwrap_or(at)
    }

    /// The bound a WHATSAT asked for, as this server applies it ([`Fault::Untrimmed`]: none).
    pub fn bound(&self, asked: herd_wire::Bound) -> herd_wire::Bound {
        if self.has(Fault::Untrimmed) {
            herd_wire::Bound::MAX
        } else {
            asked
        }
    }

    /// True when `frame` makes this server hang up ([`Fault::LongLineDrop`]: a line over 64 KiB,
    /// or over `--max-line` if that is lower).
    pub fn hangs_up_on(&self, frame: &Frame) -> bool {
        self.has(Fault::LongLineDrop)
            && match frame {
                Frame::TooLong(_) => true,
                Frame::Line(line) => line.len() > LONG_LINE_LIMIT,
            }
    }

    /// True when this server closes a connection after its first reply ([`Fault::OnePerConn`]).
    pub fn closes_after_first_reply(&self) -> bool {
        self.has(Fault::OnePerConn)
    }

    /// True when this server re-opens a dropped peer link (not under [`Fault::NoRelink`]).
    pub fn relinks(&self) -> bool {
        !self.has(Fault::NoRelink)
    }

    /// `at` re-labelled as if server `name` had received its IAMAT just now (the mistake behind
    /// both `recompute-diff` and `recompute-relay`).
    pub fn relabelled(at: &herd_wire::AtLine, name: &str) -> Vec<u8> {
        let operands = at
            .as_bytes()
            .splitn(4, |b| *b == b' ')
            .nth(3)
            .unwrap_or_default();
        let now = herd_wire::ClientTime::now();
        let mut text = format!("AT {name} {} ", at.time().until(now)).into_bytes();
        text.extend_from_slice(operands);
        text
    }

    /// The `? ` line for an invalid `line`, as this server prints it.
    pub fn error_reply(&self, line: &[u8]) -> Vec<u8> {
        self.faulty_error_reply(line)
            .unwrap_or_else(|| herd_wire::command::error_reply(line))
    }

    /// The `? ` line for an invalid `line`, as a faulty server would print it (`None`: the right
    /// one).
    fn faulty_error_reply(&self, line: &[u8]) -> Option<Vec<u8>> {
        let mut reply = if self.has(Fault::UntrimmedCopy) {
            [&b"? "[..], line, b"\n"].concat()
        } else if self.has(Fault::RebuiltCopy) {
            let fields: Vec<Vec<u8>> = herd_wire::fields::split(line)
                .map(|f| {
                    match std::str::from_utf8(f)
                        .ok()
                        .and_then(|t| t.parse::<u64>().ok())
                    {
                        Some(n) => n.to_string().into_bytes(),
                        None => f.to_vec(),
                    }
                })
                .collect();
            [&b"? "[..], &fields.join(&b' '), b"\n"].concat()
        } else if self.has(Fault::ErrorExtraNewline) {
            herd_wire::command::error_reply(line)
        } else {
            return None;
        };
        if self.has(Fault::ErrorExtraNewline) {
            reply.push(b'\n');
        }
        Some(reply)
    }

    /// Under [`Fault::AcceptNonfinite`], the AT reply to an IAMAT whose time or position is
    /// `inf`/`nan`-like (what Python's `float()` reads), as such a server prints it.
    pub fn nonfinite_reply(&self, server: &str, line: &[u8]) -> Option<Vec<u8>> {
        if !self.has(Fault::AcceptNonfinite) && !self.has(Fault::NanTimeBlocks) {
            return None;
        }
        let fields: Vec<&[u8]> = herd_wire::fields::split(line).collect();
        let [b"IAMAT", client, position, time] = fields.as_slice() else {
            return None;
        };
        let nonfinite = |t: &[u8]| {
            let t = String::from_utf8_lossy(t).to_ascii_lowercase();
            t.contains("inf") || t.contains("nan")
        };
        let time_is_nan = time.eq_ignore_ascii_case(b"nan");
        let accepted = if self.has(Fault::AcceptNonfinite) {
            nonfinite(time) || nonfinite(position)
        } else {
            time_is_nan && herd_wire::Position::parse(position).is_ok()
        };
        if !accepted {
            return None;
        }
        let mut reply = format!("AT {server} +nan ").into_bytes();
        reply.extend_from_slice(&[*client, *position, *time].join(&b' '));
        Some(reply)
    }

    /// The AT line a WHATSAT shows for `at`, as a faulty server would print it.
    pub fn rewrite_whatsat_line(&self, at: &[u8]) -> Vec<u8> {
        let mut fields: Vec<Vec<u8>> = at.split(|b| *b == b' ').map(<[u8]>::to_vec).collect();
        if self.has(Fault::WhatsatRerender)
            && fields.len() == 6
            && let Ok(position) = herd_wire::Position::parse(&fields[4])
        {
            fields[4] = format!("{}{}", position.lat(), position.lng()).into_bytes();
        }
        fields.join(&b' ')
    }

    /// True when `position` has no fraction in one of its numbers (what
    /// [`Fault::IntPositionRefused`] refuses on WHATSAT).
    pub fn refuses_position(&self, position: &[u8]) -> bool {
        self.has(Fault::IntPositionRefused) && position.iter().filter(|&&b| b == b'.').count() < 2
    }

    /// Rewrites the IAMAT reply line `reply` (no newline yet) as a faulty server prints it.
    pub fn rewrite_at_reply(&self, reply: &mut Vec<u8>) {
        if !self.is_empty() {
            *reply = self.rewritten_at_reply(reply);
        }
    }

    /// The IAMAT reply line as a faulty server would print it.
    fn rewritten_at_reply(&self, line: &[u8]) -> Vec<u8> {
        let mut fields: Vec<Vec<u8>> = line.split(|b| *b == b' ').map(<[u8]>::to_vec).collect();
        if fields.len() != 6 {
            return line.to_vec();
        }
        let mut diff = String::from_utf8_lossy(&fields[2]).into_owned();
        if self.has(Fault::SixDigits) {
            diff.truncate(diff.len().saturating_sub(3));
        }
        if self.has(Fault::NoSign) {
            diff = diff.trim_start_matches('+').to_owned();
        }
        if self.has(Fault::DoubleMinus) && diff.starts_with('-') {
            diff.insert(0, '-');
        }
        fields[2] = diff.into_bytes();
        if self.has(Fault::FloatPosition)
            && let Ok(position) = herd_wire::Position::parse(&fields[4])
        {
            fields[4] = format!("{:+}{:+}", position.lat(), position.lng()).into_bytes();
        }
        fields.join(&b' ')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_rewrites_are_the_documented_mistakes() {
        let line = b"AT R -1.500000000 c +34.068930-118.445127 1.5";
        let rewrite = |f: Fault| {
            let mut reply = line.to_vec();
            Faults::new(&[f]).rewrite_at_reply(&mut reply);
            String::from_utf8(reply).unwrap()
        };
        assert_eq!(
            rewrite(Fault::SixDigits),
            "AT R -1.500000 c +34.068930-118.445127 1.5"
        );
        assert_eq!(
            rewrite(Fault::DoubleMinus),
            "AT R --1.500000000 c +34.068930-118.445127 1.5"
        );
        assert_eq!(
            rewrite(Fault::FloatPosition),
            "AT R -1.500000000 c +34.06893-118.445127 1.5"
        );
        let mut positive = b"AT R +2.000000000 c +1+1 1".to_vec();
        Faults::new(&[Fault::NoSign]).rewrite_at_reply(&mut positive);
        assert_eq!(positive, b"AT R 2.000000000 c +1+1 1");
    }

    #[test]
    fn flood_loop_is_bounded() {
        let faults = Faults::new(&[Fault::FloodLoop]);
        assert_eq!((0..100).filter(|_| faults.loop_again(b"k")).count(), 50);
    }
}
