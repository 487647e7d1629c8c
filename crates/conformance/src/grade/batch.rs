//! Runs the suite once per submission, up to `jobs` at once, each in a child `conformance`
//! process with its own Places stand-in, ports, reports and output, under a time limit.
//!
//! A submission that hangs is stopped with SIGTERM (the child stops the servers it started)
//! and, after a grace period, SIGKILL of its process group; servers left behind by a child that
//! had to be killed are found (this process is their subreaper) and killed too, so no process
//! outlives the batch. Submissions that listen on ports of their own choosing run side by side
//! where each run gets its own network namespace ([`Isolation`]), and one at a time elsewhere.
//! The servers' logs are copied into the submission's folder (`logs/`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::process::Command;
use tokio::sync::{Mutex, Semaphore};

use super::isolation::Isolation;
use super::logs::LOGS;
use super::manifest::Submission;

/// How a submission's run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The suite ran; its exit code (0 all MUST passed, 1 failures).
    Judged(i32),
    /// The suite could not check it (exit 2: the servers never started or were unreachable).
    Unrunnable,
    /// It ran past the time limit and was stopped.
    TimedOut,
    /// The suite process itself failed (a signal or an unexpected exit code).
    SuiteFailed(String),
}

impl RunEnd {
    /// One word for the summary.
    pub fn status(&self) -> &'static str {
        match self {
            RunEnd::Judged(_) => "judged",
            RunEnd::Unrunnable => "unrunnable",
            RunEnd::TimedOut => "timed-out",
            RunEnd::SuiteFailed(_) => "suite-failed",
        }
    }
}

/// What one submission's run left behind.
#[derive(Clone, Debug)]
pub struct Graded {
    pub submission: Submission,
    pub end: RunEnd,
    pub seconds: f64,
    /// Its folder in the output: `report.json`, `report.xml`, `output.txt`, `logs/`.
    pub folder: PathBuf,
}

impl Graded {
    pub fn json(&self) -> PathBuf {
        self.folder.join("report.json")
    }
    pub fn junit(&self) -> PathBuf {
        self.folder.join("report.xml")
    }
    pub fn output(&self) -> PathBuf {
        self.folder.join("output.txt")
    }
}

/// How the batch runs.
#[derive(Clone, Debug)]
pub struct BatchSettings {
    pub jobs: usize,
    pub time_limit: Duration,
    /// Passed to every suite run after the submission's own arguments.
    pub suite_args: Vec<String>,
    pub out: PathBuf,
    /// How the runs are kept apart on the network.
    pub isolation: Isolation,
}

/// How long a stopped suite run gets to stop its servers before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Calls back as submissions start and finish.
pub trait Progress: Send + Sync {
    fn started(&self, name: &str);
    fn finished(&self, graded: &Graded);
}

/// Grades every submission; results in the submissions' order.
pub async fn run_batch(
    submissions: &[Submission],
    settings: &BatchSettings,
    progress: Arc<dyn Progress>,
) -> anyhow::Result<Vec<Graded>> {
    become_subreaper();
    let exe = std::env::current_exe()?;
    let slots = Arc::new(Semaphore::new(settings.jobs.max(1)));
    let fixed_ports = Arc::new(Mutex::new(()));
    let mut tasks = Vec::new();
    for s in submissions {
        let (s, settings, exe) = (s.clone(), settings.clone(), exe.clone());
        let (slots, fixed_ports, progress) = (
            Arc::clone(&slots),
            Arc::clone(&fixed_ports),
            Arc::clone(&progress),
        );
        tasks.push(tokio::spawn(async move {
            // Without namespaces, fixed-port submissions queue for the one lane before taking a
            // slot, so they never hold a slot others could use.
            let _lane = if s.fixed_ports() && !settings.isolation.separates_ports() {
                Some(fixed_ports.lock().await)
            } else {
                None
            };
            let _slot = slots.acquire_owned().await;
            progress.started(&s.name);
            let graded = grade_one(&exe, &s, &settings).await;
            progress.finished(&graded);
            graded
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await?);
    }
    kill_orphans();
    Ok(out)
}

async fn grade_one(exe: &Path, s: &Submission, settings: &BatchSettings) -> Graded {
    let folder = settings.out.join(&s.name);
    let started = Instant::now();
    let end = match run_suite(exe, s, settings, &folder).await {
        Ok(end) => end,
        Err(e) => RunEnd::SuiteFailed(format!("{e:#}")),
    };
    kill_orphans();
    Graded {
        submission: s.clone(),
        end,
        seconds: started.elapsed().as_secs_f64(),
        folder,
    }
}

async fn run_suite(
    exe: &Path,
    s: &Submission,
    settings: &BatchSettings,
    folder: &Path,
) -> anyhow::Result<RunEnd> {
    std::fs::create_dir_all(folder)?;
    let output = std::fs::File::create(folder.join("output.txt"))?;
    let (program, leading) = settings.isolation.wrap(exe);
    let mut cmd = Command::new(program);
    cmd.args(leading).arg("--spawn").arg(&s.spawn);
    if let Some(herd) = &s.herd {
        cmd.arg("--herd").arg(herd);
    }
    let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    cmd.arg("--json")
        .arg(absolute(folder.join("report.json")))
        .arg("--junit")
        .arg(absolute(folder.join("report.xml")))
        .arg("--copy-logs")
        .arg(absolute(folder.join(LOGS)))
        .args(&settings.suite_args)
        .current_dir(&s.dir)
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output)
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn()?;
    let pid = child.id().and_then(|p| i32::try_from(p).ok());
    let _running = pid.map(Running::new);
    let limit = s.time_limit.unwrap_or(settings.time_limit);
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => {
            let status = status?;
            Ok(match status.code() {
                Some(c @ (0 | 1)) => RunEnd::Judged(c),
                Some(2) => RunEnd::Unrunnable,
                Some(c) => RunEnd::SuiteFailed(format!("the suite exited with status {c}")),
                None => RunEnd::SuiteFailed(format!("the suite was stopped: {status}")),
            })
        }
        Err(_) => {
            if let Some(pid) = pid {
                signal(pid, Signal::SIGTERM);
            }
            if tokio::time::timeout(STOP_GRACE, child.wait())
                .await
                .is_err()
            {
                if let Some(pid) = pid {
                    signal(-pid, Signal::SIGKILL);
                }
                let _ = child.wait().await;
            }
            Ok(RunEnd::TimedOut)
        }
    }
}

/// The suite runs started and not yet waited for, by pid (not orphans, whatever their parent).
static RUNNING: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

/// Marks a suite run as running while it lives.
struct Running(i32);

impl Running {
    fn new(pid: i32) -> Running {
        if let Ok(mut running) = RUNNING.lock() {
            running.push(pid);
        }
        Running(pid)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut running) = RUNNING.lock() {
            running.retain(|p| *p != self.0);
        }
    }
}

/// Sends `sig` to `pid` (negative: its process group); a process already gone is no error.
fn signal(pid: i32, sig: Signal) {
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
}

/// Makes this process the reaper of its orphaned descendants (Linux), so servers whose suite
/// process was killed are re-parented here and can be found.
fn become_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// Kills the process groups of orphans re-parented to this process (servers whose suite run
/// was killed), leaving running suite runs (process group leaders this process started) alone.
fn kill_orphans() {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command (which may hold spaces) start after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let (Some(ppid), Some(pgid)) = (
            fields.get(1).and_then(|f| f.parse::<u32>().ok()),
            fields.get(2).and_then(|f| f.parse::<i32>().ok()),
        ) else {
            continue;
        };
        let running_suite = RUNNING.lock().is_ok_and(|running| running.contains(&pid));
        if ppid == me && !running_suite && fields.first() != Some(&"Z") {
            signal(-pgid, Signal::SIGKILL);
        }
    }
}
