//! `resilience/*` (needs:spawn): the herd with servers down and back (protocol.md §5: a server
//! keeps working when neighbours are down and talks to them again once they are back). The suite
//! stops servers (SIGTERM, then SIGKILL after a grace period), computes from the topology which
//! servers an update can still reach, and checks exactly that set learns it.
//!
//! Updates here are resent (newer each time) until every expected server has one: a link that is
//! reconnecting after a restart may drop updates, which the protocol allows; the verdict is on
//! the last, within the settle deadline.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::case;
use crate::fixtures::{time_from_now, unique_position};
use crate::herd_watch::{Spread, needs_reach, spread_and_check};
use crate::propagation::{Learned, Propagation, Verdict};
use crate::runner::{Answer, addr, ask, busy_now, names, set_down, warm_up};
use crate::runner::{Ctx, Framing, Problem, Shape, TestCase, fail};

pub static TESTS: &[TestCase] = &[
    case!(
        "resilience/one-down",
        Must,
        [Spawn],
        "With any one server stopped, an update reaches every server still connected to its origin through running servers.",
        one_down
    ),
    case!(
        "resilience/every-pair-down",
        Must,
        [Spawn],
        "With each pair of servers stopped in turn, an update reaches exactly the running servers connected to its origin.",
        every_pair_down
    ),
    case!(
        "resilience/restart-rejoins",
        Must,
        [Spawn],
        "A restarted server learns updates made after its return, and updates flow through it again, within the settle deadline.",
        restart_rejoins
    ),
    case!(
        "resilience/no-delay-while-down",
        Must,
        [Spawn],
        "While a neighbour is down the other servers answer IAMAT and WHATSAT without delay.",
        no_delay_while_down
    ),
];

/// How often an update is resent while links may be reconnecting.
const RESEND: Duration = Duration::from_millis(200);

/// Runs one update per set of stopped servers, moving between sets with as few stops and starts
/// as possible; every case is checked (failures are collected), then the herd is restored.
async fn down_cases(ctx: &Ctx, cases: Vec<BTreeSet<String>>) -> Result<(), Problem> {
    let all = names(ctx)?;
    // With every server up, updates must reach them all before stopping servers can tell
    // anything: otherwise each case would only fail again for the flood bug flood/* reports.
    needs_reach(ctx).await?;
    baseline(ctx, &all).await?;
    let mut down = BTreeSet::new();
    let mut failures = Vec::new();
    let mut first = None;
    for (i, next) in cases.iter().enumerate() {
        set_down(ctx, &down, next).await?;
        down = next.clone();
        let running: Vec<&String> = all.iter().filter(|n| !down.contains(*n)).collect();
        if running.is_empty() {
            continue;
        }
        let origin = running[ctx.pick(running.len())].clone();
        let how = Spread {
            resend: Some(RESEND),
            exact: false,
            note: "",
        };
        let client = ctx.client_id(&format!("-{i}"));
        if let Err(Problem::Fail(f)) = spread_and_check(ctx, &origin, &client, &down, how).await {
            failures.push(f.message.clone());
            first.get_or_insert(f);
        }
    }
    match first {
        None => Ok(()),
        Some(f) => Err(Problem::Fail(crate::runner::Failure {
            message: format!(
                "{} of {} cases failed:\n{}",
                failures.len(),
                cases.len(),
                failures.join("\n")
            ),
            ..f
        })),
    }
}

/// One update with every server up, recorded first in the report: what each case's reach is
/// measured against.
async fn baseline(ctx: &Ctx, all: &[String]) -> Result<(), Problem> {
    let origin = all[ctx.pick(all.len())].clone();
    let how = Spread {
        resend: Some(RESEND),
        exact: false,
        note: "every server up",
    };
    let client = ctx.client_id("-baseline");
    match spread_and_check(ctx, &origin, &client, &BTreeSet::new(), how).await {
        Err(Problem::Fail(f)) => Err(Problem::Skip(format!(
            "cannot be judged: with every server up, an update entering at {origin} does not reach \
             every server, the flood bug flood/* reports; stopping servers cannot tell more ({})",
            f.message.lines().next().unwrap_or_default()
        ))),
        other => other,
    }
}

async fn one_down(ctx: &Ctx) -> Result<(), Problem> {
    let cases = ctx
        .shuffled(names(ctx)?)
        .into_iter()
        .map(|n| BTreeSet::from([n]))
        .collect();
    down_cases(ctx, cases).await
}

async fn every_pair_down(ctx: &Ctx) -> Result<(), Problem> {
    // Seeded order, each next pair sharing a server with the last where possible (one restart
    // and one stop between cases instead of two of each).
    let mut left = ctx.shuffled(ctx.topology()?.pairs());
    let mut cases: Vec<BTreeSet<String>> = Vec::new();
    while !left.is_empty() {
        let i = cases
            .last()
            .and_then(|last| {
                left.iter()
                    .position(|(a, b)| last.contains(a) || last.contains(b))
            })
            .unwrap_or(0);
        let (a, b) = left.remove(i);
        cases.push(BTreeSet::from([a, b]));
    }
    down_cases(ctx, cases).await
}

async fn restart_rejoins(ctx: &Ctx) -> Result<(), Problem> {
    let topology = ctx.topology()?;
    let all = names(ctx)?;
    let linked: Vec<&String> = all
        .iter()
        .filter(|n| !topology.neighbours(n).is_empty())
        .collect();
    if linked.is_empty() {
        return Err(Problem::Skip("the herd has no links".into()));
    }
    let server = linked[ctx.pick(linked.len())].clone();
    let neighbours = topology.neighbours(&server);
    let neighbour = neighbours[ctx.pick(neighbours.len())].clone();
    let down = BTreeSet::from([server.clone()]);
    let none = BTreeSet::new();
    // Links up first, so the ones towards the server are known to have worked before it stops.
    warm_up(ctx).await;
    // With every server up, updates must reach them all before stopping servers can tell
    // anything: otherwise each case would only fail again for the flood bug flood/* reports.
    needs_reach(ctx).await?;
    baseline(ctx, &all).await?;
    // While it is down, an update at its neighbour (whose link to it then fails).
    set_down(ctx, &none, &down).await?;
    let how = Spread {
        resend: Some(RESEND),
        exact: false,
        note: "",
    };
    spread_and_check(ctx, &neighbour, &ctx.client_id("-while-down"), &down, how).await?;
    set_down(ctx, &down, &none).await?;
    let back = format!("after {server} restarted");
    let how = Spread { note: &back, ..how };
    // Back: updates at its neighbour must reach it, and its own must flow out through it.
    let inbound = spread_and_check(ctx, &neighbour, &ctx.client_id("-to"), &none, how).await;
    let outbound = spread_and_check(ctx, &server, &ctx.client_id("-from"), &none, how).await;
    match (inbound, outbound) {
        (Err(Problem::Fail(f)), _) => Err(Problem::Fail(crate::runner::Failure {
            message: format!(
                "{server} did not learn updates made after its return (are links to a restarted \
                 neighbour re-opened?): {}",
                f.message
            ),
            ..f
        })),
        (_, Err(Problem::Fail(f))) => Err(Problem::Fail(crate::runner::Failure {
            message: format!(
                "updates at {server} after its return did not flow to the herd: {}",
                f.message
            ),
            ..f
        })),
        (Err(e), _) | (_, Err(e)) => Err(e),
        _ => Ok(()),
    }
}

/// How long a reply may take while a neighbour is down.
const PROMPT: Duration = Duration::from_millis(500);

/// One new update at `server`, and a WHATSAT for it, each timed.
struct Timed {
    got: Result<crate::wire::Received, String>,
    answer: Answer,
    iamat: Duration,
    whatsat: Duration,
}

async fn update_and_ask(ctx: &Ctx, server: &str, address: SocketAddr, attempt: usize) -> Timed {
    let client = ctx.client_id(&format!("-{server}-{attempt}"));
    let (position, _, _) = unique_position();
    let command = format!("IAMAT {client} {position} {}", time_from_now(0));
    let started = Instant::now();
    let deadline = started + ctx.env.timeout;
    let got = match ctx.env.framing {
        Framing::Line => reply_begun(ctx, address, &command, deadline).await,
        Framing::Eof => {
            ctx.exchange_with(address, command.as_bytes(), Shape::Line, deadline)
                .await
        }
    };
    let iamat = started.elapsed();
    let asked = Instant::now();
    let answer = ask(ctx, address, &client).await;
    Timed {
        got,
        answer,
        iamat,
        whatsat: asked.elapsed(),
    }
}

/// Sends `command` as a line and returns once its reply has begun (three bytes, or a whole
/// line): the time the server takes to answer, whether or not it ends its line (a reply with no
/// newline would otherwise be timed to the end of the suite's quiet period).
async fn reply_begun(
    ctx: &Ctx,
    address: SocketAddr,
    command: &str,
    deadline: Instant,
) -> Result<crate::wire::Received, String> {
    let pace = ctx.env.paces.of(address);
    let mut conn =
        crate::wire::Conn::connect_paced(address, &ctx.transcript, deadline, pace).await?;
    conn.send(format!("{command}\n").as_bytes()).await?;
    let begun =
        |buf: &[u8]| (buf.len() >= 3 || crate::wire::line_end(buf).is_some()).then_some(buf.len());
    Ok(conn.read_until(begun, deadline).await)
}

async fn no_delay_while_down(ctx: &Ctx) -> Result<(), Problem> {
    needs_reach(ctx).await?;
    let topology = ctx.topology()?;
    let all = names(ctx)?;
    let stopped = all[ctx.pick(all.len())].clone();
    let down = BTreeSet::from([stopped.clone()]);
    set_down(ctx, &BTreeSet::new(), &down).await?;
    let mut servers = vec![Learned::new(&stopped, Verdict::Down)];
    let mut problems = Vec::new();
    // Neighbours of the stopped server first: they are the ones that try to reach it.
    let mut order: Vec<String> = topology.neighbours(&stopped);
    let rest: Vec<String> = all
        .iter()
        .filter(|n| **n != stopped && !order.contains(n))
        .cloned()
        .collect();
    order.extend(rest);
    for server in &order {
        let address = addr(ctx, server)?;
        let mut tries = Vec::new();
        // A slow reply is tried once more with a new update: a server that waits for the flood
        // is slow every time, a busy moment of the machine seldom twice.
        for attempt in 0..2 {
            let timed = update_and_ask(ctx, server, address, attempt).await;
            let slow = timed.iamat > PROMPT
                || (timed.whatsat > PROMPT && busy_now(ctx, address, PROMPT / 2).await);
            tries.push(timed);
            if !slow {
                break;
            }
        }
        let last = tries.last().map(|t| (t.iamat, t.whatsat));
        let (iamat, whatsat) = last.unwrap_or_default();
        if let Some(timed) = tries.last() {
            match (&timed.got, &timed.answer) {
                (Ok(r), Answer::Known(_)) if r.bytes.starts_with(b"AT ") => {}
                (Err(e), _) => problems.push(format!("{server}: IAMAT: {e}")),
                (_, Answer::Unavailable(why)) => problems.push(format!("{server}: WHATSAT: {why}")),
                _ => problems.push(format!(
                    "{server} did not answer the IAMAT with an AT line and then serve it"
                )),
            }
        }
        if tries.len() == 2 {
            let times: Vec<String> = tries
                .iter()
                .map(|t| {
                    format!(
                        "{} ms the IAMAT and {} ms the WHATSAT",
                        t.iamat.as_millis(),
                        t.whatsat.as_millis()
                    )
                })
                .collect();
            problems.push(format!(
                "{server} took {} while {stopped} is down (at most {} ms, twice in a row): a \
                 reply must not wait for the flood",
                times.join(", then "),
                PROMPT.as_millis()
            ));
        }
        servers.push(Learned::after(server, iamat.max(whatsat)));
    }
    ctx.record(Propagation {
        update: format!("reply times (slowest of IAMAT and WHATSAT) while {stopped} is down"),
        servers,
    });
    if problems.is_empty() {
        Ok(())
    } else {
        fail(problems.join("; "))
    }
}
