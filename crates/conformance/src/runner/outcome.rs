//! What comes of a test: a [`Problem`] (failed, with expected and actual bytes, or skipped),
//! the [`Outcome`] after `--strict` and `--known-failing`, the [`TestResult`] every report
//! prints, and the run's [`Summary`].

use std::collections::HashSet;
use std::time::Duration;

use super::case::Level;
use crate::propagation::Propagation;
use crate::wire::WireEvent;

/// Why a test did not pass.
#[derive(Debug)]
pub enum Problem {
    Fail(Failure),
    Skip(String),
}

/// A failed check: what is wrong, and the bytes expected and received where there are some.
#[derive(Clone, Debug, Default)]
pub struct Failure {
    pub message: String,
    pub expected: Option<Vec<u8>>,
    pub actual: Option<Vec<u8>>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            ..Failure::default()
        }
    }

    pub fn bytes(message: impl Into<String>, expected: &[u8], actual: &[u8]) -> Failure {
        Failure {
            message: message.into(),
            expected: Some(expected.to_vec()),
            actual: Some(actual.to_vec()),
        }
    }
}

impl From<Failure> for Problem {
    fn from(f: Failure) -> Problem {
        Problem::Fail(f)
    }
}

/// `Err(Problem::Fail(..))` with just a message.
pub fn fail<T>(message: impl Into<String>) -> Result<T, Problem> {
    Err(Problem::Fail(Failure::new(message)))
}

/// What happened to a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail,
    /// A SHOULD test failed without `--strict`.
    Warn,
    Skip,
    /// Failed, and listed in `--known-failing`.
    KnownFail,
    /// Passed although listed in `--known-failing`: a failure, so the list cannot rot.
    UnexpectedPass,
}

/// A finished test.
#[derive(Clone, Debug)]
pub struct TestResult {
    pub id: &'static str,
    /// The test's number within its section (1-based): `errors/3`.
    pub alias: String,
    pub section: &'static str,
    pub level: Level,
    pub requirement: &'static str,
    pub outcome: Outcome,
    pub duration: Duration,
    /// Why it failed or was skipped.
    pub message: Option<String>,
    pub expected: Option<Vec<u8>>,
    pub actual: Option<Vec<u8>>,
    pub transcript: Vec<WireEvent>,
    /// Per update, when each server learned it (herd tests).
    pub propagation: Vec<Propagation>,
}

/// Options that change verdicts.
#[derive(Debug, Default)]
pub struct Verdicts {
    /// SHOULD failures count as failures.
    pub strict: bool,
    /// IDs expected to fail.
    pub known_failing: HashSet<String>,
}

/// Counts of a run, as every report prints them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub warnings: usize,
    pub known_failures: usize,
}

impl Summary {
    pub fn of(results: &[TestResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            match r.outcome {
                Outcome::Pass => s.passed += 1,
                Outcome::Fail | Outcome::UnexpectedPass => s.failed += 1,
                Outcome::Skip => s.skipped += 1,
                Outcome::Warn => s.warnings += 1,
                Outcome::KnownFail => s.known_failures += 1,
            }
        }
        s
    }

    /// `N passed, N failed, N skipped` plus warnings and known failures when there are any.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        );
        if self.warnings > 0 {
            line.push_str(&format!(
                ", {} warning{} (SHOULD)",
                self.warnings,
                if self.warnings == 1 { "" } else { "s" }
            ));
        }
        if self.known_failures > 0 {
            line.push_str(&format!(", {} known failing", self.known_failures));
        }
        line
    }
}
