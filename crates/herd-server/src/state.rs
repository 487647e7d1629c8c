//! What one server is: its name, neighbours, locations, links, Places client, log, faults and
//! bounds. Every command reads it; the connection driver (`server.rs`) only hands it on.

use std::sync::Arc;

use herd_wire::Herd;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::db::Db;
use crate::faults::Faults;
use crate::flood::{Flooder, LinkConfig};
use crate::limits::Limits;
use crate::log::ServerLog;
use crate::peer_auth::PeerGate;
use crate::places::PlacesClient;

/// Everything a connection handler needs; shared by all connections of one server.
#[derive(Debug)]
pub struct ServerState {
    /// This server's name (it goes into the AT lines it makes).
    pub name: String,
    /// Its neighbours' names: the only servers whose `PEER` handshake it accepts.
    pub neighbours: Vec<String>,
    pub db: Db,
    pub flooder: Flooder,
    pub places: PlacesClient,
    pub log: ServerLog,
    pub faults: Faults,
    pub limits: Limits,
    /// Who may open a peer link, and the live links.
    pub peers: PeerGate,
    /// The connection handlers, so a stop can wait for the WHATSATs in flight.
    pub connections: TaskTracker,
}

impl ServerState {
    /// The state of server `name` of `herd`; starts its links to the neighbours.
    pub fn start(
        name: &str,
        herd: &Herd,
        places: PlacesClient,
        log: ServerLog,
        faults: Faults,
        limits: &Limits,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Arc<ServerState>> {
        let spec = herd
            .server(name)
            .ok_or_else(|| anyhow::anyhow!("`{name}` is not a server of herd {}", herd.origin))?;
        let neighbours: Vec<(String, String)> = spec
            .neighbours
            .iter()
            .filter_map(|n| {
                herd.link_address(name, n)
                    .map(|a| (n.clone(), a.to_owned()))
            })
            .collect();
        let links = LinkConfig {
            secret: herd.secret().cloned(),
            queue_bytes: limits.link_queue_bytes,
            keepalive: limits.peer_keepalive,
            relink: faults.relinks(),
        };
        let flooder = Flooder::start(name, &neighbours, &log, &links, shutdown);
        let peers = PeerGate::new(name, herd);
        if !peers.authenticated() {
            log.line(
                "peer links are unauthenticated (the herd has no secret): PEER is accepted only \
                 from each neighbour's configured address"
                    .to_owned(),
            );
        }
        Ok(Arc::new(ServerState {
            name: name.to_owned(),
            neighbours: spec.neighbours.clone(),
            db: Db::new(limits.max_clients),
            flooder,
            places: places.with_concurrency(limits.places_concurrency),
            log,
            faults,
            limits: limits.clone(),
            peers,
            connections: TaskTracker::new(),
        }))
    }
}
