//! When to stop waiting for a reply, decided from the server's own pace instead of a fixed
//! timeout, so a verdict does not change when the machine is busy.
//!
//! Each server gets a [`Patience`]: a smoothed round trip of its recent replies, from which the
//! *quiet period* follows (how long no byte may arrive before a read is judged). When a reply
//! has not even started after one quiet period, the server is asked a probe IAMAT on a new
//! connection (the *re-check*): if it answers, its current round trip resets the quiet period and
//! the original read gets one more period; only then is the command judged unanswered. If the
//! probe goes unanswered too, the server is judged unresponsive (hung, crashed or overloaded),
//! which the reports say instead of blaming the command. A slow server thus only costs time,
//! never a verdict, and a silent one costs two quiet periods, not a fixed three seconds.
//!
//! The probe always sends the same IAMAT (same client, time 1.0), so after the first one a herd
//! drops it as not newer and never floods it again.
//!
//! A WHATSAT waits on the server's Places request, which may take far longer than its IAMATs (a
//! far-away Places service, or a hard-coded one that does not answer). So when a WHATSAT's reply
//! has not started and the probe IAMAT is answered, a probe WHATSAT for the probe's client is
//! asked as well (up to `--timeout`): if it is answered, the original read gets that long once
//! more before it is judged unanswered; if it is not, the server's WHATSATs are stuck on
//! something outside it, which the reports say instead of calling the server silent.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use herd_wire::Framing;

/// The shortest quiet period: loopback round trips are far below it, scheduling hiccups not.
pub const QUIET_FLOOR: Duration = Duration::from_millis(250);
/// The quiet period is this many smoothed round trips above the floor.
const QUIET_RTTS: u32 = 8;
/// How long a probe's answer (or its absence) stands for the reads that ask after it.
const PROBE_FRESH: Duration = Duration::from_millis(500);
/// How long an unanswered probe stands while the server sends nothing to anyone: a hung server
/// costs each later read one quiet period, not a probe each.
const UNANSWERED_FRESH: Duration = Duration::from_secs(10);
/// A probe gets at least this long to be answered.
const PROBE_FLOOR: Duration = Duration::from_secs(1);

/// What a re-check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alive {
    /// The probe was answered after this round trip.
    Answered(Duration),
    /// The probe got nothing within this long.
    NoAnswer(Duration),
}

/// One server's pace.
#[derive(Debug)]
pub struct Patience {
    addr: SocketAddr,
    framing: Framing,
    /// Smoothed round trip, in microseconds.
    rtt_us: AtomicU64,
    /// The hard limit of one exchange (`--timeout`).
    ceiling: Duration,
    probe_text: String,
    /// A WHATSAT for the probe IAMAT's client: its round trip is the server's Places pace.
    places_probe_text: String,
    /// Complete replies seen so far (any reply makes an unanswered probe stale).
    replies: AtomicU64,
    /// The last probe's result, when it ended and how many replies had been seen then; one
    /// probe at a time.
    last_probe: tokio::sync::Mutex<Option<(Instant, Alive, u64)>>,
    /// The last probe WHATSAT's result and when it ended; one at a time.
    last_places_probe: tokio::sync::Mutex<Option<(Instant, Alive)>>,
}

impl Patience {
    fn new(addr: SocketAddr, framing: Framing, ceiling: Duration, stamp: &str) -> Patience {
        Patience {
            addr,
            framing,
            rtt_us: AtomicU64::new(0),
            replies: AtomicU64::new(0),
            ceiling,
            probe_text: format!("IAMAT conf-alive-{stamp} +0.000001+0.000001 1.000000000"),
            places_probe_text: format!("WHATSAT conf-alive-{stamp} 1 1"),
            last_probe: tokio::sync::Mutex::new(None),
            last_places_probe: tokio::sync::Mutex::new(None),
        }
    }

    /// The smoothed round trip of the server's recent replies.
    pub fn rtt(&self) -> Duration {
        Duration::from_micros(self.rtt_us.load(Ordering::Relaxed))
    }

    /// How long no byte may arrive before a read is judged.
    pub fn quiet(&self) -> Duration {
        (QUIET_FLOOR + self.rtt() * QUIET_RTTS).min(self.ceiling)
    }

    /// Takes one observed round trip into the estimate: a slower one counts at once (half-way),
    /// a faster one slowly, so a busy spell raises the patience before it is needed.
    pub fn observe(&self, rtt: Duration) {
        self.replies.fetch_add(1, Ordering::Relaxed);
        let new = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX);
        let _ = self
            .rtt_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if new > old {
                    old / 2 + new / 2
                } else {
                    old - old / 8 + new / 8
                })
            });
    }

    /// Whether the server answers a probe now (a recent probe's result is reused).
    pub async fn alive(&self) -> Alive {
        let mut last = self.last_probe.lock().await;
        if let Some((at, alive, replies)) = *last {
            let fresh = match alive {
                Alive::Answered(_) => at.elapsed() < PROBE_FRESH,
                Alive::NoAnswer(_) => {
                    at.elapsed() < UNANSWERED_FRESH
                        && self.replies.load(Ordering::Relaxed) == replies
                }
            };
            if fresh {
                return alive;
            }
        }
        let limit = (self.quiet() * 4).max(PROBE_FLOOR).min(self.ceiling);
        let alive = self.probe(&self.probe_text, limit).await;
        if let Alive::Answered(rtt) = alive {
            self.observe(rtt);
        }
        *last = Some((Instant::now(), alive, self.replies.load(Ordering::Relaxed)));
        alive
    }

    /// A probe IAMAT now (no earlier result reused): whether the server answers at all and how
    /// fast, for a test that asks whether the server is busy at this moment.
    pub async fn alive_now(&self) -> Alive {
        let alive = self.probe(&self.probe_text, self.ceiling).await;
        if let Alive::Answered(rtt) = alive {
            self.observe(rtt);
        }
        alive
    }

    /// How long the server takes to answer a WHATSAT now, Places request included: a probe
    /// WHATSAT for the probe IAMAT's client, given up to the ceiling (a recent result is
    /// reused; an unanswered one for [`UNANSWERED_FRESH`], so a server whose WHATSATs hang
    /// costs each later read one quiet period, not a ceiling each). Ask [`Patience::alive`]
    /// first: its IAMAT is what makes the client known.
    pub async fn places_pace(&self) -> Alive {
        let mut last = self.last_places_probe.lock().await;
        if let Some((at, alive)) = *last {
            let fresh = match alive {
                Alive::Answered(_) => PROBE_FRESH,
                Alive::NoAnswer(_) => UNANSWERED_FRESH,
            };
            if at.elapsed() < fresh {
                return alive;
            }
        }
        let alive = self.probe(&self.places_probe_text, self.ceiling).await;
        *last = Some((Instant::now(), alive));
        alive
    }

    /// One probe command on a new connection; any byte back within `limit` counts as an answer.
    /// Written on the bare socket: a [`Conn`] read would itself be paced by this very patience.
    async fn probe(&self, text: &str, limit: Duration) -> Alive {
        let started = Instant::now();
        let exchange = async {
            let mut stream = TcpStream::connect(self.addr).await.ok()?;
            let _ = stream.set_nodelay(true);
            match self.framing {
                Framing::Line => {
                    let line = format!("{text}\n");
                    stream.write_all(line.as_bytes()).await.ok()?;
                }
                Framing::Eof => {
                    stream.write_all(text.as_bytes()).await.ok()?;
                    stream.shutdown().await.ok()?;
                }
            }
            let mut byte = [0u8; 256];
            match stream.read(&mut byte).await {
                Ok(n) if n > 0 => Some(()),
                _ => None,
            }
        };
        match tokio::time::timeout(limit, exchange).await {
            Ok(Some(())) => Alive::Answered(started.elapsed()),
            _ => Alive::NoAnswer(limit),
        }
    }
}

/// Every server's [`Patience`], by address.
#[derive(Debug, Default)]
pub struct Paces {
    by_addr: std::sync::Mutex<HashMap<SocketAddr, Arc<Patience>>>,
    framing: Option<Framing>,
    ceiling: Duration,
    stamp: String,
}

impl Paces {
    /// Paces for servers spoken to in `framing`, each exchange limited to `ceiling`.
    pub fn new(framing: Framing, ceiling: Duration, stamp: &str) -> Paces {
        Paces {
            by_addr: Default::default(),
            framing: Some(framing),
            ceiling,
            stamp: stamp.to_owned(),
        }
    }

    /// The pace of the server at `addr` (created on first use); `None` when pacing is off.
    pub fn of(&self, addr: SocketAddr) -> Option<Arc<Patience>> {
        let framing = self.framing?;
        let mut map = self.by_addr.lock().ok()?;
        Some(Arc::clone(map.entry(addr).or_insert_with(|| {
            Arc::new(Patience::new(addr, framing, self.ceiling, &self.stamp))
        })))
    }

    /// The largest smoothed round trip among the servers spoken to so far.
    pub fn slowest_rtt(&self) -> Duration {
        self.by_addr
            .lock()
            .map(|map| map.values().map(|p| p.rtt()).max().unwrap_or_default())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_period_follows_the_round_trip() {
        let addr: SocketAddr = ([127, 0, 0, 1], 9).into();
        let p = Patience::new(addr, Framing::Line, Duration::from_secs(10), "t");
        assert_eq!(p.quiet(), QUIET_FLOOR);
        p.observe(Duration::from_millis(100));
        assert_eq!(p.rtt(), Duration::from_millis(50));
        assert_eq!(p.quiet(), QUIET_FLOOR + Duration::from_millis(400));
        // Faster replies lower it slowly.
        p.observe(Duration::ZERO);
        assert_eq!(p.rtt(), Duration::from_micros(43_750));
        // Never beyond the ceiling.
        p.observe(Duration::from_secs(100));
        assert_eq!(p.quiet(), Duration::from_secs(10));
    }
}
