//! Shared test support: a real herd on free ports with a real Places stand-in, and a raw TCP client
//! that speaks the herd protocol. What other crates' tests need too (the eof exchange, bounded
//! waits, text of bytes) comes from `test_kit` and is re-exported here.

// Each test binary includes this module and uses a part of it, re-exports too.
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use herd_server::LocalHerd;
use herd_server::faults::Fault;
use herd_server::places::{PlacesApi, PlacesClient};
use herd_wire::{Herd, Preset};
use mocks::PlacesStandIn;
pub use test_kit::exchange::{IO_DEADLINE, eof_exchange, read_until_closed, try_eof_exchange};
pub use test_kit::output::text;
pub use test_kit::waiting::eventually;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A herd of reference servers, in-process, talking to a recording Places stand-in.
pub struct TestHerd {
    pub herd: LocalHerd,
    pub places: PlacesStandIn,
}

impl TestHerd {
    pub async fn start(herd: &Herd) -> TestHerd {
        Self::start_with(herd, PlacesApi::Legacy, Duration::from_secs(5)).await
    }

    pub async fn start_with(herd: &Herd, api: PlacesApi, timeout: Duration) -> TestHerd {
        Self::start_faulty(herd, api, timeout, &[]).await
    }

    pub async fn start_faulty(
        herd: &Herd,
        api: PlacesApi,
        timeout: Duration,
        faults: &[Fault],
    ) -> TestHerd {
        let places = PlacesStandIn::start().await.expect("stand-in starts");
        let client = PlacesClient::new(&places.uri(), "test-key".into(), api, timeout).unwrap();
        let herd = LocalHerd::start_faulty(herd, client, None, faults)
            .await
            .expect("herd starts");
        TestHerd { herd, places }
    }

    /// A herd whose servers keep `limits`.
    pub async fn start_limited(herd: &Herd, limits: &herd_server::Limits) -> TestHerd {
        let places = PlacesStandIn::start().await.expect("stand-in starts");
        let client = PlacesClient::new(
            &places.uri(),
            "test-key".into(),
            PlacesApi::Legacy,
            Duration::from_secs(5),
        )
        .unwrap();
        let herd = LocalHerd::start_limited(herd, client, None, &[], limits)
            .await
            .expect("herd starts");
        TestHerd { herd, places }
    }

    /// The state of server `name` (to look at what it holds).
    pub fn state(&self, name: &str) -> std::sync::Arc<herd_server::state::ServerState> {
        let running = self.herd.servers.iter().find(|s| s.name == name);
        std::sync::Arc::clone(&running.expect("server of the herd").state)
    }

    pub async fn winter21() -> TestHerd {
        Self::start(&Preset::Winter21.herd()).await
    }

    pub fn addr(&self, name: &str) -> SocketAddr {
        self.herd.address(name).expect("server of the herd")
    }
}

/// What servers of `herd` started one by one with `herd_server::launch` share (the test plays or
/// replaces the others): `places` as their Places, no logs, no faults, these limits.
pub fn hand_launch(
    herd: Herd,
    places: &PlacesStandIn,
    limits: &herd_server::Limits,
) -> herd_server::Launch {
    herd_server::Launch {
        herd,
        log_dir: None,
        places: PlacesClient::new(
            &places.uri(),
            "k".into(),
            PlacesApi::Legacy,
            Duration::from_secs(5),
        )
        .unwrap(),
        faults: Vec::new(),
        limits: limits.clone(),
    }
}

/// The *line* client style on one kept-open connection.
pub struct LineClient {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl LineClient {
    pub async fn connect(addr: SocketAddr) -> LineClient {
        LineClient {
            stream: TcpStream::connect(addr).await.unwrap(),
            pending: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads until `end` has been seen; returns everything up to and including it.
    pub async fn read_until(&mut self, end: &[u8]) -> Vec<u8> {
        tokio::time::timeout(IO_DEADLINE, async {
            loop {
                if let Some(at) = self.pending.windows(end.len()).position(|w| w == end) {
                    let rest = self.pending.split_off(at + end.len());
                    return std::mem::replace(&mut self.pending, rest);
                }
                let mut chunk = [0u8; 8192];
                let n = self.stream.read(&mut chunk).await.unwrap();
                assert!(
                    n > 0,
                    "server closed early; got {:?}",
                    String::from_utf8_lossy(&self.pending)
                );
                self.pending.extend_from_slice(&chunk[..n]);
            }
        })
        .await
        .expect("reply in time")
    }

    pub async fn line(&mut self) -> Vec<u8> {
        self.read_until(b"\n").await
    }

    /// A whole WHATSAT reply: through the blank line that ends it.
    pub async fn whatsat_reply(&mut self) -> Vec<u8> {
        self.read_until(b"\n\n").await
    }
}

/// The first line of a reply, without its newline.
pub fn first_line(reply: &[u8]) -> &[u8] {
    reply.split(|b| *b == b'\n').next().unwrap_or_default()
}

/// Nanoseconds since the epoch, now.
pub fn now_nanos() -> i128 {
    herd_wire::ClientTime::now().as_nanos()
}

/// The AT line the herd stores for `client`, asked at `addr` (None when it answers `?`).
pub async fn stored_at(addr: SocketAddr, client: &str) -> Option<Vec<u8>> {
    let reply = eof_exchange(addr, format!("WHATSAT {client} 1 0\n").as_bytes()).await;
    (!reply.starts_with(b"?")).then(|| first_line(&reply).to_vec())
}
