//! The figures of a run as one serializable [`Report`] (what `--json` writes) and its rendering
//! as the printed summary, so the two cannot disagree.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::floor::Floor;
use crate::preload::Preloaded;
use crate::request::{ErrorKind, Kind};
use crate::stats::{Lane, Percentiles, ProbeTotals, RunStats};
use crate::sys::CpuUse;

/// The run's parameters, as given and as applied.
#[derive(Clone, Debug, Serialize)]
pub struct Parameters {
    pub run_id: String,
    /// `closed loop` or `open loop`.
    pub mode: String,
    pub clients: usize,
    /// What `--clients` asked for (more than `clients` if the open-file limit was too low).
    pub clients_requested: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    /// Open loop: requests per second in total.
    pub rate_per_s: Option<f64>,
    pub whatsat_ratio: f64,
    pub framing: String,
    pub probe_ratio: f64,
    pub settle_s: f64,
    pub poll_interval_ms: f64,
    pub max_probes: usize,
    pub timeout_s: f64,
    pub herd: String,
    pub servers: Vec<ServerAddress>,
    pub places_url: Option<String>,
    pub rounds: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct ServerAddress {
    pub name: String,
    pub address: String,
}

/// Requests of one kind at one server (or all), with their latency.
#[derive(Clone, Debug, Serialize)]
pub struct LaneReport {
    pub server: String,
    pub sent: u64,
    pub replied: u64,
    pub errors: BTreeMap<String, u64>,
    pub latency: Percentiles,
}

impl LaneReport {
    fn of(server: &str, lane: &Lane) -> LaneReport {
        LaneReport {
            server: server.to_owned(),
            sent: lane.sent,
            replied: lane.replied,
            errors: errors_by_name(lane),
            latency: Percentiles::of(&lane.latency),
        }
    }
}

fn errors_by_name(lane: &Lane) -> BTreeMap<String, u64> {
    ErrorKind::ALL
        .iter()
        .filter_map(|k| {
            lane.errors
                .get(k)
                .filter(|n| **n > 0)
                .map(|n| (k.name().to_owned(), *n))
        })
        .collect()
}

#[derive(Clone, Debug, Serialize)]
pub struct KindReport {
    pub all: LaneReport,
    pub servers: Vec<LaneReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ServerPropagation {
    pub server: String,
    /// Probes this server never answered with within the settle time.
    pub missed: u64,
    pub latency: Percentiles,
}

#[derive(Clone, Debug, Serialize)]
pub struct PropagationReport {
    pub probes: ProbeTotals,
    /// To any server other than the probe's own.
    pub all: Percentiles,
    pub servers: Vec<ServerPropagation>,
    /// To the last server: the time until the whole herd had the update.
    pub convergence: Percentiles,
}

#[derive(Clone, Debug, Serialize)]
pub struct Rates {
    pub intended_per_s: Option<f64>,
    pub sent_per_s: f64,
    pub replies_per_s: f64,
    /// Open loop: sent / intended.
    pub achieved_share: Option<f64>,
}

/// Every figure of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub parameters: Parameters,
    pub requests: LaneReport,
    pub rate: Rates,
    pub iamat: KindReport,
    pub whatsat: KindReport,
    pub propagation: PropagationReport,
    pub cpu: CpuUse,
    /// The loopback floor measured in the same run (None with `--floor-requests 0`).
    pub floor: Option<Floor>,
    /// Each overall p50 (iamat, whatsat, propagation, convergence) divided by the floor's p50.
    pub p50_over_floor: BTreeMap<String, f64>,
    /// The clients stored before the measurement (`--preload`).
    pub preload: Option<Preloaded>,
    pub warnings: Vec<String>,
}

impl Report {
    pub fn new(parameters: Parameters, stats: &RunStats, cpu: CpuUse) -> Report {
        let totals = stats.totals();
        let secs = stats.measured.as_secs_f64().max(1e-9);
        let sent_per_s = totals.sent as f64 / secs;
        let intended = parameters.rate_per_s;
        let rate = Rates {
            intended_per_s: intended,
            sent_per_s,
            replies_per_s: totals.replied as f64 / secs,
            achieved_share: intended.map(|r| sent_per_s / r),
        };
        let kind = |kind: Kind| KindReport {
            all: LaneReport::of("all", &stats.overall(kind)),
            servers: stats
                .servers
                .iter()
                .map(|s| LaneReport::of(&s.name, s.lane(kind)))
                .collect(),
        };
        let propagation = PropagationReport {
            probes: stats.probes,
            all: Percentiles::of(&stats.propagation_overall()),
            servers: stats
                .servers
                .iter()
                .map(|s| ServerPropagation {
                    server: s.name.clone(),
                    missed: s.probes_missed,
                    latency: Percentiles::of(&s.propagation),
                })
                .collect(),
            convergence: Percentiles::of(&stats.convergence),
        };
        let mut report = Report {
            requests: LaneReport::of("all", &totals),
            rate,
            iamat: kind(Kind::Iamat),
            whatsat: kind(Kind::Whatsat),
            propagation,
            cpu,
            floor: None,
            p50_over_floor: BTreeMap::new(),
            preload: None,
            warnings: Vec::new(),
            parameters,
        };
        report.warnings = warnings(&report);
        report
    }

    /// Adds the loopback floor of the run and this herd's preload.
    pub fn with_floor_and_preload(
        mut self,
        floor: Option<Floor>,
        preload: Option<Preloaded>,
    ) -> Report {
        self.p50_over_floor.clear();
        if let Some(f) = &floor
            && f.latency.count > 0
        {
            let base = f.latency.p50_us.max(1) as f64;
            for (name, p) in [
                ("iamat", &self.iamat.all.latency),
                ("whatsat", &self.whatsat.all.latency),
                ("propagation", &self.propagation.all),
                ("convergence", &self.propagation.convergence),
            ] {
                if p.count > 0 {
                    let times = (p.p50_us as f64 / base * 10.0).round() / 10.0;
                    self.p50_over_floor.insert(name.to_owned(), times);
                }
            }
        }
        self.floor = floor;
        self.preload = preload;
        self
    }

    /// The printed summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let p = &self.parameters;
        let r = &self.requests;
        let _ = writeln!(
            out,
            "Requests: {} sent, {} replied, {} errors{}",
            r.sent,
            r.replied,
            r.errors.values().sum::<u64>(),
            error_list(&r.errors)
        );
        let _ = match self.rate.intended_per_s {
            Some(intended) => writeln!(
                out,
                "Rate ({}): {:.1} requests/s sent of {:.1} intended ({:.1}%), {:.1} replies/s",
                p.mode,
                self.rate.sent_per_s,
                intended,
                self.rate.achieved_share.unwrap_or(0.0) * 100.0,
                self.rate.replies_per_s
            ),
            None => writeln!(
                out,
                "Rate ({}): {:.1} requests/s sent, {:.1} replies/s",
                p.mode, self.rate.sent_per_s, self.rate.replies_per_s
            ),
        };
        out.push('\n');
        let mut rows: Vec<(String, Percentiles)> = Vec::new();
        for (name, kind) in [("IAMAT", &self.iamat), ("WHATSAT", &self.whatsat)] {
            if kind.all.sent == 0 {
                continue;
            }
            rows.push((format!("{name} all"), kind.all.latency));
            for s in &kind.servers {
                rows.push((format!("{name} {}", s.server), s.latency));
            }
        }
        let prop = &self.propagation;
        if prop.probes.started > 0 {
            rows.push(("propagation all".to_owned(), prop.all));
            for s in &prop.servers {
                rows.push((format!("propagation {}", s.server), s.latency));
            }
            rows.push(("convergence".to_owned(), prop.convergence));
        }
        out.push_str(&latency_table(&rows));
        out.push('\n');
        if let Some(f) = &self.floor {
            out.push_str(&floor_lines(f, &self.p50_over_floor));
        }
        if let Some(pre) = &self.preload {
            let _ = writeln!(
                out,
                "Preload: {} clients stored before the measurement in {:.1}s ({:.0}/s){}; {}",
                pre.clients,
                pre.stored_in_s,
                pre.clients as f64 / pre.stored_in_s.max(1e-9),
                if pre.rejected > 0 {
                    format!(", {} rejected", pre.rejected)
                } else {
                    String::new()
                },
                if pre.settled {
                    format!("flooded to every server after {:.1}s", pre.seconds)
                } else {
                    format!(
                        "the flood had not reached every server after {:.1}s",
                        pre.seconds
                    )
                }
            );
        }
        let pt = &prop.probes;
        if pt.started > 0 || pt.skipped > 0 {
            let missed: Vec<String> = prop
                .servers
                .iter()
                .filter(|s| s.missed > 0)
                .map(|s| format!("{} {}", s.server, s.missed))
                .collect();
            let _ = writeln!(
                out,
                "Probes: {} started, {} converged, {} lost (not at every server within {}s{}), {} skipped, {} polls ({} failed)",
                pt.started,
                pt.converged,
                pt.lost,
                p.settle_s,
                if missed.is_empty() {
                    String::new()
                } else {
                    format!("; missed by {}", missed.join(", "))
                },
                pt.skipped,
                pt.polls,
                pt.poll_errors
            );
        } else if p.probe_ratio > 0.0 {
            let _ = writeln!(
                out,
                "Probes: none started (a herd of one server, or no IAMAT answered)"
            );
        }
        let c = &self.cpu;
        let _ = writeln!(
            out,
            "Bench CPU: {:.2}s user + {:.2}s system over {:.1}s = {:.0}% of {} cores{}{}",
            c.user_s,
            c.system_s,
            c.wall_s,
            c.share_of_machine * 100.0,
            c.cores,
            if c.includes_herd {
                " (includes the in-process herd)"
            } else {
                ""
            },
            c.machine_busy_share
                .map(|m| format!("; the whole machine {:.0}% busy", m * 100.0))
                .unwrap_or_default()
        );
        for w in &self.warnings {
            let _ = writeln!(out, "warning: {w}");
        }
        out
    }
}

/// `Loopback floor: …` and `p50 / floor: …`.
fn floor_lines(f: &Floor, times: &BTreeMap<String, f64>) -> String {
    if f.latency.count == 0 {
        return format!(
            "Loopback floor: not measured ({} round trips to the built-in echo failed)\n",
            f.errors
        );
    }
    let mut out = format!(
        "Loopback floor: p50 {} ms, p99 {} ms ({} sequential round trips to a built-in echo, {} framing, same client code{})\n",
        ms(f.latency.p50_us),
        ms(f.latency.p99_us),
        f.latency.count,
        f.framing,
        if f.errors > 0 {
            format!(", {} failed", f.errors)
        } else {
            String::new()
        }
    );
    if !times.is_empty() {
        let each: Vec<String> = [
            ("iamat", "IAMAT"),
            ("whatsat", "WHATSAT"),
            ("propagation", "propagation"),
            ("convergence", "convergence"),
        ]
        .iter()
        .filter_map(|(k, label)| times.get(*k).map(|t| format!("{label} {t:.1}×")))
        .collect();
        let _ = writeln!(out, "p50 / floor: {}", each.join(", "));
    }
    out
}

fn error_list(errors: &BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let list: Vec<String> = errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!(" ({})", list.join(", "))
}

/// Milliseconds with microsecond resolution, as printed.
pub fn ms(us: u64) -> String {
    format!("{}.{:03}", us / 1000, us % 1000)
}

/// The percentile table; the header names the unit.
pub fn latency_table(rows: &[(String, Percentiles)]) -> String {
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0).max(14);
    let mut out = format!(
        "{:<width$} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "Latency (ms)", "count", "p50", "p75", "p90", "p99", "p99.9", "p99.99", "max"
    );
    for (name, p) in rows {
        let _ = write!(out, "{name:<width$} {:>8}", p.count);
        for v in p.columns() {
            if p.count == 0 {
                let _ = write!(out, " {:>9}", "-");
            } else {
                let _ = write!(out, " {:>9}", ms(v));
            }
        }
        out.push('\n');
    }
    out
}

fn warnings(r: &Report) -> Vec<String> {
    let mut w = Vec::new();
    let c = &r.cpu;
    if !c.includes_herd && c.share_of_machine >= 0.5 {
        w.push(format!(
            "the bench used {:.0}% of this machine's {} cores: with the herd here too, the bench, not the herd, may be the limit (use fewer --clients or another machine)",
            c.share_of_machine * 100.0,
            c.cores
        ));
    }
    if c.includes_herd && c.share_of_machine >= 0.85 {
        w.push(format!(
            "the bench and its in-process herd used {:.0}% of this machine's {} cores: the CPU, not the herd's design, is the limit",
            c.share_of_machine * 100.0,
            c.cores
        ));
    }
    // With the herd in this process, everything else on the machine is someone else's load.
    if let Some(busy) = c.machine_busy_share
        && c.includes_herd
        && busy - c.share_of_machine >= 0.25
    {
        w.push(format!(
            "other processes used {:.0}% of this machine's {} cores during the run: the figures are not this herd's (or the bench's) alone; measure on a quiet machine",
            (busy - c.share_of_machine) * 100.0,
            c.cores
        ));
    }
    if let Some(share) = r.rate.achieved_share
        && share < 0.9
    {
        w.push(format!(
                "only {:.1}% of the intended rate was sent: clients waited on replies, so latencies include the backlog (the herd, or the bench, cannot keep up)",
                share * 100.0
            ));
    }
    if r.propagation.probes.skipped > 0 {
        w.push(format!(
            "{} probe slots were skipped because {} probes were in flight (--max-probes)",
            r.propagation.probes.skipped, r.parameters.max_probes
        ));
    }
    if r.parameters.clients < r.parameters.clients_requested {
        w.push(format!(
            "ran {} clients, not the {} asked for: the open-file limit is too low (raise it with `ulimit -n`)",
            r.parameters.clients, r.parameters.clients_requested
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::new_histogram;

    #[test]
    fn ms_keeps_microseconds() {
        assert_eq!(ms(0), "0.000");
        assert_eq!(ms(1234), "1.234");
        assert_eq!(ms(5_000_007), "5000.007");
    }

    #[test]
    fn percentiles_of_a_known_histogram() {
        let mut h = new_histogram();
        for v in 1..=1000 {
            h.record(v).unwrap();
        }
        let p = Percentiles::of(&h);
        assert_eq!(p.count, 1000);
        assert_eq!(p.p50_us, 500);
        assert_eq!(p.p99_us, 990);
        assert_eq!(p.max_us, 1000);
        assert_eq!(Percentiles::of(&new_histogram()), Percentiles::default());
    }

    #[test]
    fn table_shows_dashes_for_empty_rows() {
        let t = latency_table(&[("x".into(), Percentiles::default())]);
        assert!(t.lines().nth(1).unwrap().ends_with('-'), "{t}");
    }
}
