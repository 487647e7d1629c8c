//! Running a built binary to its end, as a user would, and keeping what it left: exit code,
//! standard output and standard error.
//!
//! The binary's path is an argument: `env!("CARGO_BIN_EXE_<name>")` exists only in the tests of
//! the crate that builds it.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::output::text;

/// A finished run of a binary.
#[derive(Debug)]
pub struct Finished {
    /// The exit code; -1 when a signal ended the process.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Finished {
    fn from(output: Output) -> Finished {
        Finished {
            code: output.status.code().unwrap_or(-1),
            stdout: text(&output.stdout),
            stderr: text(&output.stderr),
        }
    }
}

/// Runs `exe` with `args` (in the test's own directory) and waits for its end.
pub fn run(exe: &Path, args: &[&str]) -> Finished {
    Command::new(exe)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()))
        .into()
}

/// Runs `exe` with `args` in `dir` without blocking the runtime (a herd the binary talks to may
/// live on it); panics, killing it, when it has not ended within `deadline`.
pub async fn run_within(exe: &Path, args: &[&str], dir: &Path, deadline: Duration) -> Finished {
    let child = tokio::process::Command::new(exe)
        .args(args)
        .current_dir(dir)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(deadline, child)
        .await
        .unwrap_or_else(|_| panic!("{} finished within {deadline:?}", exe.display()))
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()))
        .into()
}
