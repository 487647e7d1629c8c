//! `--json FILE`: every result with ID, level, outcome, duration, expected and actual bytes
//! (as text; invalid UTF-8 replaced), plus the run's settings and summary.

use serde::Serialize;

use crate::propagation::Propagation;
use crate::runner::{Level, Outcome, Summary, TestResult};
use crate::wire::WireEvent;

#[derive(Serialize)]
struct JsonReport<'a> {
    suite: &'static str,
    target: &'a str,
    framing: &'a str,
    places_url: &'a str,
    seed: u64,
    summary: Summary,
    results: Vec<JsonResult<'a>>,
}

#[derive(Serialize)]
struct JsonResult<'a> {
    id: &'a str,
    alias: &'a str,
    section: &'a str,
    level: Level,
    outcome: Outcome,
    duration_ms: f64,
    requirement: &'a str,
    message: Option<&'a str>,
    expected: Option<String>,
    actual: Option<String>,
    /// Per update, each server's verdict and when it learned it (herd tests).
    #[serde(skip_serializing_if = "<[Propagation]>::is_empty")]
    propagation: &'a [Propagation],
    #[serde(skip_serializing_if = "Option::is_none")]
    transcript: Option<&'a [WireEvent]>,
}

/// What the JSON report says about the run besides the results.
#[derive(Debug)]
pub struct RunInfo<'a> {
    pub target: &'a str,
    pub framing: &'a str,
    pub places_url: &'a str,
    pub seed: u64,
    pub trace: bool,
}

/// The JSON report as text.
pub fn render(results: &[TestResult], info: &RunInfo<'_>) -> String {
    let text = |b: &Option<Vec<u8>>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
    let report = JsonReport {
        suite: "conformance",
        target: info.target,
        framing: info.framing,
        places_url: info.places_url,
        seed: info.seed,
        summary: Summary::of(results),
        results: results
            .iter()
            .map(|r| JsonResult {
                id: r.id,
                alias: &r.alias,
                section: r.section,
                level: r.level,
                outcome: r.outcome,
                duration_ms: r.duration.as_secs_f64() * 1000.0,
                requirement: r.requirement,
                message: r.message.as_deref(),
                expected: text(&r.expected),
                actual: text(&r.actual),
                propagation: &r.propagation,
                transcript: info.trace.then_some(r.transcript.as_slice()),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
