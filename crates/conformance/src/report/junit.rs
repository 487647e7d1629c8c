//! `--junit FILE`: one `<testsuite>` per section, one `<testcase>` per test (`name` = ID,
//! `classname` = section). A failure is a `<failure>` (never `<error>`) whose text carries the
//! requirement, the problem, and the expected and actual bytes; skips and known failures are
//! `<skipped>`; SHOULD warnings pass with the warning in `<system-out>`.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::compare_lines;
use crate::runner::{Outcome, TestResult};
use crate::shown::escape;

/// The JUnit XML for these results.
pub fn render(results: &[TestResult]) -> anyhow::Result<String> {
    let mut report = Report::new("conformance");
    let mut sections: Vec<&'static str> = Vec::new();
    for r in results {
        if !sections.contains(&r.section) {
            sections.push(r.section);
        }
    }
    for section in sections {
        let mut suite = TestSuite::new(section);
        for r in results.iter().filter(|r| r.section == section) {
            let message = r.message.clone().unwrap_or_default();
            let status = match r.outcome {
                Outcome::Pass | Outcome::Warn => TestCaseStatus::success(),
                Outcome::Fail | Outcome::UnexpectedPass => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(message.clone());
                    s.set_type(r.level.as_str());
                    s.set_description(details(r));
                    s
                }
                Outcome::Skip | Outcome::KnownFail => {
                    let mut s = TestCaseStatus::skipped();
                    let prefix = if r.outcome == Outcome::KnownFail {
                        "known failing: "
                    } else {
                        ""
                    };
                    s.set_message(format!("{prefix}{message}"));
                    s
                }
            };
            let mut case = TestCase::new(r.id, status);
            case.set_classname(section);
            case.set_time(r.duration);
            if r.outcome == Outcome::Warn {
                case.set_system_out(format!("warning (SHOULD): {message}\n{}", details(r)));
            } else if !r.propagation.is_empty() {
                case.set_system_out(propagation_lines(r));
            }
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    Ok(report.to_string()?)
}

/// Per update, each server's verdict, one line each.
fn propagation_lines(r: &TestResult) -> String {
    r.propagation
        .iter()
        .map(|p| p.line())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Requirement, problem, expected and actual, as plain text.
fn details(r: &TestResult) -> String {
    let mut lines = vec![
        format!("{} [{}]: {}", r.id, r.level.as_str(), r.requirement),
        format!("problem: {}", r.message.as_deref().unwrap_or("")),
    ];
    match (&r.expected, &r.actual) {
        (Some(e), Some(a)) => lines.extend(compare_lines(e, a)),
        (None, Some(a)) => lines.push(format!("actual:   {}", escape(a))),
        (Some(e), None) => lines.push(format!("expected: {}", escape(e))),
        (None, None) => {}
    }
    if !r.propagation.is_empty() {
        lines.push(propagation_lines(r));
    }
    lines.join("\n")
}
