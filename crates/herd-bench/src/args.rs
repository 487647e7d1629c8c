//! The command line: every option of `herd-bench`, its defaults, and the duration syntax.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Load generator for proxy herds: round-trip and propagation latency, any implementation.
///
/// Simulated clients (spread across the herd's servers) send IAMAT and WHATSAT for --duration
/// after --warmup. A share of the IAMATs are probes: the bench polls every other server with
/// WHATSAT until each answers with the probe's update, which measures flooding.
///
/// Closed loop by default (each client sends its next request when the reply arrives); --rate
/// runs open loop on a constant schedule; a request that queued behind its client's previous
/// reply is measured from its intended send time, so a stalled server cannot hide its stall
/// (coordinated omission).
///
/// Herds:
///   (default)               the running herd at --herd's addresses (start it: herd-server --all)
///   --target HOST:PORT ...  running servers by address
///   --spawn-reference       start the reference herd in this process on free ports
///   --spawn 'CMD'           start one process per server from a template (see below)
///   --sink                  the built-in sink in this process: answers every line at once, so
///                           the run measures the bench itself (its ceiling)
///   --compare A B [C ...]   run the same workload against two or more herds in turn; each is
///                           `reference`, `sink`, a preset or herd file (running), or `spawn:CMD`
///
/// Every run first measures the loopback floor: sequential round trips to a built-in echo over
/// the same kind of socket and the same client code (--floor-requests); each p50 is reported as
/// a multiple of it. --preload N stores N distinct clients in each herd before it is measured.
///
/// Spawn templates are run with `sh -c` once per server of --herd's topology, after these
/// placeholders are replaced: {name} {port} {host} {address} {herd} (the herd on the chosen free
/// ports; also {herd_file}) {places_url} (the bench's Places stand-in) {log_dir} (a temporary
/// folder). The same placeholders as `conformance --spawn`. A spawned server that exits during
/// the run fails the run (exit 1), naming the server.
///
/// Examples:
///   herd-bench --spawn-reference                      # one-command demo
///   herd-server --all & herd-bench --clients 1000     # the running default herd
///   herd-bench --rate 20000 --duration 30s --json run.json --plot run.svg
///   herd-bench --whatsat-ratio 0.2 --places-port 8900 # herd started with --places-url http://127.0.0.1:8900
///   herd-bench --clients 1000 --compare reference \
///     "spawn:.venv/bin/python python/herd_server.py {name} --herd {herd} --port {port} --places-url {places_url} --log-dir {log_dir}"
///   herd-bench --clients 1000 --compare reference sink \
///     "spawn:node node/herd_server.js {name} --herd {herd} --port {port} --places-url {places_url} --log-dir {log_dir}"
///   herd-bench --spawn-reference --preload 1000000 --clients 1000   # the rate at 1M clients
///
/// Durations: `10` (seconds), `10s`, `500ms`, `1m`. Exit status: 0 after a completed run,
/// 1 when every request failed, 2 when the herd is unreachable or an option is wrong.
#[derive(Parser, Debug, Clone)]
#[command(name = "herd-bench", version, verbatim_doc_comment)]
pub struct Args {
    /// Simulated clients, each with its own connection and client ID.
    #[arg(long, default_value_t = 100, value_name = "N", value_parser = at_least_one())]
    pub clients: usize,

    /// How long to measure (more than 0).
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub duration: Duration,

    /// How long to run before measuring (results discarded).
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub warmup: Duration,

    /// Share of requests that are WHATSAT (0 to 1); the rest are IAMAT.
    #[arg(long, default_value_t = 0.0, value_parser = parse_ratio, value_name = "RATIO")]
    pub whatsat_ratio: f64,

    /// Open loop: this many requests per second in total, on a constant schedule.
    #[arg(long, value_parser = parse_rate, value_name = "R")]
    pub rate: Option<f64>,

    /// A preset (winter21, spring21, spring20, winter18, recent) or a herd TOML file: the running
    /// herd to load, or the topology that --spawn-reference, --spawn and --compare start.
    #[arg(long, default_value = "winter21", value_name = "PRESET|FILE")]
    pub herd: String,

    /// A running server to load, by address (repeatable; instead of --herd's addresses).
    #[arg(long = "target", value_name = "HOST:PORT", conflicts_with_all = ["spawn_reference", "spawn", "compare", "sink"])]
    pub targets: Vec<String>,

    /// Start the reference herd in this process on free ports, with the bench's Places stand-in.
    #[arg(long, conflicts_with_all = ["spawn", "compare", "sink"])]
    pub spawn_reference: bool,

    /// Start one process per server from this command template (placeholders: see above).
    #[arg(long, value_name = "CMD", conflicts_with_all = ["compare", "sink"])]
    pub spawn: Option<String>,

    /// Load the built-in sink (in this process, free ports, one listener per server of --herd):
    /// it answers every line at once, so the figures are the bench's own ceiling.
    #[arg(long, conflicts_with = "compare")]
    pub sink: bool,

    /// Compare two or more herds: each `reference`, `sink`, a preset or herd file (running), or
    /// `spawn:CMD`. They are named A, B, C, … in order; ratios are to A.
    #[arg(long, num_args = 2.., value_name = "HERD")]
    pub compare: Option<Vec<String>>,

    /// With --compare: how many times to run every herd in turn (results are merged per herd).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,

    /// Before measuring a herd, store this many distinct clients in it (pipelined IAMATs).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub preload: u64,

    /// The most the preload of one herd may take before the run fails.
    #[arg(long, default_value = "10m", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub preload_timeout: Duration,

    /// Round trips to the built-in echo that measure the loopback floor (0: skip it).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub floor_requests: u32,

    /// `line`: one persistent connection per client; `eof`: a new connection per request,
    /// half-closed after the command (what course servers often need).
    #[arg(long, value_enum, default_value = "line")]
    pub framing: Framing,

    /// Share of IAMATs that are propagation probes (0 to 1).
    #[arg(long, default_value_t = 0.01, value_parser = parse_ratio, value_name = "RATIO")]
    pub probe_ratio: f64,

    /// How long a probe may take to reach every server before it counts as lost.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub settle: Duration,

    /// How often each probe polls each other server with WHATSAT: the resolution of the
    /// propagation figures. `0` polls again as soon as the answer is in (one round trip, the
    /// finest); under 1 ms the wait is a busy one, as tokio's timer counts whole milliseconds.
    /// Fine intervals suit fast herds: a slow one gets a poll per round trip until it learns.
    #[arg(long, default_value = "5ms", value_parser = parse_duration, value_name = "DURATION")]
    pub poll_interval: Duration,

    /// At most this many probes in flight (further probe slots are skipped and counted; at least
    /// 1: use --probe-ratio 0 for no probes).
    #[arg(long, default_value_t = 32, value_name = "N", value_parser = at_least_one())]
    pub max_probes: usize,

    /// A request without a complete reply after this long counts as a timeout error.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,

    /// Start a Places stand-in on this port (0: any) for a running herd, and print its URL.
    /// Spawned herds always get one.
    #[arg(long, value_name = "PORT")]
    pub places_port: Option<u16>,

    /// Write every figure and the run's parameters as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write one HdrHistogram percentile distribution (.hgrm, values in ms) per histogram.
    #[arg(long, value_name = "DIR")]
    pub hgrm: Option<PathBuf>,

    /// Write latency by percentile as an SVG chart, one line per histogram.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

pub use herd_wire::{Framing, parse_duration};

/// A count of at least 1.
fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
}

/// A duration of more than 0.
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(format!(
            "`{text}` is no time at all; give more than 0 (e.g. 10s)"
        )),
        d => Ok(d),
    }
}

fn parse_ratio(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!(
            "`{text}` is not a ratio between 0 and 1 (e.g. 0.01)"
        )),
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "`{text}` is not a positive rate in requests per second"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_plain_seconds_and_units() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("ten").unwrap_err().contains("try 10"));
        assert!(parse_duration("").is_err());
        assert!(
            parse_positive_duration("0")
                .unwrap_err()
                .contains("more than 0")
        );
        assert_eq!(parse_positive_duration("1ms"), Ok(Duration::from_millis(1)));
    }

    #[test]
    fn ratios_and_rates_are_checked() {
        assert_eq!(parse_ratio("0.25"), Ok(0.25));
        assert!(parse_ratio("1.5").is_err());
        assert!(parse_ratio("nan").is_err());
        assert!(parse_rate("0").is_err());
        assert_eq!(parse_rate("1000"), Ok(1000.0));
    }
}
