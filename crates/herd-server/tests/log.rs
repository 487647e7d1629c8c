//! The log file of a real `herd-server` process, fed over real sockets: hostile bytes are
//! escaped so that every event is one line and different inputs never log alike, long fields are
//! cut with a count, and the file rotates by size (`--log-max-size`, `--log-keep`).

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;
use test_kit::server_process::{KillOnDrop, spawn_listening};

const BIN: &str = env!("CARGO_BIN_EXE_herd-server");

/// One server `A` alone in its herd, on a free port, logging into `logs` with `extra` flags.
fn start_alone(dir: &Path, logs: &Path, extra: &[&str]) -> (KillOnDrop, SocketAddr) {
    let (herd, addr) = test_kit::herd_file::one_server(dir, "A");
    let mut command = Command::new(BIN);
    command
        .args(["--herd", herd.to_str().unwrap(), "A", "--log-dir"])
        .arg(logs)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    (
        spawn_listening(&mut command, "A", addr, Duration::from_secs(10)),
        addr,
    )
}

/// The log's bytes once `needle` is in them (the writer batches every few milliseconds).
async fn log_with(path: &Path, needle: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    let found = eventually(Duration::from_secs(10), || {
        bytes = std::fs::read(path).unwrap_or_default();
        let found = bytes.windows(needle.len()).any(|w| w == needle);
        async move { found }
    })
    .await;
    assert!(
        found,
        "{} never showed {}:\n{}",
        path.display(),
        String::from_utf8_lossy(needle),
        String::from_utf8_lossy(&bytes)
    );
    bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_ids_log_as_one_escaped_line_each_and_never_alike() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let (_server, addr) = start_alone(dir.path(), &logs, &[]);
    let ids: [&[u8]; 7] = [
        "line\u{2028}sep\u{2029}".as_bytes(),
        "bidi\u{202e}over\u{2066}".as_bytes(),
        b"bad\xff",
        b"bad\xfe",
        b"bad\\xff",
        b"ctl\x1b[31m\x7f",
        "dots\u{2026}(+3)".as_bytes(),
    ];
    for id in ids {
        let line = [b"IAMAT ", id, b" +1+1 1\n"].concat();
        let reply = eof_exchange(addr, &line).await;
        assert!(reply.starts_with(b"AT A "), "{}", text(&reply));
    }
    let long = vec![b'x'; 70_000];
    eof_exchange(addr, &[b"IAMAT ", &long[..], b" +1+1 1\n"].concat()).await;
    eof_exchange(addr, b"IAMAT last +1+1 1\n").await;

    let log = log_with(&logs.join("A.log"), b"IAMAT last").await;
    let text = String::from_utf8(log).expect("the log is valid UTF-8 whatever came in");
    for line in text.lines() {
        assert!(
            !line.chars().any(|c| c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
            "raw control, separator or bidi character in {line:?}"
        );
        assert!(
            line.len() < 3 * 2048,
            "a line is bounded: {} bytes",
            line.len()
        );
    }
    for shown in [
        r"line\u{2028}sep\u{2029}",
        r"bidi\u{202e}over\u{2066}",
        r"bad\xff ",
        r"bad\xfe ",
        r"bad\\xff ",
        r"ctl\x1b[31m\x7f",
        r"dots\u{2026}(+3) ",
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains("in client") && l.contains(shown)),
            "{shown} is logged:\n{text}"
        );
    }
    // The 70,000-byte ID: its request line is cut with a count of what was left out.
    let cut = text
        .lines()
        .find(|l| l.contains("xxxxxxxx"))
        .expect("the long request is logged");
    assert!(cut.contains("…(+"), "{cut}");
    assert!(cut.len() < 3000, "cut to its bound: {} bytes", cut.len());
}

fn rotated(logs: &Path, n: usize) -> PathBuf {
    logs.join(format!("A.log.{n}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_rotates_by_size_and_keeps_the_newest_files() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let (_server, addr) = start_alone(
        dir.path(),
        &logs,
        &["--log-max-size", "4KiB", "--log-keep", "2"],
    );
    // About 150 bytes of log per request: 200 requests are seven files' worth.
    let mut client = LineClient::connect(addr).await;
    for n in 0..200 {
        client
            .send(format!("IAMAT rotate-{n:03} +1+1 {}\n", n + 1).as_bytes())
            .await;
        let reply = client.line().await;
        assert!(reply.starts_with(b"AT A "), "{}", text(&reply));
    }
    let newest = log_with(&logs.join("A.log"), b"rotate-199").await;
    let live = String::from_utf8(newest).unwrap();
    assert!(live.len() <= 4096, "the live file is within --log-max-size");
    for n in [1, 2] {
        let old = std::fs::read_to_string(rotated(&logs, n)).unwrap();
        assert!(
            !old.is_empty() && old.len() <= 4096,
            "A.log.{n} holds {} bytes",
            old.len()
        );
        assert!(old.ends_with('\n'), "files end on whole lines");
    }
    assert!(
        !rotated(&logs, 3).exists(),
        "--log-keep 2 keeps two rotated files"
    );
    // The newest rotated file continues where the live one starts: nothing in between lost.
    let one = std::fs::read_to_string(rotated(&logs, 1)).unwrap();
    let last_in_one = one
        .lines()
        .rev()
        .find_map(|l| l.split("IAMAT rotate-").nth(1))
        .and_then(|rest| rest.get(..3))
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap();
    let first_live = live
        .lines()
        .find_map(|l| l.split("IAMAT rotate-").nth(1))
        .and_then(|rest| rest.get(..3))
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap();
    assert!(
        first_live == last_in_one || first_live == last_in_one + 1,
        "A.log.1 ends at request {last_in_one}, A.log starts at {first_live}"
    );
}
