//! The workload: simulated clients sending IAMAT and WHATSAT, closed or open loop, for warmup
//! plus duration; probes launched from a share of the measured IAMATs.
//!
//! Open loop follows wrk2: each client has a constant schedule (`clients / rate` apart, phases
//! spread over the interval) and a request that had to wait for the client's previous reply
//! counts its latency from its *intended* send time, so time a client spent waiting on a stalled
//! server is counted, not omitted. A request whose client was free counts from when it was sent:
//! tokio's timer wakes a sleeper up to a millisecond late, and that lateness is the bench's own,
//! not the server's (it would otherwise add about a millisecond to every open-loop figure).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use herd_wire::ClientTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::task::TaskTracker;

use crate::conn::Endpoint;
use crate::probe::{PollPools, Polling, Probe, track};
use crate::progress::Progress;
use crate::request::{ErrorKind, Kind, Request, position_for};
use crate::stats::{Recorder, RunStats};

/// After a failed connect, a closed-loop client waits this long so a dead server is not
/// hammered in a busy loop.
const CONNECT_BACKOFF: Duration = Duration::from_millis(20);

/// What to send and for how long.
#[derive(Clone, Debug)]
pub struct Workload {
    pub clients: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub whatsat_ratio: f64,
    /// `Some(total requests/s)`: open loop.
    pub rate: Option<f64>,
    pub probe_ratio: f64,
    pub polling: Polling,
    pub max_probes: usize,
}

impl Workload {
    pub fn mode(&self) -> &'static str {
        if self.rate.is_some() {
            "open loop"
        } else {
            "closed loop"
        }
    }
}

/// Decides which measured IAMATs become probes, and bounds how many are in flight.
struct ProbePlan {
    /// Every `every`-th measured IAMAT is a probe; 0 means none.
    every: u64,
    counter: AtomicU64,
    next_id: AtomicU64,
    permits: Arc<Semaphore>,
}

impl ProbePlan {
    fn new(ratio: f64, max: usize, servers: usize) -> ProbePlan {
        let every = if ratio > 0.0 && servers > 1 {
            (1.0 / ratio).round().max(1.0) as u64
        } else {
            0
        };
        ProbePlan {
            every,
            counter: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            permits: Arc::new(Semaphore::new(max)),
        }
    }

    /// `Some((probe number, permit))` if this IAMAT should be a probe.
    fn claim(&self, recorder: &Recorder) -> Option<(u64, OwnedSemaphorePermit)> {
        if self.every == 0
            || !self
                .counter
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(self.every)
        {
            return None;
        }
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => Some((self.next_id.fetch_add(1, Ordering::Relaxed), permit)),
            Err(_) => {
                recorder.probes(|p| p.skipped += 1);
                None
            }
        }
    }
}

/// Picks IAMAT or WHATSAT so that exactly `ratio` of the requests are WHATSAT, deterministically.
struct Mix {
    ratio: f64,
    credit: f64,
}

impl Mix {
    fn next(&mut self) -> Kind {
        self.credit += self.ratio;
        if self.credit >= 1.0 - 1e-9 {
            self.credit -= 1.0;
            Kind::Whatsat
        } else {
            Kind::Iamat
        }
    }
}

struct Shared {
    workload: Workload,
    endpoints: Arc<[Endpoint]>,
    recorder: Arc<Recorder>,
    probes: ProbePlan,
    pools: Arc<PollPools>,
    tracker: TaskTracker,
    run_id: String,
    start: Instant,
    measure_start: Instant,
    end: Instant,
}

/// Runs `workload` against `endpoints`; client IDs are `bench-<run_id>-<n>`, probes
/// `bench-<run_id>-p<n>`.
pub async fn run(
    workload: &Workload,
    endpoints: &[Endpoint],
    run_id: &str,
    progress: &Progress,
) -> RunStats {
    let servers: Vec<(String, String)> = endpoints
        .iter()
        .map(|e| (e.name.clone(), e.address.clone()))
        .collect();
    let recorder = Arc::new(Recorder::new(&servers));
    let start = Instant::now();
    let measure_start = start + workload.warmup;
    let shared = Arc::new(Shared {
        workload: workload.clone(),
        endpoints: endpoints.to_vec().into(),
        recorder: Arc::clone(&recorder),
        probes: ProbePlan::new(workload.probe_ratio, workload.max_probes, endpoints.len()),
        pools: Arc::new(PollPools::new(endpoints.len())),
        tracker: TaskTracker::new(),
        run_id: run_id.to_owned(),
        start,
        measure_start,
        end: measure_start + workload.duration,
    });
    let ticker = progress.follow(
        Arc::clone(&recorder),
        start,
        workload.warmup,
        workload.duration,
    );
    let clients: Vec<_> = (0..workload.clients)
        .map(|n| tokio::spawn(client(Arc::clone(&shared), n)))
        .collect();
    for c in clients {
        let _ = c.await;
    }
    progress.phase("waiting for probes to settle");
    shared.tracker.close();
    shared.tracker.wait().await;
    ticker.abort();
    recorder.finish(workload.duration)
}

async fn client(shared: Arc<Shared>, n: usize) {
    let w = &shared.workload;
    let server = n % shared.endpoints.len();
    let endpoint = &shared.endpoints[server];
    let id = format!("bench-{}-{n}", shared.run_id);
    let position = position_for(n);
    let mut mix = Mix {
        ratio: w.whatsat_ratio,
        credit: 0.0,
    };
    // The schedule of an open-loop client: every `interval`, shifted by a phase so that the
    // clients do not all fire at once.
    let interval = w
        .rate
        .map(|rate| Duration::from_secs_f64(w.clients as f64 / rate));
    let phase = interval.map_or(Duration::ZERO, |i| i.mul_f64(n as f64 / w.clients as f64));
    let mut slot = None;
    // When this client's previous reply came: a request scheduled before then waited on it.
    let mut free_since: Option<Instant> = None;
    // A WHATSAT for our ID is only valid once the herd has our IAMAT.
    let mut introduced = false;
    for k in 0u32.. {
        let intended = match interval {
            Some(i) => shared.start + phase + i.saturating_mul(k),
            None => Instant::now(),
        };
        if intended >= shared.end {
            break;
        }
        sleep_until(intended).await;
        let measured = intended >= shared.measure_start;
        let kind = if introduced { mix.next() } else { Kind::Iamat };
        let probe = if kind == Kind::Iamat && measured && introduced {
            shared.probes.claim(&shared.recorder)
        } else {
            None
        };
        let time = ClientTime::now();
        let request = match (kind, &probe) {
            (Kind::Iamat, Some((p, _))) => {
                Request::iamat(&format!("bench-{}-p{p}", shared.run_id), &position, time)
            }
            (Kind::Iamat, None) => Request::iamat(&id, &position, time),
            (Kind::Whatsat, _) => Request::whatsat(&id, 10, 5),
        };
        let sent_at = Instant::now();
        // A probe is followed from the moment its IAMAT is sent.
        let origin = probe.map(|(_, permit)| {
            let (answered, origin) = oneshot::channel();
            let task = track(
                Probe {
                    client: request.client.clone(),
                    time,
                    sent_at,
                    origin: server,
                },
                Arc::clone(&shared.endpoints),
                Arc::clone(&shared.pools),
                Arc::clone(&shared.recorder),
                w.polling,
                origin,
            );
            shared.tracker.spawn(async move {
                task.await;
                drop(permit);
            });
            answered
        });
        shared.recorder.live.sent.fetch_add(1, Ordering::Relaxed);
        let result = endpoint.exchange(&mut slot, &request).await;
        let done = Instant::now();
        if result.is_err() {
            shared.recorder.live.errors.fetch_add(1, Ordering::Relaxed);
        }
        if measured {
            let from = latency_start(interval.is_some(), intended, free_since, sent_at);
            let outcome = result
                .as_ref()
                .map(|_| done.saturating_duration_since(from))
                .map_err(|e| *e);
            shared.recorder.request(server, kind, outcome);
        }
        free_since = Some(done);
        let is_probe = origin.is_some();
        if let Some(answered) = origin {
            let _ = answered.send(result.is_ok());
        }
        match (result, is_probe) {
            (Ok(_), false) => introduced |= kind == Kind::Iamat,
            (Ok(_), true) => {}
            (Err(ErrorKind::Connect), _) if interval.is_none() => sleep(CONNECT_BACKOFF).await,
            (Err(_), _) => {}
        }
    }
}

/// Where a request's latency starts. Open loop counts from the schedule when the request queued
/// behind its client's previous reply (`free_since`, so a stall is included), else from the
/// send: past the timer's own lateness, which is the bench's and not the server's.
fn latency_start(
    open_loop: bool,
    intended: Instant,
    free_since: Option<Instant>,
    sent_at: Instant,
) -> Instant {
    let queued = free_since.is_some_and(|free| free > intended);
    if open_loop && queued {
        intended
    } else {
        sent_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_loop_counts_the_queue_behind_a_slow_reply_but_not_the_timers_lateness() {
        let intended = Instant::now();
        let late = intended + Duration::from_micros(900);
        // Free before its slot: the wake-up was late, the server had nothing to do with it.
        let earlier = Some(intended - Duration::from_millis(5));
        assert_eq!(latency_start(true, intended, earlier, late), late);
        assert_eq!(latency_start(true, intended, None, late), late);
        // Its previous reply came after the slot: the wait is the server's.
        let after = Some(intended + Duration::from_micros(500));
        assert_eq!(latency_start(true, intended, after, late), intended);
        // Closed loop always counts from the send.
        assert_eq!(latency_start(false, intended, after, late), late);
    }

    #[test]
    fn mix_hits_the_ratio_exactly() {
        for (ratio, expect) in [(0.0, 0), (0.25, 25), (0.5, 50), (1.0, 100), (0.1, 10)] {
            let mut mix = Mix { ratio, credit: 0.0 };
            let n = (0..100).filter(|_| mix.next() == Kind::Whatsat).count();
            assert_eq!(n, expect, "ratio {ratio}");
        }
    }

    #[test]
    fn probe_plan_picks_every_nth_and_respects_the_cap() {
        let recorder = Recorder::new(&[("A".into(), "a".into()), ("B".into(), "b".into())]);
        let plan = ProbePlan::new(0.5, 1, 2);
        let first = plan.claim(&recorder);
        assert!(first.is_some());
        assert!(plan.claim(&recorder).is_none()); // not its turn
        assert!(plan.claim(&recorder).is_none()); // its turn, but the one permit is taken
        drop(first);
        assert!(plan.claim(&recorder).is_none()); // not its turn
        assert!(plan.claim(&recorder).is_some());
        assert_eq!(recorder.finish(Duration::ZERO).probes.skipped, 1);
        assert_eq!(
            ProbePlan::new(0.01, 32, 1).every,
            0,
            "one server: nothing to propagate to"
        );
    }
}
