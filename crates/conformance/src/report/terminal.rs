//! The terminal report: one line per test as it finishes, grouped by section (`✔`, `×`, `!` for a
//! SHOULD warning, `-` for a skip, `✗` for a known failure), the details of every failure, and a
//! summary line.

use std::io::Write;

use super::compare_lines;
use crate::runner::{Outcome, Summary, TestResult};
use crate::shown::escape;

/// Prints results as they come.
#[derive(Debug)]
pub struct Terminal<W: Write> {
    out: W,
    section: Option<&'static str>,
    trace: bool,
}

impl<W: Write> Terminal<W> {
    pub fn new(out: W, trace: bool) -> Terminal<W> {
        Terminal {
            out,
            section: None,
            trace,
        }
    }

    /// Prints one finished test (and its section heading when it starts a section).
    pub fn result(&mut self, r: &TestResult) {
        let _ = self.write_result(r);
    }

    fn write_result(&mut self, r: &TestResult) -> std::io::Result<()> {
        if self.section != Some(r.section) {
            if self.section.is_some() {
                writeln!(self.out)?;
            }
            writeln!(self.out, "{}", r.section)?;
            self.section = Some(r.section);
        }
        let (mark, note) = match r.outcome {
            Outcome::Pass => ("✔", String::new()),
            Outcome::Fail => ("×", format!("  [{} failed]", r.level.as_str())),
            Outcome::Warn => ("!", "  [SHOULD: warning]".to_owned()),
            Outcome::Skip => ("-", "  [skipped]".to_owned()),
            Outcome::KnownFail => ("✗", "  [known failing]".to_owned()),
            Outcome::UnexpectedPass => ("×", "  [listed as known failing, but passed]".to_owned()),
        };
        let slow = if r.duration.as_secs_f64() >= 1.0 {
            format!("  ({:.1} s)", r.duration.as_secs_f64())
        } else {
            String::new()
        };
        writeln!(self.out, "  {mark} {}{note}{slow}", r.id)?;
        let detailed = matches!(
            r.outcome,
            Outcome::Fail | Outcome::Warn | Outcome::UnexpectedPass | Outcome::KnownFail
        );
        if detailed {
            writeln!(self.out, "      requirement: {}", r.requirement)?;
        }
        if let Some(message) = &r.message {
            let label = if r.outcome == Outcome::Skip {
                "reason"
            } else {
                "problem"
            };
            // Continuation lines (one per failed case) indented under the label.
            let message = message.replace('\n', "\n        ");
            writeln!(self.out, "      {label}: {message}")?;
        }
        // Per update, when each server learned it: the grader's per-server verdict.
        for p in &r.propagation {
            let mark = if p.failed() { "×" } else { "·" };
            writeln!(self.out, "      {mark} {}", p.line())?;
        }
        if detailed {
            match (&r.expected, &r.actual) {
                (Some(e), Some(a)) => {
                    for line in compare_lines(e, a) {
                        writeln!(self.out, "      {line}")?;
                    }
                }
                (None, Some(a)) if a.is_empty() => writeln!(self.out, "      actual:   (nothing)")?,
                (None, Some(a)) => writeln!(self.out, "      actual:   {}", shorten(&escape(a)))?,
                (Some(e), None) => writeln!(self.out, "      expected: {}", shorten(&escape(e)))?,
                (None, None) => {}
            }
        }
        if self.trace && !r.transcript.is_empty() {
            writeln!(self.out, "      trace:")?;
            for e in &r.transcript {
                let arrow = match e.kind {
                    "send" => "→",
                    "recv" => "←",
                    other => other,
                };
                writeln!(
                    self.out,
                    "        {:>9.6} #{} {arrow} {}",
                    e.at,
                    e.conn,
                    escape(e.data.as_bytes())
                )?;
            }
        }
        self.out.flush()
    }

    /// Prints the summary line.
    pub fn summary(&mut self, summary: &Summary) {
        let _ = writeln!(self.out, "\n{}", summary.line());
        let _ = self.out.flush();
    }
}

/// At most 300 characters.
fn shorten(text: &str) -> String {
    if text.chars().count() <= 300 {
        text.to_owned()
    } else {
        format!(
            "{}… ({} characters)",
            text.chars().take(300).collect::<String>(),
            text.chars().count()
        )
    }
}
