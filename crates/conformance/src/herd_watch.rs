//! What the `flood/*` and `resilience/*` tests share: sending an update and watching every
//! server until it serves it — recording, per server, when it learned it (or why not) for the
//! reports. An update counts as arrived when a server serves an AT line with its client,
//! position and time; whether the line is byte for byte the origin's is judged only where a
//! test asks for it ([`Spread::exact`], `flood/at-line-identical`), so one AT-line bug is
//! reported once, not as lost updates in every herd test.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use crate::fixtures::{time_from_now, unique_position};
use crate::propagation::{Learned, Propagation, Verdict};
use crate::runner::{Answer, Ctx, Failure, POLL, Problem, addr, ask, iamat_at, names, same_update};

/// A new update for `client` at `server`, a fresh position and the current time.
pub async fn update_at(ctx: &Ctx, server: &str, client: &str) -> Result<Vec<u8>, Problem> {
    let (position, _, _) = unique_position();
    iamat_at(ctx, server, client, &position, &time_from_now(0)).await
}

/// How a served AT line is compared with the lines a test is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// Same client, position and time (the update arrived).
    Update,
    /// Byte for byte (the AT line was relayed as its origin produced it).
    Exact,
}

impl Match {
    fn holds(self, served: &[u8], wanted: &[u8]) -> bool {
        match self {
            Match::Update => same_update(served, wanted),
            Match::Exact => served == wanted,
        }
    }
}

/// Polls each of `servers` until it answers `client` with one of `wanted` (compared as `how`
/// says) or `deadline`; returns each server's verdict, times counted from `since`.
pub async fn await_lines(
    ctx: &Ctx,
    servers: &[String],
    client: &str,
    wanted: &[Vec<u8>],
    how: Match,
    since: Instant,
    deadline: Instant,
) -> Result<Vec<Learned>, Problem> {
    let mut watches = Vec::new();
    for server in servers {
        let address = addr(ctx, server)?;
        watches.push(async move {
            let last = loop {
                let answer = ask(ctx, address, client).await;
                if let Answer::Known(line) = &answer
                    && wanted.iter().any(|w| how.holds(line, w))
                {
                    return Learned::after(server, since.elapsed());
                }
                if Instant::now() + POLL >= stretched(ctx, deadline) {
                    break answer;
                }
                tokio::time::sleep(POLL).await;
            };
            unmatched(server, last, Verdict::WrongLine, Verdict::Never)
        });
    }
    Ok(futures::future::join_all(watches).await)
}

/// How many of the herd's slowest round trips a convergence deadline grows by.
const SETTLE_RTTS: u32 = 50;

/// `deadline` stretched by the herd's current pace: on a busy machine a herd floods as slowly as
/// it answers, so the settle period grows with the slowest server's round trips (by at most
/// `--timeout`) instead of reporting a slow flood as a lost one.
fn stretched(ctx: &Ctx, deadline: Instant) -> Instant {
    deadline + (ctx.env.paces.slowest_rtt() * SETTLE_RTTS).min(ctx.env.timeout)
}

/// Checks that none of `servers` knows `client` (they are cut off from the update's origin).
pub async fn not_told(
    ctx: &Ctx,
    servers: &[String],
    client: &str,
) -> Result<Vec<Learned>, Problem> {
    let mut asks = Vec::new();
    for server in servers {
        let address = addr(ctx, server)?;
        asks.push(async move {
            let answer = ask(ctx, address, client).await;
            unmatched(server, answer, Verdict::Unexpected, Verdict::Unreachable)
        });
    }
    Ok(futures::future::join_all(asks).await)
}

/// What `server`'s answer says when it is not the update being watched for: a line is
/// `known` (with the line kept for the report), no entry is `unknown`, no answer is
/// `NoAnswer` (with the reason).
pub fn unmatched(server: &str, answer: Answer, known: Verdict, unknown: Verdict) -> Learned {
    match answer {
        Answer::Known(line) => Learned {
            answered: Some(String::from_utf8_lossy(&line).into_owned()),
            ..Learned::new(server, known)
        },
        Answer::Unknown => Learned::new(server, unknown),
        Answer::Unavailable(why) => Learned {
            answered: Some(why),
            ..Learned::new(server, Verdict::NoAnswer)
        },
    }
}

/// Fails unless a lone update entering at every server reaches every other: checked once a run
/// (all origins at once), the first time a test needs it. A test about something other than
/// reach cannot show its property on a herd whose flood does not get everywhere, so it is
/// skipped saying where updates do not get; the flood is flood/reaches-every-server's finding,
/// reported once, not again by every herd test.
pub async fn needs_reach(ctx: &Ctx) -> Result<(), Problem> {
    let all = names(ctx)?;
    let unreached = ctx
        .env
        .unreached
        .get_or_init(|| async {
            let lone = all.iter().map(|origin| {
                let all = &all;
                async move {
                    let client = ctx.client_id(&format!("-reach-{origin}"));
                    let since = Instant::now();
                    let line = update_at(ctx, origin, &client).await.ok()?;
                    let learned = await_lines(
                        ctx,
                        all,
                        &client,
                        std::slice::from_ref(&line),
                        Match::Update,
                        since,
                        since + ctx.env.settle,
                    )
                    .await
                    .ok()?;
                    let missed: Vec<&str> = learned
                        .iter()
                        .filter(|l| l.verdict == Verdict::Never)
                        .map(|l| l.server.as_str())
                        .collect();
                    (!missed.is_empty())
                        .then(|| format!("from {origin} not to {}", missed.join(", ")))
                }
            });
            let found: Vec<String> = futures::future::join_all(lone)
                .await
                .into_iter()
                .flatten()
                .collect();
            (!found.is_empty()).then(|| found.join("; "))
        })
        .await;
    match unreached {
        None => Ok(()),
        Some(where_not) => Err(Problem::Skip(format!(
            "cannot be judged: lone updates, sent with every server up, do not get everywhere \
             ({where_not}); the flood itself is flood/reaches-every-server's finding"
        ))),
    }
}

/// Orders `learned` like the herd file, adds the stopped servers, records the propagation and
/// fails naming every server that got it wrong. `want` is the AT line every server should serve.
pub fn judge(
    ctx: &Ctx,
    update: String,
    mut learned: Vec<Learned>,
    down: &BTreeSet<String>,
    want: &[u8],
) -> Result<(), Problem> {
    let order = ctx.topology()?.names().to_vec();
    learned.extend(down.iter().map(|s| Learned::new(s, Verdict::Down)));
    learned.sort_by_key(|l| order.iter().position(|n| *n == l.server));
    let settle = ctx.env.settle.as_secs_f64();
    let mut problems = Vec::new();
    let mut wrong: Option<Vec<u8>> = None;
    for l in &learned {
        let answered = l.answered.clone().unwrap_or_default();
        match l.verdict {
            Verdict::Never => problems.push(format!(
                "{} never learned it within {settle} s (WHATSAT still says the client is unknown)",
                l.server
            )),
            Verdict::WrongLine => {
                problems.push(format!(
                    "{} answers with another AT line: `{answered}`{}",
                    l.server,
                    rewritten_hint(want, answered.as_bytes())
                ));
                wrong.get_or_insert_with(|| answered.clone().into_bytes());
            }
            Verdict::Unexpected => problems.push(format!(
                "{} learned it although no path of running servers leads there from the origin \
                 (does it talk to servers that are not its neighbours?)",
                l.server
            )),
            Verdict::NoAnswer => {
                problems.push(format!("{} could not be asked: {answered}", l.server))
            }
            Verdict::Learned | Verdict::Kept | Verdict::Down | Verdict::Unreachable => {}
        }
    }
    let propagation = Propagation {
        update: update.clone(),
        servers: learned,
    };
    ctx.record(propagation);
    if problems.is_empty() {
        return Ok(());
    }
    Err(Problem::Fail(Failure {
        message: format!("{update}: {}", problems.join("; ")),
        expected: wrong.as_ref().map(|_| want.to_vec()),
        actual: wrong,
    }))
}

/// Like [`judge`] (no server down), for an update that only prepares what a test is about:
/// when the only fault is that some servers never learned it, the test cannot show its own
/// property there and is skipped saying so — the flood's reach is flood/reaches-every-server's
/// finding, reported once. Any other fault (a wrong line, no answer) still fails.
pub fn judge_setup(
    ctx: &Ctx,
    update: String,
    learned: Vec<Learned>,
    want: &[u8],
) -> Result<(), Problem> {
    let unreached = learned.iter().any(|l| l.verdict == Verdict::Never);
    let other = learned.iter().any(|l| {
        matches!(
            l.verdict,
            Verdict::WrongLine | Verdict::Unexpected | Verdict::NoAnswer
        )
    });
    match judge(ctx, update, learned, &BTreeSet::new(), want) {
        Err(Problem::Fail(f)) if unreached && !other => Err(Problem::Skip(format!(
            "cannot be judged: {}; the flood itself is flood/reaches-every-server's finding",
            f.message
        ))),
        result => result,
    }
}

/// Names what changed when a served AT line differs from the original only in the server name or
/// the difference (a line recomputed on the way).
fn rewritten_hint(want: &[u8], got: &[u8]) -> &'static str {
    let fields =
        |b: &[u8]| -> Vec<Vec<u8>> { b.split(|&c| c == b' ').map(<[u8]>::to_vec).collect() };
    let (w, g) = (fields(want), fields(got));
    if w.len() == 6 && g.len() == 6 && w[3..] == g[3..] {
        if w[1] != g[1] {
            return " (rewritten on the way: another server's name and difference — the AT line must \
                    be relayed as the receiving server produced it)";
        }
        if w[2] != g[2] {
            return " (the difference was recomputed on the way — the AT line must be relayed byte \
                    for byte)";
        }
    }
    ""
}

/// The label of an update in reports: `IAMAT c at Riley (Jaquez, Juzang down)`.
pub fn label(client: &str, origin: &str, down: &BTreeSet<String>, note: &str) -> String {
    let mut notes: Vec<String> = Vec::new();
    if !down.is_empty() {
        notes.push(format!(
            "{} down",
            down.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if !note.is_empty() {
        notes.push(note.to_owned());
    }
    if notes.is_empty() {
        format!("IAMAT {client} at {origin}")
    } else {
        format!("IAMAT {client} at {origin} ({})", notes.join("; "))
    }
}

/// How [`spread_and_check`] sends and judges.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spread<'a> {
    /// Resend a newer IAMAT at this period until everyone learned one (links may be
    /// reconnecting after a restart); the verdict is on the last.
    pub resend: Option<Duration>,
    /// Require the origin's AT line byte for byte (else any AT line for the client counts).
    pub exact: bool,
    /// Said in the report after the update (`after Riley restarted`).
    pub note: &'a str,
}

/// One update at `origin` with the servers in `down` stopped: every server the topology says it
/// reaches must serve the origin's AT line within the settle deadline, and every other running
/// server must not know the client.
pub async fn spread_and_check(
    ctx: &Ctx,
    origin: &str,
    client: &str,
    down: &BTreeSet<String>,
    how: Spread<'_>,
) -> Result<(), Problem> {
    let Spread {
        resend,
        exact,
        note,
    } = how;
    let topology = ctx.topology()?;
    let reach = topology.reach(origin, down);
    let expected: Vec<String> = reach.iter().filter(|s| *s != origin).cloned().collect();
    let cut_off: Vec<String> = topology
        .names()
        .iter()
        .filter(|s| !reach.contains(*s) && !down.contains(*s))
        .cloned()
        .collect();
    let since = Instant::now();
    let deadline = since + ctx.env.settle;
    let mut lines = vec![update_at(ctx, origin, client).await?];
    let how = if exact { Match::Exact } else { Match::Update };
    let mut learned = match resend {
        None => await_lines(ctx, &expected, client, &lines, how, since, deadline).await?,
        Some(period) => loop {
            let round_end = (Instant::now() + period).min(deadline);
            let got = await_lines(ctx, &expected, client, &lines, how, since, round_end).await?;
            let pending = got.iter().any(|l| l.verdict != Verdict::Learned);
            if !pending || Instant::now() + POLL >= stretched(ctx, deadline) {
                if pending {
                    break got;
                }
                // Everyone learned one of the updates: the latest must now win everywhere.
                let last = lines.last().cloned().unwrap_or_default();
                let settled =
                    await_lines(ctx, &expected, client, &[last], how, since, deadline).await?;
                break got
                    .into_iter()
                    .zip(settled)
                    .map(|(first, last)| {
                        if last.verdict == Verdict::Learned {
                            first
                        } else {
                            last
                        }
                    })
                    .collect();
            }
            lines.push(update_at(ctx, origin, client).await?);
        },
    };
    learned.insert(0, Learned::after(origin, Duration::ZERO));
    learned.extend(not_told(ctx, &cut_off, client).await?);
    let want = lines.last().cloned().unwrap_or_default();
    judge(ctx, label(client, origin, down, note), learned, down, &want)
}
