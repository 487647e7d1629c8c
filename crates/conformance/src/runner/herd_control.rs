//! The runner's hold on a spawned herd: stopping and starting servers for a test, restoring the
//! whole herd after one, and warming its links up before the first herd test.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use super::context::Ctx;
use super::herd::{Answer, addr, ask, iamat_at, names, procs, same_update};
use super::outcome::{Failure, Problem};
use crate::fixtures::{time_from_now, unique_position};

/// How often a server is asked again while an update spreads.
pub const POLL: Duration = Duration::from_millis(20);

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
/// deadline to come back, so the next test finds the herd whole. Errors are ignored: the test
/// that stopped the servers reports its own.
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
/// server, resent until every server has it. Links that connect lazily or reconnect with a
/// backoff (after a start or restart) may drop what is sent before; the tests that follow judge
/// updates sent once, so they start from a linked herd. Quiet: failures are left to them.
pub async fn warm_up(ctx: &Ctx) {
    let Ok(names) = names(ctx) else { return };
    let deadline = Instant::now() + ctx.env.settle;
    let one = |origin: String| {
        let names = &names;
        async move {
            let client = ctx.client_id(&format!("-warm-{origin}"));
            while Instant::now() < deadline {
                let (position, _, _) = unique_position();
                let Ok(line) = iamat_at(ctx, &origin, &client, &position, &time_from_now(0)).await
                else {
                    return;
                };
                let round_end = (Instant::now() + Duration::from_millis(100)).min(deadline);
                if everyone_serves(ctx, names, &client, &line, round_end).await {
                    return;
                }
            }
        }
    };
    futures::future::join_all(names.iter().cloned().map(one)).await;
}

/// Polls every server until each serves `line`'s update for `client`, or `until`.
async fn everyone_serves(
    ctx: &Ctx,
    names: &[String],
    client: &str,
    line: &[u8],
    until: Instant,
) -> bool {
    let polls = names.iter().map(|server| async move {
        let Ok(address) = addr(ctx, server) else {
            return false;
        };
        loop {
            if let Answer::Known(got) = ask(ctx, address, client).await
                && same_update(&got, line)
            {
                return true;
            }
            if Instant::now() + POLL >= until {
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
    });
    futures::future::join_all(polls)
        .await
        .into_iter()
        .all(|known| known)
}
