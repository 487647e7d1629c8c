//! Every command and output mode against a real reference herd (in-process, Places stand-in),
//! in both framings.

mod common;

use std::time::{Duration, Instant};

use common::{RefHerd, TIME, filters};
use serde_json::Value;
use test_kit::output::stdout;

macro_rules! snapshot {
    ($name:expr, $text:expr) => {
        insta::with_settings!({ filters => filters() }, {
            insta::assert_snapshot!($name, $text);
        })
    };
}

#[test]
fn iamat_pretty_shows_labelled_fields() {
    let herd = RefHerd::start();
    let output = herd
        .client()
        .args([
            "iamat",
            "kiwi.cs.ucla.edu",
            "+34.068930-118.445127",
            "--time",
            TIME,
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    snapshot!("iamat_pretty", stdout(&output));
}

#[test]
fn iamat_json_and_raw() {
    let herd = RefHerd::start();
    // Options before the subcommand work as well as after it.
    let json = herd
        .client()
        .args([
            "--json",
            "--server",
            "Bernard",
            "iamat",
            "kiwi",
            "-33.86+151.20",
        ])
        .args(["--time", TIME])
        .output()
        .expect("run");
    assert_eq!(json.status.code(), Some(0), "{json:?}");
    snapshot!("iamat_json", stdout(&json));
    let parsed: Value = serde_json::from_slice(&json.stdout).expect("one JSON object");
    assert_eq!(parsed["at"]["server"], "Bernard");
    assert_eq!(
        parsed["at"]["client_time_utc"],
        "2021-05-19T22:53:47.959498503Z"
    );

    let raw = herd
        .client()
        .args(["iamat", "kiwi", "+1+2", "--time", "1621464830", "--raw"])
        .output()
        .expect("run");
    assert_eq!(raw.status.code(), Some(0), "{raw:?}");
    let text = stdout(&raw);
    assert!(
        text.starts_with("AT Riley +") || text.starts_with("AT Riley -"),
        "{text}"
    );
    assert!(text.ends_with(" kiwi +1+2 1621464830\n"), "{text}");
    assert_eq!(text.lines().count(), 1);
}

#[test]
fn iamat_sends_the_current_time_by_default() {
    let herd = RefHerd::start();
    let output = herd
        .client()
        .args(["iamat", "now-client", "+34-118", "--json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let parsed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let time = parsed["at"]["client_time"].as_str().expect("time");
    let (_, fraction) = time.split_once('.').expect("a fraction");
    assert_eq!(fraction.len(), 9, "nanosecond precision: {time}");
    let skew = parsed["at"]["skew_ns"].as_i64().expect("skew");
    assert!(
        (0..5_000_000_000).contains(&skew),
        "skew of a fresh time: {skew} ns"
    );
}

#[test]
fn whatsat_in_every_output_mode() {
    let herd = RefHerd::start();
    herd.report("kiwi.cs.ucla.edu", "+34.068930-118.445127");
    let pretty = herd
        .client()
        .args([
            "whatsat",
            "kiwi.cs.ucla.edu",
            "10",
            "5",
            "--server",
            "Campbell",
        ])
        .output()
        .expect("run");
    assert_eq!(pretty.status.code(), Some(0), "{pretty:?}");
    snapshot!("whatsat_pretty", stdout(&pretty));

    let json = herd
        .client()
        .args(["whatsat", "kiwi.cs.ucla.edu", "5", "2", "--json"])
        .output()
        .expect("run");
    assert_eq!(json.status.code(), Some(0), "{json:?}");
    snapshot!("whatsat_json", stdout(&json));
    let parsed: Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(
        parsed["places"]["results"].as_array().map(Vec::len),
        Some(2)
    );

    let raw = herd
        .client()
        .args(["whatsat", "kiwi.cs.ucla.edu", "5", "1", "--raw"])
        .output()
        .expect("run");
    assert_eq!(raw.status.code(), Some(0), "{raw:?}");
    let text = stdout(&raw);
    assert!(text.starts_with("AT Riley "), "{text}");
    assert!(
        text.ends_with("}\n\n"),
        "the reply bytes as received: {text:?}"
    );
}

#[test]
fn whatsat_shows_a_places_status_that_is_not_ok_and_still_exits_0() {
    let herd = RefHerd::start();
    herd.report("buoy", "+0.0-140.0");
    herd.break_places(mocks::FailureMode::Http500);
    let output = herd
        .client()
        .args(["whatsat", "buoy", "1", "5"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    snapshot!("whatsat_places_error", stdout(&output));
}

#[test]
fn both_framings_get_the_same_reply() {
    let herd = RefHerd::start();
    herd.report("framed", "+34.068930-118.445127");
    let mut replies = Vec::new();
    for framing in ["line", "eof"] {
        let output = herd
            .client()
            .args([
                "whatsat",
                "framed",
                "10",
                "3",
                "--raw",
                "--framing",
                framing,
            ])
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(0), "{framing}: {output:?}");
        replies.push(output.stdout);
    }
    assert_eq!(replies[0], replies[1]);
    let output = herd
        .client()
        .args([
            "iamat",
            "framed",
            "+34-118",
            "--time",
            TIME,
            "--framing",
            "eof",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    snapshot!("iamat_eof_pretty", stdout(&output));
}

#[test]
fn raw_sends_anything_and_prints_the_bytes() {
    let herd = RefHerd::start();
    for framing in ["line", "eof"] {
        let output = herd
            .client()
            .args(["raw", "WHATSAT kiwi 51 5", "--framing", framing])
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(1), "{framing}: {output:?}");
        assert_eq!(stdout(&output), "? WHATSAT kiwi 51 5\n");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            "herd-client: the server answered `?`: it found the command invalid\n"
        );
    }
    // Several lines are several commands; every reply comes back in order.
    let output = herd
        .client()
        .args([
            "raw",
            &format!("IAMAT multi +1+1 {TIME}\n\nFOO\nWHATSAT multi 1 0"),
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("AT Riley "), "{text}");
    assert_eq!(lines[1], "? FOO");
    assert_eq!(lines[2], lines[0]);
    assert!(text.ends_with("}\n\n"), "{text:?}");
    // A blank line gets no reply, and that is not an error.
    let output = herd
        .client()
        .args(["raw", "   ", "--timeout", "300ms"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stdout.is_empty());
}

#[test]
fn raw_json_parses_each_reply() {
    let herd = RefHerd::start();
    let output = herd
        .client()
        .args(["raw", &format!("IAMAT r +1+1 {TIME}"), "--json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    snapshot!("raw_json", stdout(&output));
}

#[test]
fn where_shows_convergence_after_a_flood() {
    let herd = RefHerd::start();
    let before = herd
        .client()
        .args(["where", "flooded"])
        .output()
        .expect("run");
    assert_eq!(
        before.status.code(),
        Some(1),
        "nobody knows yet: {before:?}"
    );
    assert!(stdout(&before).ends_with("no server of the 5 has heard of flooded\n"));

    herd.client()
        .args(["iamat", "flooded", "+34.068930-118.445127", "--time", TIME])
        .args(["--server", "Riley"])
        .assert()
        .success();
    // Campbell is two hops from Riley; wait (bounded) for the flood to reach every server.
    let start = Instant::now();
    loop {
        let output = herd
            .client()
            .args(["where", "flooded", "--json"])
            .output()
            .expect("run");
        let parsed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        if parsed["converged"] == true {
            assert_eq!(output.status.code(), Some(0));
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no convergence within 5 s: {parsed}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = herd
        .client()
        .args(["where", "flooded"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    snapshot!("where_converged", stdout(&output));
    let eof = herd
        .client()
        .args(["where", "flooded", "--framing", "eof"])
        .output()
        .expect("run");
    assert_eq!(eof.stdout, output.stdout, "both framings see the same herd");
}

#[test]
fn where_reports_a_server_that_cannot_be_asked() {
    let herd = RefHerd::start();
    herd.report("partial", "+34-118");
    // The herd plus a server that is not running.
    let dead = test_kit::ports::free_port();
    let toml = std::fs::read_to_string(&herd.herd_file).expect("herd file")
        + &format!("\n[[server]]\nname = \"Ghost\"\naddress = \"127.0.0.1:{dead}\"\n");
    let file = herd.dir.path().join("with-ghost.toml");
    std::fs::write(&file, toml).expect("herd file");
    let start = Instant::now();
    loop {
        let output = common::client()
            .args(["where", "partial", "--herd"])
            .arg(&file)
            .output()
            .expect("run");
        let text = stdout(&output);
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!(
                "herd-client: error: 127.0.0.1:{dead}: connection refused — is a herd server listening there?\n"
            )
        );
        if text.contains("5 of 6 servers know") {
            snapshot!("where_with_a_dead_server", text);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn colour_only_on_a_terminal_or_when_forced() {
    let herd = RefHerd::start();
    let run = |extra: &[&str], no_color: bool| {
        let mut command = herd.client();
        command.env_remove("NO_COLOR");
        if no_color {
            command.env("NO_COLOR", "1");
        }
        let output = command
            .args(["iamat", "painted", "+1+1", "--time", TIME])
            .args(extra)
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        output.stdout.contains(&0x1b)
    };
    assert!(!run(&[], false), "a pipe is not a terminal: no escapes");
    assert!(run(&["--color", "always"], false));
    assert!(!run(&["--color", "never"], false));
    assert!(!run(&[], true));
}
