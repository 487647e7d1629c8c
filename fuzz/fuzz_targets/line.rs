//! Fuzz target `line`: one input is one protocol line (or, as UTF-8, a herd file).
//!
//! Checks, beyond "no panic": an invalid line's reply is exactly `? ` + the line without leading
//! and trailing protocol white space + `\n` (the trim is written out again here, not taken from
//! herd-wire); a valid IAMAT's AT answer carries its operands byte for byte and parses back to the
//! same update; a valid WHATSAT's radius renders; every accessor of a parsed AT line works.

#![no_main]

use herd_wire::command::{Command, error_reply, parse_command};
use herd_wire::{AtLine, ClientTime, Herd};
use libfuzzer_sys::fuzz_target;

const SPACES: &[u8] = b" \t\n\x0b\x0c\r";

fn trimmed(line: &[u8]) -> &[u8] {
    let start = line.iter().take_while(|b| SPACES.contains(b)).count();
    let end = line.len() - line.iter().rev().take_while(|b| SPACES.contains(b)).count();
    if start >= end { &[] } else { &line[start..end] }
}

fuzz_target!(|data: &[u8]| {
    match parse_command(data) {
        Err(_) => {
            let expected = [b"? ", trimmed(data), b"\n"].concat();
            assert_eq!(
                error_reply(data),
                expected,
                "the ? reply is the trimmed copy"
            );
        }
        Ok(None) => assert!(trimmed(data).is_empty(), "only a blank line is no command"),
        Ok(Some(Command::Iamat(iamat))) => {
            let received = ClientTime::now();
            let at = AtLine::answer("Fuzz", received, &iamat);
            let expected_tail = [
                iamat.client(),
                b" ",
                iamat.position().as_str().as_bytes(),
                b" ",
                iamat.time_text(),
            ]
            .concat();
            assert!(
                at.as_bytes().ends_with(&expected_tail),
                "operands copied byte for byte"
            );
            assert_eq!(
                at.diff().as_nanos(),
                received.as_nanos() - iamat.time().as_nanos()
            );
            assert_eq!(
                AtLine::parse(at.as_bytes()).as_ref(),
                Ok(&at),
                "the AT answer parses back"
            );
            let _ = iamat.position().places_location();
            assert_eq!(
                ClientTime::parse(iamat.time().to_wire().as_bytes()),
                Ok(iamat.time())
            );
        }
        Ok(Some(Command::Whatsat(whatsat))) => {
            let _ = (
                whatsat.radius().km(),
                whatsat.radius().metres(),
                whatsat.bound().get(),
            );
        }
        Ok(Some(Command::At(at))) => {
            let _ = (
                at.server(),
                at.diff().to_string(),
                at.client(),
                at.position().lat(),
            );
            assert!(!at.supersedes(&at), "an update never supersedes itself");
        }
        Ok(Some(Command::Peer(_))) => {}
    }
    if let Ok(at) = AtLine::parse(data) {
        assert_eq!(
            at.as_bytes(),
            trimmed(data),
            "an AT line keeps its trimmed text"
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Herd::from_toml(text, "fuzz");
    }
});
