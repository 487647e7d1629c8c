//! The bench's own resources: its open-file limit (raised so `--clients` connections fit) and its
//! CPU use over a run (so a saturated bench shows). Safe wrappers from `nix`.

use std::time::{Duration, Instant};

use nix::sys::resource::{Resource, UsageWho, getrlimit, getrusage, setrlimit};

/// The open-file limit before and after raising it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileLimit {
    pub before: u64,
    pub now: u64,
    pub hard: u64,
}

/// Raises the soft open-file limit to at least `needed`, as far as the hard limit allows.
pub fn raise_open_files(needed: u64) -> Result<FileLimit, String> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)
        .map_err(|e| format!("cannot read the open-file limit: {e}"))?;
    if soft >= needed {
        return Ok(FileLimit {
            before: soft,
            now: soft,
            hard,
        });
    }
    let target = needed.min(hard);
    setrlimit(Resource::RLIMIT_NOFILE, target, hard)
        .map_err(|e| format!("cannot raise the open-file limit from {soft} to {target}: {e}"))?;
    Ok(FileLimit {
        before: soft,
        now: target,
        hard,
    })
}

/// CPU time this process has used so far (user, system).
fn cpu_times() -> Option<(Duration, Duration)> {
    let usage = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let d = |tv: nix::sys::time::TimeVal| {
        Duration::new(
            u64::try_from(tv.tv_sec()).unwrap_or(0),
            u32::try_from(tv.tv_usec()).unwrap_or(0) * 1000,
        )
    };
    Some((d(usage.user_time()), d(usage.system_time())))
}

/// The machine's (busy, total) CPU ticks from the first line of `/proc/stat` (Linux only).
fn machine_ticks() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

/// A reading taken at the start of a run.
#[derive(Clone, Copy, Debug)]
pub struct CpuClock {
    at: Instant,
    times: Option<(Duration, Duration)>,
    machine: Option<(u64, u64)>,
}

/// How busy the bench process was over a run.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct CpuUse {
    pub user_s: f64,
    pub system_s: f64,
    pub wall_s: f64,
    pub cores: usize,
    /// (user + system) / (wall × cores): 1.0 means every core was busy with the bench.
    pub share_of_machine: f64,
    /// True when the herd ran inside the bench process, so its CPU is included.
    pub includes_herd: bool,
    /// How busy the whole machine was (every process, from `/proc/stat`), 0 to 1; `None` where
    /// it cannot be read.
    pub machine_busy_share: Option<f64>,
}

impl CpuClock {
    pub fn start() -> CpuClock {
        CpuClock {
            at: Instant::now(),
            times: cpu_times(),
            machine: machine_ticks(),
        }
    }

    /// CPU used since [`CpuClock::start`].
    pub fn stop(&self, includes_herd: bool) -> CpuUse {
        let wall = self.at.elapsed().as_secs_f64();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (user, system) = match (self.times, cpu_times()) {
            (Some((u0, s0)), Some((u1, s1))) => (
                u1.saturating_sub(u0).as_secs_f64(),
                s1.saturating_sub(s0).as_secs_f64(),
            ),
            _ => (0.0, 0.0),
        };
        CpuUse {
            user_s: user,
            system_s: system,
            wall_s: wall,
            cores,
            share_of_machine: if wall > 0.0 {
                (user + system) / (wall * cores as f64)
            } else {
                0.0
            },
            includes_herd,
            machine_busy_share: match (self.machine, machine_ticks()) {
                (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                    Some((b1.saturating_sub(b0)) as f64 / (t1 - t0) as f64)
                }
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_use_grows_with_work() {
        let clock = CpuClock::start();
        let mut x = 0u64;
        let until = Instant::now() + Duration::from_millis(50);
        while Instant::now() < until {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        let used = clock.stop(false);
        assert!(x != 1);
        assert!(used.user_s + used.system_s > 0.01, "{used:?}");
        assert!(used.share_of_machine > 0.0);
        // The machine was at least as busy as this process.
        if let Some(busy) = used.machine_busy_share {
            assert!(busy > 0.0 && busy <= 1.0, "{used:?}");
        }
    }

    #[test]
    fn a_limit_already_high_enough_is_left_alone() {
        let limit = raise_open_files(16).unwrap();
        assert_eq!(limit.before, limit.now);
    }
}
