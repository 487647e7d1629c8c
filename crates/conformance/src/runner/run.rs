//! Running a selection: independent tests side by side (up to `--jobs` at once), the tests that
//! must be alone one at a time between them, reports streamed in catalogue order; the herd
//! warmed up before its first herd test and restored after each test that stops servers; a
//! spawned server that went down during a test failing that test and started again.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::time::Instant;

use super::case::Level;
use super::case::{Phase, TestCase};
use super::context::{Ctx, Env, NO_HERD};
use super::herd_control::{restore, warm_up};
use super::outcome::{Failure, Outcome, Problem, TestResult, Verdicts};

/// `section/N` for each test, numbered in catalogue order within its section.
pub fn aliases(tests: &[&'static TestCase]) -> Vec<String> {
    let mut counts: std::collections::HashMap<&str, usize> = Default::default();
    tests
        .iter()
        .map(|t| {
            let n = counts.entry(t.section()).or_insert(0);
            *n += 1;
            format!("{}/{}", t.section(), n)
        })
        .collect()
}

/// Runs `selected` (pairs of test and its alias), at most `jobs` at once, calling `progress`
/// for each result in selection order so reports can stream.
pub async fn run(
    env: Arc<Env>,
    selected: &[(&'static TestCase, String)],
    verdicts: &Verdicts,
    jobs: usize,
    mut progress: impl FnMut(&TestResult),
) -> Vec<TestResult> {
    let mut results = Vec::new();
    let mut warmed = false;
    let mut rest = selected;
    while let Some((first, _)) = rest.first() {
        if !warmed && first.needs.herd && env.topology.is_some() {
            // Once, before the first herd test: links may still be connecting.
            warmed = true;
            let ctx = Ctx::new(Arc::clone(&env), "setup/warm-up", env.settle * 2);
            warm_up(&ctx).await;
        }
        // A run of concurrent tests (up to the next herd test, so the warm-up comes first), or
        // one test that runs alone.
        let len = if first.phase == Phase::Alone {
            1
        } else {
            rest.iter()
                .position(|(c, _)| c.phase == Phase::Alone || (!warmed && c.needs.herd))
                .filter(|&n| n > 0)
                .unwrap_or(rest.len())
        };
        let (batch, after) = rest.split_at(len);
        rest = after;
        // Unordered, so one slow test does not hold back the start of the next ones; results
        // are still reported in selection order.
        let env = &env;
        let mut finished = futures::stream::iter(batch.iter().enumerate())
            .map(|(i, (case, alias))| async move { (i, run_one(env, case, alias, verdicts).await) })
            .buffer_unordered(jobs.max(1));
        let mut waiting = std::collections::BTreeMap::new();
        let mut next = 0;
        while let Some((i, result)) = finished.next().await {
            waiting.insert(i, result);
            while let Some(result) = waiting.remove(&next) {
                progress(&result);
                results.push(result);
                next += 1;
            }
        }
    }
    results
}

async fn run_one(
    env: &Arc<Env>,
    case: &'static TestCase,
    alias: &str,
    verdicts: &Verdicts,
) -> TestResult {
    let started = Instant::now();
    let budget = env.budget(case);
    let ctx = Ctx::new(Arc::clone(env), case.id, budget);
    let verdict = if case.needs.herd && env.topology.is_none() {
        Err(Problem::Skip(NO_HERD.into()))
    } else if case.needs.spawn && env.procs.is_none() {
        Err(Problem::Skip(
            "needs to stop and start servers: run with --spawn (or no arguments, for the reference \
             herd) so the suite owns the server processes"
                .into(),
        ))
    } else {
        // The reads inside a test stop at its deadline; this outer limit is a safety net.
        let limit = budget + Duration::from_secs(1);
        let verdict = match tokio::time::timeout(limit, (case.run)(&ctx)).await {
            Ok(v) => v,
            Err(_) => Err(Problem::Fail(Failure::new(format!(
                "timed out: the test did not finish within {} s",
                limit.as_secs_f64()
            )))),
        };
        if case.needs.spawn {
            restore(&ctx).await;
        }
        verdict
    };
    let verdict = crashes_fail(env, verdict).await;
    let known = verdicts.known_failing.contains(case.id) || verdicts.known_failing.contains(alias);
    let (outcome, failure) = match verdict {
        Ok(()) if known => (
            Outcome::UnexpectedPass,
            Some(Failure::new(
                "passed, but it is listed in the known-failing file: remove it from the list",
            )),
        ),
        Ok(()) => (Outcome::Pass, None),
        Err(Problem::Skip(reason)) => (Outcome::Skip, Some(Failure::new(reason))),
        Err(Problem::Fail(f)) if known => (Outcome::KnownFail, Some(f)),
        Err(Problem::Fail(f)) if case.level == Level::Should && !verdicts.strict => {
            (Outcome::Warn, Some(f))
        }
        Err(Problem::Fail(f)) => (Outcome::Fail, Some(f)),
    };
    let failure = failure.unwrap_or_default();
    TestResult {
        id: case.id,
        alias: alias.to_owned(),
        section: case.section(),
        level: case.level,
        requirement: case.requirement,
        outcome,
        duration: started.elapsed(),
        message: (!failure.message.is_empty()).then_some(failure.message),
        expected: failure.expected,
        actual: failure.actual,
        transcript: ctx.transcript.events(),
        propagation: ctx
            .propagation
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default(),
    }
}

/// How long after a failed test a spawned server may take to show that it went down.
const CRASH_GRACE: Duration = Duration::from_millis(250);

/// A spawned server that went down during a test (not stopped by the suite) fails that test,
/// whatever else it found, and is started again so that the tests after it are not all failed by
/// the same crash.
async fn crashes_fail(env: &Env, verdict: Result<(), Problem>) -> Result<(), Problem> {
    let Some(procs) = &env.procs else {
        return verdict;
    };
    let mut down = procs.down_servers().await;
    if matches!(verdict, Err(Problem::Fail(_))) {
        // A server that crashed fails the test it crashed in, but may take a moment to close
        // its listener or exit: wait for that before blaming the next test.
        let until = Instant::now() + CRASH_GRACE;
        while down.is_empty() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
            down = procs.down_servers().await;
        }
    }
    if down.is_empty() {
        return verdict;
    }
    // One restart at a time; a test that ran beside the crash may have restarted it already.
    let _one_at_a_time = env.restarts.lock().await;
    let still_down: Vec<String> = procs
        .down_servers()
        .await
        .into_iter()
        .map(|d| d.name)
        .collect();
    let mut notes = Vec::new();
    for gone in down {
        let again = if !still_down.contains(&gone.name) {
            "another test running at the same time saw it too, and the suite started it again"
                .to_owned()
        } else {
            match procs.restart(&gone.name).await {
                Ok(()) => "the suite started it again for the tests that follow".to_owned(),
                Err(e) => format!("the suite could not start it again: {e}"),
            }
        };
        notes.push(format!("during this test, server {gone}\n{again}"));
    }
    let note = notes.join("\n");
    match verdict {
        Err(Problem::Fail(mut failure)) => {
            failure.message = format!("{note}\n{}", failure.message);
            Err(Problem::Fail(failure))
        }
        Ok(()) | Err(Problem::Skip(_)) => Err(Problem::Fail(Failure::new(note))),
    }
}
