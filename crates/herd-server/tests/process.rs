//! The `herd-server` binary as a grader runs it: separate processes, a neighbour killed and
//! restarted, signals, and the CLI's errors.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;
use test_kit::ports::free_ports;
use test_kit::server_process::{KillOnDrop, spawn_listening};
use test_kit::waiting::group_listens_within;

const BIN: &str = env!("CARGO_BIN_EXE_herd-server");

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

/// Starts server `name` of `herd` and waits until it listens on `addr`.
fn start(name: &str, herd: &Path, logs: &Path, places: &str, addr: SocketAddr) -> KillOnDrop {
    let mut command = Command::new(BIN);
    command
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
        .stderr(Stdio::null());
    spawn_listening(&mut command, name, addr, Duration::from_secs(10))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_neighbour_is_relinked_after_restart_and_floods_again() {
    let dir = tempfile::tempdir().unwrap();
    let places = mocks::PlacesStandIn::start().await.unwrap();
    let (herd, addrs) = line_herd(dir.path());
    let logs = dir.path().join("logs");
    let _a = start("A", &herd, &logs, &places.uri(), addrs[0]);
    let b = start("B", &herd, &logs, &places.uri(), addrs[1]);
    let _c = start("C", &herd, &logs, &places.uri(), addrs[2]);

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

    let _b = start("B", &herd, &logs, &places.uri(), addrs[1]);
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
    assert!(
        group_listens_within(addrs[2], pgid, Duration::from_secs(10)),
        "server came up"
    );
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

/// The exit code and standard error of `herd-server` run with `args`.
fn run(args: &[&str]) -> (i32, String) {
    let finished = test_kit::binary::run(Path::new(BIN), args);
    (finished.code, finished.stderr)
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

    let (code, err) = run(&["--threads", "0", "Riley"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("invalid value '0' for '--threads <N>': 0 is not in 1..=1024"),
        "{err}"
    );
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

/// Starts `herd-server NAME` of `herd` with extra arguments through `sh -c` (for `ulimit`),
/// stderr captured to `stderr_file`.
fn start_with_shell(
    prefix: &str,
    name: &str,
    herd: &Path,
    extra: &str,
    logs: &Path,
    stderr_file: &Path,
    addr: SocketAddr,
) -> KillOnDrop {
    let script = format!(
        "{prefix} exec '{BIN}' --herd '{}' {name} --places-url http://127.0.0.1:9 --log-dir '{}' {extra} 2>'{}'",
        herd.display(),
        logs.display(),
        stderr_file.display()
    );
    let mut command = Command::new("sh");
    command.args(["-c", &script]).stdout(Stdio::null());
    spawn_listening(&mut command, name, addr, Duration::from_secs(10))
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_secret_peer_links_come_only_from_the_neighbours_address_and_one_at_a_time() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let (herd, addrs) = line_herd(dir.path());
    let stderr = dir.path().join("b.err");
    let _b = start_with_shell(
        "",
        "B",
        &herd,
        "",
        &dir.path().join("logs"),
        &stderr,
        addrs[1],
    );
    let warning = std::fs::read_to_string(&stderr).unwrap();
    assert!(
        warning.contains("peer links are unauthenticated"),
        "{warning}"
    );

    // From 127.0.0.2 (another host, as far as the address check can tell): refused and closed.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut stranger = socket.connect(addrs[1]).await.unwrap();
    stranger
        .write_all(b"PEER A\nAT A +0.1 conf-stranger +1.0+1.0 1700000000.0\n")
        .await
        .unwrap();
    let reply = read_until_closed(&mut stranger).await;
    assert_eq!(text(&reply), "? PEER A\n");
    assert_eq!(stored_at(addrs[1], "conf-stranger").await, None);

    // From A's address: accepted; a second link under the same name replaces the first.
    let mut first = tokio::net::TcpStream::connect(addrs[1]).await.unwrap();
    first.write_all(b"PEER A\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut second = tokio::net::TcpStream::connect(addrs[1]).await.unwrap();
    second.write_all(b"PEER A\n").await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(IO_DEADLINE, first.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the older link of A is closed");
    second
        .write_all(b"AT A +0.1 conf-second-link +1.000000+1.000000 1700000000.0\n")
        .await
        .unwrap();
    let stored = eventually(IO_DEADLINE, || async {
        stored_at(addrs[1], "conf-second-link").await.is_some()
    })
    .await;
    assert!(stored, "the newer link carries updates");
}

#[tokio::test(flavor = "multi_thread")]
async fn on_sigterm_a_whatsat_waiting_on_places_gets_its_answer() {
    use tokio::io::AsyncWriteExt;
    let places = mocks::PlacesStandIn::start_with(mocks::StandInConfig {
        latency: Duration::from_millis(800),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (herd, addrs) = line_herd(dir.path());
    let server = start(
        "A",
        &herd,
        &dir.path().join("logs"),
        &places.uri(),
        addrs[0],
    );
    let reply = eof_exchange(
        addrs[0],
        b"IAMAT conf-grace +34.068930-118.445127 1700000000.0\n",
    )
    .await;
    assert!(reply.starts_with(b"AT A "));
    let mut asking = tokio::net::TcpStream::connect(addrs[0]).await.unwrap();
    asking
        .write_all(b"WHATSAT conf-grace 10 2\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let answer = read_until_closed(&mut asking).await;
    assert!(answer.starts_with(b"AT A "), "{}", text(&answer));
    assert!(
        answer.ends_with(b"\n\n"),
        "the whole WHATSAT reply: {}",
        text(&answer)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn at_descriptor_exhaustion_new_clients_are_closed_and_the_log_stays_quiet() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let (herd, addrs) = line_herd(dir.path());
    let logs = dir.path().join("logs");
    let _a = start_with_shell(
        "ulimit -n 48;",
        "A",
        &herd,
        "",
        &logs,
        &dir.path().join("a.err"),
        addrs[0],
    );
    // Hold connections until the server can take no more (bounded: 200).
    let mut held = Vec::new();
    for _ in 0..200 {
        let Ok(Ok(stream)) = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect(addrs[0]),
        )
        .await
        else {
            break;
        };
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A new client is told at once (closed), not left hanging in the backlog.
    let mut late = tokio::net::TcpStream::connect(addrs[0]).await.unwrap();
    let _ = late.write_all(b"IAMAT conf-late +1+1 1700000000.0\n").await;
    let mut reply = Vec::new();
    let told = tokio::time::timeout(Duration::from_secs(5), late.read_to_end(&mut reply)).await;
    assert!(
        told.is_ok(),
        "a client beyond the descriptors is closed within 5 s"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let log = std::fs::read_to_string(logs.join("A.log")).unwrap_or_default();
    let failures = log.matches("accept failed").count();
    assert!(
        (1..=6).contains(&failures),
        "{failures} accept-failed lines in ~3 s:\n{log}"
    );
    // Freed descriptors serve again.
    drop(held);
    let served = eventually(IO_DEADLINE, || async {
        let reply =
            eof_exchange(addrs[0], b"IAMAT conf-after-exhaustion +1+1 1700000000.0\n").await;
        reply.starts_with(b"AT A ")
    })
    .await;
    assert!(served);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_each_server_under_load_fails_no_request_at_the_others_and_it_relinks_fast() {
    let dir = tempfile::tempdir().unwrap();
    let places = mocks::PlacesStandIn::start().await.unwrap();
    let (herd, addrs) = line_herd(dir.path());
    let logs = dir.path().join("logs");
    let names = ["A", "B", "C"];
    let mut servers = Vec::new();
    for (name, addr) in names.iter().zip(&addrs) {
        servers.push(Some(start(name, &herd, &logs, &places.uri(), *addr)));
    }
    for victim in 0..3 {
        let others: Vec<SocketAddr> = (0..3).filter(|i| *i != victim).map(|i| addrs[i]).collect();
        // Load at the others: 4 clients each, one IAMAT after another, for 1.5 s.
        let load = others
            .iter()
            .flat_map(|addr| (0..4).map(move |k| (*addr, k)))
            .map(|(addr, k)| async move {
                let mut failed = 0u32;
                let mut done = 0u32;
                let until = std::time::Instant::now() + Duration::from_millis(1500);
                while std::time::Instant::now() < until {
                    let command = format!(
                        "IAMAT conf-load-{victim}-{k} +1.0+1.0 {}.0\n",
                        1_700_000_000 + done
                    );
                    let reply =
                        try_eof_exchange(addr, command.as_bytes(), Duration::from_secs(2)).await;
                    match reply {
                        Ok(out) if out.starts_with(b"AT ") => {}
                        _ => failed += 1,
                    }
                    done += 1;
                }
                (done, failed)
            });
        let killer = async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            servers[victim] = None; // SIGKILL, then wait
        };
        let (results, ()) = tokio::join!(futures::future::join_all(load), killer);
        let done: u32 = results.iter().map(|r| r.0).sum();
        let failed: u32 = results.iter().map(|r| r.1).sum();
        assert_eq!(
            failed, 0,
            "{failed} of {done} requests failed at the others while {} died",
            names[victim]
        );
        assert!(done > 0);

        servers[victim] = Some(start(
            names[victim],
            &herd,
            &logs,
            &places.uri(),
            addrs[victim],
        ));
        let restarted = std::time::Instant::now();
        // Relinked: an update made at a neighbour reaches the restarted server.
        let neighbour = if victim == 1 { 0 } else { 1 };
        let (from, to) = (addrs[neighbour], addrs[victim]);
        let mut attempt = 0;
        let relinked = eventually(Duration::from_secs(5), || {
            attempt += 1;
            let line = format!("IAMAT conf-relink-{victim}-{attempt} +1.0+1.0 1700000000.0\n");
            let client = format!("conf-relink-{victim}-{attempt}");
            async move {
                let _ = eof_exchange(from, line.as_bytes()).await;
                eventually(Duration::from_millis(50), || async {
                    stored_at(to, &client).await.is_some()
                })
                .await
            }
        })
        .await;
        let took = restarted.elapsed();
        println!(
            "{} relinked {took:?} after its restart; {done} requests at the others, 0 failed",
            names[victim]
        );
        assert!(
            relinked && took <= Duration::from_secs(1),
            "{} relinked after {took:?}",
            names[victim]
        );
    }
}
