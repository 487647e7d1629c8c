//! `LocalHerd`: a whole herd started in this process on free ports — for tests, for the
//! conformance suite's and the bench's no-argument runs, and for `herd-server --all`-like embedding.

use std::path::PathBuf;

use herd_wire::Herd;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::faults::Fault;
use crate::limits::Limits;
use crate::places::PlacesClient;
use crate::setup::{Launch, Running, launch};

/// A running in-process herd; stops when dropped.
#[derive(Debug)]
pub struct LocalHerd {
    /// The herd as started: same names and links, addresses on the ports actually bound.
    pub herd: Herd,
    pub servers: Vec<Running>,
    shutdown: CancellationToken,
}

impl LocalHerd {
    /// Starts every server of `herd` on `127.0.0.1` with free ports.
    pub async fn start(
        herd: &Herd,
        places: PlacesClient,
        log_dir: Option<PathBuf>,
    ) -> anyhow::Result<LocalHerd> {
        Self::start_faulty(herd, places, log_dir, &[]).await
    }

    /// Like [`LocalHerd::start`], with deliberate faults on every server (for testing graders).
    pub async fn start_faulty(
        herd: &Herd,
        places: PlacesClient,
        log_dir: Option<PathBuf>,
        faults: &[Fault],
    ) -> anyhow::Result<LocalHerd> {
        Self::start_limited(herd, places, log_dir, faults, &Limits::default()).await
    }

    /// Like [`LocalHerd::start_faulty`], with these bounds. The herd's peer links prove a secret:
    /// the herd's own, or a random one (nothing outside this process links to it).
    pub async fn start_limited(
        herd: &Herd,
        places: PlacesClient,
        log_dir: Option<PathBuf>,
        faults: &[Fault],
        limits: &Limits,
    ) -> anyhow::Result<LocalHerd> {
        let mut listeners = Vec::new();
        for _ in herd.servers() {
            listeners.push(TcpListener::bind("127.0.0.1:0").await?);
        }
        let ports = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<Vec<u16>, _>>()?;
        let herd = crate::setup::closed(herd.on_ports(&ports));
        let shared = Launch {
            herd: herd.clone(),
            log_dir,
            places,
            faults: faults.to_vec(),
            limits: limits.clone(),
        };
        let shutdown = CancellationToken::new();
        let mut servers = Vec::new();
        for (spec, listener) in herd.servers().iter().zip(listeners) {
            servers.push(launch(&shared, &spec.name, listener, &shutdown).await?);
        }
        Ok(LocalHerd {
            herd,
            servers,
            shutdown,
        })
    }

    /// The address of server `name`.
    pub fn address(&self, name: &str) -> Option<std::net::SocketAddr> {
        self.servers
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.address)
    }

    /// Stops every server (also done on drop).
    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

impl Drop for LocalHerd {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
