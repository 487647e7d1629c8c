//! Propagation probes: after a probe's IAMAT is answered by its server, poll every other server
//! with `WHATSAT <probe-client> 1 0` at a bounded rate until each answers with the probe's client
//! time, or `--settle` runs out. This needs nothing but the protocol, so it works on any herd.
//!
//! A probe uses a client ID of its own that is never updated again, so a later IAMAT cannot
//! supersede it before it has spread. Polling starts when the probe's IAMAT is sent (until it
//! arrives, servers answer `?`), and a probe whose IAMAT fails is dropped. A server's latency is
//! the middle of the round trip of the first poll it answered with the probe (when it answered,
//! as well as the bench can tell), so its resolution is about `--poll-interval` plus half a poll
//! round trip.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use herd_wire::ClientTime;
use tokio::sync::oneshot;
use tokio::time::{Instant, MissedTickBehavior, interval};

use crate::conn::{Endpoint, LineConn};
use crate::request::{ErrorKind, Request};
use crate::stats::Recorder;

/// One probe in flight.
#[derive(Clone, Debug)]
pub struct Probe {
    pub client: String,
    pub time: ClientTime,
    /// When its IAMAT was sent: the zero of every propagation latency.
    pub sent_at: Instant,
    /// The server the IAMAT went to.
    pub origin: usize,
}

/// Idle `line` connections to each server, shared by all probes so polling does not reconnect.
#[derive(Debug)]
pub struct PollPools {
    idle: Vec<Mutex<Vec<LineConn>>>,
}

impl PollPools {
    pub fn new(servers: usize) -> PollPools {
        PollPools {
            idle: (0..servers).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    fn take(&self, server: usize) -> Option<LineConn> {
        self.idle.get(server).and_then(|m| lock(m).pop())
    }

    fn put(&self, server: usize, conn: LineConn) {
        if let Some(m) = self.idle.get(server) {
            lock(m).push(conn);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How probes poll.
#[derive(Clone, Copy, Debug)]
pub struct Polling {
    pub settle: Duration,
    pub interval: Duration,
}

/// Follows `probe` until every other server has it or `polling.settle` has passed.
/// `origin` says whether the probe's IAMAT got its reply; if not, nothing is recorded.
pub async fn track(
    probe: Probe,
    endpoints: Arc<[Endpoint]>,
    pools: Arc<PollPools>,
    recorder: Arc<Recorder>,
    polling: Polling,
    mut origin: oneshot::Receiver<bool>,
) {
    let mut answered = None;
    let deadline = probe.sent_at + polling.settle;
    let request = Request::whatsat(&probe.client, 1, 0);
    let mut pending: Vec<usize> = (0..endpoints.len())
        .filter(|i| *i != probe.origin)
        .collect();
    let mut seen_by: Vec<(usize, Duration)> = Vec::new();
    let mut ticker = interval(polling.interval.max(Duration::from_micros(100)));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    while !pending.is_empty() {
        ticker.tick().await;
        match origin.try_recv() {
            Ok(ok) => answered = Some(ok),
            Err(oneshot::error::TryRecvError::Closed) => answered = answered.or(Some(false)),
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        if answered == Some(false) || Instant::now() >= deadline {
            break;
        }
        let polls = pending.iter().map(|&server| {
            poll(
                &endpoints[server],
                server,
                &pools,
                &recorder,
                &request,
                probe.time,
            )
        });
        let seen = join_all(polls).await;
        for (server, seen_at) in pending.iter().zip(&seen) {
            if let Some(at) = seen_at {
                seen_by.push((*server, at.saturating_duration_since(probe.sent_at)));
            }
        }
        let mut seen = seen.iter();
        pending.retain(|_| seen.next().is_some_and(Option::is_none));
    }
    let answered = match answered {
        Some(ok) => ok,
        None => origin.await.unwrap_or(false),
    };
    if !answered {
        return;
    }
    recorder.probes(|p| p.started += 1);
    let mut slowest = Duration::ZERO;
    for (server, latency) in seen_by {
        recorder.propagation(server, latency);
        slowest = slowest.max(latency);
    }
    if pending.is_empty() {
        recorder.converged(slowest);
    } else {
        recorder.probes(|p| p.lost += 1);
        for server in pending {
            recorder.probe_missed(server);
        }
    }
}

/// One WHATSAT poll: `Some(when)` if the server answered with the probe's update.
async fn poll(
    endpoint: &Endpoint,
    server: usize,
    pools: &PollPools,
    recorder: &Recorder,
    request: &Request,
    time: ClientTime,
) -> Option<Instant> {
    let mut conn = pools.take(server);
    let sent = Instant::now();
    let result = endpoint.exchange(&mut conn, request).await;
    // The server answered somewhere in the round trip: take the middle.
    let now = sent + sent.elapsed() / 2;
    if let Some(conn) = conn {
        pools.put(server, conn);
    }
    recorder.probes(|p| {
        p.polls += 1;
        // `?` only means this server has not heard of the probe's client yet.
        if matches!(result, Err(e) if e != ErrorKind::Rejected) {
            p.poll_errors += 1;
        }
    });
    match result {
        Ok(at) if at.time() == time => Some(now),
        _ => None,
    }
}
