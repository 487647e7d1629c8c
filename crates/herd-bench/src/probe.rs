//! Propagation probes: after a probe's IAMAT is answered by its server, poll every other server
//! with `WHATSAT <probe-client> 1 0` at a bounded rate until each answers with the probe's client
//! time, or `--settle` runs out. This needs nothing but the protocol, so it works on any herd.
//!
//! A probe uses a client ID of its own that is never updated again, so a later IAMAT cannot
//! supersede it before it has spread. Polling starts when the probe's IAMAT is sent (until it
//! arrives, servers answer `?`), and a probe whose IAMAT fails is dropped. A server's latency is
//! the send time of the first poll it answered with the probe: a server looks the client up as
//! the WHATSAT arrives, before its Places call, so the update arrived between the previous poll
//! and this one. Each server is polled on its own, one poll in flight at a time, so the resolution
//! is `--poll-interval` or a poll's round trip, whichever is longer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use herd_wire::ClientTime;
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

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
    origin: oneshot::Receiver<bool>,
) {
    let stop = CancellationToken::new();
    let request = Request::whatsat(&probe.client, 1, 0);
    let others: Vec<usize> = (0..endpoints.len())
        .filter(|i| *i != probe.origin)
        .collect();
    let follows = others.iter().map(|&server| {
        let poller = Poller {
            endpoint: &endpoints[server],
            server,
            pools: &pools,
            recorder: &recorder,
            request: &request,
            probe: &probe,
        };
        poller.until_seen(polling, &stop)
    });
    // A probe whose IAMAT failed is no probe: stop polling for it at once.
    let watch_origin = async {
        let ok = origin.await.unwrap_or(false);
        if !ok {
            stop.cancel();
        }
        ok
    };
    let (answered, seen) = tokio::join!(watch_origin, join_all(follows));
    if !answered {
        return;
    }
    recorder.probes(|p| p.started += 1);
    let mut slowest = Duration::ZERO;
    let mut missed = Vec::new();
    for (server, seen) in others.iter().zip(seen) {
        match seen {
            Some(latency) => {
                recorder.propagation(*server, latency);
                slowest = slowest.max(latency);
            }
            None => missed.push(*server),
        }
    }
    if missed.is_empty() {
        recorder.converged(slowest);
    } else {
        recorder.probes(|p| p.lost += 1);
        for server in missed {
            recorder.probe_missed(server);
        }
    }
}

/// Polls one server for one probe.
struct Poller<'a> {
    endpoint: &'a Endpoint,
    server: usize,
    pools: &'a PollPools,
    recorder: &'a Recorder,
    request: &'a Request,
    probe: &'a Probe,
}

impl Poller<'_> {
    /// Polls every `interval` (one poll in flight at a time) until the server answers with the
    /// probe: its latency, or `None` at the settle deadline or when stopped.
    async fn until_seen(self, polling: Polling, stop: &CancellationToken) -> Option<Duration> {
        let deadline = self.probe.sent_at + polling.settle;
        let mut next = Instant::now();
        loop {
            if !wait_until(next, stop).await {
                return None;
            }
            let sent = Instant::now();
            if sent >= deadline {
                return None;
            }
            next = sent + polling.interval;
            if self.poll().await {
                return Some(sent.saturating_duration_since(self.probe.sent_at));
            }
        }
    }

    /// One WHATSAT: did the server answer with the probe's update?
    async fn poll(&self) -> bool {
        let mut conn = self.pools.take(self.server);
        let result = self.endpoint.exchange(&mut conn, self.request).await;
        if let Some(conn) = conn {
            self.pools.put(self.server, conn);
        }
        self.recorder.probes(|p| {
            p.polls += 1;
            // `?` only means this server has not heard of the probe's client yet.
            if matches!(result, Err(e) if e != ErrorKind::Rejected) {
                p.poll_errors += 1;
            }
        });
        matches!(result, Ok(at) if at.time() == self.probe.time)
    }
}

/// Below this, a wait is not left to tokio's timer, which rounds up to its millisecond ticks.
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// Waits until `next`; false if `stop` came first. A wait shorter than the timer's resolution
/// yields to the runtime until it has passed (a busy wait, the price of a sub-millisecond poll
/// interval, which the user asked for).
async fn wait_until(next: Instant, stop: &CancellationToken) -> bool {
    if next.saturating_duration_since(Instant::now()) >= TIMER_RESOLUTION {
        return tokio::select! {
            _ = stop.cancelled() => false,
            _ = sleep_until(next) => true,
        };
    }
    while Instant::now() < next {
        if stop.is_cancelled() {
            return false;
        }
        tokio::task::yield_now().await;
    }
    !stop.is_cancelled()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_short_wait_lasts_until_its_instant_and_a_stop_ends_any_wait() {
        let stop = CancellationToken::new();
        assert!(wait_until(Instant::now(), &stop).await);
        let next = Instant::now() + Duration::from_micros(300);
        assert!(wait_until(next, &stop).await);
        assert!(Instant::now() >= next, "returned before its instant");
        stop.cancel();
        assert!(!wait_until(Instant::now() + Duration::from_micros(300), &stop).await);
        assert!(!wait_until(Instant::now() + Duration::from_secs(60), &stop).await);
    }
}
