//! Helpers shared by the self-tests: running the `conformance` binary, the Python target's
//! command template, and reading the reports.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python interpreter with the target's dependencies: `$HERD_PYTHON` or `<workspace>/.venv`.
/// Panics with the setup command when missing: these tests must not silently skip.
pub fn python() -> String {
    if let Ok(p) = std::env::var("HERD_PYTHON") {
        return p;
    }
    let venv = workspace().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python for the Python target at {}: run `python3 -m venv .venv && .venv/bin/pip install -r python/requirements.txt pytest` in the workspace, or set HERD_PYTHON",
        venv.display()
    );
    venv.display().to_string()
}

/// The `--spawn` template for the Python target with these faults switched on.
pub fn python_spawn(faults: &[&str]) -> String {
    let script = workspace().join("python/herd_server.py");
    let mut template = format!(
        "{} {} {{name}} --herd {{herd}} --port {{port}} --places-url {{places_url}} --log-dir {{log_dir}}",
        python(),
        script.display()
    );
    for f in faults {
        template.push_str(&format!(" --fault {f}"));
    }
    template
}

/// The `--spawn` template for the reference server binary, which must sit next to this
/// crate's binary (`cargo build -p herd-server`), with these (future) faults switched on.
pub fn reference_spawn(faults: &[&str]) -> String {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_conformance")).with_file_name("herd-server");
    assert!(
        bin.exists(),
        "no reference server binary at {}: run `cargo build -p herd-server` first",
        bin.display()
    );
    let mut template = format!(
        "{} {{name}} --herd {{herd}} --port {{port}} --places-url {{places_url}} --log-dir {{log_dir}}",
        bin.display()
    );
    for f in faults {
        template.push_str(&format!(" --fault {f}"));
    }
    template
}

/// Runs `conformance` with these arguments.
pub fn conformance(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args(args)
        .current_dir(workspace())
        .output()
        .unwrap_or_else(|e| panic!("cannot run conformance: {e}"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
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
