//! `flood/*`: a whole herd converges (protocol.md §5) — every update reaches every server, the AT
//! line served anywhere is the one the receiving server produced, newer wins and older changes
//! nothing everywhere, many clients at once are all kept, servers pass locations and never Places
//! data, and one update does not set off a storm.
//!
//! Expectations come from the topology ([`crate::topology`]); each test records, per update and
//! server, when the server learned it (see [`crate::propagation`]).

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use crate::case;
use crate::expect::{now_ns, time_text};
use crate::fixtures::{position_with_signs, time_from_now, unique_position};
use crate::herd_watch::{
    Match, Spread, await_lines, judge, judge_setup, label, needs_reach, spread_and_check,
    unmatched, update_at,
};
use crate::propagation::{Learned, Propagation, Verdict};
use crate::runner::{
    Answer, POLL, addr, ask, busy_now, iamat_at, names, same_update,
    same_update_and_position_bytes, set_down,
};
use crate::runner::{Ctx, Failure, Problem, TestCase, fail};
use crate::sniffer::Sniffer;

pub static TESTS: &[TestCase] = &[
    case!(
        "flood/reaches-every-server",
        Must,
        [Herd],
        "An IAMAT at any server reaches every other server of the herd within the settle deadline.",
        reaches_every_server
    ),
    case!(
        "flood/at-line-identical",
        Must,
        [Herd],
        "A WHATSAT at any server serves the AT line the receiving server returned, byte for byte (its name and difference).",
        at_line_identical
    ),
    case!(
        "flood/newer-replaces",
        Must,
        [Herd],
        "A newer IAMAT at another server replaces the location everywhere.",
        newer_replaces
    ),
    case!(
        "flood/older-changes-nothing",
        Must,
        [Herd],
        "An older IAMAT at another server changes nothing anywhere.",
        older_changes_nothing
    ),
    case!(
        "flood/concurrent-newest-wins",
        Must,
        [Herd],
        "Two IAMATs for one client at distant servers at the same moment: every server ends with the one of greater client time.",
        concurrent_newest_wins
    ),
    case!(
        "flood/concurrent-same-time",
        Should,
        [Herd],
        "Two IAMATs for one client with the same client time but different positions, at distant servers at once, converge to a single answer everywhere.",
        concurrent_same_time
    ),
    case!(
        "flood/many-clients",
        Must,
        [Herd, Alone],
        "Hundreds of distinct clients sent across all servers within a second all reach every server, none lost.",
        many_clients
    ),
    case!(
        "flood/places-once",
        Must,
        [Herd],
        "Servers pass locations only: a flood makes no Places request, and a WHATSAT makes exactly one, from the server asked.",
        places_once
    ),
    case!(
        "flood/quiet-after-update",
        Must,
        [Herd, Alone],
        "After an update the herd goes quiet: servers stay responsive and no copy bounces back to replace it.",
        quiet_after_update
    ),
    case!(
        "flood/no-storm",
        Must,
        [Spawn],
        "Each server forwards an update at most once to each neighbour (older or equal copies are dropped, ending the flood).",
        no_storm
    ),
];

/// Collects the failures of several checks into one, keeping the first one's bytes.
fn merge(results: Vec<Result<(), Problem>>) -> Result<(), Problem> {
    let mut messages = Vec::new();
    let mut first: Option<Failure> = None;
    for result in results {
        match result {
            Ok(()) => {}
            Err(Problem::Skip(why)) => return Err(Problem::Skip(why)),
            Err(Problem::Fail(f)) => {
                messages.push(f.message.clone());
                first.get_or_insert(f);
            }
        }
    }
    match first {
        None => Ok(()),
        Some(f) => Err(Problem::Fail(Failure {
            message: messages.join("\n"),
            ..f
        })),
    }
}

/// Two distant servers (seeded order), or any two, or the only one twice.
fn distant_pair(ctx: &Ctx) -> Result<(String, String), Problem> {
    let topology = ctx.topology()?;
    let (a, b) = topology.farthest_pair().unwrap_or_else(|| {
        let first = topology.names().first().cloned().unwrap_or_default();
        (first.clone(), first)
    });
    Ok(if ctx.pick(2) == 0 { (a, b) } else { (b, a) })
}

async fn reaches_every_server(ctx: &Ctx) -> Result<(), Problem> {
    let origins = ctx.shuffled(names(ctx)?);
    let none = BTreeSet::new();
    let checks = origins.iter().enumerate().map(|(i, origin)| {
        let client = ctx.client_id(&format!("-{i}"));
        let none = &none;
        async move { spread_and_check(ctx, origin, &client, none, Spread::default()).await }
    });
    merge(futures::future::join_all(checks).await)
}

async fn at_line_identical(ctx: &Ctx) -> Result<(), Problem> {
    needs_reach(ctx).await?;
    let all = names(ctx)?;
    let origin = &all[ctx.pick(all.len())];
    origin_serves_its_lines(ctx, origin).await?;
    let how = Spread {
        exact: true,
        ..Spread::default()
    };
    spread_and_check(ctx, origin, &ctx.client_id(""), &BTreeSet::new(), how).await
}

/// How many rounds of the four sign pairs [`origin_serves_its_lines`] tries before it decides
/// that the origin never serves its own line.
const OWN_LINE_ROUNDS: usize = 2;

/// Relayed lines are seen through WHATSAT, so they can be compared with the origin's only if the
/// origin itself answers WHATSAT with the line its IAMAT got (whatever the position's signs);
/// otherwise the test is skipped as whatsat/at-line-stored's finding.
///
/// One answer is not enough either way. A herd that rewrites relayed lines and breaks ties on the
/// line's bytes stores the rewritten copies that come back round a cycle over the origin's own
/// line, and on a busy machine such a copy can arrive before the suite's WHATSAT does. So a
/// different line with the same position counts against the origin only if the origin never
/// served its own line in two rounds of probes: a server that recomputes the line at WHATSAT time
/// never does, while one whose line was overwritten by an echo does whenever the WHATSAT wins the
/// race. A different position is the origin's own doing (an echo carries the origin's bytes),
/// and skips at once.
async fn origin_serves_its_lines(ctx: &Ctx, origin: &str) -> Result<(), Problem> {
    let signs = [('+', '+'), ('+', '-'), ('-', '+'), ('-', '-')];
    let mut served_own = false;
    let mut other_line: Option<(Vec<u8>, Vec<u8>)> = None;
    for round in 0..OWN_LINE_ROUNDS {
        if served_own {
            break;
        }
        for (i, (lat, lng)) in signs.iter().enumerate() {
            let probe = ctx.client_id(&format!("-own{}", round * signs.len() + i));
            let (position, _, _) = position_with_signs(*lat, *lng);
            let own = iamat_at(ctx, origin, &probe, &position, &time_from_now(0)).await?;
            let Answer::Known(served) = ask(ctx, addr(ctx, origin)?, &probe).await else {
                continue;
            };
            if served == own {
                served_own = true;
            } else if same_update_and_position_bytes(&served, &own) {
                other_line.get_or_insert((served, own));
            } else {
                return Err(not_its_line(origin, &served, &own, ""));
            }
        }
    }
    match other_line {
        Some((served, own)) if !served_own => Err(not_its_line(
            origin,
            &served,
            &own,
            &format!(" in any of {} tries", OWN_LINE_ROUNDS * signs.len()),
        )),
        _ => Ok(()),
    }
}

/// The skip of [`origin_serves_its_lines`]: `origin` served `served` for the IAMAT that got `own`.
fn not_its_line(origin: &str, served: &[u8], own: &[u8], tries: &str) -> Problem {
    Problem::Skip(format!(
        "cannot be judged: {origin} answers WHATSAT with another AT line than its IAMAT got \
         (`{}` for `{}`){tries}, whatsat/at-line-stored's finding, so relayed lines cannot be \
         compared through WHATSAT",
        String::from_utf8_lossy(served),
        String::from_utf8_lossy(own)
    ))
}

/// What an update's spread is to a test: the property it judges, or a step that prepares it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Judged,
    /// A herd whose flood does not reach some server cannot show this test's property there:
    /// the test is skipped saying so, and flood/reaches-every-server reports the flood once.
    Setup,
}

/// Sends an update and waits until every server serves it (by client, time and position; the
/// line's bytes are the tests about the line's business).
async fn settle_everywhere(
    ctx: &Ctx,
    origin: &str,
    client: &str,
    position: &str,
    time: &str,
    note: &str,
    role: Role,
) -> Result<Vec<u8>, Problem> {
    let since = Instant::now();
    let line = iamat_at(ctx, origin, client, position, time).await?;
    let all = names(ctx)?;
    let learned = await_lines(
        ctx,
        &all,
        client,
        std::slice::from_ref(&line),
        Match::Update,
        since,
        since + ctx.env.settle,
    )
    .await?;
    let update = label(client, origin, &BTreeSet::new(), note);
    match role {
        Role::Judged => judge(ctx, update, learned, &BTreeSet::new(), &line)?,
        Role::Setup => judge_setup(ctx, update, learned, &line)?,
    }
    Ok(line)
}

async fn newer_replaces(ctx: &Ctx) -> Result<(), Problem> {
    needs_reach(ctx).await?;
    let (a, b) = distant_pair(ctx)?;
    let client = ctx.client_id("");
    let (first, _, _) = unique_position();
    let (second, _, _) = unique_position();
    settle_everywhere(
        ctx,
        &a,
        &client,
        &first,
        &time_from_now(-2_000_000_000),
        "first",
        Role::Setup,
    )
    .await?;
    settle_everywhere(
        ctx,
        &b,
        &client,
        &second,
        &time_from_now(0),
        "newer",
        Role::Judged,
    )
    .await?;
    Ok(())
}

async fn older_changes_nothing(ctx: &Ctx) -> Result<(), Problem> {
    needs_reach(ctx).await?;
    let (a, b) = distant_pair(ctx)?;
    let client = ctx.client_id("");
    let (newer, _, _) = unique_position();
    let (older, _, _) = unique_position();
    // The older time is counted from the newer one, not from when it is sent: the settling
    // in between takes as long as the herd's WHATSATs (their Places requests) take.
    let newer_ns = now_ns();
    let kept = settle_everywhere(
        ctx,
        &a,
        &client,
        &newer,
        &time_text(newer_ns),
        "newer",
        Role::Setup,
    )
    .await?;
    // Copies of the newer update may still be crossing the herd after every server has one; a
    // server that wrongly stores the older one would take a late copy as news and hide its
    // fault. A quiet marker from the same origin follows those copies over the same links.
    let quiet = ctx.client_id("-quiet");
    let (position, _, _) = unique_position();
    settle_everywhere(
        ctx,
        &a,
        &quiet,
        &position,
        &time_from_now(0),
        "quiet",
        Role::Setup,
    )
    .await?;
    let older_time = time_text(newer_ns - 2_000_000_000);
    let stale = iamat_at(ctx, &b, &client, &older, &older_time).await?;
    // Asked at once, the server that took the older update shows it before anything can mask it.
    let mut replaced = Vec::new();
    if let Answer::Known(line) = ask(ctx, addr(ctx, &b)?, &client).await
        && same_update(&line, &stale)
    {
        replaced.push(b.clone());
    }
    // A marker sent after the older update, over the same links: once it is everywhere, the
    // older one has had its chance to spread too.
    let marker = ctx.client_id("-marker");
    let (position, _, _) = unique_position();
    settle_everywhere(
        ctx,
        &b,
        &marker,
        &position,
        &time_from_now(0),
        "marker",
        Role::Setup,
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let all = names(ctx)?;
    let mut learned = Vec::new();
    for server in &all {
        learned.push(match ask(ctx, addr(ctx, server)?, &client).await {
            // Healed later, but it did take the older update: that is the fault under test.
            Answer::Known(_) if replaced.contains(server) => Learned {
                answered: Some(format!(
                    "{} (when asked right after the older IAMAT)",
                    String::from_utf8_lossy(&stale)
                )),
                ..Learned::new(server, Verdict::WrongLine)
            },
            Answer::Known(line) if same_update(&line, &kept) => Learned::new(server, Verdict::Kept),
            answer => {
                if matches!(&answer, Answer::Known(line) if same_update(line, &stale)) {
                    replaced.push(server.clone());
                }
                unmatched(server, answer, Verdict::WrongLine, Verdict::Never)
            }
        });
    }
    let update = format!("IAMAT {client} at {b}, 2 s older than the one at {a}");
    judge(ctx, update, learned, &BTreeSet::new(), &kept).map_err(|problem| match problem {
        Problem::Fail(f) if !replaced.is_empty() => Problem::Fail(Failure {
            message: format!(
                "the older IAMAT replaced the newer one at {}; {}",
                replaced.join(", "),
                f.message
            ),
            ..f
        }),
        other => other,
    })
}

/// Sends two IAMATs for `client` at `a` and `b` at the same moment; returns both AT lines.
async fn race(
    ctx: &Ctx,
    (a, b): (&str, &str),
    client: &str,
    times: (&str, &str),
) -> Result<(Vec<u8>, Vec<u8>), Problem> {
    let (pa, _, _) = unique_position();
    let (pb, _, _) = unique_position();
    let (la, lb) = futures::future::join(
        iamat_at(ctx, a, client, &pa, times.0),
        iamat_at(ctx, b, client, &pb, times.1),
    )
    .await;
    Ok((la?, lb?))
}

async fn concurrent_newest_wins(ctx: &Ctx) -> Result<(), Problem> {
    needs_reach(ctx).await?;
    let (a, b) = distant_pair(ctx)?;
    let client = ctx.client_id("");
    let now = now_ns();
    let older = crate::expect::time_text(now);
    let newer = crate::expect::time_text(now + 1_000_000);
    let since = Instant::now();
    let (_, winner) = race(ctx, (&a, &b), &client, (&older, &newer)).await?;
    let all = names(ctx)?;
    let learned = await_lines(
        ctx,
        &all,
        &client,
        std::slice::from_ref(&winner),
        Match::Update,
        since,
        since + ctx.env.settle,
    )
    .await?;
    let update = format!("IAMAT {client} at {a} and, 1 ms newer, at {b} at once");
    // A server that never heard of either update cannot show which one wins.
    judge_setup(ctx, update, learned, &winner)
}

async fn concurrent_same_time(ctx: &Ctx) -> Result<(), Problem> {
    needs_reach(ctx).await?;
    let (a, b) = distant_pair(ctx)?;
    let client = ctx.client_id("");
    let time = time_from_now(0);
    let since = Instant::now();
    let (la, lb) = race(ctx, (&a, &b), &client, (&time, &time)).await?;
    let all = names(ctx)?;
    let deadline = since + ctx.env.settle;
    let mut answers: Vec<Answer> = Vec::new();
    while Instant::now() < deadline {
        answers = Vec::new();
        for server in &all {
            answers.push(ask(ctx, addr(ctx, server)?, &client).await);
        }
        if agree(&answers) {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let agreed = agree(&answers).then_some(());
    let servers = all
        .iter()
        .zip(&answers)
        .map(|(server, answer)| match (answer, agreed) {
            (Answer::Known(_), Some(_)) => Learned::after(server, since.elapsed()),
            (answer, _) => unmatched(server, answer.clone(), Verdict::WrongLine, Verdict::Never),
        })
        .collect();
    let update = format!("IAMAT {client} at {a} and {b} at once, same client time");
    ctx.record(Propagation {
        update: update.clone(),
        servers,
    });
    if agreed.is_some() {
        return Ok(());
    }
    let unreached = answers.iter().any(|a| matches!(a, Answer::Unknown));
    let said: Vec<String> = all
        .iter()
        .zip(&answers)
        .map(|(server, answer)| match answer {
            Answer::Known(line) if same_update(line, &la) => format!("{server}: {a}'s"),
            Answer::Known(line) if same_update(line, &lb) => format!("{server}: {b}'s"),
            Answer::Known(line) => format!("{server}: `{}`", String::from_utf8_lossy(line)),
            Answer::Unknown => format!("{server}: unknown"),
            Answer::Unavailable(why) => format!("{server}: {why}"),
        })
        .collect();
    if unreached {
        return Err(Problem::Skip(format!(
            "cannot be judged: {update}: some servers never heard of the client within {} s ({}); \
             the flood itself is flood/reaches-every-server's finding",
            ctx.env.settle.as_secs_f64(),
            said.join(", ")
        )));
    }
    fail(format!(
        "{update}: the herd did not converge within {} s ({}); break ties the same way \
         everywhere (e.g. on the AT line's bytes)",
        ctx.env.settle.as_secs_f64(),
        said.join(", ")
    ))
}

/// Whether every server knows the client, with the same update.
fn agree(answers: &[Answer]) -> bool {
    let Some(Answer::Known(first)) = answers.first() else {
        return false;
    };
    answers
        .iter()
        .all(|x| matches!(x, Answer::Known(line) if same_update(line, first)))
}

/// How many clients `flood/many-clients` sends.
pub const MANY_CLIENTS: usize = 200;

async fn many_clients(ctx: &Ctx) -> Result<(), Problem> {
    needs_reach(ctx).await?;
    let all = names(ctx)?;
    let since = Instant::now();
    let sends: Vec<(String, String)> = (0..MANY_CLIENTS)
        .map(|i| (all[i % all.len()].clone(), ctx.client_id(&format!("-{i}"))))
        .collect();
    let mut lines: Vec<Result<Vec<u8>, Problem>> = Vec::new();
    for chunk in sends.chunks(50) {
        let sent = chunk
            .iter()
            .map(|(server, client)| update_at(ctx, server, client));
        lines.extend(futures::future::join_all(sent).await);
    }
    let sent_in = since.elapsed();
    let mut sent = Vec::new();
    for ((_, client), line) in sends.iter().zip(lines) {
        sent.push((client.clone(), line?));
    }
    let deadline = Instant::now() + ctx.env.settle;
    // Every server, every client: poll until it serves the line (a few polls each at most).
    let pairs: Vec<(&String, &(String, Vec<u8>))> = all
        .iter()
        .flat_map(|server| sent.iter().map(move |s| (server, s)))
        .collect();
    let mut checks: Vec<(String, String, Learned)> = Vec::new();
    for chunk in pairs.chunks(64) {
        let polls = chunk
            .iter()
            .map(|(server, (client, line))| check_one(ctx, server, client, line, since, deadline));
        checks.extend(futures::future::join_all(polls).await);
    }
    let mut servers = Vec::new();
    let mut problems = Vec::new();
    for server in &all {
        let mine: Vec<&(String, String, Learned)> =
            checks.iter().filter(|(s, _, _)| s == server).collect();
        let lost: Vec<&str> = mine
            .iter()
            .filter(|(_, _, l)| l.verdict != Verdict::Learned)
            .map(|(_, c, _)| c.as_str())
            .collect();
        let slowest = mine
            .iter()
            .filter_map(|(_, _, l)| l.after_ms)
            .fold(0.0f64, f64::max);
        if lost.is_empty() {
            servers.push(Learned {
                after_ms: Some(slowest),
                ..Learned::new(server, Verdict::Learned)
            });
        } else {
            let wrong = mine
                .iter()
                .filter(|(_, _, l)| l.verdict == Verdict::WrongLine)
                .count();
            problems.push(format!(
                "{server} lost {} of {MANY_CLIENTS} clients ({wrong} with another AT line), e.g. {}",
                lost.len(),
                lost.iter().take(3).copied().collect::<Vec<_>>().join(", ")
            ));
            servers.push(Learned {
                answered: Some(format!("lost {} of {MANY_CLIENTS}", lost.len())),
                ..Learned::new(server, Verdict::Never)
            });
        }
    }
    let update = format!(
        "{MANY_CLIENTS} IAMATs across {} servers in {} ms (time until each server had all)",
        all.len(),
        sent_in.as_millis()
    );
    ctx.record(Propagation {
        update: update.clone(),
        servers,
    });
    if problems.is_empty() {
        Ok(())
    } else {
        fail(format!("{update}: {}", problems.join("; ")))
    }
}

/// Polls `server` until it serves `line` for `client`.
async fn check_one(
    ctx: &Ctx,
    server: &str,
    client: &str,
    line: &[u8],
    since: Instant,
    deadline: Instant,
) -> (String, String, Learned) {
    let wanted = [line.to_vec()];
    let learned = await_lines(
        ctx,
        &[server.to_owned()],
        client,
        &wanted,
        Match::Update,
        since,
        deadline,
    )
    .await
    .ok()
    .and_then(|mut l| l.pop())
    .unwrap_or_else(|| Learned::new(server, Verdict::NoAnswer));
    (server.to_owned(), client.to_owned(), learned)
}

/// How many Places requests the stand-in got for this location.
async fn places_requests_at(ctx: &Ctx, lat: f64, lng: f64) -> usize {
    ctx.env
        .stand_in
        .received()
        .await
        .iter()
        .filter(|r| {
            r.location
                .is_some_and(|(a, b)| (a - lat).abs() < 1e-6 && (b - lng).abs() < 1e-6)
        })
        .count()
}

async fn places_once(ctx: &Ctx) -> Result<(), Problem> {
    needs_reach(ctx).await?;
    let (a, b) = distant_pair(ctx)?;
    let client = ctx.client_id("");
    let (position, lat, lng) = unique_position();
    iamat_at(ctx, &a, &client, &position, &time_from_now(0)).await?;
    // Watched through a marker sent after it (the suite's own WHATSAT polls ask Places too, but
    // for the marker's position, not this one).
    let marker = ctx.client_id("-marker");
    let (spot, _, _) = unique_position();
    settle_everywhere(
        ctx,
        &a,
        &marker,
        &spot,
        &time_from_now(0),
        "marker",
        Role::Setup,
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let during_flood = places_requests_at(ctx, lat, lng).await;
    if during_flood > 0 {
        return fail(format!(
            "the flood of one IAMAT made {during_flood} Places request(s) for its position: servers \
             must pass locations only and ask Places when a WHATSAT comes"
        ));
    }
    let command = format!("WHATSAT {client} 1 1");
    let deadline = Instant::now() + ctx.env.timeout;
    ctx.exchange_with(
        addr(ctx, &b)?,
        command.as_bytes(),
        crate::runner::Shape::Whatsat,
        deadline,
    )
    .await
    .map_err(|e| Problem::Fail(Failure::new(format!("{b}: {e}"))))?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    match places_requests_at(ctx, lat, lng).await {
        1 => Ok(()),
        0 => {
            crate::places_call::needs_stand_in_asked(ctx).await?;
            fail(format!(
                "`{command}` at {b} made no Places request to the suite's stand-in (is the herd \
             started with the stand-in's URL?)"
            ))
        }
        n => fail(format!(
            "`{command}` at {b} made {n} Places requests for the client's position: only the \
             server asked may call Places, once; the others must not fetch Places data"
        )),
    }
}

async fn quiet_after_update(ctx: &Ctx) -> Result<(), Problem> {
    const WATCH: Duration = Duration::from_millis(500);
    const SLOW: Duration = Duration::from_millis(500);
    needs_reach(ctx).await?;
    let all = names(ctx)?;
    let origin = &all[ctx.pick(all.len())];
    let client = ctx.client_id("");
    let (position, _, _) = unique_position();
    let line = settle_everywhere(
        ctx,
        origin,
        &client,
        &position,
        &time_from_now(0),
        "",
        Role::Setup,
    )
    .await?;
    let until = Instant::now() + WATCH;
    let mut problems: Vec<String> = Vec::new();
    while Instant::now() < until && problems.is_empty() {
        for server in &all {
            let address = addr(ctx, server)?;
            let asked = Instant::now();
            let answer = ask(ctx, address, &client).await;
            let took = asked.elapsed();
            match answer {
                // A copy that bounces back is another update; the same update with other bytes
                // is a line recomputed on the way or on WHATSAT, the tests about the line's finding.
                Answer::Known(got) if same_update(&got, &line) => {}
                Answer::Known(got) => problems.push(format!(
                    "{server} now serves `{}` instead of `{}`: an update bounced back as newer",
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&line)
                )),
                Answer::Unknown => problems.push(format!("{server} forgot the client")),
                Answer::Unavailable(why) => problems.push(format!("{server}: {why}")),
            }
            // A slow WHATSAT alone may be a slow Places service; a busy server is slow to a
            // probe IAMAT too.
            if took > SLOW && busy_now(ctx, address, SLOW / 2).await {
                problems.push(format!(
                    "{server} took {} ms to answer a WHATSAT after the flood, and more than {} ms \
                     a probe IAMAT (busy forwarding?)",
                    took.as_millis(),
                    (SLOW / 2).as_millis()
                ));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if problems.is_empty() {
        Ok(())
    } else {
        fail(problems.join("; "))
    }
}

async fn no_storm(ctx: &Ctx) -> Result<(), Problem> {
    needs_reach(ctx).await?;
    let topology = ctx.topology()?;
    let all = names(ctx)?;
    // Listen in place of a server with the most neighbours.
    let most = all
        .iter()
        .map(|n| topology.neighbours(n).len())
        .max()
        .unwrap_or(0);
    let candidates: Vec<&String> = all
        .iter()
        .filter(|n| topology.neighbours(n).len() == most)
        .collect();
    let spy = candidates[ctx.pick(candidates.len())].clone();
    let degree = topology.neighbours(&spy).len();
    let others: Vec<String> = all.iter().filter(|n| **n != spy).cloned().collect();
    let origin = others[ctx.pick(others.len())].clone();
    let down = BTreeSet::from([spy.clone()]);
    set_down(ctx, &BTreeSet::new(), &down).await?;
    let sniffer = Sniffer::listen(addr(ctx, &spy)?).await.map_err(|e| {
        Problem::Fail(Failure::new(format!(
            "cannot listen in place of {spy} after stopping it: {e}"
        )))
    })?;
    let verdict = watch_for_storm(ctx, &sniffer, &spy, degree, &origin, &others, &down).await;
    // Closed before the runner restarts the stopped server on the same port.
    sniffer.close().await;
    verdict
}

/// The body of `flood/no-storm`, with the suite listening in place of `spy`.
async fn watch_for_storm(
    ctx: &Ctx,
    sniffer: &Sniffer,
    spy: &str,
    degree: usize,
    origin: &str,
    others: &[String],
    down: &BTreeSet<String>,
) -> Result<(), Problem> {
    // Warm up: updates until one arrives from every neighbour (links reconnect to the listener).
    // Copies of any of them count: a busy herd may deliver late.
    let deadline = Instant::now() + ctx.env.settle;
    let mut warm = false;
    let mut sent: Vec<String> = Vec::new();
    while Instant::now() < deadline && !warm {
        let client = ctx.client_id(&format!("-warm{}", sent.len()));
        update_at(ctx, origin, &client).await?;
        sent.push(client);
        let round_end = (Instant::now() + Duration::from_millis(150)).min(deadline);
        while Instant::now() < round_end && !warm {
            // Any update of the suite's seen more than once per neighbour is a storm already
            // (the earlier ones too, still bouncing around a busy herd).
            if let Some((_, copies)) = sniffer.most_copied("conf-").filter(|(_, n)| *n > degree) {
                return storm(spy, degree, copies);
            }
            warm = sent.iter().any(|client| sniffer.copies(client) == degree);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    if !warm {
        if let Some((_, copies)) = sniffer.most_copied("conf-").filter(|(_, n)| *n > degree) {
            return storm(spy, degree, copies);
        }
        // Fewer copies than neighbours is no storm; the missing ones are a flood that does not
        // reach, which flood/reaches-every-server reports.
        return Err(Problem::Skip(format!(
            "cannot be judged: the suite listened in place of {spy} (stopped) but never got an \
             update from all its {degree} neighbours within {} s ({} connection(s) seen; it \
             looks for the client ID in what they send)",
            ctx.env.settle.as_secs_f64(),
            sniffer.connections()
        )));
    }
    let client = ctx.client_id("-update");
    let since = Instant::now();
    let line = update_at(ctx, origin, &client).await?;
    let learned = await_lines(
        ctx,
        others,
        &client,
        std::slice::from_ref(&line),
        Match::Update,
        since,
        since + ctx.env.settle,
    )
    .await?;
    // Give a storm time to show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A storm is this test's finding; it may also have kept the herd too busy to converge.
    let copies = sniffer
        .most_copied("conf-")
        .map_or(0, |(_, n)| n)
        .max(sniffer.copies(&client));
    if copies > degree {
        return storm(spy, degree, copies);
    }
    judge(
        ctx,
        label(
            &client,
            origin,
            down,
            &format!("the suite listening as {spy}"),
        ),
        learned,
        down,
        &line,
    )
}

fn storm(spy: &str, degree: usize, copies: usize) -> Result<(), Problem> {
    fail(format!(
        "{spy}'s {degree} neighbours sent it {copies} copies of one update (at most {degree}: one \
         from each): a flood storm — older or equal copies must be dropped, not forwarded"
    ))
}
