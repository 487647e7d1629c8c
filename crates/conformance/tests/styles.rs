//! Whole herds written in the styles real course submissions are written in (protocol.md §7),
//! and with one malformed AT-line field, as Python target variants, each run through the whole catalogue (single server and herd):
//! every one gets a full verdict (never exit 2), and the tests it fails are exactly its own
//! deviations, each named for its cause. A deviation must not cascade into the tests about
//! something else, and a correct design (eof-only reads, Places API (New), FLOOD peer messages,
//! non-AT greetings between peers) fails nothing.

mod common;

use std::collections::BTreeSet;

use common::{complaints_of, conformance, json_report, python_spawn, stderr, stdout};

/// One submission style: the Python target's switches, and the tests it must fail (MUST) or warn
/// on (SHOULD, beyond the two `security/*` warnings every Python target gets), each with words
/// its message must hold.
struct Style {
    switches: &'static str,
    /// Extra suite arguments (a framing forced on the run).
    suite: &'static [&'static str],
    fails: &'static [(&'static str, &'static str)],
    warns: &'static [(&'static str, &'static str)],
    /// Tests that fail or not depending on the random positions and times a run picks (a
    /// re-render that drops `+` shows only on positions that have one).
    maybe: &'static [&'static str],
}

const STYLES: &[Style] = &[
    // Reads until EOF before answering, as the course's sample grader's servers do: only line
    // clients are let down; every flood test still judges it (eof reads end at the close).
    Style {
        switches: "--fault eof-only",
        suite: &[],
        fails: &[("framing/line-client", "only after the client half-closed")],
        warns: &[],
        maybe: &[],
    },
    // A correct line server checked with eof reads throughout.
    Style {
        switches: "",
        suite: &["--framing", "eof"],
        fails: &[],
        warns: &[],
        maybe: &[],
    },
    Style {
        switches: "--fault never-close",
        suite: &[],
        fails: &[("framing/eof-client", "did not close the connection")],
        warns: &[],
        maybe: &[],
    },
    // Replies without a trailing newline from a server that never closes first: the missing
    // newline is reported where it is the point, and everything else is still judged.
    Style {
        switches: "--fault no-final-newline",
        suite: &[],
        fails: &[
            ("iamat/reply-shape", "does not end with a newline"),
            ("whatsat/two-final-newlines", "does not end with a newline"),
            ("framing/line-client", "no newline"),
            ("framing/eof-client", "did not close the connection"),
        ],
        warns: &[],
        maybe: &[],
    },
    // One read(1024) per connection, then silence.
    Style {
        switches: "--fault read-once",
        suite: &[],
        fails: &[
            ("errors/same-connection-continues", "answered nothing more"),
            ("errors/long-line", "did not answer the IAMAT that followed"),
            ("framing/line-client", "stopped reading the connection"),
            ("framing/eof-client", "did not close the connection"),
            ("framing/split-writes", "instead of waiting for the newline"),
        ],
        warns: &[],
        maybe: &[],
    },
    // Links configured one way: the flood does not reach, which is reported by the tests about
    // reach; the tests about other flood properties say they cannot be judged.
    Style {
        switches: "--fault one-way-links",
        suite: &[],
        fails: &[("flood/reaches-every-server", "never learned it")],
        warns: &[],
        maybe: &[],
    },
    Style {
        switches: "--fault peer-hello",
        suite: &[],
        fails: &[],
        warns: &[],
        maybe: &[],
    },
    Style {
        switches: "--peer-format flood",
        suite: &[],
        fails: &[],
        warns: &[],
        maybe: &[],
    },
    // Places API (New) with two real mistakes: each reported once, by value.
    Style {
        switches: "--fault new-api-spurious-results",
        suite: &[],
        fails: &[
            ("whatsat/json-value", "a spurious `results` key"),
            ("whatsat/bound-0", "not cut to the bound"),
        ],
        warns: &[],
        maybe: &[],
    },
    // One malformed field in the AT line: reported by the tests about that field, and by no
    // test that only looks an update up (flood/*, resilience/*, errors/rejected-*).
    Style {
        switches: "--fault recompute-diff",
        suite: &[],
        fails: &[("whatsat/at-line-stored", "recomputed")],
        warns: &[],
        maybe: &[],
    },
    Style {
        switches: "--fault whatsat-rerender",
        suite: &[],
        fails: &[("whatsat/position-plus-sign", "re-rendered")],
        warns: &[],
        maybe: &["whatsat/at-line-stored"],
    },
    Style {
        switches: "--fault no-sign",
        suite: &[],
        fails: &[
            ("iamat/reply-shape", "no explicit sign"),
            ("iamat/diff-client-behind", "no explicit sign"),
        ],
        warns: &[],
        maybe: &[],
    },
    Style {
        switches: "--fault double-minus",
        suite: &[],
        fails: &[("iamat/diff-client-ahead", "doubled sign")],
        warns: &[],
        maybe: &[],
    },
    // The whole IAMAT command echoed into the AT line, stored and flooded so: the shape is the
    // one finding; every field test and every flood test still finds its field.
    Style {
        switches: "--fault echo-iamat",
        suite: &[],
        fails: &[(
            "iamat/reply-shape",
            "echoes the command word `IAMAT`, which the AT line leaves out",
        )],
        warns: &[],
        maybe: &[],
    },
    // The radius passed to Places in km: the request's tests say so; the WHATSAT tests judge the
    // reply against what Places answered to the request made, so they pass.
    Style {
        switches: "--fault radius-km",
        suite: &[],
        fails: &[(
            "places/radius-metres",
            "expected 10000 (metres = km × 1000)",
        )],
        warns: &[(
            "places/radius-fractional",
            "expected 2500 (metres = km × 1000)",
        )],
        maybe: &[],
    },
    // Google's URL written into the code: the stand-in never hears from the herd. That is
    // places/endpoint's one finding; the tests that compare with the stand-in's answers say they
    // cannot be judged, and the flood is judged as usual.
    Style {
        switches: "--fault places-elsewhere",
        suite: &[],
        fails: &[("places/endpoint", "received no request")],
        warns: &[],
        maybe: &[],
    },
    // A distant Places service: every WHATSAT takes 1 s, far longer than an IAMAT. Nothing is
    // wrong, so nothing fails (no WHATSAT judged unanswered, no flood judged slow).
    Style {
        switches: "--fault slow-places",
        suite: &[],
        fails: &[],
        warns: &[],
        maybe: &[],
    },
];

/// The warnings every Python target gets (no peer authentication, no time bound), with words
/// their message must hold where they show: a style must not turn them into another cause (a
/// test that ran out of time).
const SECURITY_WARNINGS: [(&str, &str); 2] = [
    (
        "security/client-at-not-stored",
        "was stored (WHATSAT serves it",
    ),
    ("security/future-time-refused", "was accepted"),
];

/// Runs the whole catalogue on one style; returns what is wrong with its verdict, if anything.
fn check_style(style: &Style) -> Option<String> {
    let template = format!("{} {}", python_spawn(&[]), style.switches);
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("r.json");
    let mut args = vec!["--spawn", &template, "--json", json.to_str().expect("path")];
    args.extend_from_slice(style.suite);
    let out = conformance(&args);
    let label = format!("`{}` {:?}", style.switches, style.suite);
    let want_code = if style.fails.is_empty() { 0 } else { 1 };
    if out.status.code() != Some(want_code) {
        return Some(format!(
            "{label}: exit {:?}, want {want_code}\n{}{}",
            out.status.code(),
            stdout(&out),
            stderr(&out)
        ));
    }
    let report = json_report(&json);
    let results = report["results"].as_array().expect("results");
    let mut problems = Vec::new();
    let security = |id: &str| SECURITY_WARNINGS.iter().find(|(s, _)| *s == id);
    let with = |outcome: &str| -> BTreeSet<(String, String)> {
        results
            .iter()
            .filter(|r| r["outcome"] == outcome)
            .filter_map(|r| {
                let id = r["id"].as_str()?;
                let message = r["message"].as_str().unwrap_or("").to_owned();
                security(id).is_none().then(|| (id.to_owned(), message))
            })
            .collect()
    };
    for r in results.iter().filter(|r| r["outcome"] == "warn") {
        let message = r["message"].as_str().unwrap_or("");
        if let Some((id, words)) = r["id"].as_str().and_then(security)
            && !message.contains(words)
        {
            problems.push(format!(
                "{id} warned for another cause: `{message}` lacks `{words}`"
            ));
        }
    }
    for (outcome, got, want) in [
        ("fail", with("fail"), style.fails),
        ("warn", with("warn"), style.warns),
    ] {
        let want_ids: BTreeSet<&str> = want.iter().map(|(id, _)| *id).collect();
        for (id, message) in &got {
            if !want_ids.contains(id.as_str()) && !style.maybe.contains(&id.as_str()) {
                problems.push(format!("unexpected {outcome} {id}: {message}"));
            }
        }
        for (id, words) in want {
            match got.iter().find(|(g, _)| g == id) {
                None => problems.push(format!("{id} should {outcome} (`{words}`) but did not")),
                Some((_, message)) if !message.contains(words) => problems.push(format!(
                    "{id} failed for another cause: `{message}` lacks `{words}`"
                )),
                Some(_) => {}
            }
        }
    }
    (!problems.is_empty()).then(|| format!("{label}:\n  {}", problems.join("\n  ")))
}

/// Every style, three at a time: the machine is busy while they run, and the verdicts must not
/// change for it.
#[test]
fn each_submission_style_fails_exactly_its_own_deviations() {
    let complaints = complaints_of(STYLES, 3, check_style);
    assert!(
        complaints.is_empty(),
        "{} of {} styles not judged as expected:\n{}",
        complaints.len(),
        STYLES.len(),
        complaints.join("\n\n")
    );
}
