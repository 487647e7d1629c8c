//! Parsing one command line into a [`Command`], or the reason it is invalid.
//!
//! Every invalid command is answered `? ` + [`crate::fields::trim`] of the line; the reason is
//! for logs and for tools that explain the reply to a person.

use crate::at_line::{AtLine, AtLineError};
use crate::client_time::{ClientTime, ClientTimeError};
use crate::fields;
use crate::position::{Position, PositionError};
use crate::whatsat_args::{Bound, Radius, WhatsatArgError};

pub use crate::request::{Iamat, Whatsat};

/// A valid command line.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Iamat(Iamat),
    Whatsat(Whatsat),
    /// A server-to-server update (the reference server accepts it only from a peer link).
    At(AtLine),
    /// `PEER name`: the reference server's link handshake.
    Peer(String),
}

/// Why a line is not a valid command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command word; expected IAMAT or WHATSAT")]
    UnknownCommand,
    #[error("{word} takes {expected} operands, got {got}")]
    OperandCount {
        word: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{0}")]
    Position(#[from] PositionError),
    #[error("{0}")]
    Time(#[from] ClientTimeError),
    #[error("{0}")]
    Whatsat(#[from] WhatsatArgError),
    #[error("{0}")]
    At(#[from] AtLineError),
    #[error("a peer name is UTF-8")]
    PeerName,
}

fn operand_count(word: &'static str, count: usize, expected: usize) -> Result<(), CommandError> {
    let got = count - 1;
    if got != expected {
        return Err(CommandError::OperandCount {
            word,
            expected,
            got,
        });
    }
    Ok(())
}

/// Parses one line (terminator included or not). `Ok(None)` for a blank line, which gets no reply.
pub fn parse_command(line: &[u8]) -> Result<Option<Command>, CommandError> {
    // An AT line is split by its own parser; the others need their first four fields.
    let word = fields::split(line).next();
    let Some(word) = word else {
        return Ok(None);
    };
    if word == b"AT" {
        return Ok(Some(Command::At(AtLine::parse(line)?)));
    }
    let ([_, a, b, c], count) = fields::split_array::<4>(line);
    let command = match word {
        b"IAMAT" => {
            operand_count("IAMAT", count, 3)?;
            Command::Iamat(Iamat::new(
                a.to_vec(),
                Position::parse(b)?,
                ClientTime::parse(c)?,
                c.to_vec(),
            ))
        }
        b"WHATSAT" => {
            operand_count("WHATSAT", count, 3)?;
            Command::Whatsat(Whatsat::new(
                a.to_vec(),
                Radius::parse(b)?,
                Bound::parse(c)?,
            ))
        }
        b"PEER" => {
            operand_count("PEER", count, 1)?;
            let name = std::str::from_utf8(a).map_err(|_| CommandError::PeerName)?;
            Command::Peer(name.to_owned())
        }
        _ => return Err(CommandError::UnknownCommand),
    };
    Ok(Some(command))
}

/// The `? ` reply to an invalid line, with its newline.
pub fn error_reply(line: &[u8]) -> Vec<u8> {
    let copy = fields::trim(line);
    let mut reply = Vec::with_capacity(copy.len() + 3);
    reply.extend_from_slice(b"? ");
    reply.extend_from_slice(copy);
    reply.push(b'\n');
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_are_not_commands() {
        assert_eq!(parse_command(b" \t\r\n"), Ok(None));
        assert_eq!(parse_command(b""), Ok(None));
    }

    #[test]
    fn parses_iamat_and_whatsat() {
        let Ok(Some(Command::Iamat(i))) = parse_command(b"IAMAT kiwi +34-118 1.5") else {
            panic!()
        };
        assert_eq!(
            (i.client(), i.position().as_str(), i.time_text()),
            (&b"kiwi"[..], "+34-118", &b"1.5"[..])
        );
        let Ok(Some(Command::Whatsat(w))) = parse_command(b"\tWHATSAT  kiwi 10 5\r\n") else {
            panic!()
        };
        assert_eq!(
            (w.client(), w.radius().metres(), w.bound().get()),
            (&b"kiwi"[..], "10000".into(), 5)
        );
    }

    #[test]
    fn reports_why_a_line_is_invalid() {
        assert_eq!(
            parse_command(b"iamat a +1+1 1"),
            Err(CommandError::UnknownCommand)
        );
        assert_eq!(
            parse_command(b"IAMAT a +1+1"),
            Err(CommandError::OperandCount {
                word: "IAMAT",
                expected: 3,
                got: 2
            })
        );
        assert_eq!(
            parse_command(b"WHATSAT a 51 5"),
            Err(CommandError::Whatsat(WhatsatArgError::RadiusTooLarge))
        );
    }

    #[test]
    fn error_reply_is_the_trimmed_copy() {
        assert_eq!(
            error_reply(b"  WHATSAT kiwi 51 5 \r\n"),
            b"? WHATSAT kiwi 51 5\n"
        );
        assert_eq!(error_reply(b"\xffjunk"), b"? \xffjunk\n");
    }
}
