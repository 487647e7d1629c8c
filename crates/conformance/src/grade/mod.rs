//! `conformance grade`: the suite over a batch of submissions in one command, with one summary
//! (CSV and HTML) of every submission × test.

pub mod batch;
pub mod isolation;
pub mod logs;
pub mod manifest;
pub mod summary;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use herd_wire::parse_duration;
use indicatif::{ProgressBar, ProgressStyle};

use batch::{BatchSettings, Graded, Progress, RunEnd, run_batch};

/// The subcommand word.
pub const SUBCOMMAND: &str = "grade";

/// Grades many submissions: runs the suite on each (up to --jobs at once, each with its own
/// ports, Places stand-in and reports, under a time limit) and writes one summary.
///
/// Examples:
///   conformance grade batch.toml
///   conformance grade --dir submissions/ --spawn 'python3 server.py {name} --port {port}'
///   conformance grade batch.toml --jobs 4 --time-limit 120 --out grades -- --run 'errors/*'
///
/// A manifest (TOML) names each submission's folder, with defaults at the top:
///   spawn = "python3 server.py {name} --port {port} --places-url {places_url}"
///   herd = "winter21"                       # preset or herd file (relative to the folder)
///   [[submission]]
///   dir = "alice"                           # relative to the manifest
///   [[submission]]
///   name = "bob"
///   dir = "bob"
///   spawn = "./run.sh {name}"               # its own template (ports of its own choosing)
///   time_limit = "2m"                       # its own limit
///
/// Each submission's servers start in its folder. Templates with {port}, {address} or {herd}
/// get free ports, so such submissions run side by side. Templates without them (ports chosen
/// by the submission) run side by side too where network namespaces work (`unshare -n`, e.g.
/// as root): each suite run gets its own, loopback only; elsewhere they run one at a time. The
/// first line of the log says which. Arguments after `--` go to every suite run.
///
/// Output (--out): summary.csv, index.html, and per submission report.json, report.xml,
/// output.txt (the suite's terminal report) and logs/ (its servers' logs and output).
///
/// Exit status: 0 the summary was written (whatever the verdicts), 2 bad arguments or manifest.
#[derive(Parser, Debug)]
#[command(name = "conformance grade", version, verbatim_doc_comment)]
pub struct GradeArgs {
    /// The manifest (TOML) listing the submissions.
    #[arg(
        value_name = "MANIFEST",
        required_unless_present = "dir",
        conflicts_with = "dir"
    )]
    pub manifest: Option<PathBuf>,

    /// A folder whose every subfolder is one submission, all started with --spawn.
    #[arg(long, value_name = "DIR", requires = "spawn")]
    pub dir: Option<PathBuf>,

    /// The start template (the suite's --spawn) for submissions that do not give their own.
    #[arg(long, value_name = "CMD")]
    pub spawn: Option<String>,

    /// The herd (preset or file) for submissions that do not give their own.
    #[arg(long, value_name = "PRESET|FILE")]
    pub herd: Option<String>,

    /// How many submissions run at once (default: one per core).
    #[arg(long, value_name = "N", default_value_t = default_jobs(), value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,

    /// Longest one submission's run may take before it is stopped (seconds, or e.g. 2m).
    #[arg(long, default_value = "300", value_parser = parse_duration, value_name = "DURATION")]
    pub time_limit: Duration,

    /// Where the summary and the per-submission reports go.
    #[arg(long, value_name = "DIR", default_value = "grade-report")]
    pub out: PathBuf,

    /// Arguments for every suite run (e.g. `-- --run 'errors/*' --framing eof`).
    #[arg(last = true, value_name = "SUITE ARGS")]
    pub suite_args: Vec<String>,
}

fn default_jobs() -> u16 {
    std::thread::available_parallelism().map_or(2, |n| u16::try_from(n.get()).unwrap_or(64).min(64))
}

/// The progress bar: done / running / left, and one line per finished submission.
struct Bar {
    bar: ProgressBar,
    total: usize,
    state: std::sync::Mutex<(usize, usize)>,
}

impl Bar {
    fn update(&self, done: usize, running: usize) {
        self.bar.set_position(done as u64);
        self.bar.set_message(format!(
            "{done} done · {running} running · {} left",
            self.total - done - running
        ));
    }
}

impl Progress for Bar {
    fn started(&self, _name: &str) {
        let Ok(mut s) = self.state.lock() else { return };
        s.1 += 1;
        self.update(s.0, s.1);
    }

    fn finished(&self, g: &Graded) {
        let Ok(mut s) = self.state.lock() else { return };
        s.0 += 1;
        s.1 = s.1.saturating_sub(1);
        let how = match &g.end {
            RunEnd::Judged(0) => "every MUST test passed".to_owned(),
            RunEnd::Judged(_) => "MUST failures".to_owned(),
            RunEnd::Unrunnable => "could not be checked (see its output.txt)".to_owned(),
            RunEnd::TimedOut => "stopped at the time limit".to_owned(),
            RunEnd::SuiteFailed(why) => format!("suite run failed: {why}"),
        };
        let line = format!(
            "[{}/{}] {}: {how} ({:.1} s)",
            s.0, self.total, g.submission.name, g.seconds
        );
        // Without a terminal the bar is hidden and so is its println: the log still gets it.
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
        self.update(s.0, s.1);
    }
}

/// Runs `conformance grade`; returns the exit code.
pub async fn run(args: GradeArgs) -> u8 {
    match run_inner(args).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("conformance grade: {e:#}");
            2
        }
    }
}

async fn run_inner(args: GradeArgs) -> anyhow::Result<()> {
    let submissions = match (&args.manifest, &args.dir) {
        (Some(m), _) => manifest::from_manifest(m, args.spawn.as_deref(), args.herd.as_deref())?,
        (None, Some(d)) => manifest::from_directory(
            d,
            args.spawn.as_deref().unwrap_or_default(),
            args.herd.as_deref(),
        )?,
        (None, None) => anyhow::bail!("give a MANIFEST or --dir"),
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", args.out.display()))?;
    let bar = ProgressBar::new(submissions.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = Arc::new(Bar {
        bar,
        total: submissions.len(),
        state: std::sync::Mutex::new((0, 0)),
    });
    progress.update(0, 0);
    let isolation = isolation::Isolation::detect();
    eprintln!("conformance grade: {}", isolation.describe());
    let settings = BatchSettings {
        jobs: usize::from(args.jobs),
        time_limit: args.time_limit,
        suite_args: args.suite_args.clone(),
        out: args.out.clone(),
        isolation: isolation.clone(),
    };
    let graded = run_batch(&submissions, &settings, progress.clone()).await?;
    progress.bar.finish_and_clear();
    let rows = summary::rows(&graded);
    let csv = args.out.join("summary.csv");
    let html = args.out.join("index.html");
    summary::write_csv(&rows, &csv)?;
    summary::write_html(&rows, &html, &isolation.describe())?;
    let tally: Vec<String> = summary::tally(&rows)
        .into_iter()
        .map(|(status, n)| format!("{n} {status}"))
        .collect();
    println!(
        "{} submissions: {}\n{}\nsummary: {} and {}",
        rows.len(),
        tally.join(", "),
        isolation.describe(),
        csv.display(),
        html.display()
    );
    Ok(())
}
