//! What a test gets: the shared [`Env`] (servers, stand-in, framing, deadlines, process control,
//! topology, the servers' paces) and its own [`Ctx`] (transcript, deadline, seeded choices, fresh
//! client IDs), with the exchanges every section uses.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use tokio::time::Instant;

use super::case::{Budget, TestCase};
use super::outcome::{Failure, Problem};
use crate::patience::Paces;
use crate::propagation::Propagation;
use crate::topology::Topology;
use crate::wire::{Conn, End, Received, Transcript};
use herd_spawn::Spawner;

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
    /// Each server's pace: when a read is judged quiet, and the re-check before "no reply".
    pub paces: Paces,
    /// Held while a test checks for crashed servers and restarts them, so concurrent tests
    /// that all saw the same crash restart it once, not over each other.
    pub restarts: tokio::sync::Mutex<()>,
    /// Where lone updates do not get to (none: everywhere), found once a run by the first herd
    /// test that needs a flood that reaches (see `herd_watch::needs_reach`).
    pub unreached: tokio::sync::OnceCell<Option<String>>,
}

impl Env {
    /// How long `case` may take: herd-wide tests wait for floods, restarts and many cases.
    pub fn budget(&self, case: &TestCase) -> Duration {
        match case.budget {
            Budget::Exchanges => self.timeout,
            Budget::HerdWide => self.timeout + self.settle * 12 + Duration::from_secs(20),
        }
    }
}

/// What a test gets.
#[derive(Debug)]
pub struct Ctx {
    pub env: Arc<Env>,
    pub test_id: &'static str,
    /// Numbers the client IDs this test asks for, so no two are alike.
    next_client: AtomicUsize,
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
    /// A herd poll's WHATSAT, read only as far as its verdict needs (the `? ` copy, or the AT
    /// line and a JSON value that parses), so a server that ends no reply with a newline is
    /// not waited a quiet period for at every poll. How replies end is the other shapes' job.
    Poll,
}

/// How long to wait for the rest of a WHATSAT reply that looks complete but short of a newline.
pub const WHATSAT_GRACE: Duration = Duration::from_millis(300);

impl Ctx {
    pub fn new(env: Arc<Env>, test_id: &'static str, budget: Duration) -> Ctx {
        let deadline = Instant::now() + budget;
        let test_hash = test_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let mut rng = rand::rngs::StdRng::seed_from_u64(env.seed ^ test_hash);
        let unique = format!("{:06x}{}", rng.random::<u32>() & 0xff_ffff, env.run_stamp);
        Ctx {
            env,
            test_id,
            next_client: AtomicUsize::new(0),
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
        if let Ok(mut rng) = self.rng.lock() {
            items.shuffle(&mut *rng);
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

    /// A client ID no other call gives: `conf-<test>-<random><n><suffix>`, so one test's
    /// clients never meet another test's (or another step's of the same test).
    pub fn client_id(&self, suffix: &str) -> String {
        let n = self.next_client.fetch_add(1, Ordering::Relaxed);
        let slug: String = self
            .test_id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("conf-{slug}-{}{n}{suffix}", self.unique)
    }

    /// A new connection to the target, its reads paced by the target's round trips.
    pub async fn connect(&self) -> Result<Conn, Problem> {
        let addr = self.target().addr;
        Conn::connect_paced(
            addr,
            &self.transcript,
            self.deadline,
            self.env.paces.of(addr),
        )
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
        exchange_on(&self.env, &self.transcript, addr, command, shape, deadline).await
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
        exchange_on(&self.env, &quiet, addr, command, shape, deadline).await
    }

    /// Sends a command and fails unless a reply arrived: names a timeout or a close without reply.
    pub async fn reply_to(&self, command: &[u8], shape: Shape) -> Result<Vec<u8>, Problem> {
        let got = self.exchange(command, shape).await?;
        no_reply_problem(&got, command)?;
        Ok(got.bytes)
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// One command in the run's framing to `addr`, recorded in `transcript`; a complete reply's
/// round trip feeds the server's pace.
async fn exchange_on(
    env: &Env,
    transcript: &Arc<Transcript>,
    addr: SocketAddr,
    command: &[u8],
    shape: Shape,
    deadline: Instant,
) -> Result<Received, String> {
    let pace = env.paces.of(addr);
    let mut conn = Conn::connect_paced(addr, transcript, deadline, pace.clone()).await?;
    let started = Instant::now();
    let got = exchange_framed(&mut conn, env.framing, command, shape, deadline).await?;
    // A WHATSAT's round trip holds its Places request, which is not the server's own pace.
    if let Some(pace) = pace
        && !got.end.is_wait()
        && !got.bytes.is_empty()
        && !awaits_places(command)
    {
        pace.observe(started.elapsed());
    }
    Ok(got)
}

/// Whether the reply to `command` waits on the server's Places request (a WHATSAT).
fn awaits_places(command: &[u8]) -> bool {
    crate::expect::trim(command).starts_with(b"WHATSAT")
}

async fn exchange_framed(
    conn: &mut Conn,
    framing: Framing,
    command: &[u8],
    shape: Shape,
    deadline: Instant,
) -> Result<Received, String> {
    conn.set_awaits_places(awaits_places(command));
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
                Shape::Poll => {
                    let refused = [b"? ", crate::expect::trim(command)].concat();
                    conn.read_until(|buf| poll_end(buf, &refused), deadline)
                        .await
                }
            })
        }
        Framing::Eof => {
            conn.send(command).await?;
            conn.half_close().await?;
            Ok(conn.read_to_eof(deadline).await)
        }
    }
}

/// Where a poll's reply is complete enough to judge: a `? ` line at its newline or once it is
/// the whole `refused` copy; an AT line once the JSON after it parses.
fn poll_end(buf: &[u8], refused: &[u8]) -> Option<usize> {
    if buf.starts_with(b"? ") {
        return crate::wire::line_end(buf).or((buf == refused).then_some(buf.len()));
    }
    let first = crate::wire::line_end(buf)?;
    let body = crate::expect::trim(&buf[first..]);
    (!body.is_empty() && serde_json::from_slice::<serde_json::Value>(body).is_ok())
        .then_some(buf.len())
}

/// Why a `needs:herd` test cannot run.
pub const NO_HERD: &str =
    "needs the whole herd: run with --herd PRESET|FILE (a running herd) or --spawn, not --target";

/// Fails when a read got nothing (or, in line framing, an incomplete reply), naming why: the
/// server stayed silent while answering others, answered nobody, closed, or the test ran out of
/// time.
pub fn no_reply_problem(got: &Received, command: &[u8]) -> Result<(), Problem> {
    if !got.bytes.is_empty() {
        return Ok(());
    }
    let what = String::from_utf8_lossy(crate::expect::trim(command)).into_owned();
    let message = match &got.end {
        End::Complete | End::Quiet => return Ok(()),
        End::Silent { quiet, probe } => format!(
            "no reply at all to `{what}`: nothing came for {:.2} s, twice, while the server \
             answered a probe IAMAT in {:.1} ms (a server must answer every command, also an \
             invalid one)",
            quiet.as_secs_f64(),
            probe.as_secs_f64() * 1000.0
        ),
        End::Unresponsive { probe } => format!(
            "no reply to `{what}`, and the server did not answer a probe IAMAT within {:.1} s \
             either: it is hung, crashed or overloaded (not a verdict on this command)",
            probe.as_secs_f64()
        ),
        End::PlacesStalled {
            probe,
            places_probe,
        } => format!(
            "no reply to `{what}`, nor to a probe WHATSAT within {:.1} s, while the server \
             answered a probe IAMAT in {:.1} ms: its WHATSATs wait on something outside it, \
             most likely its Places request (is it started with the suite's Places URL?)",
            places_probe.as_secs_f64(),
            probe.as_secs_f64() * 1000.0
        ),
        End::Eof => format!(
            "the server closed the connection without replying to `{what}` (did the handler crash?)"
        ),
        End::Timeout => {
            format!("no reply to `{what}` before the test's time ran out")
        }
    };
    Err(Problem::Fail(Failure {
        message,
        actual: Some(Vec::new()),
        ..Failure::default()
    }))
}
