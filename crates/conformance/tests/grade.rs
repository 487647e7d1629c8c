//! `conformance grade` on a batch of 20 Python-target variants (the correct server, its faults,
//! and one submission that never starts): one command, one CSV and HTML summary with the right
//! verdict per submission and test, a hung submission stopped at the time limit without
//! stopping the batch, and no process left behind; fixed-port submissions side by side in
//! network namespaces, with their server logs beside their reports.

mod common;

use std::path::Path;

use common::{conformance, stderr, stdout};

/// Faults of the Python target that a MUST test of `errors/*` or `iamat/*` catches, with it.
const CAUGHT: &[(&str, &str)] = &[
    ("float-position", "iamat/copy-position"),
    ("double-minus", "iamat/diff-client-ahead"),
    ("no-sign", "iamat/diff-client-behind"),
    ("silent-invalid", "errors/unknown-command"),
    ("no-radius-limit", "errors/radius-above-50"),
    ("no-bound-limit", "errors/bound-above-20"),
    ("rebuilt-copy", "errors/copy-known-command"),
    ("accept-nonfinite", "errors/time-infinity"),
    ("rejected-overwrites", "errors/rejected-keeps-stored"),
    ("nan-time-blocks", "errors/rejected-stores-nothing"),
    ("long-line-drop", "errors/long-line"),
    ("error-extra-newline", "errors/one-line-reply"),
];

/// Faults that only SHOULD tests of those sections catch: passing, with a warning there.
const WARNED: &[(&str, &str)] = &[
    ("six-digits", "iamat/diff-nine-digits"),
    ("float-diff", "iamat/diff-exact-far-future"),
];

/// Faults outside the selected sections: graded as passing.
const UNSEEN: &[&str] = &["indent4", "untrimmed", "one-hop", "no-flood"];

/// A marker in the hung submission's command, to find any process it left.
const HUNG_MARKER: &str = "600.4242";

fn leftover_processes() -> Vec<String> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(HUNG_MARKER))
        .collect()
}

fn cell<'a>(csv: &'a [Vec<String>], row: &str, column: &str) -> &'a str {
    let col = csv[0]
        .iter()
        .position(|c| c == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    let r = csv
        .iter()
        .find(|r| r[0] == row)
        .unwrap_or_else(|| panic!("no row {row}"));
    &r[col]
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .expect("summary.csv")
        .records()
        .map(|r| r.expect("record").iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn a_batch_of_twenty_submissions_is_graded_in_one_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = common::python_spawn(&[]);
    let mut manifest = format!("spawn = {}\n", toml_string(&base));
    let mut names = vec!["correct".to_owned()];
    names.extend(CAUGHT.iter().chain(WARNED).map(|(f, _)| (*f).to_owned()));
    names.extend(UNSEEN.iter().map(|f| (*f).to_owned()));
    for name in &names {
        std::fs::create_dir(dir.path().join(name)).expect("mkdir");
        manifest.push_str(&format!("[[submission]]\ndir = \"{name}\"\n"));
        if name != "correct" {
            manifest.push_str(&format!(
                "spawn = {}\n",
                toml_string(&format!("{base} --fault {name}"))
            ));
        }
    }
    std::fs::create_dir(dir.path().join("hung")).expect("mkdir");
    manifest.push_str(&format!(
        "[[submission]]\ndir = \"hung\"\nspawn = \"sleep {HUNG_MARKER} # {{name}} {{port}}\"\ntime_limit = \"4s\"\n"
    ));
    names.push("hung".into());
    assert_eq!(names.len(), 20);
    let manifest_path = dir.path().join("batch.toml");
    std::fs::write(&manifest_path, manifest).expect("manifest");
    let out_dir = dir.path().join("out");
    let out = conformance(&[
        "grade",
        manifest_path.to_str().expect("path"),
        "--jobs",
        "2",
        "--time-limit",
        "120",
        "--out",
        out_dir.to_str().expect("path"),
        "--",
        "--run",
        "errors/*",
        "--run",
        "iamat/*",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("20 submissions: "), "{text}");
    assert!(stderr(&out).contains("[20/20] "), "{}", stderr(&out));

    let csv = read_csv(&out_dir.join("summary.csv"));
    assert_eq!(csv.len(), 21, "{csv:?}");
    assert_eq!(cell(&csv, "correct", "status"), "passed");
    assert_eq!(cell(&csv, "correct", "must_failed"), "0");
    for (fault, test) in CAUGHT {
        assert_eq!(cell(&csv, fault, "status"), "failed", "{fault}");
        assert_eq!(cell(&csv, fault, test), "fail", "{fault} by {test}");
        assert_eq!(cell(&csv, "correct", test), "pass", "{test}");
    }
    for (fault, test) in WARNED {
        assert_eq!(cell(&csv, fault, "status"), "passed", "{fault}");
        assert_eq!(cell(&csv, fault, test), "warn", "{fault} by {test}");
        assert_ne!(cell(&csv, fault, "should_warned"), "0", "{fault}");
    }
    for fault in UNSEEN {
        assert_eq!(cell(&csv, fault, "status"), "passed", "{fault}");
    }
    assert_eq!(cell(&csv, "hung", "status"), "timed-out");
    let score = cell(&csv, "no-sign", "iamat (MUST passed/judged)");
    let (passed, judged) = score.split_once('/').expect("passed/judged");
    let count = |n: &str| n.parse::<usize>().expect("a count");
    assert!(count(passed) < count(judged), "{score}");

    let html = std::fs::read_to_string(out_dir.join("index.html")).expect("index.html");
    for name in &names {
        assert!(html.contains(&format!("<h2 id=\"{name}\">")), "{name}");
    }
    assert!(html.contains("<b>iamat/copy-position</b>: "), "index.html");
    assert!(html.contains("no-sign/report.json"), "index.html");
    assert!(html.contains("Stopped at the time limit"), "index.html");
    for name in names.iter().filter(|n| *n != "hung") {
        for file in ["report.json", "report.xml", "output.txt"] {
            assert!(out_dir.join(name).join(file).is_file(), "{name}/{file}");
        }
    }
    assert_eq!(leftover_processes(), Vec::<String>::new());
}

#[test]
fn a_bad_manifest_is_refused_saying_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dir.path().join("m.toml");
    std::fs::write(
        &manifest,
        "[[submission]]\ndir = \"missing\"\nspawn = \"x {name}\"\n",
    )
    .expect("write");
    let out = conformance(&["grade", manifest.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Two submissions that listen on the same ports of their own choosing (the template names no
/// {port} or {herd}), graded with --jobs 2: where network namespaces work, both run at once,
/// each on its own loopback, and each gets its own right verdict; their server logs are in
/// their grade folders and linked from index.html.
#[test]
fn fixed_port_submissions_run_side_by_side_in_network_namespaces() {
    let probe = std::process::Command::new("unshare")
        .args(["--net", "sh", "-c", "ip link set lo up"])
        .output();
    match &probe {
        Ok(out) if out.status.success() => {}
        other => {
            eprintln!(
                "skipped: network namespaces are not permitted here (`unshare --net sh -c 'ip link set lo up'`: {other:?}); conformance grade runs fixed-port submissions one at a time"
            );
            return;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = test_kit::ports::free_ports(2);
    let herd_path = dir.path().join("fixed.toml");
    std::fs::write(
        &herd_path,
        format!(
            "[[server]]\nname = \"Alpha\"\naddress = \"127.0.0.1:{}\"\nneighbours = [\"Beta\"]\n\n\
             [[server]]\nname = \"Beta\"\naddress = \"127.0.0.1:{}\"\nneighbours = []\n",
            ports[0], ports[1]
        ),
    )
    .expect("herd file");
    let herd = herd_path.to_str().expect("path");
    // Same ports for both: the herd file's, as a submission that hard-codes them would.
    let base = format!(
        "{} {} {{name}} --herd {herd} --places-url {{places_url}} --log-dir {{log_dir}}",
        test_kit::python_target::python_command(),
        test_kit::python_target::server_script().display()
    );
    // Side by side, proved without timing: each server announces itself in a shared folder
    // (namespaces separate networks, not files) and waits for its twin in the other submission
    // before it starts. Run one after the other, the first would wait in vain and say so.
    let meet = dir.path().join("meet");
    std::fs::create_dir(&meet).expect("mkdir");
    let meet = meet.to_str().expect("path");
    let rendezvous = |me: &str, twin: &str| {
        format!(
            "touch {meet}/{me}-{{name}}; i=0; \
             while [ ! -e {meet}/{twin}-{{name}} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; \
             if [ -e {meet}/{twin}-{{name}} ]; then echo met > {meet}/{me}-{{name}}.met; fi; exec "
        )
    };
    let mut manifest = format!("herd = {}\n", toml_string(herd));
    for (name, twin, spawn) in [
        ("correct", "no-sign", base.clone()),
        ("no-sign", "correct", format!("{base} --fault no-sign")),
    ] {
        std::fs::create_dir(dir.path().join(name)).expect("mkdir");
        let spawn = format!("{}{spawn}", rendezvous(name, twin));
        manifest.push_str(&format!(
            "[[submission]]\ndir = \"{name}\"\nspawn = {}\n",
            toml_string(&spawn)
        ));
    }
    let manifest_path = dir.path().join("batch.toml");
    std::fs::write(&manifest_path, manifest).expect("manifest");
    let out_dir = dir.path().join("out");
    let out = conformance(&[
        "grade",
        manifest_path.to_str().expect("path"),
        "--jobs",
        "2",
        "--time-limit",
        "120",
        "--out",
        out_dir.to_str().expect("path"),
        "--",
        "--run",
        "iamat/*",
    ]);
    let (text, err) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{text}{err}");
    assert!(
        err.contains("each submission in its own network namespace"),
        "{err}"
    );
    assert!(text.contains("own network namespace"), "{text}");

    let csv = read_csv(&out_dir.join("summary.csv"));
    assert_eq!(cell(&csv, "correct", "status"), "passed", "{csv:?}");
    assert_eq!(cell(&csv, "correct", "iamat/diff-client-behind"), "pass");
    assert_eq!(cell(&csv, "no-sign", "status"), "failed", "{csv:?}");
    assert_eq!(cell(&csv, "no-sign", "iamat/diff-client-behind"), "fail");

    // Side by side: each submission's checked server (the iamat/* run starts Alpha only)
    // found its twin from the other submission already started.
    for name in ["correct", "no-sign"] {
        assert!(
            Path::new(meet).join(format!("{name}-Alpha.met")).exists(),
            "{name}'s Alpha started without its twin from the other submission running: \
             the two runs did not overlap (in {meet}: {:?})",
            std::fs::read_dir(meet)
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
                .unwrap_or_default()
        );
    }
    let html = std::fs::read_to_string(out_dir.join("index.html")).expect("index.html");
    assert!(html.contains("href=\"correct/logs/Alpha.log\""), "{html}");
    assert!(html.contains("href=\"no-sign/logs/Alpha.out\""), "{html}");
    assert!(
        html.contains("own network namespace"),
        "index.html names the isolation"
    );
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}
