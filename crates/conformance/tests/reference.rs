//! The suite against the reference herd (started in-process by the no-target run), and the
//! command line's selection, known-failing and exit-code rules.

mod common;

use common::{conformance, json_report, stderr, stdout, terminal_counts};

#[test]
fn reference_herd_passes_every_test_and_reports_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("r.json");
    let junit = dir.path().join("r.xml");
    let out = conformance(&[
        "--json",
        json.to_str().expect("path"),
        "--junit",
        junit.to_str().expect("path"),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("reference herd winter21: 5 reference-server processes (stopped and restarted by resilience tests): Riley 127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("Places stand-in: http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("framing: line"), "{text}");

    let (passed, failed, skipped) = terminal_counts(&text);
    // The reference calls the legacy Nearby Search: the two Places API (New) request tests
    // do not apply; and it refuses client times a day ahead (protocol.md §8), so the 19-digit
    // exactness test cannot observe anything.
    assert_eq!((failed, skipped), (0, 3), "{text}");
    assert!(
        !text.contains("warning"),
        "the reference should pass the SHOULD tests too:\n{text}"
    );

    let report = json_report(&json);
    let results = report["results"].as_array().expect("results");
    assert_eq!(results.len(), passed + skipped);
    assert_eq!(report["summary"]["passed"], passed);
    assert_eq!(report["summary"]["failed"], 0);
    for r in results {
        let not_applicable = [
            "places/field-mask",
            "places/result-count",
            "iamat/diff-exact-far-future",
        ]
        .contains(&r["id"].as_str().unwrap_or(""));
        assert_eq!(
            r["outcome"],
            if not_applicable { "skip" } else { "pass" },
            "{r}"
        );
        assert!(r["level"] == "MUST" || r["level"] == "SHOULD", "{r}");
        assert!(r["duration_ms"].as_f64().is_some(), "{r}");
    }

    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), passed + skipped);
    assert_eq!(xml.matches("<failure").count(), 0);
    assert!(
        xml.contains(r#"<testcase name="iamat/reply-shape" classname="iamat""#),
        "{xml}"
    );
}

/// The reference server on Places API (New) passes every test judged by the New API's rules;
/// only the legacy layout test does not apply.
#[test]
fn reference_herd_on_places_api_new_passes_every_test() {
    let template = format!("{} --places-api new", common::reference_spawn(&[]));
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("r.json");
    let out = conformance(&["--spawn", &template, "--json", json.to_str().expect("path")]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert_eq!(terminal_counts(&text).1, 0, "{text}");
    let report = json_report(&json);
    let skipped: Vec<&str> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["outcome"] == "skip")
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(
        skipped,
        ["iamat/diff-exact-far-future", "whatsat/google-layout"],
        "{text}"
    );
}

#[test]
fn list_prints_every_test_with_level_and_requirement() {
    let out = conformance(&["--list"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn run_and_skip_select_by_glob_section_and_alias() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("r.json");
    let out = conformance(&[
        "--run",
        "iamat",
        "--run",
        "errors/3",
        "--skip",
        "iamat/diff-*",
        "--json",
        json.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report = json_report(&json);
    let ids: Vec<&str> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(ids.contains(&"iamat/reply-shape"), "{ids:?}");
    assert!(ids.contains(&"errors/iamat-no-operands"), "{ids:?}");
    assert!(
        ids.iter().all(|id| !id.starts_with("iamat/diff-")),
        "{ids:?}"
    );
    assert!(
        ids.iter()
            .all(|id| id.starts_with("iamat/") || *id == "errors/iamat-no-operands"),
        "{ids:?}"
    );
}

#[test]
fn a_known_failing_test_that_passes_fails_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let known = dir.path().join("known.txt");
    std::fs::write(
        &known,
        "# stale entry\niamat/reply-shape   # was broken once\n",
    )
    .expect("write");
    let out = conformance(&[
        "--run",
        "iamat/reply-shape",
        "--known-failing",
        known.to_str().expect("path"),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("× iamat/reply-shape  [listed as known failing, but passed]"),
        "{text}"
    );
    assert!(text.contains("remove it from the list"), "{text}");
    assert_eq!(terminal_counts(&text), (0, 1, 0));
}

#[test]
fn a_known_failing_file_naming_no_test_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let known = dir.path().join("known.txt");
    std::fs::write(&known, "iamat/reply-shape\niamat/no-such-test\n").expect("write");
    let out = conformance(&["--known-failing", known.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("known.txt:2: `iamat/no-such-test` is not a test ID"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unreachable_target_exits_2_saying_why() {
    let port = test_kit::ports::free_port();
    let out = conformance(&["--target", &format!("127.0.0.1:{port}")]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("is the server running there?"), "{err}");
}

/// Exit 2 means only "could not run": a server that accepts connections gets a full verdict,
/// every test saying what it got.
#[test]
fn a_server_that_never_answers_gets_a_verdict_saying_why() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accept and hold connections without ever answering (bounded: the thread ends with the
    // test process).
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let out = conformance(&[
        "--target",
        &format!("127.0.0.1:{port}"),
        "--run",
        "iamat/reply-shape",
        "--run",
        "errors/unknown-command",
        "--timeout",
        "2",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("answered the probe IAMAT in neither framing"),
        "{text}"
    );
    assert_eq!(terminal_counts(&text), (0, 2, 0), "{text}");
    assert!(
        text.contains("no reply to `IAMAT conf-iamat-reply-shape-"),
        "{text}"
    );
}

#[test]
fn bad_arguments_exit_2() {
    let out = conformance(&["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = conformance(&["--spawn", "server {nmae} {port}"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown placeholder {nmae}"),
        "{}",
        stderr(&out)
    );
    let out = conformance(&["--run", "nothing/like-this"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no test matches"), "{}", stderr(&out));
    let out = conformance(&["--timeout", "soon"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_spawned_server_that_dies_exits_2_with_its_output() {
    let out = conformance(&[
        "--spawn",
        "echo 'boom: no such option' >&2; exit 3 # {port}",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot start server Riley"), "{err}");
    assert!(err.contains("exited with exit status: 3"), "{err}");
    assert!(err.contains("boom: no such option"), "{err}");
}
