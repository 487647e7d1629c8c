//! The batch's summary: `summary.csv` (one row per submission: status, counts, score per
//! section, then each test's outcome) and `index.html` (the submission × test matrix, each
//! MUST failure with its requirement, links to every submission's reports, output and logs).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use super::batch::{Graded, RunEnd};

/// One test's result as a submission's JSON report has it.
#[derive(Clone, Debug, Deserialize)]
pub struct ReportedResult {
    pub id: String,
    pub section: String,
    pub level: String,
    pub outcome: String,
    pub requirement: String,
    pub message: Option<String>,
}

#[derive(Deserialize)]
struct Report {
    results: Vec<ReportedResult>,
}

/// A submission with what its report says (nothing when the suite could not judge it).
pub struct Row<'a> {
    pub graded: &'a Graded,
    pub results: Vec<ReportedResult>,
}

impl Row<'_> {
    fn count(&self, level: &str, outcomes: &[&str]) -> usize {
        self.results
            .iter()
            .filter(|r| r.level == level && outcomes.contains(&r.outcome.as_str()))
            .count()
    }

    /// `passed/judged` MUST tests of `section` (skips left out).
    fn section_score(&self, section: &str) -> String {
        let of = |r: &&ReportedResult| r.section == section && r.level == "MUST";
        let judged = self
            .results
            .iter()
            .filter(of)
            .filter(|r| r.outcome != "skip")
            .count();
        let passed = self
            .results
            .iter()
            .filter(of)
            .filter(|r| r.outcome == "pass")
            .count();
        format!("{passed}/{judged}")
    }

    fn outcome_of(&self, id: &str) -> &str {
        self.results
            .iter()
            .find(|r| r.id == id)
            .map_or("", |r| r.outcome.as_str())
    }

    fn status(&self) -> String {
        match &self.graded.end {
            RunEnd::Judged(0) => "passed".into(),
            RunEnd::Judged(_) => "failed".into(),
            other => other.status().into(),
        }
    }
}

/// Reads each submission's JSON report (a missing or broken one gives an empty row).
pub fn rows(graded: &[Graded]) -> Vec<Row<'_>> {
    graded
        .iter()
        .map(|g| Row {
            graded: g,
            results: std::fs::read_to_string(g.json())
                .ok()
                .and_then(|t| serde_json::from_str::<Report>(&t).ok())
                .map(|r| r.results)
                .unwrap_or_default(),
        })
        .collect()
}

/// Test IDs and sections in the order the reports list them.
fn columns(rows: &[Row<'_>]) -> (Vec<String>, Vec<String>) {
    let mut ids = Vec::new();
    let mut sections = Vec::new();
    for r in rows.iter().flat_map(|row| &row.results) {
        if !ids.contains(&r.id) {
            ids.push(r.id.clone());
        }
        if !sections.contains(&r.section) {
            sections.push(r.section.clone());
        }
    }
    (ids, sections)
}

/// Writes `summary.csv`.
pub fn write_csv(rows: &[Row<'_>], path: &Path) -> anyhow::Result<()> {
    let (ids, sections) = columns(rows);
    let mut w = csv::Writer::from_path(path)?;
    let mut header: Vec<String> = [
        "submission",
        "status",
        "seconds",
        "must_passed",
        "must_failed",
        "should_warned",
        "skipped",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    header.extend(sections.iter().map(|s| format!("{s} (MUST passed/judged)")));
    header.extend(ids.iter().cloned());
    w.write_record(&header)?;
    for row in rows {
        let mut record = vec![
            row.graded.submission.name.clone(),
            row.status(),
            format!("{:.1}", row.graded.seconds),
            row.count("MUST", &["pass"]).to_string(),
            row.count("MUST", &["fail", "unexpected-pass"]).to_string(),
            row.count("SHOULD", &["warn", "fail"]).to_string(),
            row.results
                .iter()
                .filter(|r| r.outcome == "skip")
                .count()
                .to_string(),
        ];
        record.extend(sections.iter().map(|s| row.section_score(s)));
        record.extend(ids.iter().map(|id| row.outcome_of(id).to_owned()));
        w.write_record(&record)?;
    }
    w.flush()?;
    Ok(())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes `index.html`: links are relative, so the output folder can be moved or served.
pub fn write_html(rows: &[Row<'_>], path: &Path, isolation: &str) -> anyhow::Result<()> {
    let (ids, sections) = columns(rows);
    let mut h = String::new();
    h.push_str(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>conformance grade</title>\n<style>\
         body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:2px 5px;font-size:12px}\
         th.t{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}\
         .pass{background:#cfc}.fail,.unexpected-pass{background:#f99}.warn{background:#fe9}\
         .skip{background:#eee}.known-fail{background:#ddf}\
         </style></head><body>\n<h1>conformance grade</h1>\n",
    );
    let _ = writeln!(
        h,
        "<p>{} submissions. Cells: the test's outcome (pass, fail, warn = SHOULD failed, skip).</p>",
        rows.len()
    );
    let _ = writeln!(h, "<p>{}</p>", escape(isolation));
    h.push_str("<table>\n<tr><th>submission</th><th>status</th><th>s</th><th>MUST passed</th><th>MUST failed</th>");
    for s in &sections {
        let _ = write!(h, "<th>{}</th>", escape(s));
    }
    for id in &ids {
        let _ = write!(h, "<th class=\"t\">{}</th>", escape(id));
    }
    h.push_str("<th>reports</th></tr>\n");
    for row in rows {
        let name = escape(&row.graded.submission.name);
        let _ = write!(
            h,
            "<tr><td><a href=\"#{name}\">{name}</a></td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td>",
            escape(&row.status()),
            row.graded.seconds,
            row.count("MUST", &["pass"]),
            row.count("MUST", &["fail", "unexpected-pass"])
        );
        for s in &sections {
            let _ = write!(h, "<td>{}</td>", row.section_score(s));
        }
        for id in &ids {
            let o = row.outcome_of(id);
            let _ = write!(
                h,
                "<td class=\"{o}\" title=\"{}\">{}</td>",
                escape(id),
                o.chars().next().unwrap_or(' ')
            );
        }
        let _ = write!(
            h,
            "<td><a href=\"{name}/report.json\">json</a> <a href=\"{name}/report.xml\">junit</a> \
             <a href=\"{name}/output.txt\">output</a>"
        );
        for log in super::logs::listed(&row.graded.folder) {
            let log = escape(&log.to_string_lossy());
            let file = log.strip_prefix("logs/").unwrap_or(&log);
            let _ = write!(h, " <a href=\"{name}/{log}\">{file}</a>");
        }
        h.push_str("</td></tr>\n");
    }
    h.push_str("</table>\n");
    for row in rows {
        let name = escape(&row.graded.submission.name);
        let _ = writeln!(
            h,
            "<h2 id=\"{name}\">{name}: {}</h2>",
            escape(&row.status())
        );
        match &row.graded.end {
            RunEnd::Judged(_) => {}
            RunEnd::Unrunnable => h.push_str(
                "<p>The suite could not check it (its servers did not start or could not be reached); see its output.</p>\n",
            ),
            RunEnd::TimedOut => h.push_str("<p>Stopped at the time limit; see its output.</p>\n"),
            RunEnd::SuiteFailed(why) => {
                let _ = writeln!(h, "<p>The suite run failed: {}</p>", escape(why));
            }
        }
        let failures: Vec<&ReportedResult> = row
            .results
            .iter()
            .filter(|r| r.level == "MUST" && r.outcome == "fail")
            .collect();
        if failures.is_empty() {
            continue;
        }
        h.push_str("<ul>\n");
        for f in failures {
            let _ = writeln!(
                h,
                "<li><b>{}</b>: {}<br><i>{}</i></li>",
                escape(&f.id),
                escape(&f.requirement),
                escape(f.message.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</body></html>\n");
    std::fs::write(path, h)?;
    Ok(())
}

/// Per status, how many submissions ended that way (for the closing line).
pub fn tally(rows: &[Row<'_>]) -> BTreeMap<String, usize> {
    let mut t = BTreeMap::new();
    for r in rows {
        *t.entry(r.status()).or_default() += 1;
    }
    t
}
