//! Spawns the Python target (real processes, real ports) to check that a server counts as
//! started only when it is the one listening on its port.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use herd_spawn::{HowDown, Spawner, StartError, free_ports};
use herd_wire::Preset;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// No Places request is made in these tests; the URL only has to be well formed.
const PLACES_URL: &str = "http://127.0.0.1:9";

/// The Python target's template, `exec`ed so that the spawned process is the server itself.
fn python_template() -> String {
    format!("exec {}", test_kit::python_target::spawn_template(&[]))
}

/// The first line the server at `addr` answers to an IAMAT.
fn iamat_reply(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"IAMAT spawn.test +34.068930-118.445127 1621464827.959498503\n")
        .unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

fn names(herd: &herd_wire::Herd) -> Vec<String> {
    herd.names().iter().map(|n| (*n).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_another_program_holds_is_given_up_and_the_herd_started_again() {
    let stranger = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = stranger.local_addr().unwrap().port();
    let herd = Preset::Winter21.herd();
    let mut attempts = 0;
    let spawner = Spawner::launch_with(&python_template(), &herd, PLACES_URL, &names(&herd), |n| {
        attempts += 1;
        let mut ports = free_ports(n)?;
        if attempts == 1 {
            ports[2] = taken;
        }
        Ok(ports)
    })
    .await
    .unwrap();
    assert_eq!(attempts, 2);
    let third = herd.names()[2];
    assert_eq!(
        spawner.restarts(),
        [format!(
            "another program took 127.0.0.1:{taken}, the port chosen for {third}; the herd was \
             started again on new ports"
        )]
    );
    for name in herd.names() {
        let addr = spawner.address(name).unwrap();
        assert_ne!(addr.port(), taken);
        let reply = iamat_reply(addr);
        assert!(reply.starts_with(&format!("AT {name} ")), "{name}: {reply}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_a_port_taken_meanwhile_fails_and_says_so() {
    let herd = Preset::Winter21.herd();
    let name = herd.names()[0].to_owned();
    let spawner = Spawner::launch(
        &python_template(),
        &herd,
        PLACES_URL,
        std::slice::from_ref(&name),
    )
    .await
    .unwrap();
    assert!(spawner.restarts().is_empty());
    let addr = spawner.address(&name).unwrap();
    assert!(iamat_reply(addr).starts_with(&format!("AT {name} ")));
    spawner.stop(&name).await.unwrap();
    assert!(!spawner.is_running(&name));
    let _stranger = TcpListener::bind(addr).unwrap();
    let error = spawner.start(&name).await.unwrap_err();
    assert!(matches!(error, StartError::PortTaken { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "another program (not one started by the command) listens on {addr}, the port server {name} was given"
        )),
        "{message}"
    );
    assert!(
        message.to_lowercase().contains("address already in use"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_dies_is_reported_and_one_stopped_on_purpose_is_not() {
    let herd = Preset::Winter21.herd();
    let all = names(&herd);
    let spawner = Spawner::launch(&python_template(), &herd, PLACES_URL, &all[..2])
        .await
        .unwrap();
    assert!(spawner.down_servers().await.is_empty());
    spawner.stop(&all[0]).await.unwrap();
    let pid = spawner.pid(&all[1]).unwrap();
    killpg(Pid::from_raw(i32::try_from(pid).unwrap()), Signal::SIGKILL).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    // Until it has exited: for a moment its listener may be gone while the process is not.
    while !matches!(
        spawner.down_servers().await.first().map(|d| &d.how),
        Some(HowDown::Exited(_))
    ) && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let exited = spawner.down_servers().await;
    assert_eq!(exited.len(), 1, "{exited:?}");
    assert_eq!(exited[0].name, all[1]);
    let said = exited[0].to_string();
    assert!(
        said.starts_with(&format!(
            "{} exited (signal: 9 (SIGKILL)); its last output:\n    ",
            all[1]
        )),
        "{said}"
    );
    assert!(said.contains("listening on"), "{said}");
}

/// A server that closes its listener but lingers is down for its clients, and a restart kills
/// what is left of it and starts it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_listening_is_down_and_restarts() {
    let herd = Preset::Winter21.herd();
    let name = herd.names()[0].to_owned();
    // Each start listens for a second, closes the listener, then lingers; once the test has
    // made the marker, a start keeps listening (so the check after the restart does not race a
    // busy machine). The test makes it, not the first start: a launch that starts the herd again
    // on new ports (a port taken meanwhile) must not use up the first start's behaviour.
    let marker = tempfile::tempdir().unwrap();
    let restarted = marker.path().join("restarted");
    let template = format!(
        "exec {} -c 'import os, socket, sys, time; keep = os.path.exists(sys.argv[2]); s = socket.create_server((\"127.0.0.1\", int(sys.argv[1]))); print(\"listening\", flush=True); time.sleep(60 if keep else 1); s.close(); time.sleep(60)' {{port}} {}",
        test_kit::python_target::python_command(),
        restarted.display()
    );
    let spawner = Spawner::launch(&template, &herd, PLACES_URL, std::slice::from_ref(&name))
        .await
        .unwrap();
    let addr = spawner.address(&name).unwrap();
    assert!(spawner.down_servers().await.is_empty());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while spawner.down_servers().await.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let down = spawner.down_servers().await;
    assert_eq!(down.len(), 1, "{down:?}");
    assert!(matches!(down[0].how, HowDown::StoppedListening(a) if a == addr));
    assert_eq!(
        down[0].to_string(),
        format!(
            "{name} stopped listening on {addr} (its process still runs); its last output:\n    listening"
        )
    );
    std::fs::write(&restarted, b"").unwrap();
    spawner.restart(&name).await.unwrap();
    assert!(spawner.down_servers().await.is_empty());
    let pgid = i32::try_from(spawner.pid(&name).unwrap()).unwrap();
    assert!(herd_spawn::group_listens(addr, pgid));
}
