//! The `herd-server` binary as a grader runs it: separate processes, a neighbour killed and
//! restarted, signals, and the CLI's errors.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_herd-server");

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A three-server line, A – B – C, on free ports.
fn line_herd(dir: &Path) -> (std::path::PathBuf, Vec<SocketAddr>) {
    let ports = free_ports(3);
    let toml = format!(
        "[[server]]\nname = \"A\"\naddress = \"127.0.0.1:{}\"\nneighbours = [\"B\"]\n\
         [[server]]\nname = \"B\"\naddress = \"127.0.0.1:{}\"\nneighbours = [\"C\"]\n\
         [[server]]\nname = \"C\"\naddress = \"127.0.0.1:{}\"\n",
        ports[0], ports[1], ports[2]
    );
    let path = dir.join("line.toml");
    std::fs::write(&path, toml).unwrap();
    (
        path,
        ports
            .iter()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
            .collect(),
    )
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start(name: &str, herd: &Path, logs: &Path, places: &str, addr: SocketAddr) -> Server {
    let child = Command::new(BIN)
        .args([
            "--herd",
            herd.to_str().unwrap(),
            name,
            "--places-url",
            places,
            "--log-dir",
        ])
        .arg(logs)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    // Its own socket, not another program's that took the port chosen free a moment ago.
    let pgid = i32::try_from(child.id()).unwrap();
    let up = eventually(Duration::from_secs(10), || async {
        herd_spawn::group_listens(addr, pgid)
    })
    .await;
    assert!(up, "{name} listens on {addr}");
    Server(child)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_neighbour_is_relinked_after_restart_and_floods_again() {
    let dir = tempfile::tempdir().unwrap();
    let places = mocks::PlacesStandIn::start().await.unwrap();
    let (herd, addrs) = line_herd(dir.path());
    let logs = dir.path().join("logs");
    let _a = start("A", &herd, &logs, &places.uri(), addrs[0]).await;
    let b = start("B", &herd, &logs, &places.uri(), addrs[1]).await;
    let _c = start("C", &herd, &logs, &places.uri(), addrs[2]).await;

    let first = eof_exchange(addrs[0], b"IAMAT r +1+1 10").await;
    let reached = eventually(Duration::from_secs(5), || async {
        stored_at(addrs[2], "r").await.as_deref() == Some(first_line(&first))
    });
    assert!(reached.await, "A's update reaches C through B");

    drop(b);
    let during = eof_exchange(addrs[0], b"IAMAT r +2+2 20").await;
    assert!(
        during.starts_with(b"AT A "),
        "A keeps answering while its neighbour is down"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stored_at(addrs[2], "r").await.as_deref(),
        Some(first_line(&first)),
        "C cannot learn it while B is down"
    );

    let _b = start("B", &herd, &logs, &places.uri(), addrs[1]).await;
    // After B's return, an update at A must flow through B to C once the links are back.
    let (a, c) = (addrs[0], addrs[2]);
    let mut attempt = 30;
    let reached = eventually(Duration::from_secs(8), || {
        attempt += 1;
        let line = format!("IAMAT r +3+3 {attempt}");
        async move {
            let at = eof_exchange(a, line.as_bytes()).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            stored_at(c, "r").await.as_deref() == Some(first_line(&at))
        }
    })
    .await;
    assert!(reached, "updates flow through the restarted server");
    let log = std::fs::read_to_string(logs.join("A.log")).unwrap();
    assert!(
        log.contains("link to B") && log.contains("dropped"),
        "A logs the drop:\n{log}"
    );
    assert!(
        log.matches("link to B (").count() >= 2,
        "and the reconnect:\n{log}"
    );
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (herd, addrs) = line_herd(dir.path());
    let child = Command::new(BIN)
        .args([
            "--herd",
            herd.to_str().unwrap(),
            "--all",
            "--places-url",
            "http://127.0.0.1:9",
            "--log-dir",
        ])
        .arg(dir.path().join("logs"))
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = i32::try_from(child.id()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !herd_spawn::group_listens(addrs[2], pgid) {
        assert!(std::time::Instant::now() < deadline, "server came up");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "exit 0 on SIGTERM");
    assert!(String::from_utf8_lossy(&output.stderr).contains("stopping"));
}

fn run(args: &[&str]) -> (i32, String) {
    let output = Command::new(BIN).args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn cli_errors_say_what_was_wrong() {
    let (code, err) = run(&["--herd", "winter99", "--all"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown herd `winter99`") && err.contains("spring20"),
        "{err}"
    );

    let (code, err) = run(&["Nobody"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("`Nobody` is not a server of herd winter21") && err.contains("Riley"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[server]]\nname = \"A\"\naddress = \"127.0.0.1:1\"\nneighbours = [\"Z\"]\n",
    )
    .unwrap();
    let (code, err) = run(&["--herd", bad.to_str().unwrap(), "--all"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.toml:4: neighbour `Z` of A is not a server of this herd"),
        "{err}"
    );

    let (code, err) = run(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("--all"), "usage names the choices: {err}");
}

#[test]
fn a_port_in_use_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = run(&[
        "Riley",
        "--port",
        &port,
        "--places-url",
        "http://127.0.0.1:9",
        "--log-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("Riley cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
}
