//! Against the Python target (a real process): eof framing for a server that reads to end of
//! input before answering, and one command per connection.

mod common;

use common::{PythonServer, RefHerd, TIME, client};
use test_kit::output::stderr;

#[test]
fn eof_framing_talks_to_a_server_that_answers_only_after_eof() {
    // The reference herd is only here for its Places stand-in.
    let places = RefHerd::start();
    let python = PythonServer::start(&places.places_url(), &["eof-only"]);
    let address = python.address.as_str();

    let line = client()
        .args(["iamat", "pykiwi", "+34.068930-118.445127", "--time", TIME])
        .args(["--addr", address, "--timeout", "500ms"])
        .output()
        .expect("run");
    assert_eq!(line.status.code(), Some(2));
    assert_eq!(
        stderr(&line),
        format!(
            "herd-client: error: {address}: timed out after 500ms waiting for the reply; nothing arrived (a server that answers only after the client half-closes needs --framing eof)\n"
        )
    );

    let iamat = client()
        .args([
            "iamat",
            "pykiwi",
            "+34.068930-118.445127",
            "--time",
            TIME,
            "--raw",
        ])
        .args(["--addr", address, "--framing", "eof"])
        .output()
        .expect("run");
    assert_eq!(iamat.status.code(), Some(0), "{iamat:?}");
    let at = String::from_utf8_lossy(&iamat.stdout).into_owned();
    assert!(at.starts_with("AT Clark "), "{at}");

    let whatsat = client()
        .args(["whatsat", "pykiwi", "10", "3", "--json"])
        .args(["--addr", address, "--framing", "eof"])
        .output()
        .expect("run");
    assert_eq!(whatsat.status.code(), Some(0), "{whatsat:?}");
    let parsed: serde_json::Value = serde_json::from_slice(&whatsat.stdout).expect("JSON");
    assert_eq!(parsed["at"]["line"].as_str(), Some(at.trim_end()));
    assert_eq!(
        parsed["places"]["results"].as_array().map(Vec::len),
        Some(3)
    );

    let bad = client()
        .args([
            "whatsat",
            "nobody",
            "10",
            "3",
            "--addr",
            address,
            "--framing",
            "eof",
        ])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    assert!(
        stderr(&bad).starts_with("? WHATSAT nobody 10 3\n"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn one_command_per_connection_is_enough_for_every_command() {
    let places = RefHerd::start();
    let python = PythonServer::start(&places.places_url(), &["one-per-conn"]);
    let address = python.address.as_str();
    for framing in ["line", "eof"] {
        let iamat = client()
            .args(["iamat", "single", "+1+1", "--time", TIME, "--addr", address])
            .args(["--framing", framing])
            .output()
            .expect("run");
        assert_eq!(iamat.status.code(), Some(0), "{framing}: {iamat:?}");
        let whatsat = client()
            .args(["whatsat", "single", "5", "2", "--addr", address])
            .args(["--framing", framing])
            .output()
            .expect("run");
        assert_eq!(whatsat.status.code(), Some(0), "{framing}: {whatsat:?}");
    }
    // Two commands on one connection: the second reply never comes, and the client says so.
    let raw = client()
        .args([
            "raw",
            &format!("IAMAT single +1+1 {TIME}\nIAMAT single +1+1 {TIME}"),
        ])
        .args(["--addr", address])
        .output()
        .expect("run");
    assert_eq!(raw.status.code(), Some(2), "{raw:?}");
    assert_eq!(
        stderr(&raw),
        format!(
            "herd-client: error: {address}: 2 replies expected, 1 received before the server closed\n"
        )
    );
}
