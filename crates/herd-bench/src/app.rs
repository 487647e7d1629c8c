//! The whole command: choose and start the herd(s), check they listen, measure the loopback
//! floor, preload, run the workload (once, or each herd in turn for `--compare`), print the
//! summary and write the requested files.

use anyhow::{Context as _, bail};
use herd_wire::{ClientTime, Herd};
use std::fmt::Write as _;

use crate::args::Args;
use crate::compare::{self, letter};
use crate::conn::Endpoint;
use crate::herds::HerdOrSink;
use crate::load::{self, Workload};
use crate::preload::{self, Preloaded};
use crate::probe::Polling;
use crate::progress::Progress;
use crate::report::{Parameters, Report, ServerAddress};
use crate::stats::{RunStats, Series};
use crate::sys::{CpuClock, CpuUse, raise_open_files};
use crate::{floor, hgrm, plot};
use herd_server::Limits;
use herd_spawn::{HerdSource, StartedHerd};

/// Why the command failed, and so its exit status.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad options, an unreachable herd, a file that cannot be written: exit 2.
    #[error("{0:#}")]
    Setup(#[from] anyhow::Error),
    /// The run completed but no request got a good reply: exit 1.
    #[error("{0}")]
    AllFailed(String),
    /// A server the bench started went down during the run, so its figures mean little: exit 1.
    #[error("{0}")]
    ServerDown(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Setup(_) => 2,
            Failure::AllFailed(_) | Failure::ServerDown(_) => 1,
        }
    }
}

/// Runs the command; prints the summary to stdout.
pub async fn run(args: Args) -> Result<(), Failure> {
    // Value ranges (--clients, --duration, --rounds, --max-probes, …) are checked by clap.
    let topology = Herd::load(&args.herd).map_err(anyhow::Error::from)?;
    let sources = sources(&args, &topology)?;

    let needs_places = sources.iter().any(HerdOrSink::needs_places) || args.places_port.is_some();
    let stand_in = if needs_places {
        let config = mocks::StandInConfig {
            port: args.places_port,
            ..Default::default()
        };
        Some(
            mocks::PlacesStandIn::start_unrecorded(config)
                .await
                .context("cannot start the Places stand-in")?,
        )
    } else {
        None
    };
    let places_url = stand_in.as_ref().map(mocks::PlacesStandIn::uri);

    let in_process = sources.iter().any(HerdOrSink::in_process);
    let clients = fit_clients(&args, topology.servers().len(), in_process);

    let limits = reference_limits(usize::try_from(args.preload).unwrap_or(usize::MAX), clients);
    let mut herds = Vec::new();
    for source in &sources {
        let herd = source.start(places_url.as_deref(), &limits).await?;
        check_listening(source, &herd).await?;
        herds.push(herd);
    }

    let workload = Workload {
        clients,
        duration: args.duration,
        warmup: args.warmup,
        whatsat_ratio: args.whatsat_ratio,
        rate: args.rate,
        probe_ratio: args.probe_ratio,
        polling: Polling {
            settle: args.settle,
            interval: args.poll_interval,
        },
        max_probes: args.max_probes,
    };
    println!(
        "{}",
        header(&args, &workload, &herds, places_url.as_deref())
    );

    let floor = if args.floor_requests > 0 {
        Some(floor::measure(args.floor_requests, args.framing, args.timeout).await?)
    } else {
        None
    };

    let progress = Progress::on_terminal();
    let run_id = run_id();
    let mut results: Vec<Option<(RunStats, CpuUse)>> = vec![None; herds.len()];
    let mut preloads: Vec<Option<Preloaded>> = vec![None; herds.len()];
    let mut down = None;
    'rounds: for round in 0..args.rounds {
        for (side, herd) in herds.iter().enumerate() {
            progress.label(&side_name(side, herds.len(), args.rounds, round));
            if round == 0 && args.preload > 0 {
                let addresses: Vec<String> = herd.servers.iter().map(|(_, a)| a.clone()).collect();
                let done = preload::run(
                    args.preload,
                    &addresses,
                    &format!("{run_id}{side}"),
                    args.preload_timeout,
                    &herd.label,
                )
                .await?;
                eprintln!(
                    "herd-bench: preloaded {} clients into {} in {:.1}s",
                    done.clients, herd.label, done.stored_in_s
                );
                preloads[side] = Some(done);
            }
            let endpoints = endpoints(herd, &args);
            let clock = CpuClock::start();
            let stats = load::run(
                &workload,
                &endpoints,
                &format!("{run_id}{}", round as usize * herds.len() + side),
                &progress,
            )
            .await;
            let cpu = clock.stop(herd.in_process);
            results[side] = Some(match results[side].take() {
                None => (stats, cpu),
                Some((mut all, all_cpu)) => {
                    all.merge(&stats);
                    (all, add_cpu(all_cpu, cpu))
                }
            });
            let gone = herd.down_servers().await;
            if !gone.is_empty() {
                down = Some(down_message(herd, &gone));
                break 'rounds;
            }
        }
    }
    progress.clear();

    let mut reports = Vec::new();
    let mut all_stats = Vec::new();
    for ((herd, result), preload) in herds.iter().zip(results).zip(preloads) {
        let Some((stats, cpu)) = result else { continue };
        let params = parameters(
            &args,
            &workload,
            herd,
            &run_id,
            places_url.as_deref(),
            stats.rounds,
        );
        reports
            .push(Report::new(params, &stats, cpu).with_floor_and_preload(floor.clone(), preload));
        all_stats.push(stats);
    }

    if let [report] = &reports[..] {
        print!("{}", report.render());
    } else {
        for (side, report) in reports.iter().enumerate() {
            println!("== {}: {} ==", letter(side), report.parameters.herd);
            println!("{}", report.render());
        }
        if reports.len() > 1 {
            print!("{}", compare::table(&reports));
        }
    }

    write_outputs(&args, &reports, &all_stats)?;

    if let Some(message) = down {
        return Err(Failure::ServerDown(message));
    }
    for report in &reports {
        let hint = full_table_hint(args.preload, report);
        if report.requests.sent > 0 && report.requests.replied == 0 {
            return Err(Failure::AllFailed(format!(
                "every one of the {} requests to {} failed ({}); {}",
                report.requests.sent,
                report.parameters.herd,
                report
                    .requests
                    .errors
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                hint.unwrap_or_else(|| {
                    "check that it speaks the proxy-herd protocol and is not overloaded".to_owned()
                })
            )));
        }
        if let Some(hint) = hint {
            eprintln!(
                "herd-bench: warning: {} refused some IAMATs; {hint}",
                report.parameters.herd
            );
        }
    }
    Ok(())
}

/// What to do when a herd refused requests (`?`) after a preload: a full client table refuses
/// new clients, and the run's clients and probes are new.
fn full_table_hint(preload: u64, report: &Report) -> Option<String> {
    let refused = report.requests.errors.get("rejected").copied().unwrap_or(0);
    (preload > 0 && refused > 0).then(|| {
        format!(
            "after --preload {preload} its client table may be full (herd-server --max-clients, \
             default {}), and a full table refuses new clients: preload fewer, or start the herd \
             with a larger --max-clients",
            Limits::default().max_clients
        )
    })
}

/// New client IDs a run may add beyond its clients' own: the probes' (one each, a bounded
/// number in flight, a fraction of all requests).
const PROBE_ID_HEADROOM: usize = 100_000;

/// The in-process reference herd's bounds: the server's defaults, with room in the client table
/// for the preload, the run's clients and its probes, so that `--preload 1000000` measures a
/// table of a million clients instead of a full one that refuses the run's new clients.
fn reference_limits(preload: usize, clients: usize) -> Limits {
    let defaults = Limits::default();
    let needed = preload
        .saturating_add(clients)
        .saturating_add(PROBE_ID_HEADROOM);
    Limits {
        max_clients: defaults.max_clients.max(needed),
        ..defaults
    }
}

fn sources(args: &Args, topology: &Herd) -> anyhow::Result<Vec<HerdOrSink>> {
    if let Some(compare) = &args.compare {
        // clap asks for at least two.
        return compare
            .iter()
            .map(|operand| HerdOrSink::from_operand(operand, topology))
            .collect();
    }
    Ok(vec![if args.spawn_reference {
        HerdOrSink::Herd(HerdSource::Reference(topology.clone()))
    } else if args.sink {
        HerdOrSink::Sink(topology.clone())
    } else if let Some(template) = &args.spawn {
        HerdOrSink::from_operand(&format!("spawn:{template}"), topology)?
    } else if !args.targets.is_empty() {
        HerdOrSink::Herd(HerdSource::Targets(args.targets.clone()))
    } else {
        HerdOrSink::Herd(HerdSource::Running(topology.clone()))
    }])
}

/// Raises the open-file limit for the connections a run needs; fewer clients if it cannot.
fn fit_clients(args: &Args, servers: usize, in_process: bool) -> usize {
    // Each client holds a connection; probes pool up to --max-probes per server; an
    // in-process herd holds the other end of each.
    let fixed = (args.max_probes * servers + 64) as u64;
    let factor = if in_process { 2 } else { 1 };
    let needed = (args.clients as u64 + fixed) * factor;
    match raise_open_files(needed) {
        Ok(limit) if limit.now >= needed => {
            if limit.now > limit.before {
                eprintln!(
                    "herd-bench: raised the open-file limit from {} to {} for {} clients",
                    limit.before, limit.now, args.clients
                );
            }
            args.clients
        }
        Ok(limit) => {
            let fit = (limit.now / factor).saturating_sub(fixed).max(1);
            eprintln!(
                "herd-bench: the open-file limit is {} (hard limit {}), enough for {fit} of the {} clients; running {fit}",
                limit.now, limit.hard, args.clients
            );
            usize::try_from(fit)
                .unwrap_or(args.clients)
                .min(args.clients)
        }
        Err(e) => {
            eprintln!("herd-bench: {e}; running {} clients anyway", args.clients);
            args.clients
        }
    }
}

/// `Riley 127.0.0.1:12000, ...`; a `--target` given by address alone is shown once.
fn server_list(servers: &[(String, String)]) -> String {
    servers
        .iter()
        .map(|(name, address)| {
            if name == address {
                address.clone()
            } else {
                format!("{name} {address}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Says which spawned servers went down during a run and how.
fn down_message(herd: &StartedHerd, gone: &[herd_spawn::Down]) -> String {
    let each: Vec<String> = gone
        .iter()
        .map(|e| format!("during the run, {e}"))
        .collect();
    format!(
        "{} of {}; the figures above are not those of a whole herd\n{}",
        if gone.len() == 1 {
            "a server"
        } else {
            "servers"
        },
        herd.label,
        each.join("\n")
    )
}

async fn check_listening(source: &HerdOrSink, herd: &StartedHerd) -> anyhow::Result<()> {
    let missing = herd.unreachable().await;
    if missing.is_empty() {
        return Ok(());
    }
    let list = server_list(&missing);
    let hint = match source {
        HerdOrSink::Herd(HerdSource::Running(h)) => format!(
            "start it with `herd-server --all --herd {}`, or let the bench start one: `herd-bench --spawn-reference`",
            h.origin
        ),
        _ => "check the addresses, or let the bench start a herd: `herd-bench --spawn-reference`"
            .to_owned(),
    };
    if missing.len() == herd.servers.len() {
        bail!("nothing listens at {list} ({}); {hint}", herd.label);
    }
    bail!(
        "{list} of {} accept no connection, so the herd is incomplete; {hint}",
        herd.label
    );
}

fn endpoints(herd: &StartedHerd, args: &Args) -> Vec<Endpoint> {
    herd.servers
        .iter()
        .map(|(name, address)| Endpoint {
            name: name.clone(),
            address: address.clone(),
            framing: args.framing,
            timeout: args.timeout,
        })
        .collect()
}

fn run_id() -> String {
    let micros = ClientTime::now().as_nanos() / 1000;
    format!("{:x}", (micros as u64) & 0xff_ffff_ffff)
}

fn side_name(side: usize, sides: usize, rounds: u32, round: u32) -> String {
    match (sides, rounds) {
        (1, _) => String::new(),
        (_, 1) => letter(side),
        _ => format!("{} {}/{rounds}", letter(side), round + 1),
    }
}

fn add_cpu(a: CpuUse, b: CpuUse) -> CpuUse {
    let (user, system, wall) = (
        a.user_s + b.user_s,
        a.system_s + b.system_s,
        a.wall_s + b.wall_s,
    );
    CpuUse {
        user_s: user,
        system_s: system,
        wall_s: wall,
        cores: a.cores,
        share_of_machine: if wall > 0.0 {
            (user + system) / (wall * a.cores as f64)
        } else {
            0.0
        },
        includes_herd: a.includes_herd || b.includes_herd,
        machine_busy_share: match (a.machine_busy_share, b.machine_busy_share) {
            (Some(x), Some(y)) if wall > 0.0 => Some((x * a.wall_s + y * b.wall_s) / wall),
            _ => None,
        },
    }
}

fn header(args: &Args, w: &Workload, herds: &[StartedHerd], places_url: Option<&str>) -> String {
    let mut out = format!(
        "herd-bench {}: {}{}, {} clients, {} framing, {} measured after {} warmup, WHATSAT {}%, probes {}%",
        env!("CARGO_PKG_VERSION"),
        w.mode(),
        w.rate
            .map(|r| format!(" at {r} requests/s"))
            .unwrap_or_default(),
        w.clients,
        args.framing.name(),
        humantime::format_duration(w.duration),
        humantime::format_duration(w.warmup),
        w.whatsat_ratio * 100.0,
        w.probe_ratio * 100.0
    );
    for (side, herd) in herds.iter().enumerate() {
        let servers = server_list(&herd.servers);
        let who = if herds.len() > 1 {
            format!("Herd {}", letter(side))
        } else {
            "Herd".to_owned()
        };
        let _ = write!(out, "\n{who}: {}: {servers}", herd.label);
    }
    if let Some(url) = places_url {
        let _ = write!(out, "\nPlaces stand-in: {url}");
        if args.places_port.is_some() {
            let _ = write!(
                out,
                " (start the herd with `herd-server --all --places-url {url}` so WHATSAT uses it)"
            );
        }
    }
    if args.rounds > 1 && herds.len() > 1 {
        let _ = write!(
            out,
            "\nRunning {} in turn for {} rounds; figures merge the rounds per herd.",
            (0..herds.len()).map(letter).collect::<Vec<_>>().join(", "),
            args.rounds
        );
    }
    out
}

fn parameters(
    args: &Args,
    w: &Workload,
    herd: &StartedHerd,
    run_id: &str,
    places_url: Option<&str>,
    rounds: u32,
) -> Parameters {
    Parameters {
        run_id: run_id.to_owned(),
        mode: w.mode().to_owned(),
        clients: w.clients,
        clients_requested: args.clients,
        duration_s: w.duration.as_secs_f64(),
        warmup_s: w.warmup.as_secs_f64(),
        rate_per_s: w.rate,
        whatsat_ratio: w.whatsat_ratio,
        framing: args.framing.name().to_owned(),
        probe_ratio: w.probe_ratio,
        settle_s: w.polling.settle.as_secs_f64(),
        poll_interval_ms: w.polling.interval.as_secs_f64() * 1000.0,
        max_probes: w.max_probes,
        timeout_s: args.timeout.as_secs_f64(),
        herd: herd.label.clone(),
        servers: herd
            .servers
            .iter()
            .map(|(name, address)| ServerAddress {
                name: name.clone(),
                address: address.clone(),
            })
            .collect(),
        places_url: places_url.map(str::to_owned),
        rounds,
    }
}

fn write_outputs(args: &Args, reports: &[Report], stats: &[RunStats]) -> anyhow::Result<()> {
    let prefix = |side: usize| {
        if reports.len() > 1 {
            format!("{}-", letter(side))
        } else {
            String::new()
        }
    };
    if let Some(path) = &args.json {
        let value = match reports {
            [one] => serde_json::to_value(one)?,
            all => compare::json(all),
        };
        let text = serde_json::to_string_pretty(&value)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write --json {}", path.display()))?;
        println!("JSON: {}", path.display());
    }
    if let Some(dir) = &args.hgrm {
        let mut all = Vec::new();
        for (side, s) in stats.iter().enumerate() {
            for series in s.series() {
                all.push((format!("{}{}", prefix(side), series.name), series.histogram));
            }
        }
        let written = hgrm::write_all(dir, &all)?;
        println!(
            "Histograms: {} .hgrm files in {}",
            written.len(),
            dir.display()
        );
    }
    if let Some(path) = &args.plot {
        let mut series = Vec::new();
        for (side, s) in stats.iter().enumerate() {
            for one in s.series() {
                if reports.len() == 1 || one.overall {
                    series.push(Series {
                        name: format!("{}{}", prefix(side), one.name),
                        ..one
                    });
                }
            }
        }
        let title = match reports {
            [one] => format!(
                "herd-bench: {} ({})",
                one.parameters.herd, one.parameters.mode
            ),
            all => format!(
                "herd-bench: {}",
                (0..all.len()).map(letter).collect::<Vec<_>>().join(" vs ")
            ),
        };
        plot::write(path, &title, &series)?;
        println!("Plot: {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_herd_has_room_for_the_preload_and_the_run() {
        let default = Limits::default().max_clients;
        assert_eq!(reference_limits(0, 1000).max_clients, default);
        assert_eq!(
            reference_limits(default, 1000).max_clients,
            default + 1000 + PROBE_ID_HEADROOM
        );
        assert_eq!(reference_limits(usize::MAX, 1000).max_clients, usize::MAX);
    }
}
