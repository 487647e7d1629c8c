//! `errors/*`: every invalid form of protocol.md §4, each its own test with the exact `? ` line
//! expected, plus the server surviving bad input.
//!
//! Most tests share one function that looks its line up in [`INVALID`] by test ID. WHATSATs
//! whose only fault is the radius or bound name a client the server knows, so an
//! "unknown client" answer cannot pass for a radius check.

use crate::at_judge::{OPERANDS, check_at_reply, send_iamat, setup_iamat};
use crate::case;
use crate::expect::error_reply;
use crate::fixtures::{time_from_now, unique_position};
use crate::runner::{
    Ctx, Failure, Problem, Shape, TestCase, fail, first_line, no_reply_problem, same_update,
};
use crate::wire::{End, lines_end};

pub static TESTS: &[TestCase] = &[
    case!(
        "errors/unknown-command",
        Must,
        [],
        "An unknown command word gets `? ` and a copy of the line.",
        invalid
    ),
    case!(
        "errors/lowercase-command",
        Should,
        [],
        "Command words are case-sensitive: `iamat ...` is an unknown command.",
        invalid
    ),
    case!(
        "errors/iamat-no-operands",
        Must,
        [],
        "`IAMAT` alone (wrong operand count) gets `? IAMAT`.",
        invalid
    ),
    case!(
        "errors/iamat-too-few",
        Must,
        [],
        "IAMAT with 2 operands gets `? ` and a copy of the line.",
        invalid
    ),
    case!(
        "errors/iamat-too-many",
        Must,
        [],
        "IAMAT with 4 operands gets `? ` and a copy of the line.",
        invalid
    ),
    case!(
        "errors/whatsat-too-few",
        Must,
        [],
        "WHATSAT with 2 operands gets `? ` and a copy of the line.",
        invalid
    ),
    case!(
        "errors/whatsat-too-many",
        Must,
        [],
        "WHATSAT with 4 operands gets `? ` and a copy of the line.",
        invalid
    ),
    case!(
        "errors/position-no-sign",
        Must,
        [],
        "A position whose latitude has no sign is malformed.",
        invalid
    ),
    case!(
        "errors/position-one-number",
        Must,
        [],
        "A position with only a latitude is malformed.",
        invalid
    ),
    case!(
        "errors/position-comma",
        Must,
        [],
        "A position with a comma between the numbers is malformed.",
        invalid
    ),
    case!(
        "errors/position-letters",
        Must,
        [],
        "A position with letters in a number is malformed.",
        invalid
    ),
    case!(
        "errors/latitude-above-90",
        Must,
        [],
        "A latitude above 90 is invalid.",
        invalid
    ),
    case!(
        "errors/longitude-below-180",
        Must,
        [],
        "A longitude below -180 is invalid.",
        invalid
    ),
    case!(
        "errors/time-letters",
        Must,
        [],
        "A client time with letters is malformed.",
        invalid
    ),
    case!(
        "errors/time-exponent",
        Should,
        [],
        "A client time in exponent notation is invalid (Decision, §2).",
        invalid
    ),
    case!(
        "errors/time-negative",
        Should,
        [],
        "A negative client time is invalid (Decision, §2).",
        invalid
    ),
    case!(
        "errors/time-nan",
        Should,
        [],
        "`nan` as a client time is invalid (Decision, §2).",
        invalid
    ),
    case!(
        "errors/time-ten-digit-fraction",
        Should,
        [],
        "A client time with 10 fractional digits is invalid (up to 9, §2).",
        invalid
    ),
    case!(
        "errors/radius-above-50",
        Must,
        [],
        "WHATSAT with radius 51 is invalid, also for a known client.",
        invalid
    ),
    case!(
        "errors/radius-just-above-50",
        Must,
        [],
        "WHATSAT with radius 50.5 is invalid, also for a known client.",
        invalid
    ),
    case!(
        "errors/radius-zero",
        Must,
        [],
        "WHATSAT with radius 0 is invalid.",
        invalid
    ),
    case!(
        "errors/radius-negative",
        Must,
        [],
        "WHATSAT with a negative radius is invalid.",
        invalid
    ),
    case!(
        "errors/radius-letters",
        Must,
        [],
        "WHATSAT with a radius that is not a number is invalid.",
        invalid
    ),
    case!(
        "errors/bound-above-20",
        Must,
        [],
        "WHATSAT with bound 21 is invalid, also for a known client.",
        invalid
    ),
    case!(
        "errors/bound-negative",
        Must,
        [],
        "WHATSAT with a negative bound is invalid.",
        invalid
    ),
    case!(
        "errors/bound-fractional",
        Should,
        [],
        "WHATSAT with a fractional bound is invalid (a bound counts places).",
        invalid
    ),
    case!(
        "errors/bound-letters",
        Must,
        [],
        "WHATSAT with a bound that is not a number is invalid.",
        invalid
    ),
    case!(
        "errors/unknown-client",
        Must,
        [],
        "WHATSAT for a client no server has heard of is invalid.",
        invalid
    ),
    case!(
        "errors/copy-trimmed",
        Should,
        [],
        "The copy leaves out white space around the line (Decision, §4).",
        invalid
    ),
    case!(
        "errors/copy-inner-white-space",
        Must,
        [],
        "The copy keeps the white space inside the line as received (tabs, runs of spaces).",
        invalid
    ),
    case!(
        "errors/copy-crlf",
        Should,
        [],
        "The copy leaves out the CR of a CRLF terminator (Decision, §4).",
        invalid
    ),
    case!(
        "errors/not-utf8",
        Should,
        [],
        "A line that is not UTF-8 is an invalid command, copied byte for byte.",
        invalid
    ),
    case!(
        "errors/same-connection-continues",
        Must,
        [],
        "After a `? ` reply the same connection still answers a valid command.",
        same_connection_continues
    ),
    case!(
        "errors/server-survives",
        Must,
        [],
        "Hostile input (binary, NULs, a 100 KB line, a fractional radius for an unknown client) never stops the server from answering.",
        server_survives
    ),
    case!(
        "errors/copy-known-command",
        Must,
        [],
        "The copy of an invalid WHATSAT keeps every byte inside the line: runs of white space, leading zeros.",
        invalid
    ),
    case!(
        "errors/time-infinity",
        Must,
        [],
        "`Infinity` as a client time is invalid (Decision, §2: digits with an optional fraction).",
        invalid
    ),
    case!(
        "errors/position-nonfinite",
        Must,
        [],
        "A position made of `nan` and `inf` is malformed (§2: decimal degrees).",
        invalid
    ),
    case!(
        "errors/one-line-reply",
        Must,
        [],
        "An invalid command that ends in `\\n` gets exactly one line: nothing follows the `? ` line before the next reply.",
        one_line_reply
    ),
    case!(
        "errors/rejected-keeps-stored",
        Must,
        [],
        "An IAMAT answered with `?` (valid position, invalid time) changes nothing: WHATSAT still shows the stored AT line.",
        rejected_keeps_stored
    ),
    case!(
        "errors/rejected-stores-nothing",
        Must,
        [],
        "An IAMAT with time `nan` stores nothing: a later valid IAMAT for the same client is stored and shown by WHATSAT.",
        rejected_stores_nothing
    ),
    case!(
        "errors/long-line",
        Must,
        [],
        "A line over 64 KiB gets a `? ` reply (its copy may be cut) and the connection goes on answering.",
        long_line
    ),
];

/// How a line names its client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    /// `{id}` is any fresh ID.
    Fresh,
    /// `{id}` is a client the server knows (an IAMAT goes first).
    Known,
}

/// Invalid lines by test ID; `{id}` is the client, `{t}` a valid time, `{pos}` a valid position.
const INVALID: &[(&str, Client, &[u8])] = &[
    ("errors/unknown-command", Client::Fresh, b"HELLO {id} world"),
    (
        "errors/lowercase-command",
        Client::Fresh,
        b"iamat {id} {pos} {t}",
    ),
    ("errors/iamat-no-operands", Client::Fresh, b"IAMAT"),
    ("errors/iamat-too-few", Client::Fresh, b"IAMAT {id} {pos}"),
    (
        "errors/iamat-too-many",
        Client::Fresh,
        b"IAMAT {id} {pos} {t} extra",
    ),
    ("errors/whatsat-too-few", Client::Known, b"WHATSAT {id} 10"),
    (
        "errors/whatsat-too-many",
        Client::Known,
        b"WHATSAT {id} 10 5 extra",
    ),
    (
        "errors/position-no-sign",
        Client::Fresh,
        b"IAMAT {id} 34.068930-118.445127 {t}",
    ),
    (
        "errors/position-one-number",
        Client::Fresh,
        b"IAMAT {id} +34.068930 {t}",
    ),
    (
        "errors/position-comma",
        Client::Fresh,
        b"IAMAT {id} +34.068930,-118.445127 {t}",
    ),
    (
        "errors/position-letters",
        Client::Fresh,
        b"IAMAT {id} +34.06x930-118.445127 {t}",
    ),
    (
        "errors/latitude-above-90",
        Client::Fresh,
        b"IAMAT {id} +90.000001-118.445127 {t}",
    ),
    (
        "errors/longitude-below-180",
        Client::Fresh,
        b"IAMAT {id} +34.068930-180.000001 {t}",
    ),
    (
        "errors/time-letters",
        Client::Fresh,
        b"IAMAT {id} {pos} 16214648x7.959498503",
    ),
    (
        "errors/time-exponent",
        Client::Fresh,
        b"IAMAT {id} {pos} 1.6214648e9",
    ),
    (
        "errors/time-negative",
        Client::Fresh,
        b"IAMAT {id} {pos} -1621464827.959498503",
    ),
    ("errors/time-nan", Client::Fresh, b"IAMAT {id} {pos} nan"),
    (
        "errors/time-ten-digit-fraction",
        Client::Fresh,
        b"IAMAT {id} {pos} 1621464827.9594985031",
    ),
    (
        "errors/radius-above-50",
        Client::Known,
        b"WHATSAT {id} 51 5",
    ),
    (
        "errors/radius-just-above-50",
        Client::Known,
        b"WHATSAT {id} 50.5 5",
    ),
    ("errors/radius-zero", Client::Known, b"WHATSAT {id} 0 5"),
    (
        "errors/radius-negative",
        Client::Known,
        b"WHATSAT {id} -10 5",
    ),
    (
        "errors/radius-letters",
        Client::Known,
        b"WHATSAT {id} ten 5",
    ),
    (
        "errors/bound-above-20",
        Client::Known,
        b"WHATSAT {id} 10 21",
    ),
    (
        "errors/bound-negative",
        Client::Known,
        b"WHATSAT {id} 10 -1",
    ),
    (
        "errors/bound-fractional",
        Client::Known,
        b"WHATSAT {id} 10 2.5",
    ),
    (
        "errors/bound-letters",
        Client::Known,
        b"WHATSAT {id} 10 five",
    ),
    ("errors/unknown-client", Client::Fresh, b"WHATSAT {id} 10 5"),
    (
        "errors/copy-trimmed",
        Client::Fresh,
        b"  \t HELLO {id}  world \t ",
    ),
    (
        "errors/copy-inner-white-space",
        Client::Fresh,
        b"HELLO\t{id}  \t world",
    ),
    ("errors/copy-crlf", Client::Fresh, b"HELLO {id} world\r\n"),
    (
        "errors/copy-known-command",
        Client::Known,
        b"WHATSAT  {id}\t010 5x",
    ),
    (
        "errors/time-infinity",
        Client::Fresh,
        b"IAMAT {id} {pos} Infinity",
    ),
    (
        "errors/position-nonfinite",
        Client::Fresh,
        b"IAMAT {id} +nan-inf {t}",
    ),
    (
        "errors/not-utf8",
        Client::Fresh,
        b"HELLO \xff\xfe {id} \xc3",
    ),
];

/// Fills the placeholders of a line from [`INVALID`].
fn fill(template: &[u8], id: &str, position: &str, time: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let (found, skip) = if rest.starts_with(b"{id}") {
            (Some(id), 4)
        } else if rest.starts_with(b"{pos}") {
            (Some(position), 5)
        } else if rest.starts_with(b"{t}") {
            (Some(time), 3)
        } else {
            (None, 1)
        };
        match found {
            Some(s) => out.extend_from_slice(s.as_bytes()),
            None => out.push(rest[0]),
        }
        rest = &rest[skip..];
    }
    out
}

/// Sends this test's invalid line and expects exactly `? ` and its trimmed copy.
async fn invalid(ctx: &Ctx) -> Result<(), Problem> {
    let Some(&(_, client, template)) = INVALID.iter().find(|(id, _, _)| *id == ctx.test_id) else {
        return fail(format!("internal: no invalid line for {}", ctx.test_id));
    };
    let id = ctx.client_id("");
    let (position, _, _) = unique_position();
    let time = time_from_now(-1_000_000);
    if client == Client::Known {
        setup_iamat(ctx, &id, &position, &time).await?;
    }
    let line = fill(template, &id, &position, &time);
    let expected = error_reply(&line);
    let shape = if crate::expect::trim(&line).starts_with(b"WHATSAT") {
        Shape::Whatsat
    } else {
        Shape::Line
    };
    let got = ctx.exchange(&line, shape).await?;
    if got.bytes == expected
        || (unterminated(&got) && expected.strip_suffix(b"\n") == Some(&got.bytes[..]))
    {
        return Ok(());
    }
    let shown = String::from_utf8_lossy(crate::expect::trim(&line)).into_owned();
    let message = if got.bytes.is_empty() {
        match no_reply_problem(&got, &line) {
            Err(Problem::Fail(f)) => f.message,
            _ => format!("no reply at all to the invalid command `{shown}`"),
        }
    } else if got.bytes.starts_with(b"? ") && got.bytes.ends_with(b"\n") {
        let mut untrimmed = b"? ".to_vec();
        untrimmed.extend_from_slice(line.strip_suffix(b"\n").unwrap_or(&line));
        untrimmed.push(b'\n');
        if got.bytes == untrimmed {
            "the `? ` copy includes the white space around the line: copy the line without its terminator and surrounding white space".to_owned()
        } else {
            "the `? ` line is not an exact copy of the command".to_owned()
        }
    } else if got.bytes.starts_with(b"AT ") {
        format!(
            "the invalid command `{shown}` was accepted (answered with an AT reply) instead of `? `"
        )
    } else {
        format!("the invalid command `{shown}` did not get `? ` and a copy")
    };
    Err(Problem::Fail(Failure::bytes(
        message, &expected, &got.bytes,
    )))
}

async fn same_connection_continues(ctx: &Ctx) -> Result<(), Problem> {
    let id = ctx.client_id("");
    let (position, _, _) = unique_position();
    let time = time_from_now(-1_000_000);
    let bad = format!("HELLO {id}");
    let good = format!("IAMAT {id} {position} {time}");
    let mut conn = ctx.connect().await?;
    let err = |e: String| Problem::Fail(Failure::new(e));
    let sent_ns = crate::expect::now_ns();
    let got = match ctx.env.framing {
        crate::runner::Framing::Line => {
            conn.send(format!("{bad}\n").as_bytes())
                .await
                .map_err(err)?;
            let first = conn.read_until(crate::wire::line_end, ctx.deadline).await;
            let unterminated_copy = unterminated(&first)
                && error_reply(bad.as_bytes()).strip_suffix(b"\n") == Some(&first.bytes[..]);
            if first.bytes != error_reply(bad.as_bytes()) && !unterminated_copy {
                return Err(Problem::Fail(Failure::bytes(
                    "the first (invalid) command did not get its `? ` line",
                    &error_reply(bad.as_bytes()),
                    &first.bytes,
                )));
            }
            conn.send(format!("{good}\n").as_bytes())
                .await
                .map_err(err)?;
            conn.read_until(crate::wire::line_end, ctx.deadline).await
        }
        crate::runner::Framing::Eof => {
            conn.send(format!("{bad}\n{good}\n").as_bytes())
                .await
                .map_err(err)?;
            conn.half_close().await.map_err(err)?;
            let all = conn.read_until(lines_end(2), ctx.deadline).await;
            let split = all
                .bytes
                .iter()
                .position(|&b| b == b'\n')
                .map_or(all.bytes.len(), |i| i + 1);
            crate::wire::Received {
                bytes: all.bytes[split..].to_vec(),
                end: all.end,
            }
        }
    };
    if got.bytes.is_empty() {
        return fail(match got.end {
            End::Eof => {
                "after a `? ` reply the server closed the connection: it must keep answering"
            }
            _ => {
                "after a `? ` reply the connection answered nothing more: the server must keep reading the connection"
            }
        });
    }
    let x = crate::at_judge::IamatExchange {
        id,
        position,
        time,
        reply: got.bytes,
        sent_ns,
        received_ns: crate::expect::now_ns(),
    };
    check_at_reply(ctx, &x, OPERANDS)
}

/// Sends `bytes` on one connection in the run's framing (eof: then half-closes) and reads until
/// `complete` finds the end (line framing) or the server closes (eof framing).
async fn send_on_one_connection(
    ctx: &Ctx,
    bytes: &[u8],
    complete: impl Fn(&[u8]) -> Option<usize>,
) -> Result<crate::wire::Received, Problem> {
    let err = |e: String| Problem::Fail(Failure::new(e));
    let mut conn = ctx.connect().await?;
    conn.send(bytes).await.map_err(err)?;
    Ok(match ctx.env.framing {
        crate::runner::Framing::Line => conn.read_until(complete, ctx.deadline).await,
        crate::runner::Framing::Eof => {
            conn.half_close().await.map_err(err)?;
            conn.read_to_eof(ctx.deadline).await
        }
    })
}

/// A reply that came without any newline and then stopped (quiet, or the server closed): what a
/// server that never ends its lines sends. The framing tests report the missing newline; the
/// tests here judge the bytes without it.
fn unterminated(got: &crate::wire::Received) -> bool {
    !got.bytes.is_empty() && !got.bytes.contains(&b'\n') && matches!(got.end, End::Quiet | End::Eof)
}

/// A skip when the replies carry no newline at all: a test about what follows a line's end
/// cannot tell anything then (iamat/reply-shape and framing/line-client report it).
fn newline_free(got: &crate::wire::Received) -> Result<(), Problem> {
    if unterminated(got) {
        return Err(Problem::Skip(
            "cannot be judged: the server ends no reply with a newline (iamat/reply-shape and framing/line-client report that)".into(),
        ));
    }
    Ok(())
}

/// Where the first line that starts with `AT ` begins.
fn at_line_start(buf: &[u8]) -> Option<usize> {
    if buf.starts_with(b"AT ") {
        return Some(0);
    }
    buf.windows(4).position(|w| w == b"\nAT ").map(|i| i + 1)
}

/// End of the first complete line that starts with `AT `.
fn through_at_line(buf: &[u8]) -> Option<usize> {
    let start = at_line_start(buf)?;
    let end = buf[start..].iter().position(|&b| b == b'\n')?;
    Some(start + end + 1)
}

/// A fresh valid IAMAT (with its newline) that closes a script, so the read has an end to find.
fn closing_iamat(ctx: &Ctx) -> Vec<u8> {
    let (position, _, _) = unique_position();
    format!(
        "IAMAT {} {position} {}\n",
        ctx.client_id("-after"),
        time_from_now(-1_000_000)
    )
    .into_bytes()
}

async fn one_line_reply(ctx: &Ctx) -> Result<(), Problem> {
    // Invalid by its operand count, not by an unknown word (another test's business).
    let bad = format!("IAMAT {} +1+1", ctx.client_id(""));
    let script = [format!("{bad}\n").as_bytes(), &closing_iamat(ctx)].concat();
    let got = send_on_one_connection(ctx, &script, through_at_line).await?;
    newline_free(&got)?;
    let expected = error_reply(bad.as_bytes());
    if got.bytes.starts_with(&expected) && got.bytes[expected.len()..].starts_with(b"AT ") {
        return Ok(());
    }
    let message = if got.bytes.is_empty() {
        format!("no reply at all to `{bad}` followed by an IAMAT")
    } else if got.bytes.starts_with(&expected) && got.bytes[expected.len()..].starts_with(b"\n") {
        "an extra `\\n` follows the `? ` line: the copy kept the command's own newline, so a line client reads an empty line as the next reply".to_owned()
    } else if got.bytes.starts_with(b"? ") {
        "the `? ` line is not an exact copy of the command, or something other than the next reply follows it".to_owned()
    } else {
        format!("the invalid command `{bad}` did not get `? ` and a copy")
    };
    let shown = &got.bytes[..at_line_start(&got.bytes).unwrap_or(got.bytes.len())];
    Err(Problem::Fail(Failure::bytes(
        format!("{message} (expected the `? ` line, then the IAMAT's AT line)"),
        &expected,
        shown,
    )))
}

/// The AT line a WHATSAT for `id` shows first, or a failure naming why there is none.
async fn shown_at_line(ctx: &Ctx, id: &str) -> Result<Vec<u8>, Problem> {
    let command = format!("WHATSAT {id} 10 1");
    let reply = ctx.reply_to(command.as_bytes(), Shape::Whatsat).await?;
    Ok(first_line(&reply).to_vec())
}

/// The stored AT line `want` is not the one a WHATSAT shows (`got`), for the reason `message`.
fn stored_line_problem(message: &str, want: &[u8], got: &[u8]) -> Problem {
    Problem::Fail(Failure::bytes(
        message,
        &[want, b"\n"].concat(),
        &[got, b"\n"].concat(),
    ))
}

async fn rejected_keeps_stored(ctx: &Ctx) -> Result<(), Problem> {
    let id = ctx.client_id("");
    let (old_position, _, _) = unique_position();
    let stored = setup_iamat(ctx, &id, &old_position, &time_from_now(-2_000_000_000)).await?;
    let (new_position, _, _) = unique_position();
    let bad = format!("IAMAT {id} {new_position} 16214648x7.959498503");
    let reply = ctx.reply_to(bad.as_bytes(), Shape::Line).await?;
    if !reply.starts_with(b"? ") {
        return Err(Problem::Fail(Failure::bytes(
            format!("the IAMAT with an invalid time `{bad}` did not get `? `"),
            &error_reply(bad.as_bytes()),
            &reply,
        )));
    }
    let shown = shown_at_line(ctx, &id).await?;
    // The update, not the line's bytes: a recomputed line is whatsat/at-line-stored's finding.
    if same_update(&shown, &stored) {
        return Ok(());
    }
    let message = if shown
        .windows(new_position.len())
        .any(|w| w == new_position.as_bytes())
    {
        "an IAMAT answered with `?` still changed the stored location: WHATSAT shows its position (a rejected command must change nothing)"
    } else {
        "after an IAMAT answered with `?`, WHATSAT no longer shows the client's stored AT line"
    };
    Err(stored_line_problem(message, &stored, &shown))
}

async fn rejected_stores_nothing(ctx: &Ctx) -> Result<(), Problem> {
    let id = ctx.client_id("");
    let (nan_position, _, _) = unique_position();
    let nan = format!("IAMAT {id} {nan_position} nan");
    // Whether `nan` is refused is errors/time-nan's business; this test is about what it leaves.
    ctx.exchange(nan.as_bytes(), Shape::Line).await?;
    let (position, _, _) = unique_position();
    let stored = setup_iamat(ctx, &id, &position, &time_from_now(-1_000_000)).await?;
    let shown = shown_at_line(ctx, &id).await?;
    // The update, not the line's bytes: a recomputed line is whatsat/at-line-stored's finding.
    if same_update(&shown, &stored) {
        return Ok(());
    }
    let message = if shown.ends_with(b" nan") {
        "after `IAMAT ... nan` a later valid IAMAT for the same client was not stored: WHATSAT still shows the `nan` update (a `nan` time compares false with everything, so it blocks every later update)"
    } else {
        "after `IAMAT ... nan` a later valid IAMAT for the same client was not stored: WHATSAT shows another AT line"
    };
    Err(stored_line_problem(message, &stored, &shown))
}

/// Bytes of the over-long line in errors/long-line: over 64 KiB (65,536), the common limit of
/// asyncio's `readline`.
const LONG_LINE_BYTES: usize = 70_000;

async fn long_line(ctx: &Ctx) -> Result<(), Problem> {
    // An IAMAT with a long client ID and too few operands: invalid whatever the line limit,
    // and not by an unknown word (another test's business).
    let head = format!("IAMAT {}", ctx.client_id(""));
    let mut long = head.clone().into_bytes();
    long.resize(LONG_LINE_BYTES - " +1+1".len(), b'x');
    long.extend_from_slice(b" +1+1");
    let script = [long.as_slice(), b"\n", &closing_iamat(ctx)].concat();
    let got = send_on_one_connection(ctx, &script, through_at_line).await?;
    newline_free(&got)?;
    let first = first_line(&got.bytes);
    let after = got.bytes.get(first.len() + 1..).unwrap_or_default();
    let message = if got.bytes.is_empty() {
        match got.end {
            End::Eof => format!(
                "a {LONG_LINE_BYTES}-byte line closed the connection without any reply (a reader with a 64 KiB limit gave up?)"
            ),
            _ => format!("no reply at all to a {LONG_LINE_BYTES}-byte line and the IAMAT after it"),
        }
    } else if !first.starts_with(b"? ") {
        format!("a {LONG_LINE_BYTES}-byte invalid line did not get a `? ` reply")
    } else if !after.starts_with(b"AT ") {
        format!(
            "after the `? ` reply to a {LONG_LINE_BYTES}-byte line, the connection did not answer the IAMAT that followed"
        )
    } else {
        return Ok(());
    };
    let mut actual = got.bytes.clone();
    if actual.len() > 300 {
        let tail = actual.split_off(actual.len() - 150);
        actual.truncate(150);
        actual.extend_from_slice(format!("…({} bytes)…", got.bytes.len() - 300).as_bytes());
        actual.extend_from_slice(&tail);
    }
    Err(Problem::Fail(Failure {
        message: format!(
            "{message} (expected `? {head}xxx…` with the copy whole or cut, then the IAMAT's AT line)"
        ),
        actual: Some(actual),
        ..Failure::default()
    }))
}

async fn server_survives(ctx: &Ctx) -> Result<(), Problem> {
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        (
            "binary bytes",
            b"\x00\x01\x02\xff\xfe\x80garbage\x00\n".to_vec(),
        ),
        ("a lone CR", b"\r\n".to_vec()),
        (
            "a 100 KB line",
            [b"IAMAT ".as_slice(), &vec![b'x'; 100_000], b" +1+1 1\n"].concat(),
        ),
        (
            "a fractional radius for an unknown client",
            format!("WHATSAT {} 10.5 5\n", ctx.client_id("-nobody")).into_bytes(),
        ),
        (
            "a huge bound",
            format!(
                "WHATSAT {} 10 99999999999999999999999\n",
                ctx.client_id("-nobody")
            )
            .into_bytes(),
        ),
        (
            "a huge radius",
            format!(
                "WHATSAT {} 1{} 5\n",
                ctx.client_id("-nobody"),
                "0".repeat(400)
            )
            .into_bytes(),
        ),
    ];
    for (what, bytes) in &hostile {
        let mut conn = ctx.connect().await?;
        let _ = conn.send(bytes).await;
        let _ = conn.half_close().await;
        let _ = conn.read_for(std::time::Duration::from_millis(100)).await;
        drop(conn);
        let (position, _, _) = unique_position();
        let id = ctx.client_id("");
        let x = send_iamat(ctx, &id, &position, &time_from_now(-1_000_000))
            .await
            .map_err(|p| match p {
                Problem::Fail(f) => Problem::Fail(Failure {
                    message: format!("after {what} the server stopped answering: {}", f.message),
                    ..f
                }),
                other => other,
            })?;
        if !x.reply.starts_with(b"AT ") {
            return Err(Problem::Fail(Failure {
                message: format!("after {what} a valid IAMAT was not answered with an AT line"),
                actual: Some(x.reply),
                ..Failure::default()
            }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_invalid_test_has_a_line_and_back() {
        let special = [
            "errors/same-connection-continues",
            "errors/server-survives",
            "errors/one-line-reply",
            "errors/rejected-keeps-stored",
            "errors/rejected-stores-nothing",
            "errors/long-line",
        ];
        for t in TESTS.iter().filter(|t| !special.contains(&t.id)) {
            assert!(
                INVALID.iter().any(|(id, _, _)| *id == t.id),
                "{} has no line",
                t.id
            );
        }
        for (id, _, _) in INVALID {
            assert!(TESTS.iter().any(|t| t.id == *id), "{id} is not a test");
        }
    }

    #[test]
    fn filling() {
        assert_eq!(
            fill(b"IAMAT {id} {pos} {t}", "a", "+1+1", "2"),
            b"IAMAT a +1+1 2"
        );
    }
}
