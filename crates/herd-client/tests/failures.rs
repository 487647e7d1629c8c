//! Exit statuses 1 and 2: `?` replies, usage errors, and servers that refuse, never answer, close
//! early or answer nonsense — each named with the address and the cause.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{RefHerd, TIME, client};
use test_kit::output::stderr;

/// A server that accepts and then does `behaviour` with each connection, on its own thread.
fn fake_server(behaviour: fn(std::net::TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || behaviour(stream));
        }
    });
    address
}

#[test]
fn a_question_mark_exits_1_with_an_explanation() {
    let herd = RefHerd::start();
    let output = herd
        .client()
        .args(["whatsat", "stranger", "10", "5"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert_eq!(
        stderr(&output),
        "? WHATSAT stranger 10 5\nherd-client: the server answered `?`: no server of the herd has heard of client `stranger` (or it found the command invalid)\n"
    );
    let json = herd
        .client()
        .args(["whatsat", "stranger", "10", "5", "--json"])
        .output()
        .expect("run");
    assert_eq!(json.status.code(), Some(1));
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(parsed["reply"], "invalid");
    assert_eq!(parsed["invalid"], "? WHATSAT stranger 10 5");
}

#[test]
fn operands_are_checked_before_sending() {
    // No server is needed: nothing is sent.
    let cases: [(&[&str], &str); 7] = [
        (
            &["whatsat", "kiwi", "51", "5"],
            "invalid radius `51`: the radius must be at most 50 km",
        ),
        (
            &["whatsat", "kiwi", "10", "21"],
            "invalid bound `21`: the bound must be at most 20 places",
        ),
        (
            &["whatsat", "kiwi", "-1", "5"],
            "invalid radius `-1`: the radius is kilometres as digits with an optional fraction, like 10 or 2.5",
        ),
        (
            &["iamat", "kiwi", "34.0-118.4"],
            "invalid position `34.0-118.4`: a position is two signed decimal numbers with no separator, like +34.068930-118.445127",
        ),
        (
            &["iamat", "kiwi", "+91-118"],
            "invalid position `+91-118`: latitude must be within -90 and +90 degrees",
        ),
        (
            &["iamat", "kiwi", "+34-118", "--time", "-5"],
            "invalid --time `-5`: a client time is seconds since the epoch, digits with an optional fraction of 1 to 9 digits",
        ),
        (
            &["iamat", "two words", "+34-118"],
            "the client ID `two words` contains white space; it must be one word",
        ),
    ];
    for (args, message) in cases {
        let output = client()
            .args(args)
            .args(["--addr", "127.0.0.1:1"])
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr(&output),
            format!("herd-client: error: {message}\n"),
            "{args:?}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let output = client().args(["whatsat", "kiwi"]).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("required arguments were not provided"));
    let output = client()
        .args(["iamat", "kiwi", "+1+1", "--server", "Nobody"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "herd-client: error: no server `Nobody` in herd winter21; its servers are Riley, Jaquez, Juzang, Campbell, Bernard\n"
    );
    let output = client()
        .args(["iamat", "kiwi", "+1+1", "--herd", "winter99"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("unknown herd `winter99`"),
        "{}",
        stderr(&output)
    );
    let help = client().arg("--help").output().expect("run");
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
}

#[test]
fn a_refused_connection_names_the_address() {
    let port = test_kit::ports::free_port();
    let output = client()
        .args([
            "iamat",
            "kiwi",
            "+1+1",
            "--addr",
            &format!("127.0.0.1:{port}"),
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!(
            "herd-client: error: 127.0.0.1:{port}: connection refused — is a herd server listening there?\n"
        )
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    let address = fake_server(|stream| {
        std::thread::sleep(Duration::from_secs(30));
        drop(stream);
    });
    for (framing, hint) in [
        (
            "line",
            "; nothing arrived (a server that answers only after the client half-closes needs --framing eof)",
        ),
        ("eof", "; nothing arrived"),
    ] {
        let start = Instant::now();
        let output = client()
            .args([
                "iamat",
                "kiwi",
                "+1+1",
                "--timeout",
                "300ms",
                "--addr",
                &address,
            ])
            .args(["--framing", framing])
            .output()
            .expect("run");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(output.status.code(), Some(2));
        assert_eq!(
            stderr(&output),
            format!(
                "herd-client: error: {address}: timed out after 300ms waiting for the reply{hint}\n"
            )
        );
    }
}

#[test]
fn an_unfinished_whatsat_reply_times_out_saying_what_arrived() {
    // Like the single-newline fault: the JSON is not followed by an empty line.
    let address = fake_server(|mut stream| {
        let mut buf = [0u8; 256];
        let _ = stream.read(&mut buf);
        let _ = stream.write_all(b"AT A +0.1 kiwi +1+1 1\n{}\n");
        std::thread::sleep(Duration::from_secs(30));
    });
    let output = client()
        .args([
            "whatsat",
            "kiwi",
            "1",
            "1",
            "--timeout",
            "300ms",
            "--addr",
            &address,
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!(
            "herd-client: error: {address}: timed out after 300ms waiting for the reply; the reply is incomplete after 25 bytes (a WHATSAT reply ends with an empty line): `AT A +0.1 kiwi +1+1 1\n{{}}`\n"
        )
    );
}

#[test]
fn a_server_that_closes_early_is_named() {
    let address = fake_server(|mut stream| {
        let mut buf = [0u8; 256];
        let _ = stream.read(&mut buf);
    });
    let output = client()
        .args(["iamat", "kiwi", "+1+1", "--addr", &address])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!("herd-client: error: {address}: closed the connection without replying\n")
    );
}

#[test]
fn a_reply_that_is_not_understood_is_quoted() {
    let address = fake_server(|mut stream| {
        let mut buf = [0u8; 256];
        let _ = stream.read(&mut buf);
        let _ = stream.write_all(b"HELLO there\n");
    });
    let output = client()
        .args(["iamat", "kiwi", "+1+1", "--time", TIME, "--addr", &address])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!(
            "herd-client: error: {address}: reply not understood: the first line is not an AT line (an AT line has 6 fields: AT SERVER DIFF CLIENT POSITION TIME): `HELLO there`\n"
        )
    );
    // --raw still shows the bytes as received.
    let output = client()
        .args(["iamat", "kiwi", "+1+1", "--raw", "--addr", &address])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(output.stdout, b"HELLO there\n");
}
