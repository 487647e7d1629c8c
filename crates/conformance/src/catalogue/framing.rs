//! `framing/*`: both client styles of protocol.md §1 — line clients (several commands per
//! connection, answered as each line arrives) and eof clients (half-close, read to close) —
//! pipelining, split writes, a final unterminated line, concurrency, blank lines.

use std::time::Duration;

use tokio::time::Instant;

use crate::at_judge::{IamatExchange, OPERANDS, check_at_reply};
use crate::case;
use crate::expect::{error_reply, now_ns};
use crate::fixtures::{time_from_now, unique_position};
use crate::runner::{Ctx, Failure, Problem, Shape, TestCase, fail};
use crate::wire::{Conn, End, line_end, lines_end};

pub static TESTS: &[TestCase] = &[
    case!(
        "framing/line-client",
        Must,
        [],
        "A line client gets each reply as soon as its line is sent, without half-closing, and can send another command on the same connection.",
        line_client
    ),
    case!(
        "framing/eof-client",
        Must,
        [],
        "An eof client (command without newline, then half-close) gets its reply and then the server closes the connection.",
        eof_client
    ),
    case!(
        "framing/pipelined",
        Must,
        [],
        "Several commands in one write are all answered, in order.",
        pipelined
    ),
    case!(
        "framing/split-writes",
        Must,
        [],
        "A command written one byte at a time is answered once its line is complete.",
        split_writes
    ),
    case!(
        "framing/unterminated-final-line",
        Must,
        [],
        "At the client's EOF a final line without newline is still answered, after the earlier ones.",
        unterminated_final_line
    ),
    case!(
        "framing/many-connections",
        Must,
        [],
        "50 connections at once are all answered correctly.",
        many_connections
    ),
    case!(
        "framing/idle-connection",
        Must,
        [],
        "An open connection that sends nothing does not hold up other clients.",
        idle_connection
    ),
    case!(
        "framing/blank-lines",
        Should,
        [],
        "Empty and white-space-only lines get no reply (Decision, §1).",
        blank_lines
    ),
];

/// A fresh IAMAT line for this test (without newline) and its operands.
fn fresh_iamat(ctx: &Ctx, suffix: &str) -> (String, String, String, String) {
    let id = ctx.client_id(suffix);
    let (position, _, _) = unique_position();
    let time = time_from_now(-1_000_000);
    (format!("IAMAT {id} {position} {time}"), id, position, time)
}

fn exchange_of(
    id: String,
    position: String,
    time: String,
    reply: Vec<u8>,
    sent_ns: i128,
) -> IamatExchange {
    IamatExchange {
        id,
        position,
        time,
        reply,
        sent_ns,
        received_ns: now_ns(),
    }
}

/// The replies in `bytes`, cut at each newline. A server that ends no reply with a newline (the
/// deviation iamat/reply-shape and framing/line-client report) still has its replies judged one
/// by one: each AT reply is cut after its client time (the reply's last field, from `times` in
/// order), and what is left is the last reply.
fn cut_replies(bytes: &[u8], times: &[&str]) -> Vec<Vec<u8>> {
    if bytes.contains(&b'\n') {
        return bytes
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
    }
    let mut replies = Vec::new();
    let mut rest = bytes;
    for time in times {
        let Some(at) = rest.windows(time.len()).position(|w| w == time.as_bytes()) else {
            break;
        };
        let (reply, after) = rest.split_at(at + time.len());
        replies.push(reply.to_vec());
        rest = after;
    }
    if !rest.is_empty() {
        replies.push(rest.to_vec());
    }
    replies
}

fn wire_err(e: String) -> Problem {
    Problem::Fail(Failure::new(e))
}

async fn line_client(ctx: &Ctx) -> Result<(), Problem> {
    let mut conn = ctx.connect().await?;
    for round in 1..=2 {
        let (line, id, position, time) = fresh_iamat(ctx, &format!("-{round}"));
        let sent_ns = now_ns();
        conn.send(format!("{line}\n").as_bytes())
            .await
            .map_err(wire_err)?;
        let patience = Instant::now() + ctx.remaining() / 2;
        let got = conn.read_until(line_end, patience).await;
        match got.end {
            End::Complete => {
                check_at_reply(
                    ctx,
                    &exchange_of(id, position, time, got.bytes, sent_ns),
                    OPERANDS,
                )?;
            }
            End::Quiet | End::Eof if !got.bytes.is_empty() => {
                return Err(Problem::Fail(Failure::bytes(
                    "the reply has no newline: a line client reading lines waits for it forever",
                    format!("{}\n", String::from_utf8_lossy(&got.bytes)).as_bytes(),
                    &got.bytes,
                )));
            }
            End::Eof if round == 2 => {
                return fail(
                    "the server closed the connection after the first reply: it answers only one \
                     command per connection, but a line client may send several",
                );
            }
            End::Eof => return fail("the server closed the connection without replying"),
            _ => {
                conn.half_close().await.map_err(wire_err)?;
                let late = conn.read_until(line_end, ctx.deadline).await;
                return fail(if !late.bytes.is_empty() {
                    "the server answered only after the client half-closed: it reads to EOF before \
                     answering, but a line client waits for each reply before sending more"
                } else if round == 2 {
                    "the first command was answered, but a second one on the same connection got \
                     no reply, not even after the client half-closed: the server stopped reading \
                     the connection after its first read"
                } else {
                    "no reply to a complete line, not even after the client half-closed"
                });
            }
        }
    }
    Ok(())
}

async fn eof_client(ctx: &Ctx) -> Result<(), Problem> {
    let (line, id, position, time) = fresh_iamat(ctx, "");
    let mut conn = ctx.connect().await?;
    let sent_ns = now_ns();
    conn.send(line.as_bytes()).await.map_err(wire_err)?;
    conn.half_close().await.map_err(wire_err)?;
    let got = conn.read_to_eof(ctx.deadline).await;
    if got.bytes.is_empty() {
        return fail(if got.end == End::Eof {
            "the server closed the connection without answering the final unterminated line"
        } else {
            "no reply to a command without newline followed by the client's EOF"
        });
    }
    if got.end.is_wait() {
        return Err(Problem::Fail(Failure {
            message: "the server answered but did not close the connection after the client's EOF: an eof client reads until the server closes".into(),
            actual: Some(got.bytes),
            ..Failure::default()
        }));
    }
    check_at_reply(
        ctx,
        &exchange_of(id, position, time, got.bytes, sent_ns),
        OPERANDS,
    )
}

async fn pipelined(ctx: &Ctx) -> Result<(), Problem> {
    let (first, id1, pos1, time1) = fresh_iamat(ctx, "-1");
    let (second, id2, pos2, time2) = fresh_iamat(ctx, "-2");
    let bad = format!("HELLO {}", ctx.client_id("-3"));
    let mut conn = ctx.connect().await?;
    let sent_ns = now_ns();
    conn.send(format!("{first}\n{second}\n{bad}\n").as_bytes())
        .await
        .map_err(wire_err)?;
    let patience = Instant::now() + ctx.remaining() / 2;
    let mut got = conn.read_until(lines_end(3), patience).await;
    if got.end.is_wait() {
        // A server that answers only at EOF is failed once, by framing/line-client; here its
        // replies after a half-close are judged for what this test is about: all, in order.
        conn.half_close().await.map_err(wire_err)?;
        let late = conn.read_until(lines_end(3), ctx.deadline).await;
        got.bytes.extend(late.bytes);
    }
    let lines = cut_replies(&got.bytes, &[&time1, &time2]);
    if lines.len() < 3 {
        let why = match (lines.len(), &got.end) {
            (1, End::Eof) => "only the first of three pipelined commands was answered, then the connection closed (one command per connection?)".to_owned(),
            (n, End::Eof) => format!("{n} replies to three pipelined commands, then the connection closed"),
            (n, End::Quiet) => format!("{n} replies to three pipelined commands, then the server went quiet"),
            (n, _) => format!("{n} replies to three pipelined commands within {} s", ctx.env.timeout.as_secs_f64()),
        };
        return Err(Problem::Fail(Failure {
            message: why,
            actual: Some(got.bytes),
            ..Failure::default()
        }));
    }
    check_at_reply(
        ctx,
        &exchange_of(id1, pos1, time1, lines[0].clone(), sent_ns),
        OPERANDS,
    )?;
    check_at_reply(
        ctx,
        &exchange_of(id2, pos2, time2, lines[1].clone(), sent_ns),
        OPERANDS,
    )?;
    let mut want = error_reply(bad.as_bytes());
    if !got.bytes.contains(&b'\n') {
        // The missing newline is reported by the tests about it, not again here.
        want.pop();
    }
    if lines[2] != want {
        return Err(Problem::Fail(Failure::bytes(
            "the third pipelined command (invalid) did not get its `? ` line in order",
            &want,
            &lines[2],
        )));
    }
    Ok(())
}

async fn split_writes(ctx: &Ctx) -> Result<(), Problem> {
    let (line, id, position, time) = fresh_iamat(ctx, "");
    let mut conn = ctx.connect().await?;
    let sent_ns = now_ns();
    conn.send_bytewise(format!("{line}\n").as_bytes(), Duration::from_millis(2))
        .await
        .map_err(wire_err)?;
    let patience = Instant::now() + ctx.remaining() / 2;
    let mut got = conn.read_until(line_end, patience).await;
    if got.bytes.is_empty() {
        // As in framing/pipelined: answering only at EOF is framing/line-client's failure; the
        // reply after a half-close still shows whether the pieces were put together.
        conn.half_close().await.map_err(wire_err)?;
        got = conn.read_until(line_end, ctx.deadline).await;
        if got.bytes.is_empty() {
            return fail("no reply to a line written one byte at a time");
        }
    }
    let copy = got.bytes.get(2..).unwrap_or_default().trim_ascii();
    if got.bytes.starts_with(b"? ") && copy.len() < line.len() && line.as_bytes().starts_with(copy)
    {
        return Err(Problem::Fail(Failure::bytes(
            "the first piece of a line written byte by byte was answered as a whole command: \
             the server handles what one read returns instead of waiting for the newline",
            b"AT ...\n",
            &got.bytes,
        )));
    }
    check_at_reply(
        ctx,
        &exchange_of(id, position, time, got.bytes, sent_ns),
        OPERANDS,
    )
}

async fn unterminated_final_line(ctx: &Ctx) -> Result<(), Problem> {
    let (first, id1, pos1, time1) = fresh_iamat(ctx, "-1");
    let (last, id2, pos2, time2) = fresh_iamat(ctx, "-2");
    let mut conn = ctx.connect().await?;
    let sent_ns = now_ns();
    conn.send(format!("{first}\n{last}").as_bytes())
        .await
        .map_err(wire_err)?;
    conn.half_close().await.map_err(wire_err)?;
    let got = conn.read_to_eof(ctx.deadline).await;
    let lines = cut_replies(&got.bytes, &[&time1, &time2]);
    if lines.len() != 2 {
        return Err(Problem::Fail(Failure {
            message: format!(
                "{} replies to a terminated line followed by an unterminated one at EOF; expected 2{}",
                lines.len(),
                if got.end.is_wait() {
                    " (and the server did not close)"
                } else {
                    ""
                }
            ),
            actual: Some(got.bytes),
            ..Failure::default()
        }));
    }
    check_at_reply(
        ctx,
        &exchange_of(id1, pos1, time1, lines[0].clone(), sent_ns),
        OPERANDS,
    )?;
    check_at_reply(
        ctx,
        &exchange_of(id2, pos2, time2, lines[1].clone(), sent_ns),
        OPERANDS,
    )
}

async fn many_connections(ctx: &Ctx) -> Result<(), Problem> {
    const CLIENTS: usize = 50;
    let sent_ns = now_ns();
    let commands: Vec<(String, String, String, String)> = (0..CLIENTS)
        .map(|i| fresh_iamat(ctx, &format!("-{i}")))
        .collect();
    let replies = futures::future::join_all(
        commands
            .iter()
            .map(|(line, ..)| ctx.exchange(line.as_bytes(), Shape::Line)),
    )
    .await;
    let mut answered = 0;
    let mut first_problem = None;
    for ((_, id, position, time), reply) in commands.into_iter().zip(replies) {
        let outcome = match reply {
            Ok(got) if !got.bytes.is_empty() => check_at_reply(
                ctx,
                &exchange_of(id, position, time, got.bytes, sent_ns),
                OPERANDS,
            ),
            Ok(_) => fail("a connection got no reply"),
            Err(p) => Err(p),
        };
        match outcome {
            Ok(()) => answered += 1,
            Err(p) => {
                first_problem.get_or_insert(p);
            }
        }
    }
    match first_problem {
        None => Ok(()),
        Some(Problem::Fail(f)) => Err(Problem::Fail(Failure {
            message: format!(
                "{answered} of {CLIENTS} concurrent clients answered correctly; first problem: {}",
                f.message
            ),
            ..f
        })),
        Some(other) => Err(other),
    }
}

async fn idle_connection(ctx: &Ctx) -> Result<(), Problem> {
    let _idle: Conn = ctx.connect().await?;
    let mut partial = ctx.connect().await?;
    partial.send(b"IAMAT half-a-line").await.map_err(wire_err)?;
    let (line, id, position, time) = fresh_iamat(ctx, "");
    let sent_ns = now_ns();
    let got = ctx.exchange(line.as_bytes(), Shape::Line).await?;
    if got.bytes.is_empty() {
        return fail(
            "while another connection stayed open and silent (and one held half a line), a new client got no reply: the server must serve connections concurrently",
        );
    }
    check_at_reply(
        ctx,
        &exchange_of(id, position, time, got.bytes, sent_ns),
        OPERANDS,
    )
}

async fn blank_lines(ctx: &Ctx) -> Result<(), Problem> {
    let (line, id, position, time) = fresh_iamat(ctx, "");
    let mut conn = ctx.connect().await?;
    let sent_ns = now_ns();
    conn.send(format!("\n \t \r\n\n{line}\n").as_bytes())
        .await
        .map_err(wire_err)?;
    conn.half_close().await.map_err(wire_err)?;
    let got = conn.read_to_eof(ctx.deadline).await;
    if got.bytes.starts_with(b"?") || got.bytes.starts_with(b"\n") {
        return Err(Problem::Fail(Failure {
            message: "blank or white-space-only lines got a reply; they should be ignored".into(),
            actual: Some(got.bytes),
            ..Failure::default()
        }));
    }
    if got.bytes.is_empty() {
        return fail("no reply to an IAMAT that followed blank lines");
    }
    check_at_reply(
        ctx,
        &exchange_of(id, position, time, got.bytes, sent_ns),
        OPERANDS,
    )
}
