//! What a run measured: per-server request lanes (counts and latency histograms), propagation
//! histograms, probe totals — recorded live by many tasks, then frozen into [`RunStats`].

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::request::{ErrorKind, Kind};

/// The largest latency a histogram holds, in microseconds (one hour); larger ones saturate.
pub const HIGHEST_US: u64 = 3_600_000_000;

/// A microsecond histogram with 3 significant digits, 1 µs to 1 h.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_US, 3)
        .unwrap_or_else(|e| unreachable!("constant histogram bounds are valid: {e}"))
}

/// Whole microseconds, as recorded.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Requests of one kind to one server: how many, how they ended, how long they took.
#[derive(Clone, Debug)]
pub struct Lane {
    pub latency: Histogram<u64>,
    pub sent: u64,
    pub replied: u64,
    pub errors: BTreeMap<ErrorKind, u64>,
}

impl Default for Lane {
    fn default() -> Self {
        Lane {
            latency: new_histogram(),
            sent: 0,
            replied: 0,
            errors: BTreeMap::new(),
        }
    }
}

impl Lane {
    pub fn record(&mut self, outcome: Result<Duration, ErrorKind>) {
        self.sent += 1;
        match outcome {
            Ok(latency) => {
                self.replied += 1;
                self.latency.saturating_record(micros(latency));
            }
            Err(kind) => *self.errors.entry(kind).or_default() += 1,
        }
    }

    pub fn merge(&mut self, other: &Lane) {
        self.sent += other.sent;
        self.replied += other.replied;
        for (kind, n) in &other.errors {
            *self.errors.entry(*kind).or_default() += n;
        }
        add(&mut self.latency, &other.latency);
    }
}

/// Adds `other` into `into`; both have the same bounds, so this cannot fail in practice.
pub fn add(into: &mut Histogram<u64>, other: &Histogram<u64>) {
    if into.add(other).is_err() {
        for v in other.iter_recorded() {
            into.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

/// Everything measured at one server.
#[derive(Clone, Debug)]
pub struct ServerStats {
    pub name: String,
    pub iamat: Lane,
    pub whatsat: Lane,
    /// Time from a probe's IAMAT (sent to another server) until this server answered with it.
    pub propagation: Histogram<u64>,
    /// Probes this server never answered with within `--settle`.
    pub probes_missed: u64,
}

impl ServerStats {
    pub fn new(name: &str) -> ServerStats {
        ServerStats {
            name: name.to_owned(),
            iamat: Lane::default(),
            whatsat: Lane::default(),
            propagation: new_histogram(),
            probes_missed: 0,
        }
    }

    pub fn lane(&self, kind: Kind) -> &Lane {
        match kind {
            Kind::Iamat => &self.iamat,
            Kind::Whatsat => &self.whatsat,
        }
    }

    fn lane_mut(&mut self, kind: Kind) -> &mut Lane {
        match kind {
            Kind::Iamat => &mut self.iamat,
            Kind::Whatsat => &mut self.whatsat,
        }
    }
}

/// Probe bookkeeping for the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProbeTotals {
    /// Probes whose IAMAT was answered, so tracking began.
    pub started: u64,
    /// Probes every other server answered with within `--settle`.
    pub converged: u64,
    /// Probes some server never answered with within `--settle`.
    pub lost: u64,
    /// Probe slots not used because `--max-probes` were in flight.
    pub skipped: u64,
    /// WHATSAT polls sent to detect probes (not counted as requests).
    pub polls: u64,
    /// Polls that failed (connect, timeout, ...).
    pub poll_errors: u64,
}

impl ProbeTotals {
    fn merge(&mut self, o: &ProbeTotals) {
        self.started += o.started;
        self.converged += o.converged;
        self.lost += o.lost;
        self.skipped += o.skipped;
        self.polls += o.polls;
        self.poll_errors += o.poll_errors;
    }
}

/// Counters the progress bar reads while the run goes on (warmup included).
#[derive(Debug, Default)]
pub struct Live {
    pub sent: AtomicU64,
    pub errors: AtomicU64,
}

/// Shared, lock-per-server recording during a run.
#[derive(Debug)]
pub struct Recorder {
    servers: Vec<Mutex<ServerStats>>,
    convergence: Mutex<Histogram<u64>>,
    probes: Mutex<ProbeTotals>,
    pub live: Live,
}

impl Recorder {
    pub fn new(servers: &[(String, String)]) -> Recorder {
        Recorder {
            servers: servers
                .iter()
                .map(|(name, _)| Mutex::new(ServerStats::new(name)))
                .collect(),
            convergence: Mutex::new(new_histogram()),
            probes: Mutex::new(ProbeTotals::default()),
            live: Live::default(),
        }
    }

    /// A measured request to server `server`.
    pub fn request(&self, server: usize, kind: Kind, outcome: Result<Duration, ErrorKind>) {
        if let Some(s) = self.servers.get(server) {
            lock(s).lane_mut(kind).record(outcome);
        }
    }

    /// A probe first seen at server `server` this long after its IAMAT was sent.
    pub fn propagation(&self, server: usize, latency: Duration) {
        if let Some(s) = self.servers.get(server) {
            lock(s).propagation.saturating_record(micros(latency));
        }
    }

    pub fn probe_missed(&self, server: usize) {
        if let Some(s) = self.servers.get(server) {
            lock(s).probes_missed += 1;
        }
    }

    pub fn converged(&self, latency: Duration) {
        lock(&self.convergence).saturating_record(micros(latency));
        lock(&self.probes).converged += 1;
    }

    pub fn probes(&self, update: impl FnOnce(&mut ProbeTotals)) {
        update(&mut lock(&self.probes));
    }

    /// Freezes what was recorded.
    pub fn finish(&self, measured: Duration) -> RunStats {
        RunStats {
            servers: self.servers.iter().map(|s| lock(s).clone()).collect(),
            convergence: lock(&self.convergence).clone(),
            probes: *lock(&self.probes),
            measured,
            rounds: 1,
        }
    }
}

/// A poisoned lock only means another task panicked mid-record; the counts are still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The figures of a finished run (or of several rounds against the same herd, merged).
#[derive(Clone, Debug)]
pub struct RunStats {
    pub servers: Vec<ServerStats>,
    /// Time from a probe's IAMAT until the last server answered with it.
    pub convergence: Histogram<u64>,
    pub probes: ProbeTotals,
    /// Total measured time (after warmup), summed over rounds.
    pub measured: Duration,
    pub rounds: u32,
}

impl RunStats {
    /// Requests of `kind` at every server together.
    pub fn overall(&self, kind: Kind) -> Lane {
        let mut all = Lane::default();
        for s in &self.servers {
            all.merge(s.lane(kind));
        }
        all
    }

    /// Propagation to every server together.
    pub fn propagation_overall(&self) -> Histogram<u64> {
        let mut all = new_histogram();
        for s in &self.servers {
            add(&mut all, &s.propagation);
        }
        all
    }

    /// Both kinds at every server.
    pub fn totals(&self) -> Lane {
        let mut all = self.overall(Kind::Iamat);
        all.merge(&self.overall(Kind::Whatsat));
        all
    }

    /// Adds another round against the same herd (same servers, same order).
    pub fn merge(&mut self, other: &RunStats) {
        for (mine, theirs) in self.servers.iter_mut().zip(&other.servers) {
            mine.iamat.merge(&theirs.iamat);
            mine.whatsat.merge(&theirs.whatsat);
            add(&mut mine.propagation, &theirs.propagation);
            mine.probes_missed += theirs.probes_missed;
        }
        add(&mut self.convergence, &other.convergence);
        self.probes.merge(&other.probes);
        self.measured += other.measured;
        self.rounds += other.rounds;
    }
}

/// One latency histogram of a run, for the `.hgrm` files and the plot.
#[derive(Clone, Debug)]
pub struct Series {
    /// File-friendly: `iamat-all`, `iamat-<server>`, `whatsat-…`, `propagation-all`,
    /// `propagation-<server>`, `convergence`.
    pub name: String,
    /// Over the whole herd rather than one server: drawn thick, and the only kind a comparison
    /// plots (per-server lines would drown the picture).
    pub overall: bool,
    pub histogram: Histogram<u64>,
}

impl Series {
    fn new(name: String, overall: bool, histogram: Histogram<u64>) -> Series {
        Series {
            name,
            overall,
            histogram,
        }
    }
}

impl RunStats {
    /// Every non-empty histogram of the run, overall ones before each kind's per-server ones.
    pub fn series(&self) -> Vec<Series> {
        let mut out = Vec::new();
        for (prefix, kind) in [("iamat", Kind::Iamat), ("whatsat", Kind::Whatsat)] {
            out.push(Series::new(
                format!("{prefix}-all"),
                true,
                self.overall(kind).latency,
            ));
            for s in &self.servers {
                out.push(Series::new(
                    format!("{prefix}-{}", s.name),
                    false,
                    s.lane(kind).latency.clone(),
                ));
            }
        }
        out.push(Series::new(
            "propagation-all".to_owned(),
            true,
            self.propagation_overall(),
        ));
        for s in &self.servers {
            out.push(Series::new(
                format!("propagation-{}", s.name),
                false,
                s.propagation.clone(),
            ));
        }
        out.push(Series::new(
            "convergence".to_owned(),
            true,
            self.convergence.clone(),
        ));
        out.retain(|s| !s.histogram.is_empty());
        out
    }
}

/// Latency percentiles in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p75_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p99_9_us: u64,
    pub p99_99_us: u64,
    pub max_us: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            mean_us: (h.mean() * 10.0).round() / 10.0,
            p50_us: h.value_at_quantile(0.5),
            p75_us: h.value_at_quantile(0.75),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p99_9_us: h.value_at_quantile(0.999),
            p99_99_us: h.value_at_quantile(0.9999),
            max_us: h.max(),
        }
    }

    /// The columns of the printed table, in order.
    pub fn columns(&self) -> [u64; 7] {
        [
            self.p50_us,
            self.p75_us,
            self.p90_us,
            self.p99_us,
            self.p99_9_us,
            self.p99_99_us,
            self.max_us,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_count_every_outcome_once() {
        let mut lane = Lane::default();
        lane.record(Ok(Duration::from_micros(150)));
        lane.record(Err(ErrorKind::Timeout));
        lane.record(Err(ErrorKind::Timeout));
        assert_eq!(
            (lane.sent, lane.replied, lane.errors.values().sum::<u64>()),
            (3, 1, 2)
        );
        let mut other = Lane::default();
        other.record(Ok(Duration::from_millis(2)));
        lane.merge(&other);
        assert_eq!((lane.sent, lane.replied), (4, 2));
        assert_eq!(lane.latency.len(), 2);
        assert!(lane.latency.max() >= 2000);
    }

    #[test]
    fn recorder_keeps_servers_apart_and_merges_overall() {
        let servers = vec![
            ("A".to_owned(), "a:1".to_owned()),
            ("B".to_owned(), "b:1".to_owned()),
        ];
        let r = Recorder::new(&servers);
        r.request(0, Kind::Iamat, Ok(Duration::from_micros(10)));
        r.request(1, Kind::Iamat, Ok(Duration::from_micros(20)));
        r.request(1, Kind::Whatsat, Err(ErrorKind::Rejected));
        r.propagation(1, Duration::from_millis(3));
        let stats = r.finish(Duration::from_secs(1));
        assert_eq!(stats.servers[0].iamat.sent, 1);
        assert_eq!(stats.overall(Kind::Iamat).sent, 2);
        assert_eq!(stats.totals().errors.values().sum::<u64>(), 1);
        assert_eq!(stats.propagation_overall().len(), 1);
    }
}
