//! Property tests over the wire grammar (protocol.md §1–§3), run by CI at proptest's default of
//! 256 cases per property (`PROPTEST_CASES` raises it):
//!
//! - arbitrary bytes never panic the command, AT-line or herd-file parsers;
//! - every valid IAMAT (any client ID, both signs on both coordinates, leading zeros, times up to
//!   28 digits of seconds with 0–9 fraction digits, any protocol white space around and between
//!   the fields) parses to its operands byte for byte, re-renders to a line that parses the same,
//!   and its AT answer parses back to the same update with the exact time difference;
//! - every invalid line is answered exactly `? ` + the line without leading and trailing protocol
//!   white space (space, tab, LF, VT, FF, CR) + `\n`, and which lines are invalid is decided here by
//!   an independent, regex-based reading of protocol.md, not by the crate under test.
//!
//! `soak_*` is ignored by default: `PROPTEST_CASES=10000000 cargo test -p herd-wire --release
//! --test grammar_props -- --ignored` runs it over ten million lines.

use herd_wire::command::{Command, error_reply, parse_command};
use herd_wire::{AtLine, ClientTime, Herd};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use regex::bytes::Regex;
use std::sync::LazyLock;

/// protocol.md §1's white space: space, tab, CR, LF, FF, VT.
const SPACES: &[u8] = b" \t\n\x0b\x0c\r";

/// The line without leading and trailing protocol white space, written out again here (not
/// `herd_wire::fields::trim`) so that the property does not check the crate against itself.
fn trimmed(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .take_while(|b| SPACES.contains(b))
        .count()
        .min(line.len());
    let end = line.len() - line.iter().rev().take_while(|b| SPACES.contains(b)).count();
    if start >= end { &[] } else { &line[start..end] }
}

fn fields(line: &[u8]) -> Vec<&[u8]> {
    line.split(|b| SPACES.contains(b))
        .filter(|f| !f.is_empty())
        .collect()
}

static POSITION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([+-])(\d+)(?:\.(\d+))?([+-])(\d+)(?:\.(\d+))?$").expect("position regex")
});
static TIME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d+)(?:\.\d{1,9})?$").expect("time regex"));
static RADIUS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d+)(?:\.(\d+))?$").expect("radius regex"));
static BOUND: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d+$").expect("bound regex"));

/// `|int.frac| <= limit`, on the digits.
fn within(int: &[u8], frac: Option<&[u8]>, limit: u128) -> bool {
    let int = std::str::from_utf8(int).unwrap_or("x");
    let int = int.trim_start_matches('0');
    if int.len() > 6 {
        return false;
    }
    let value: u128 = if int.is_empty() {
        0
    } else {
        int.parse().unwrap_or(u128::MAX)
    };
    let frac_zero = frac.is_none_or(|f| f.iter().all(|d| *d == b'0'));
    value < limit || (value == limit && frac_zero)
}

fn valid_position(text: &[u8]) -> bool {
    POSITION.captures(text).is_some_and(|c| {
        let part = |i: usize| c.get(i).map(|m| m.as_bytes());
        within(part(2).unwrap_or_default(), part(3), 90)
            && within(part(5).unwrap_or_default(), part(6), 180)
    })
}

fn valid_time(text: &[u8]) -> bool {
    TIME.captures(text).is_some_and(|c| {
        let whole = c.get(1).map_or(&b""[..], |m| m.as_bytes());
        whole.iter().skip_while(|d| **d == b'0').count() <= 28
    })
}

fn valid_radius(text: &[u8]) -> bool {
    RADIUS.captures(text).is_some_and(|c| {
        let int = c.get(1).map_or(&b""[..], |m| m.as_bytes());
        let frac = c.get(2).map(|m| m.as_bytes());
        let zero =
            int.iter().all(|d| *d == b'0') && frac.is_none_or(|f| f.iter().all(|d| *d == b'0'));
        within(int, frac, 50) && !zero
    })
}

fn valid_bound(text: &[u8]) -> bool {
    BOUND.is_match(text) && within(text, None, 20)
}

/// Is this IAMAT or WHATSAT line valid, by protocol.md §2–§3? `None` for other command words,
/// whose validity this oracle does not judge.
fn oracle_valid(line: &[u8]) -> Option<bool> {
    let f = fields(line);
    match f.first().copied() {
        Some(b"IAMAT") => Some(f.len() == 4 && valid_position(f[2]) && valid_time(f[3])),
        Some(b"WHATSAT") => Some(f.len() == 4 && valid_radius(f[2]) && valid_bound(f[3])),
        Some(b"AT" | b"PEER") | None => None,
        Some(_) => Some(false),
    }
}

/// The property every line must have: no panic; a blank line is no command; an invalid one gets
/// exactly `? ` + its trimmed copy; IAMAT/WHATSAT validity agrees with the oracle.
fn check_line(line: &[u8]) -> Result<(), TestCaseError> {
    let parsed = parse_command(line);
    let _ = AtLine::parse(line);
    if trimmed(line).is_empty() {
        prop_assert_eq!(&parsed, &Ok(None), "blank line is no command");
    }
    if let Some(valid) = oracle_valid(line) {
        prop_assert_eq!(
            parsed.is_ok(),
            valid,
            "validity of {:?}: parser says {:?}",
            String::from_utf8_lossy(line),
            parsed
        );
    }
    if parsed.is_err() {
        let expected = [b"? ", trimmed(line), b"\n"].concat();
        prop_assert_eq!(error_reply(line), expected);
    }
    Ok(())
}

// ---- generators -------------------------------------------------------------------------

fn space_run(min: usize) -> impl Strategy<Value = Vec<u8>> {
    // LF only at a line's end (framing splits on it), so not inside a run between fields.
    proptest::collection::vec(prop::sample::select(&b" \t\x0b\x0c\r"[..]), min..=min + 3)
}

fn client_id() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-zA-Z0-9._:-]{1,30}".prop_map(String::into_bytes),
        // Any byte but white space (mapped, not filtered: a soak must not run out of rejects).
        proptest::collection::vec(
            any::<u8>().prop_map(|b| if SPACES.contains(&b) { b'_' } else { b }),
            1..40
        ),
    ]
}

/// A signed decimal within `limit` degrees: sign, leading zeros, optional fraction.
fn coordinate(limit: u32) -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!['+', '-']),
        0..3usize,
        0..=limit,
        prop::option::of("[0-9]{1,12}"),
    )
        .prop_map(move |(sign, zeros, whole, frac)| {
            let frac = match frac {
                Some(f) if whole == limit => Some("0".repeat(f.len())),
                other => other,
            };
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            format!("{sign}{}{whole}{frac}", "0".repeat(zeros))
        })
}

fn position() -> impl Strategy<Value = String> {
    (coordinate(90), coordinate(180)).prop_map(|(lat, lng)| format!("{lat}{lng}"))
}

/// A client time: up to 28 significant digits of seconds, 0–9 fraction digits.
fn time() -> impl Strategy<Value = String> {
    (
        0..3usize,
        prop_oneof![
            (0u64..=4_000_000_000).prop_map(|s| s.to_string()),
            "[1-9][0-9]{0,27}",
        ],
        prop::option::of("[0-9]{1,9}"),
    )
        .prop_map(|(zeros, whole, frac)| {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            format!("{}{whole}{frac}", "0".repeat(zeros))
        })
}

#[derive(Clone, Debug)]
struct ValidIamat {
    client: Vec<u8>,
    position: String,
    time: String,
    line: Vec<u8>,
}

fn valid_iamat() -> impl Strategy<Value = ValidIamat> {
    (
        client_id(),
        position(),
        time(),
        [
            space_run(0),
            space_run(1),
            space_run(1),
            space_run(1),
            space_run(0),
        ],
        prop::sample::select(vec!["", "\n", "\r\n"]),
    )
        .prop_map(|(client, position, time, gaps, end)| {
            let mut line = gaps[0].clone();
            line.extend_from_slice(b"IAMAT");
            for (gap, field) in
                gaps[1..4]
                    .iter()
                    .zip([&client[..], position.as_bytes(), time.as_bytes()])
            {
                line.extend_from_slice(gap);
                line.extend_from_slice(field);
            }
            line.extend_from_slice(&gaps[4]);
            line.extend_from_slice(end.as_bytes());
            ValidIamat {
                client,
                position,
                time,
                line,
            }
        })
}

/// Lines near the grammar: valid IAMATs and WHATSATs with one byte changed, inserted or
/// removed, and lines built from the grammar's own alphabet — where parser bugs live.
fn near_valid_line() -> impl Strategy<Value = Vec<u8>> {
    let whatsat = (client_id(), "[0-9]{1,3}(\\.[0-9]{1,3})?", "[0-9]{1,3}").prop_map(
        |(client, radius, bound)| {
            [
                &b"WHATSAT "[..],
                &client,
                b" ",
                radius.as_bytes(),
                b" ",
                bound.as_bytes(),
            ]
            .concat()
        },
    );
    let seed = prop_oneof![valid_iamat().prop_map(|v| v.line), whatsat];
    let mutated = (seed, any::<prop::sample::Index>(), any::<u8>(), 0..3u8).prop_map(
        |(mut line, at, byte, how)| {
            let i = at.index(line.len() + 1);
            match how {
                0 if i < line.len() => line[i] = byte,
                1 if i < line.len() => {
                    line.remove(i);
                }
                _ => line.insert(i, byte),
            }
            line
        },
    );
    let alphabet = proptest::collection::vec(
        prop_oneof![
            prop::sample::select(vec![
                &b"IAMAT "[..],
                b"WHATSAT ",
                b"AT ",
                b"PEER ",
                b"+",
                b"-",
                b".",
                b"0",
                b"9",
                b"90",
                b"180",
                b"nan",
                b"inf",
                b"e",
                b"\t",
                b"\x0b",
                b" ",
                b"\r",
                b"\n",
                b"\xff",
                b"\0",
            ])
            .prop_map(<[u8]>::to_vec),
            "[0-9]{1,4}".prop_map(String::into_bytes),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat());
    prop_oneof![mutated, alphabet, broken_iamat()]
}

/// A valid IAMAT with one operand replaced by something protocol.md rules out: the deviations
/// seen in real submissions (exponents, nan/inf, signs on times, 10+ fraction digits, positions
/// out of range, with a separator or without signs, a missing or extra operand).
fn broken_iamat() -> impl Strategy<Value = Vec<u8>> {
    let bad_time = prop_oneof![
        "[0-9]{1,10}\\.[0-9]{10,14}",
        "[+-][0-9]{1,10}(\\.[0-9]{1,9})?",
        "[0-9]{1,5}[eE][+-]?[0-9]{1,2}",
        "(nan|NaN|inf|Infinity|-inf|0x1F)",
        "[0-9]{1,5}\\.",
        "\\.[0-9]{1,5}",
        "[1-9][0-9]{28,30}",
    ];
    let bad_position = prop_oneof![
        "[+-](9[1-9]|[1-8][0-9]{2})(\\.[0-9]{1,3})?[+-][0-9]{1,3}",
        "[+-]90\\.0{0,3}[1-9][+-][0-9]{1,2}",
        "[+-][0-9]{1,2}[+-](18[1-9]|19[0-9]|[2-9][0-9]{2})",
        "[0-9]{1,2}[+-][0-9]{1,3}",
        "[+-][0-9]{1,2}[,/ ]?[0-9]{1,3}",
        "[+-][0-9]{1,2}\\.[+-][0-9]{1,3}",
        "[+-](nan|inf)[+-](nan|inf|[0-9])",
        "[+-][0-9]{1,2}[+-][0-9]{1,3}[eE.x]",
    ];
    (valid_iamat(), bad_time, bad_position, 0..4u8).prop_map(|(v, time, position, which)| {
        let (position, time) = match which {
            0 => (v.position, time),
            1 => (position, v.time),
            2 => (position, time),
            _ => return [&b"IAMAT "[..], &v.client, b" ", v.position.as_bytes()].concat(),
        };
        [
            &b"IAMAT "[..],
            &v.client,
            b" ",
            position.as_bytes(),
            b" ",
            time.as_bytes(),
        ]
        .concat()
    })
}

fn any_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        near_valid_line(),
    ]
}

/// Exact nanoseconds of a time written as digits, computed here without the crate.
fn nanos_of(time: &str) -> i128 {
    let (whole, frac) = time.split_once('.').unwrap_or((time, ""));
    let whole: i128 = whole.parse().unwrap_or(i128::MAX);
    let frac: i128 = format!("{frac:0<9}").parse().unwrap_or(i128::MAX);
    whole * 1_000_000_000 + frac
}

// ---- properties -------------------------------------------------------------------------

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_errors_echo_the_trimmed_line(line in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_line(&line)?;
    }

    #[test]
    fn near_valid_lines_are_judged_like_the_oracle(line in near_valid_line()) {
        check_line(&line)?;
    }

    #[test]
    fn broken_iamats_are_refused_with_the_copy(line in broken_iamat()) {
        prop_assert_eq!(oracle_valid(&line), Some(false), "the generator makes invalid lines only");
        check_line(&line)?;
    }

    #[test]
    fn arbitrary_herd_files_never_panic(text in ".{0,300}", toml_ish in "(\\[\\[server\\]\\]\n|name = \"[A-Za-z ]{0,6}\"\n|address = \"[0-9a-z.:]{0,16}\"\n|neighbours = \\[(\"[A-Z][a-z]{0,4}\",? ?){0,3}\\]\n|secret = \"x\"\n){0,8}") {
        let _ = Herd::from_toml(&text, "prop");
        let _ = Herd::from_toml(&toml_ish, "prop");
    }

    #[test]
    fn every_valid_iamat_round_trips(v in valid_iamat(), server in "[A-Z][a-z]{0,8}", received_secs in 0u64..=4_000_000_000, received_nanos in 0u32..1_000_000_000) {
        let parsed = parse_command(&v.line);
        let Ok(Some(Command::Iamat(iamat))) = parsed else {
            return Err(TestCaseError::fail(format!("valid IAMAT {:?} parsed as {parsed:?}", String::from_utf8_lossy(&v.line))));
        };
        prop_assert_eq!(iamat.client(), &v.client[..]);
        prop_assert_eq!(iamat.position().as_str(), v.position.as_str());
        prop_assert_eq!(iamat.time_text(), v.time.as_bytes());
        prop_assert_eq!(iamat.time().as_nanos(), nanos_of(&v.time));
        // The canonical form (one space, no surrounding white space) parses to the same command.
        let canonical = [&b"IAMAT "[..], &v.client, b" ", v.position.as_bytes(), b" ", v.time.as_bytes()].concat();
        prop_assert_eq!(parse_command(&canonical), Ok(Some(Command::Iamat(iamat.clone()))));

        // The AT answer carries the operands byte for byte and the exact difference, and parses back.
        let received = ClientTime::parse(format!("{received_secs}.{received_nanos:09}").as_bytes())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let at = AtLine::answer(&server, received, &iamat);
        let diff = received.as_nanos() - nanos_of(&v.time);
        let sign = if diff < 0 { "-" } else { "+" };
        let diff_text = format!("{sign}{}.{:09}", diff.unsigned_abs() / 1_000_000_000, diff.unsigned_abs() % 1_000_000_000);
        let expected = [format!("AT {server} {diff_text} ").as_bytes(), &v.client, b" ", v.position.as_bytes(), b" ", v.time.as_bytes()].concat();
        prop_assert_eq!(at.as_bytes(), &expected[..]);
        prop_assert_eq!(at.diff().as_nanos(), diff);
        let back = AtLine::parse(at.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &at);
        prop_assert_eq!(back.time(), iamat.time());
        prop_assert_eq!(ClientTime::parse(back.time().to_wire().as_bytes()), Ok(back.time()));
    }
}

/// Millions of lines through [`check_line`]; `PROPTEST_CASES` sets how many (default 1,000,000).
#[test]
#[ignore = "soak: run with PROPTEST_CASES=10000000 and --release, see the file's doc comment"]
fn soak_lines() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let checked = std::sync::atomic::AtomicU64::new(0);
    let started = std::time::Instant::now();
    let result = runner.run(&any_line(), |line| {
        checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        check_line(&line)
    });
    let seconds = started.elapsed().as_secs_f64();
    let checked = checked.into_inner();
    println!(
        "soak: {checked} lines checked in {seconds:.1} s ({:.0} lines/s)",
        checked as f64 / seconds
    );
    if let Err(e) = result {
        panic!("after {checked} lines: {e}");
    }
    assert!(
        checked >= u64::from(cases),
        "only {checked} of {cases} lines ran"
    );
}
