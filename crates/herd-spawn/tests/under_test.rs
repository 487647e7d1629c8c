//! The herd under test, started from each kind of source on free ports: what is listed under
//! test, what counts as the whole herd, and that dropping the handle stops what was started.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use herd_spawn::{HerdSource, Spawn};
use herd_wire::Preset;

/// No Places request is made in these tests; the URL only has to be well formed.
const PLACES_URL: &str = "http://127.0.0.1:9";

/// Whether every one of `servers` refuses connections, waiting a little for them to close.
async fn all_stop(servers: &[(String, String)]) -> bool {
    let gone = HerdSource::Targets(servers.iter().map(|(_, a)| a.clone()).collect())
        .start(None)
        .await
        .unwrap();
    for _ in 0..50 {
        if gone.unreachable().await.len() == servers.len() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_herd_runs_in_process_until_dropped() {
    let topology = Preset::Winter21.herd();
    let source = HerdSource::Reference(topology.clone());
    assert!(source.in_process() && source.needs_places());
    let herd = source.start(Some(PLACES_URL)).await.unwrap();
    let names: Vec<&str> = herd.servers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, topology.names());
    let whole = herd.whole_herd().unwrap();
    for (name, address) in &herd.servers {
        assert_eq!(&whole.server(name).unwrap().address, address);
    }
    assert!(herd.unreachable().await.is_empty());
    assert!(herd.spawner().is_none());
    let servers = herd.servers.clone();
    drop(herd);
    assert!(all_stop(&servers).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_spawned_server_is_not_the_whole_herd() {
    let topology = Preset::Winter21.herd();
    let name = topology.names()[1].to_owned();
    let template = "exec python3 -c 'import socket, sys, time; s = socket.socket(); \
                    s.bind((\"127.0.0.1\", int(sys.argv[1]))); s.listen(); time.sleep(60)' \
                    {port} {name}";
    let source = HerdSource::Spawn(Spawn {
        template: template.to_owned(),
        herd: topology.clone(),
        names: vec![name.clone()],
    });
    let herd = source.start(Some(PLACES_URL)).await.unwrap();
    assert_eq!(herd.servers.len(), 1);
    assert_eq!(herd.servers[0].0, name);
    assert!(herd.whole_herd().is_none());
    assert!(!herd.in_process);
    assert!(herd.unreachable().await.is_empty());
    assert!(herd.down_servers().await.is_empty());
    let servers = herd.servers.clone();
    drop(herd);
    assert!(all_stop(&servers).await);
}

#[tokio::test]
async fn targets_are_named_by_their_address_and_started_by_nobody() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let source = HerdSource::Targets(vec![address.clone()]);
    assert_eq!(source.label(), format!("targets {address}"));
    let herd = source.start(None).await.unwrap();
    assert_eq!(herd.servers, vec![(address.clone(), address)]);
    assert!(herd.whole_herd().is_none() && herd.spawner().is_none());
    assert!(herd.unreachable().await.is_empty());
    drop(listener);
    assert_eq!(herd.unreachable().await.len(), 1);
}
