//! The command line: parses the arguments, prepares the servers, runs the selection, writes the
//! reports, and maps the outcome to an exit code (0 all MUST passed, 1 failures, 2 could not run).

use herd_wire::parse_duration;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use herd_wire::Herd;

use crate::catalogue;
use crate::probe::FramingChoice;
use crate::report::json::RunInfo;
use crate::report::terminal::Terminal;
use crate::runner::{Summary, Verdicts, run as run_tests};
use crate::select;
use crate::setup::{Settings, prepare, reference_processes, spawn_of};
use herd_spawn::HerdSource;

/// Checks a proxy-herd server against protocol.md and says exactly what deviates.
///
/// Examples:
///   conformance                                   # every test on the reference herd (5 processes)
///   conformance --herd winter21                   # a running herd at the preset's addresses
///   conformance --herd spring20 --spawn 'python3 server.py {name}'   # a submission: the suite
///                                                 #   owns the processes (ports in the herd file)
///   conformance --target localhost:12000          # a running server (start it with the printed
///                                                 #   Places URL; fix it with --places-port)
///   conformance --places-port 8123 --target localhost:12000 --name Riley
///   conformance --spawn 'python3 server.py {name} --port {port} --places-url {places_url}'
///   conformance --spawn '.venv/bin/python python/herd_server.py {name} --herd {herd} \
///       --port {port} --places-url {places_url} --log-dir {log_dir}'   # this repo's Python target
///   conformance --list                            # every test ID with its requirement
///   conformance --run 'iamat/*' --skip iamat/diff-epoch --junit report.xml --json report.json
///   conformance --target localhost:12000 --known-failing known.txt --strict
///   conformance --run flood --run resilience --seed 7 --settle 3s
///   conformance grade batch.toml                  # many submissions, one CSV + HTML summary
///                                                 #   (see `conformance grade --help`)
///
/// --spawn placeholders: {name} {port} {host} {address} {places_url} {herd} (a herd TOML file with
/// every server's real address; also {herd_file}) {log_dir}. Without {port}, {address} or {herd}
/// the servers must listen on the --herd file's ports. A server counts as started once a process
/// of its own listens on its port; if another program takes a chosen port first, the herd is
/// started again on new ports. A spawned server that goes down during a test fails that test
/// (with its last output) and is started again. Spawned servers run in their own process group
/// and are stopped at the end, on failure and on Ctrl-C; resilience tests stop single servers
/// (SIGTERM, SIGKILL after 2 s) and restart them with the same command.
///
/// Herd tests (flood/*, resilience/*) need the whole herd: no arguments, --herd alone (a running
/// herd: start it with the printed Places URL, fixed with --places-port), or --spawn. Tests that
/// stop servers (needs:spawn) are skipped, saying why, when the suite does not own the processes.
/// Their report gives, per update and server, how long it took to learn the update (or NEVER).
///
/// Exit status: 0 every MUST test passed (SHOULD failures are warnings unless --strict),
/// 1 some test failed, 2 the suite could not run (bad arguments, target unreachable).
#[derive(Parser, Debug)]
#[command(version, verbatim_doc_comment)]
pub struct Args {
    /// HOST:PORT of a running server to check (single-server tests only). Without --target,
    /// --spawn and --herd the suite starts the reference herd itself.
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "spawn")]
    pub target: Option<String>,

    /// The --target server's name, to check the AT lines carry it (else it is learned).
    #[arg(long, value_name = "NAME", requires = "target")]
    pub name: Option<String>,

    /// Start the implementation's servers with this shell command template.
    #[arg(long, value_name = "CMD")]
    pub spawn: Option<String>,

    /// The herd (preset or TOML file: names, addresses, links; default winter21). Alone, it
    /// names a running herd to check. With --spawn, the servers to start: on free ports when the
    /// template has {port} or {herd}, else on the herd file's own ports (a submission that
    /// reads its ports from its own code).
    #[arg(long, value_name = "PRESET|FILE")]
    pub herd: Option<String>,

    /// Without --target/--spawn/--herd: start the reference herd in this process (faster;
    /// resilience tests are skipped) instead of one process per server.
    #[arg(long, conflicts_with_all = ["target", "spawn"])]
    pub in_process: bool,

    /// Seeds the order of cases, the servers chosen and the client IDs (default: random,
    /// printed in the header so a run can be repeated).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Which server of the herd single-server tests talk to (default: the herd's first).
    #[arg(long, value_name = "NAME")]
    pub server: Option<String>,

    /// Port for the suite's Places stand-in (default: a free port).
    #[arg(long, value_name = "P")]
    pub places_port: Option<u16>,

    /// How ordinary exchanges are framed: line, eof (half-close), or auto-detect.
    #[arg(long, value_enum, default_value = "auto")]
    pub framing: FramingChoice,

    /// Print every test ID with its level and requirement, then exit.
    #[arg(long)]
    pub list: bool,

    /// Run only tests whose ID (or `section/N`) matches this glob; a bare section name means the
    /// whole section. Repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub run: Vec<String>,

    /// Leave out tests matching this glob. Repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub skip: Vec<String>,

    /// A file of test IDs expected to fail (`#` comments). Their failures are expected; a listed
    /// test that passes fails the run, so the list cannot rot.
    #[arg(long, value_name = "FILE")]
    pub known_failing: Option<PathBuf>,

    /// Count SHOULD-level failures as failures (default: warnings).
    #[arg(long)]
    pub strict: bool,

    /// How many independent tests run at once (default: 4 per core). Tests that stop servers,
    /// switch the Places stand-in's failure mode or need a quiet herd always run alone.
    #[arg(long, value_name = "N", default_value_t = default_jobs(), value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,

    /// The longest any one exchange may take. A missing reply is decided sooner, from the
    /// server's own round trips: after a quiet period the suite checks that the server answers
    /// a probe meanwhile, so a slow server is waited for and a silent one is not (seconds, or a
    /// duration such as 500ms).
    #[arg(long, default_value = "10", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,

    /// How far a time difference may be from the true one (clock skew between machines).
    #[arg(long, default_value = "0.5", value_parser = parse_duration, value_name = "DURATION")]
    pub clock_tolerance: Duration,

    /// Convergence deadline: how long a herd test waits for every server to learn an update.
    #[arg(long, default_value = "2", value_parser = parse_duration, value_name = "DURATION")]
    pub settle: Duration,

    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write a JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Show the wire transcript of each test, timestamped.
    #[arg(long)]
    pub trace: bool,

    /// Copy the spawned servers' logs and captured output into this folder when the run ends,
    /// passed or failed (`conformance grade` keeps them beside each submission's reports).
    #[arg(long, value_name = "DIR", requires = "spawn")]
    pub copy_logs: Option<PathBuf>,
}

/// Four tests per core: tests mostly wait on the server, not on the CPU.
fn default_jobs() -> u16 {
    std::thread::available_parallelism()
        .map_or(4, |n| u16::try_from(n.get() * 4).unwrap_or(256).min(256))
}

/// Runs the suite; returns the exit code.
pub async fn run(args: Args) -> u8 {
    match run_inner(args).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("conformance: {message}");
            2
        }
    }
}

async fn run_inner(args: Args) -> Result<u8, String> {
    let all = catalogue::all();
    if args.list {
        for (case, alias) in all.iter().zip(crate::runner::aliases(&all)) {
            println!(
                "{:<34} {:<12} {:<6} {}",
                case.id,
                alias,
                case.level.as_str(),
                case.requirement
            );
        }
        return Ok(0);
    }
    let selected = select::select(&all, &args.run, &args.skip).map_err(|e| format!("{e:#}"))?;
    let known_failing = match &args.known_failing {
        Some(path) => select::known_failing(path, &all).map_err(|e| format!("{e:#}"))?,
        None => Default::default(),
    };
    let herd_spec = args.herd.clone().unwrap_or_else(|| "winter21".to_owned());
    let herd = Herd::load(&herd_spec).map_err(|e| e.to_string())?;
    let server = match &args.server {
        Some(name) if herd.server(name).is_none() => {
            return Err(format!(
                "--server {name} is not in herd {} (servers: {})",
                herd.origin,
                herd.names().join(", ")
            ));
        }
        Some(name) => name.clone(),
        None => herd
            .names()
            .first()
            .map(|n| (*n).to_owned())
            .unwrap_or_default(),
    };
    let whole_herd = selected.iter().any(|(c, _)| c.needs.herd);
    let source = match (&args.target, &args.spawn) {
        (Some(address), _) => HerdSource::Targets(vec![address.clone()]),
        (None, Some(template)) => HerdSource::Spawn(spawn_of(template, &herd, &server, whole_herd)),
        (None, None) if args.herd.is_some() && !args.in_process => {
            HerdSource::Running(herd.clone())
        }
        (None, None) if args.in_process => HerdSource::Reference(herd.clone()),
        (None, None) => reference_processes(&herd, &server).map_err(|e| e.0)?,
    };
    let primary = match &args.target {
        Some(_) => args.name.clone(),
        None => Some(server.clone()),
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    let settings = Settings {
        source,
        primary,
        places_port: args.places_port,
        framing: args.framing,
        timeout: args.timeout,
        settle: args.settle,
        clock_tolerance: args.clock_tolerance,
        seed,
    };
    let prepared = prepare(settings).await.map_err(|e| e.0)?;
    let env = prepared.env;
    println!("conformance: {} tests", selected.len());
    for line in &prepared.header {
        println!("  {line}");
    }
    println!(
        "  seed: {seed} (--seed {seed} repeats the choices); settle: {} s",
        args.settle.as_secs_f64()
    );
    println!();

    let verdicts = Verdicts {
        strict: args.strict,
        known_failing,
    };
    let mut terminal = Terminal::new(std::io::stdout(), args.trace);
    let results = run_tests(
        env.clone(),
        &selected,
        &verdicts,
        usize::from(args.jobs),
        |r| terminal.result(r),
    )
    .await;
    let summary = Summary::of(&results);
    terminal.summary(&summary);
    if let Some(procs) = env
        .procs
        .as_ref()
        .filter(|_| summary.failed + summary.warnings > 0)
    {
        println!(
            "the spawned servers' logs and output are kept in {}",
            procs.keep_logs().display()
        );
    }

    let info = RunInfo {
        target: &prepared.target_label,
        framing: env.framing.name(),
        places_url: &env.stand_in.uri(),
        seed,
        trace: args.trace,
    };
    if let Some(path) = &args.json {
        std::fs::write(path, crate::report::json::render(&results, &info))
            .map_err(|e| format!("cannot write the JSON report {}: {e}", path.display()))?;
    }
    if let Some(path) = &args.junit {
        let xml = crate::report::junit::render(&results).map_err(|e| format!("{e:#}"))?;
        std::fs::write(path, xml)
            .map_err(|e| format!("cannot write the JUnit report {}: {e}", path.display()))?;
    }
    if let (Some(dir), Some(procs)) = (&args.copy_logs, env.procs.as_ref()) {
        // Stopped first, so every log is complete when it is copied.
        procs.kill_all();
        crate::grade::logs::copy_folder(&procs.log_dir(), dir)
            .map_err(|e| format!("cannot copy the servers' logs to {}: {e}", dir.display()))?;
    }
    Ok(if summary.failed > 0 { 1 } else { 0 })
}
