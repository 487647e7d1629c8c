//! The `places-mock` binary: prints its URL, serves, stops on a signal, rejects bad flags.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use test_kit::output::{stderr, stdout};
use test_kit::server_process::KillOnDrop;

const BINARY: &str = env!("CARGO_BIN_EXE_places-mock");

#[tokio::test]
async fn serves_on_the_printed_url_and_stops_cleanly() {
    let child = Command::new(BINARY)
        .args(["--port", "0", "--latency", "10ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn places-mock");
    let mut running = KillOnDrop(child);
    let stdout = running.0.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("join")
    .expect("read URL line");
    let url = line.trim_end();
    assert!(url.starts_with("http://127.0.0.1:"), "{line:?}");
    assert!(!url.ends_with('/'));

    let body = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
        .get(format!(
            "{url}/maps/api/place/nearbysearch/json?location=34.068930,-118.445127&radius=1000&key=k"
        ))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert_eq!(
        body,
        herd_wire::google_json::to_google_string(&mocks::legacy_nearby(
            34.068930,
            -118.445127,
            1000.0
        ))
    );

    #[cfg(unix)]
    {
        // SIGTERM: the server stops and exits 0.
        let pid = running.0.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = running.0.wait().expect("wait");
        assert_eq!(exit.code(), Some(0));
    }
}

#[test]
fn bad_latency_exits_2_with_a_one_line_message() {
    let output = Command::new(BINARY)
        .args(["--latency", "soon"])
        .output()
        .expect("run places-mock");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = stderr(&output);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--latency"), "{stderr}");
    assert!(stderr.contains("soon"), "{stderr}");
}

#[test]
fn bad_failure_mode_exits_2() {
    let output = Command::new(BINARY)
        .args(["--fail", "sometimes"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--fail"));
}

#[test]
fn a_busy_port_exits_2_naming_the_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let output = Command::new(BINARY)
        .args(["--port", &port])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr(&output);
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn help_describes_every_option() {
    let output = Command::new(BINARY).arg("--help").output().expect("run");
    assert_eq!(output.status.code(), Some(0));
    let help = stdout(&output);
    for word in [
        "--port",
        "--latency",
        "--fail",
        "http500",
        "not-json",
        "hang",
    ] {
        assert!(help.contains(word), "{word} missing from --help");
    }
}
