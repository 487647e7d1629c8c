//! Helpers shared by the self-tests: running the `conformance` binary, the reference server's
//! command template, reading the reports, and checking that deliberate faults are caught. The
//! Python target's template, free ports and output text come from `test_kit`.

// Each test binary includes this module and uses a part of it, re-exports too.
#![allow(dead_code, unused_imports)]

use std::process::{Command, Output};

pub use test_kit::output::{stderr, stdout};
/// The `--spawn` template for the Python target with these faults switched on.
pub use test_kit::python_target::spawn_template as python_spawn;
pub use test_kit::workspace_root;

/// The `--spawn` template for one reference server per process (the suite's hidden
/// `reference-server` mode, i.e. `herd_server` itself) with these faults switched on.
pub fn reference_spawn(faults: &[&str]) -> String {
    let mut template = format!(
        "{} reference-server {{name}} --herd {{herd}} --port {{port}} --places-url {{places_url}} --log-dir {{log_dir}}",
        env!("CARGO_BIN_EXE_conformance")
    );
    for f in faults {
        template.push_str(&format!(" --fault {f}"));
    }
    template
}

/// Runs `conformance` with these arguments from the workspace root. The `Output` itself, not
/// `test_kit::binary::Finished`: the self-tests compare `status.code()` with an `Option`.
pub fn conformance(args: &[&str]) -> Output {
    // A run that fails keeps its spawned servers' folder for the grader (in the temporary
    // folder); the tests fail implementations on purpose, so their runs get a folder of their
    // own, removed when the run is over.
    let scratch = tempfile::tempdir().expect("a temporary folder");
    Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args(args)
        .current_dir(workspace_root())
        .env("TMPDIR", scratch.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run conformance: {e}"))
}

/// The `N passed, N failed, N skipped` numbers of the terminal report's summary line.
pub fn terminal_counts(out: &str) -> (usize, usize, usize) {
    let line = out
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .unwrap_or_else(|| panic!("no summary line in:\n{out}"));
    let num = |word: &str| -> usize {
        let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        let i = words
            .iter()
            .position(|w| *w == word)
            .unwrap_or_else(|| panic!("no `{word}` in {line}"));
        words[i - 1]
            .parse()
            .unwrap_or_else(|e| panic!("{line}: {e}"))
    };
    (num("passed"), num("failed"), num("skipped"))
}

/// Reads a `--json` report.
pub fn json_report(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no JSON report: {e}"));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the JSON report does not parse: {e}\n{text}"))
}

/// The result for `id` in a JSON report.
pub fn result_of<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["results"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["id"] == id))
        .unwrap_or_else(|| panic!("no result for {id} in the JSON report"))
}

/// Which implementation a fault belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    Python,
    /// The reference server (`herd_server`) with its hidden `--fault` switches.
    Reference,
}

/// A deliberate fault and the test that must catch it: its ID, and words its message must hold;
/// checked on each implementation that has the fault.
pub struct Fault {
    pub targets: &'static [Impl],
    pub fault: &'static str,
    pub caught_by: &'static str,
    pub message: &'static str,
}

/// A fault row of the Python target only.
pub const fn py(fault: &'static str, caught_by: &'static str, message: &'static str) -> Fault {
    Fault {
        targets: &[Impl::Python],
        fault,
        caught_by,
        message,
    }
}

/// A fault row of both the Python target and the reference server (the same `--fault` name).
pub const fn both(fault: &'static str, caught_by: &'static str, message: &'static str) -> Fault {
    Fault {
        targets: &[Impl::Python, Impl::Reference],
        fault,
        caught_by,
        message,
    }
}

/// Runs the catching test against the broken variant; returns a complaint, if any.
pub fn check_fault(f: &Fault, target: Impl, extra: &[&str]) -> Option<String> {
    let template = match target {
        Impl::Python => python_spawn(&[f.fault]),
        Impl::Reference => reference_spawn(&[f.fault]),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("r.json");
    let mut args = vec![
        "--spawn",
        &template,
        "--run",
        f.caught_by,
        "--json",
        json.to_str().expect("path"),
    ];
    args.extend_from_slice(extra);
    let out = conformance(&args);
    let text = stdout(&out);
    let report = json_report(&json);
    let r = result_of(&report, f.caught_by);
    let outcome = r["outcome"].as_str().unwrap_or("");
    let level = r["level"].as_str().unwrap_or("");
    let message = r["message"].as_str().unwrap_or("");
    let (want_outcome, want_code, mark) = if level == "MUST" {
        ("fail", 1, "×")
    } else {
        ("warn", 0, "!")
    };
    let problems = [
        (outcome != want_outcome).then(|| format!("outcome {outcome}, want {want_outcome}")),
        (out.status.code() != Some(want_code))
            .then(|| format!("exit {:?}, want {want_code}", out.status.code())),
        (!message.contains(f.message))
            .then(|| format!("message `{message}` lacks `{}`", f.message)),
        (!text.contains(&format!("  {mark} {}", f.caught_by)))
            .then(|| "terminal report lacks the test line".to_owned()),
        (!text.contains("requirement: "))
            .then(|| "terminal report lacks the requirement".to_owned()),
    ];
    let problems: Vec<String> = problems.into_iter().flatten().collect();
    (!problems.is_empty()).then(|| {
        format!(
            "{:?} fault {} (test {}): {}\n{text}{}",
            target,
            f.fault,
            f.caught_by,
            problems.join("; "),
            stderr(&out)
        )
    })
}

/// Checks every fault on each implementation that has it, `parallel` at a time, with `extra`
/// arguments; panics listing those not caught as expected.
pub fn check_faults(faults: &[Fault], parallel: usize, extra: &[&str]) {
    let runs: Vec<(&Fault, Impl)> = faults
        .iter()
        .flat_map(|f| f.targets.iter().map(move |&target| (f, target)))
        .collect();
    let complaints = complaints_of(&runs, parallel, |&(f, target)| {
        check_fault(f, target, extra)
    });
    assert!(
        complaints.is_empty(),
        "{} of {} faults not caught as expected:\n{}",
        complaints.len(),
        runs.len(),
        complaints.join("\n\n")
    );
}

/// Runs `check` on every item, `parallel` at a time (each check runs a whole suite, mostly
/// waiting); returns the complaints, in order.
pub fn complaints_of<T: Sync>(
    items: &[T],
    parallel: usize,
    check: impl Fn(&T) -> Option<String> + Sync,
) -> Vec<String> {
    let mut complaints = Vec::new();
    for chunk in items.chunks(parallel) {
        let found: Vec<Option<String>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk.iter().map(|item| s.spawn(|| check(item))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Some("panicked".into())))
                .collect()
        });
        complaints.extend(found.into_iter().flatten());
    }
    complaints
}
