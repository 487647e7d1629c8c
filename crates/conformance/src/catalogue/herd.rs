//! What the `flood/*` and `resilience/*` tests share: talking to any server of the herd by name,
//! sending an update, and watching every server until it answers a WHATSAT with the update's AT
//! line — recording, per server, when it learned it (or why not) for the reports.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::{time_from_now, unique_position};
use crate::propagation::{Learned, Propagation, Verdict};
use crate::report::escape;
use crate::runner::{Ctx, Failure, Problem, Shape};
use crate::wire::End;

/// How often a server is asked again while an update spreads.
pub const POLL: Duration = Duration::from_millis(20);

/// The address of server `name`.
pub fn addr(ctx: &Ctx, name: &str) -> Result<SocketAddr, Problem> {
    ctx.topology()?.address(name).ok_or_else(|| {
        Problem::Fail(Failure::new(format!(
            "`{name}` is not a server of the herd"
        )))
    })
}

/// The herd's server names.
pub fn names(ctx: &Ctx) -> Result<Vec<String>, Problem> {
    Ok(ctx.topology()?.names().to_vec())
}

/// Sends `IAMAT client position time` to `server`; returns its AT line (without newline).
pub async fn iamat_at(
    ctx: &Ctx,
    server: &str,
    client: &str,
    position: &str,
    time: &str,
) -> Result<Vec<u8>, Problem> {
    let command = format!("IAMAT {client} {position} {time}");
    let deadline = Instant::now() + ctx.env.timeout;
    let got = ctx
        .exchange_with(
            addr(ctx, server)?,
            command.as_bytes(),
            Shape::Line,
            deadline,
        )
        .await
        .map_err(|e| Problem::Fail(Failure::new(format!("{server}: {e}"))))?;
    let line = got.bytes.strip_suffix(b"\n").unwrap_or(&got.bytes);
    if got.end != End::Complete || !line.starts_with(b"AT ") || line.contains(&b'\n') {
        return Err(Problem::Fail(Failure {
            message: format!(
                "{server} did not answer `{command}` with one AT line ({})",
                match (&got.end, got.bytes.is_empty()) {
                    (End::Timeout, true) => "no reply in time",
                    (End::Eof, true) => "it closed the connection without replying",
                    _ => "see the actual bytes",
                }
            ),
            actual: Some(got.bytes.clone()),
            ..Failure::default()
        }));
    }
    Ok(line.to_vec())
}

/// A new update for `client` at `server`, a fresh position and the current time.
pub async fn update_at(ctx: &Ctx, server: &str, client: &str) -> Result<Vec<u8>, Problem> {
    let (position, _, _) = unique_position();
    iamat_at(ctx, server, client, &position, &time_from_now(0)).await
}

/// What a server says about a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The AT line it serves.
    Known(Vec<u8>),
    /// `? WHATSAT ...`: it has not heard of the client.
    Unknown,
    /// No usable reply (why).
    NoAnswer(String),
}

/// Asks `server` for `client` with `WHATSAT client 1 1`; keeps the AT line. The server gets the
/// per-test timeout to answer, whatever the flood deadline.
pub async fn ask(ctx: &Ctx, server: SocketAddr, client: &str) -> Answer {
    let command = format!("WHATSAT {client} 1 1");
    let deadline = Instant::now() + ctx.env.timeout;
    match ctx
        .poll_with(server, command.as_bytes(), Shape::Whatsat, deadline)
        .await
    {
        Err(e) => Answer::NoAnswer(e),
        Ok(got) if got.bytes.starts_with(b"? ") => Answer::Unknown,
        Ok(got) if got.bytes.starts_with(b"AT ") => {
            let end = got.bytes.iter().position(|&b| b == b'\n');
            Answer::Known(got.bytes[..end.unwrap_or(got.bytes.len())].to_vec())
        }
        Ok(got) if got.bytes.is_empty() => Answer::NoAnswer(format!(
            "no reply to `{command}` ({})",
            if got.end == End::Eof {
                "connection closed"
            } else {
                "timed out"
            }
        )),
        Ok(got) => Answer::NoAnswer(format!(
            "unexpected reply to `{command}`: {}",
            escape(&got.bytes[..got.bytes.len().min(80)])
        )),
    }
}

/// Polls each of `servers` until it answers `client` with one of `wanted` (any, when empty: only
/// known-ness counts) or `deadline`; returns each server's verdict, times counted from `since`.
pub async fn await_lines(
    ctx: &Ctx,
    servers: &[String],
    client: &str,
    wanted: &[Vec<u8>],
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
                    && (wanted.is_empty() || wanted.contains(line))
                {
                    return Learned::after(server, since.elapsed());
                }
                if Instant::now() + POLL >= deadline {
                    break answer;
                }
                tokio::time::sleep(POLL).await;
            };
            match last {
                Answer::Known(line) => Learned {
                    answered: Some(String::from_utf8_lossy(&line).into_owned()),
                    ..Learned::new(server, Verdict::WrongLine)
                },
                Answer::Unknown => Learned::new(server, Verdict::Never),
                Answer::NoAnswer(why) => Learned {
                    answered: Some(why),
                    ..Learned::new(server, Verdict::NoAnswer)
                },
            }
        });
    }
    Ok(futures::future::join_all(watches).await)
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
            match ask(ctx, address, client).await {
                Answer::Unknown => Learned::new(server, Verdict::Unreachable),
                Answer::Known(line) => Learned {
                    answered: Some(String::from_utf8_lossy(&line).into_owned()),
                    ..Learned::new(server, Verdict::Unexpected)
                },
                Answer::NoAnswer(why) => Learned {
                    answered: Some(why),
                    ..Learned::new(server, Verdict::NoAnswer)
                },
            }
        });
    }
    Ok(futures::future::join_all(asks).await)
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
    let wanted = |lines: &[Vec<u8>]| if exact { lines.to_vec() } else { Vec::new() };
    let mut learned = match resend {
        None => await_lines(ctx, &expected, client, &wanted(&lines), since, deadline).await?,
        Some(period) => loop {
            let round_end = (Instant::now() + period).min(deadline);
            let got =
                await_lines(ctx, &expected, client, &wanted(&lines), since, round_end).await?;
            let pending = got.iter().any(|l| l.verdict != Verdict::Learned);
            if !pending || Instant::now() + POLL >= deadline {
                if pending {
                    break got;
                }
                // Everyone learned one of the updates: the latest must now win everywhere.
                let last = lines.last().cloned().unwrap_or_default();
                let settled =
                    await_lines(ctx, &expected, client, &wanted(&[last]), since, deadline).await?;
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

/// Process control, or why the test cannot run.
pub fn procs(ctx: &Ctx) -> Result<&std::sync::Arc<herd_spawn::Spawner>, Problem> {
    ctx.env
        .procs
        .as_ref()
        .ok_or_else(|| Problem::Skip("needs to stop and start servers: run with --spawn".into()))
}

/// Goes from the servers in `from` stopped to those in `to` stopped, stopping and starting
/// concurrently (SIGTERM, then SIGKILL after a grace period).
pub async fn set_down(
    ctx: &Ctx,
    from: &BTreeSet<String>,
    to: &BTreeSet<String>,
) -> Result<(), Problem> {
    let procs = procs(ctx)?;
    let stops = to.difference(from).map(|name| async move {
        procs
            .stop(name)
            .await
            .map_err(|e| format!("cannot stop {name}: {e:#}"))
    });
    let starts = from.difference(to).map(|name| async move {
        procs
            .start(name)
            .await
            .map_err(|e| format!("cannot restart {name}: {e:#}"))
    });
    let (stopped, started) = futures::future::join(
        futures::future::join_all(stops),
        futures::future::join_all(starts),
    )
    .await;
    let errors: Vec<String> = stopped
        .into_iter()
        .chain(started)
        .filter_map(Result::err)
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::Fail(Failure::new(errors.join("; "))))
    }
}

/// Starts every server of the herd that is not running, and gives their links the settle
/// deadline to come back (an update resent until every server has it), so the next test finds
/// the herd whole. Errors are ignored: the test that stopped the servers reports its own.
pub async fn restore(ctx: &Ctx) {
    let Ok(procs) = procs(ctx) else { return };
    let Ok(names) = names(ctx) else { return };
    let down: BTreeSet<String> = names
        .iter()
        .filter(|n| !procs.is_running(n))
        .cloned()
        .collect();
    if down.is_empty() {
        return;
    }
    let _ = set_down(ctx, &down, &BTreeSet::new()).await;
    warm_up(ctx).await;
}

/// Waits (at most the settle deadline) until the herd's links carry updates: an update at every
/// server, resent until every server has them all. Links that connect lazily or reconnect with
/// a backoff (after a start or restart) may drop what is sent before; the tests that follow
/// judge updates sent once, so they start from a linked herd. Quiet: failures are left to them.
pub async fn warm_up(ctx: &Ctx) {
    let Ok(names) = names(ctx) else { return };
    let since = Instant::now();
    let deadline = since + ctx.env.settle;
    let one = |origin: String| {
        let names = &names;
        async move {
            let client = ctx.client_id(&format!("-warm-{origin}"));
            let mut lines = Vec::new();
            while Instant::now() < deadline {
                let Ok(line) = update_at(ctx, &origin, &client).await else {
                    return;
                };
                lines.push(line);
                let round_end = (Instant::now() + Duration::from_millis(100)).min(deadline);
                let Ok(got) = await_lines(ctx, names, &client, &lines, since, round_end).await
                else {
                    return;
                };
                if got.iter().all(|l| l.verdict == Verdict::Learned) {
                    return;
                }
            }
        }
    };
    futures::future::join_all(names.iter().cloned().map(one)).await;
}
