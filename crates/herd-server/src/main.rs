//! `herd-server`: run one server of a herd, or the whole herd in one process.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use herd_server::places::PlacesApi;
use herd_server::{Launch, PlacesChoice, StopSignals, serve_until_stopped};
use herd_wire::Herd;
use tokio::net::TcpListener;

/// Every log event and every relayed AT line is allocated on one thread and freed on another (the
/// log writer, a peer link). Under a closed-loop load glibc's malloc and free took about 13% of
/// the herd's CPU samples (`perf record`); with mimalloc `--all` answered 1.07 to 1.17 × as many
/// IAMATs per second in four alternating runs (crates/herd-bench/BENCHMARK.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The reference proxy-herd server: IAMAT, WHATSAT and flooding over persistent peer links.
///
/// Examples:
///   herd-server --all                       # the whole default herd (winter21), ports 12000-12004
///   herd-server Riley                       # one server of the default herd
///   herd-server --herd spring20 --all       # a past term's herd
///   herd-server --herd my.toml Alpha --port 15000
///
/// Without GOOGLE_PLACES_API_KEY and --places-url, WHATSAT is answered by a built-in Places
/// stand-in, so everything works offline.
#[derive(Parser, Debug)]
#[command(version, verbatim_doc_comment)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["name", "all"])))]
struct Args {
    /// The server to run (a name from the herd). Omit with --all.
    name: Option<String>,

    /// Run every server of the herd in this process (each its own port, state and log).
    #[arg(long)]
    all: bool,

    /// A preset (winter21, spring21, spring20, winter18, recent) or a herd TOML file.
    #[arg(long, default_value = "winter21", value_name = "PRESET|FILE")]
    herd: String,

    /// Listen on this port instead of the herd file's (single server only).
    #[arg(long, conflicts_with = "all")]
    port: Option<u16>,

    /// Folder for the log files, one NAME.log per server.
    #[arg(long, default_value = "logs", value_name = "DIR")]
    log_dir: PathBuf,

    /// Places base URL (a stand-in, e.g. from places-mock or the conformance suite).
    #[arg(long, env = "HERD_PLACES_URL", value_name = "URL")]
    places_url: Option<String>,

    /// Which Places API to call.
    #[arg(long, value_enum, default_value = "legacy")]
    places_api: PlacesApi,

    /// How long a Places request may take before WHATSAT answers with an UNKNOWN_ERROR object
    /// (seconds, or a duration such as 1500ms).
    #[arg(long, default_value = "5", value_parser = herd_wire::parse_duration, value_name = "DURATION")]
    places_timeout: Duration,

    /// Worker threads of the runtime [default: 1 for a single server, one per core for --all].
    /// A herd's servers usually share one machine: five single-server processes on two cores
    /// answered 1.06 to 1.45 times as many IAMATs per second with one worker each as with one
    /// per core each, and a flood under saturation converged later
    /// (crates/herd-bench/BENCHMARK.md). Give a server alone on a big machine more.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,

    #[command(flatten)]
    limits: herd_server::Limits,

    /// Switch on a deliberate mistake (for testing graders; see herd_server::faults).
    #[arg(long, value_enum, hide = true)]
    fault: Vec<herd_server::faults::Fault>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let threads = args.threads.map(usize::from).unwrap_or_else(|| {
        if args.all {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        } else {
            1
        }
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("herd-server: cannot start {threads} worker threads: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herd-server: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut stop = StopSignals::register()?;
    let mut herd = Herd::load(&args.herd)?;
    let names: Vec<String> = match &args.name {
        Some(name) => {
            if herd.server(name).is_none() {
                anyhow::bail!(
                    "`{name}` is not a server of herd {}; its servers are {}",
                    herd.origin,
                    herd.names().join(", ")
                );
            }
            vec![name.clone()]
        }
        None => herd.names().iter().map(|n| (*n).to_owned()).collect(),
    };
    if let (Some(port), Some(name)) = (args.port, &args.name) {
        let ports: Vec<u16> = herd
            .servers()
            .iter()
            .map(|s| if &s.name == name { port } else { s.port() })
            .collect();
        let hosts_local = herd
            .servers()
            .iter()
            .all(|s| s.address.starts_with("127.0.0.1:"));
        anyhow::ensure!(
            hosts_local,
            "--port needs a herd whose servers are all on 127.0.0.1"
        );
        herd = herd.on_ports(&ports);
    }

    let key = std::env::var("GOOGLE_PLACES_API_KEY").ok();
    let places = PlacesChoice::choose(
        args.places_url.as_deref(),
        key,
        args.places_api,
        args.places_timeout,
    )
    .await?;
    eprintln!("{}", places.notice);

    if args.all {
        herd = herd_server::closed(herd);
        eprintln!("Peer links: the servers of this process prove a fresh random secret.");
    } else if herd.secret().is_some() {
        eprintln!("Peer links: authenticated with the herd's secret.");
    } else {
        eprintln!(
            "warning: the herd has no secret, so peer links are unauthenticated: PEER is accepted \
             only from each neighbour's configured address (add `secret_file = \"...\"` to the herd file)"
        );
    }
    let shared = Launch {
        herd: herd.clone(),
        log_dir: Some(args.log_dir.clone()),
        places: places.client.clone(),
        faults: args.fault.clone(),
        limits: args.limits.clone(),
    };
    let mut listeners = Vec::new();
    for name in &names {
        let address = herd
            .server(name)
            .map(|s| s.address.clone())
            .unwrap_or_default();
        let listener = TcpListener::bind(&address).await.map_err(|e| {
            anyhow::anyhow!(
                "{name} cannot listen on {address}: {e} (is another herd running? use --herd FILE with other ports)"
            )
        })?;
        listeners.push((name.clone(), listener));
    }
    let mut waiting = listeners.len();
    let started = |running: &herd_server::Running| {
        let spec = herd.server(&running.name);
        let neighbours = spec.map(|s| s.neighbours.join(", ")).unwrap_or_default();
        eprintln!(
            "{} listening on {} (neighbours: {}; log: {})",
            running.name,
            running.address,
            if neighbours.is_empty() {
                "none".to_owned()
            } else {
                neighbours
            },
            running
                .log_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        waiting -= 1;
        if waiting == 0 {
            eprintln!("Serving; Ctrl-C or SIGTERM stops.");
        }
    };
    let grace = args.limits.shutdown_grace;
    let signal = serve_until_stopped(&shared, listeners, &mut stop, grace, started).await?;
    eprintln!("herd-server: {signal}, stopping");
    drop(places);
    Ok(())
}
