//! The runner: what a test is ([`TestCase`]), what it gets ([`Ctx`] over a shared [`Env`]), what
//! it returns ([`Problem`]), and running a selection into [`TestResult`]s.
//!
//! Tests are plain `async fn(&Ctx) -> Result<(), Problem>`; a test sees one or more targets, the
//! Places stand-in, the per-test deadline, the settle deadline for herd-wide checks and, when the
//! suite owns the servers, process control. They run one after the other (some switch the shared
//! stand-in's failure mode), each under its own deadline.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng as _, SeedableRng as _};
use tokio::time::Instant;

use crate::propagation::Propagation;
use crate::topology::Topology;
use crate::wire::{Conn, End, Received, Transcript, WireEvent};
use herd_spawn::Spawner;

/// How strongly protocol.md asks for something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Level {
    #[serde(rename = "MUST")]
    Must,
    #[serde(rename = "SHOULD")]
    Should,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        }
    }
}

/// A boxed test future.
pub type TestFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Problem>> + Send + 'a>>;

/// One test of the catalogue.
#[derive(Debug)]
pub struct TestCase {
    /// Stable ID, `section/name`.
    pub id: &'static str,
    pub level: Level,
    /// Free-form tags; `needs:spawn` means the suite must own the server processes.
    pub tags: &'static [&'static str],
    /// The requirement checked, one sentence.
    pub requirement: &'static str,
    pub run: for<'a> fn(&'a Ctx) -> TestFuture<'a>,
}

impl TestCase {
    /// The part of the ID before the `/`.
    pub fn section(&self) -> &'static str {
        self.id.split_once('/').map_or(self.id, |(s, _)| s)
    }
}

/// Declares a [`TestCase`]: `case!("iamat/x", Must, ["tag"], "Requirement.", function)`.
#[macro_export]
macro_rules! case {
    ($id:literal, $level:ident, [$($tag:literal),*], $req:literal, $f:path) => {
        $crate::runner::TestCase {
            id: $id,
            level: $crate::runner::Level::$level,
            tags: &[$($tag),*],
            requirement: $req,
            run: |ctx| Box::pin($f(ctx)),
        }
    };
}

/// Why a test did not pass.
#[derive(Debug)]
pub enum Problem {
    Fail(Failure),
    Skip(String),
}

/// A failed check: what is wrong, and the bytes expected and received where there are some.
#[derive(Clone, Debug, Default)]
pub struct Failure {
    pub message: String,
    pub expected: Option<Vec<u8>>,
    pub actual: Option<Vec<u8>>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            ..Failure::default()
        }
    }

    pub fn bytes(message: impl Into<String>, expected: &[u8], actual: &[u8]) -> Failure {
        Failure {
            message: message.into(),
            expected: Some(expected.to_vec()),
            actual: Some(actual.to_vec()),
        }
    }
}

impl From<Failure> for Problem {
    fn from(f: Failure) -> Problem {
        Problem::Fail(f)
    }
}

/// `Err(Problem::Fail(..))` with just a message.
pub fn fail<T>(message: impl Into<String>) -> Result<T, Problem> {
    Err(Problem::Fail(Failure::new(message)))
}

/// How the suite's ordinary exchanges talk to the server (protocol.md §1).
pub use herd_wire::Framing;

/// A server under test.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    /// Its name in AT lines, when known.
    pub name: Option<String>,
    /// Whether `name` was configured (spawned / reference herd / `--name`) or only learned
    /// from the server's first reply.
    pub name_configured: bool,
}

/// Everything shared by the tests of a run.
#[derive(Debug)]
pub struct Env {
    /// The servers; the first is the one single-server tests talk to.
    pub targets: Vec<Target>,
    pub stand_in: mocks::PlacesStandIn,
    pub framing: Framing,
    /// Per-test deadline.
    pub timeout: Duration,
    /// How long a herd-wide check may wait for a flood to settle (part 2).
    pub settle: Duration,
    /// How far a time difference may stray from the true one (clock skew between machines).
    pub clock_tolerance: Duration,
    /// Process control when the suite started the servers.
    pub procs: Option<Arc<Spawner>>,
    /// The whole herd's names, addresses and links, when the suite checks a whole herd
    /// (`needs:herd` tests are skipped without it).
    pub topology: Option<Topology>,
    /// Seeds the order of cases, the servers chosen and the client IDs (`--seed`).
    pub seed: u64,
    /// Differs between runs, so a repeated seed never reuses a client ID on a running herd.
    pub run_stamp: String,
}

/// What a test gets.
#[derive(Debug)]
pub struct Ctx {
    pub env: Arc<Env>,
    pub test_id: &'static str,
    pub transcript: Arc<Transcript>,
    /// The test must be done by then.
    pub deadline: Instant,
    /// Unique per test run, so client IDs never collide across tests or runs.
    unique: String,
    /// Seeded from `--seed` and the test ID: the same seed repeats a test's choices.
    rng: std::sync::Mutex<rand::rngs::StdRng>,
    /// Per update, when each server learned it (herd tests), for the reports.
    pub propagation: std::sync::Mutex<Vec<Propagation>>,
}

/// What one exchange expects back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One line.
    Line,
    /// An AT line, JSON, two newlines (or a `? ` line).
    Whatsat,
    /// Like `Whatsat`, then whatever else arrives within [`WHATSAT_GRACE`] (to see extra bytes).
    WhatsatLinger,
}

/// How long to wait for the rest of a WHATSAT reply that looks complete but short of a newline.
pub const WHATSAT_GRACE: Duration = Duration::from_millis(300);

impl Ctx {
    pub fn new(env: Arc<Env>, test_id: &'static str) -> Ctx {
        let deadline = Instant::now() + budget(&env, test_id);
        let test_hash = test_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let mut rng = rand::rngs::StdRng::seed_from_u64(env.seed ^ test_hash);
        let unique = format!("{:06x}{}", rng.random::<u32>() & 0xff_ffff, env.run_stamp);
        Ctx {
            env,
            test_id,
            transcript: Arc::new(Transcript::default()),
            deadline,
            unique,
            rng: std::sync::Mutex::new(rng),
            propagation: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// A seeded random number below `n` (0 when `n` is 0).
    pub fn pick(&self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        self.rng
            .lock()
            .map(|mut r| r.random_range(0..n))
            .unwrap_or(0)
    }

    /// `items` in a seeded random order.
    pub fn shuffled<T>(&self, mut items: Vec<T>) -> Vec<T> {
        for i in (1..items.len()).rev() {
            let j = self.pick(i + 1);
            items.swap(i, j);
        }
        items
    }

    /// The herd's topology (herd tests are skipped before they run without one).
    pub fn topology(&self) -> Result<&Topology, Problem> {
        self.env
            .topology
            .as_ref()
            .ok_or_else(|| Problem::Skip(NO_HERD.to_owned()))
    }

    /// Records when each server learned an update, for the reports.
    pub fn record(&self, propagation: Propagation) {
        if let Ok(mut all) = self.propagation.lock() {
            all.push(propagation);
        }
    }

    /// The server single-server tests talk to.
    pub fn target(&self) -> &Target {
        &self.env.targets[0]
    }

    /// A client ID unique to this test run: `conf-<test>-<random><suffix>`.
    pub fn client_id(&self, suffix: &str) -> String {
        let slug: String = self
            .test_id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("conf-{slug}-{}{suffix}", self.unique)
    }

    /// A new connection to the target.
    pub async fn connect(&self) -> Result<Conn, Problem> {
        Conn::connect(self.target().addr, &self.transcript, self.deadline)
            .await
            .map_err(|e| Problem::Fail(Failure::new(e)))
    }

    /// Sends one command in the run's framing and reads its reply. In eof framing the reply is
    /// everything up to the server's close.
    pub async fn exchange(&self, command: &[u8], shape: Shape) -> Result<Received, Problem> {
        self.exchange_with(self.target().addr, command, shape, self.deadline)
            .await
            .map_err(|e| Problem::Fail(Failure::new(e)))
    }

    /// Like [`Ctx::exchange`], with any server and deadline.
    pub async fn exchange_with(
        &self,
        addr: SocketAddr,
        command: &[u8],
        shape: Shape,
        deadline: Instant,
    ) -> Result<Received, String> {
        exchange_on(
            self.env.framing,
            &self.transcript,
            addr,
            command,
            shape,
            deadline,
        )
        .await
    }

    /// Like [`Ctx::exchange_with`], left out of the transcript (for the many polls of a flood
    /// check, which would drown the exchanges that matter).
    pub async fn poll_with(
        &self,
        addr: SocketAddr,
        command: &[u8],
        shape: Shape,
        deadline: Instant,
    ) -> Result<Received, String> {
        let quiet = Arc::new(Transcript::default());
        exchange_on(self.env.framing, &quiet, addr, command, shape, deadline).await
    }

    /// Sends a command and fails unless a reply arrived: names a timeout or a close without reply.
    pub async fn reply_to(&self, command: &[u8], shape: Shape) -> Result<Vec<u8>, Problem> {
        let got = self.exchange(command, shape).await?;
        no_reply_problem(&got, self.env.timeout, command)?;
        Ok(got.bytes)
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// One command in `framing` to `addr`, recorded in `transcript`.
async fn exchange_on(
    framing: Framing,
    transcript: &Arc<Transcript>,
    addr: SocketAddr,
    command: &[u8],
    shape: Shape,
    deadline: Instant,
) -> Result<Received, String> {
    let mut conn = Conn::connect(addr, transcript, deadline).await?;
    match framing {
        Framing::Line => {
            let mut line = command.to_vec();
            if !line.ends_with(b"\n") {
                line.push(b'\n');
            }
            conn.send(&line).await?;
            Ok(match shape {
                Shape::Line => conn.read_until(crate::wire::line_end, deadline).await,
                Shape::Whatsat => conn.read_whatsat(deadline, WHATSAT_GRACE, false).await,
                Shape::WhatsatLinger => conn.read_whatsat(deadline, WHATSAT_GRACE, true).await,
            })
        }
        Framing::Eof => {
            conn.send(command).await?;
            conn.half_close().await?;
            Ok(conn.read_to_eof(deadline).await)
        }
    }
}

/// Why a `needs:herd` test cannot run.
pub const NO_HERD: &str =
    "needs the whole herd: run with --herd PRESET|FILE (a running herd) or --spawn, not --target";

/// How long a test may take: herd-wide tests wait for floods, server restarts and many cases.
fn budget(env: &Env, test_id: &str) -> Duration {
    let herd_wide = test_id.starts_with("flood/") || test_id.starts_with("resilience/");
    if herd_wide {
        env.timeout + env.settle * 12 + Duration::from_secs(20)
    } else {
        env.timeout
    }
}

/// Fails when a read got nothing (or, in line framing, an incomplete reply).
pub fn no_reply_problem(got: &Received, timeout: Duration, command: &[u8]) -> Result<(), Problem> {
    let what = String::from_utf8_lossy(crate::expect::trim(command)).into_owned();
    match (&got.end, got.bytes.is_empty()) {
        (End::Timeout, true) => Err(Problem::Fail(Failure {
            message: format!(
                "no reply within {} s to `{what}` (timed out; a server must answer every command, \
                 also an invalid one)",
                timeout.as_secs_f64()
            ),
            actual: Some(Vec::new()),
            ..Failure::default()
        })),
        (End::Eof, true) => Err(Problem::Fail(Failure {
            message: format!(
                "the server closed the connection without replying to `{what}` (did the handler crash?)"
            ),
            actual: Some(Vec::new()),
            ..Failure::default()
        })),
        _ => Ok(()),
    }
}

/// What happened to a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail,
    /// A SHOULD test failed without `--strict`.
    Warn,
    Skip,
    /// Failed, and listed in `--known-failing`.
    KnownFail,
    /// Passed although listed in `--known-failing`: a failure, so the list cannot rot.
    UnexpectedPass,
}

impl Outcome {
    /// Whether it makes the run fail.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Fail | Outcome::UnexpectedPass)
    }
}

/// A finished test.
#[derive(Clone, Debug)]
pub struct TestResult {
    pub id: &'static str,
    /// The test's number within its section (1-based): `errors/3`.
    pub alias: String,
    pub section: &'static str,
    pub level: Level,
    pub requirement: &'static str,
    pub outcome: Outcome,
    pub duration: Duration,
    /// Why it failed or was skipped.
    pub message: Option<String>,
    pub expected: Option<Vec<u8>>,
    pub actual: Option<Vec<u8>>,
    pub transcript: Vec<WireEvent>,
    /// Per update, when each server learned it (herd tests).
    pub propagation: Vec<Propagation>,
}

/// Options that change verdicts.
#[derive(Debug, Default)]
pub struct Verdicts {
    /// SHOULD failures count as failures.
    pub strict: bool,
    /// IDs expected to fail.
    pub known_failing: HashSet<String>,
}

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

/// Runs `selected` (pairs of test and its alias) one after the other, calling `progress` after
/// each so reports can stream.
pub async fn run(
    env: Arc<Env>,
    selected: &[(&'static TestCase, String)],
    verdicts: &Verdicts,
    mut progress: impl FnMut(&TestResult),
) -> Vec<TestResult> {
    let mut results = Vec::new();
    let mut warmed = false;
    for (case, alias) in selected {
        if !warmed && case.tags.contains(&"needs:herd") && env.topology.is_some() {
            // Once, before the first herd test: links may still be connecting.
            warmed = true;
            let ctx = Ctx::new(Arc::clone(&env), "setup/warm-up");
            crate::catalogue::herd::warm_up(&ctx).await;
        }
        let result = run_one(&env, case, alias, verdicts).await;
        progress(&result);
        results.push(result);
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
    let ctx = Ctx::new(Arc::clone(env), case.id);
    let verdict = if case.tags.contains(&"needs:herd") && env.topology.is_none() {
        Err(Problem::Skip(NO_HERD.into()))
    } else if case.tags.contains(&"needs:spawn") && env.procs.is_none() {
        Err(Problem::Skip(
            "needs to stop and start servers: run with --spawn (or no arguments, for the reference \
             herd) so the suite owns the server processes"
                .into(),
        ))
    } else {
        // The reads inside a test stop at its deadline; this outer limit is a safety net.
        let limit = budget(env, case.id) + Duration::from_secs(1);
        match tokio::time::timeout(limit, (case.run)(&ctx)).await {
            Ok(v) => v,
            Err(_) => Err(Problem::Fail(Failure::new(format!(
                "timed out: the test did not finish within {} s",
                limit.as_secs_f64()
            )))),
        }
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
    let mut notes = Vec::new();
    for gone in down {
        let again = match procs.restart(&gone.name).await {
            Ok(()) => "the suite started it again for the tests that follow".to_owned(),
            Err(e) => format!("the suite could not start it again: {e}"),
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

/// Counts of a run, as every report prints them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub warnings: usize,
    pub known_failures: usize,
}

impl Summary {
    pub fn of(results: &[TestResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            match r.outcome {
                Outcome::Pass => s.passed += 1,
                Outcome::Fail | Outcome::UnexpectedPass => s.failed += 1,
                Outcome::Skip => s.skipped += 1,
                Outcome::Warn => s.warnings += 1,
                Outcome::KnownFail => s.known_failures += 1,
            }
        }
        s
    }

    /// `N passed, N failed, N skipped` plus warnings and known failures when there are any.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        );
        if self.warnings > 0 {
            line.push_str(&format!(
                ", {} warning{} (SHOULD)",
                self.warnings,
                if self.warnings == 1 { "" } else { "s" }
            ));
        }
        if self.known_failures > 0 {
            line.push_str(&format!(", {} known failing", self.known_failures));
        }
        line
    }
}
