//! One herd server: its state, its accept loop and the handling of one connection.
//!
//! The accept loop keeps the connection bound (`--max-connections`: one more is closed at once)
//! and survives descriptor exhaustion: a reserve descriptor is given up to accept and close the
//! waiting connection (so its client sees a close, not a hang), and both conditions are logged
//! at most once a second with a count, so no flood of log lines and no busy loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use herd_wire::command::{Command, CommandError, error_reply, parse_command};
use herd_wire::{ClientTime, Herd};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cmd;
use crate::connection::{Connection, Frame, Patience};
use crate::db::{Db, Stored};
use crate::faults::{Fault, Faults, LONG_LINE_LIMIT};
use crate::flood::{Flooder, LinkConfig};
use crate::limits::Limits;
use crate::log::{ServerLog, printable};
use crate::peer_auth::{Admission, LiveLink, PeerGate};
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
            relink: !faults.has(Fault::NoRelink),
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

/// Turns on TCP keepalive (a peer link whose other end vanished is found and relinked).
pub fn keep_alive(stream: &TcpStream, idle: Duration) {
    let probes = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval((idle / 3).max(Duration::from_secs(1)));
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "freebsd"))]
    let probes = probes.with_retries(3);
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&probes);
}

/// Counts an event and logs it at most once a second, with how often it happened meanwhile.
struct RateLimited {
    last: Option<Instant>,
    count: u64,
}

impl RateLimited {
    fn new() -> RateLimited {
        RateLimited {
            last: None,
            count: 0,
        }
    }

    fn note(&mut self, log: &ServerLog, line: impl FnOnce(u64) -> String) {
        self.count += 1;
        if self
            .last
            .is_none_or(|last| last.elapsed() >= Duration::from_secs(1))
        {
            log.line(line(self.count));
            self.count = 0;
            self.last = Some(Instant::now());
        }
    }
}

/// A descriptor held in reserve, given up at descriptor exhaustion to accept and close.
fn reserve_descriptor() -> Option<std::fs::File> {
    std::fs::File::open("/dev/null").ok()
}

/// Accepts connections until `shutdown`, then closes the tracker of their handlers.
pub async fn serve(listener: TcpListener, state: Arc<ServerState>, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(state.limits.max_connections));
    let mut over_limit = RateLimited::new();
    let mut accept_failed = RateLimited::new();
    let mut reserve = reserve_descriptor();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, address)) => match Arc::clone(&slots).try_acquire_owned() {
                Ok(slot) => {
                    let state_now = Arc::clone(&state);
                    let shutdown = shutdown.clone();
                    state.connections.spawn(async move {
                        handle(stream, address, state_now, shutdown).await;
                        drop(slot);
                    });
                }
                Err(_) => {
                    drop(stream);
                    let limit = state.limits.max_connections;
                    over_limit.note(&state.log, |n| {
                        format!(
                            "connection limit of {limit} reached (--max-connections): closed {n} \
                             new connection(s) at once"
                        )
                    });
                }
            },
            Err(e) => {
                let exhausted = matches!(e.raw_os_error(), Some(code) if code == 24 || code == 23);
                if exhausted && reserve.take().is_some() {
                    // With the freed descriptor, accept and close what waits in the backlog, so
                    // those clients are told at once instead of hanging there.
                    for _ in 0..1024 {
                        match futures::FutureExt::now_or_never(listener.accept()) {
                            Some(Ok((stream, _))) => drop(stream),
                            _ => break,
                        }
                    }
                    reserve = reserve_descriptor();
                }
                accept_failed.note(&state.log, |n| {
                    format!("accept failed {n} time(s) since the last such line: {e}")
                });
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    state.connections.close();
}

/// Who is on the other end of a connection.
enum Party {
    Client(SocketAddr),
    /// Said `PEER name` in a herd with a secret, and was sent `CHALLENGE nonce`.
    Challenged {
        address: SocketAddr,
        name: String,
        nonce: String,
    },
    Peer {
        name: String,
        link: LiveLink,
    },
}

impl Party {
    fn label(&self) -> String {
        match self {
            Party::Client(address) => format!("client {address}"),
            Party::Challenged { address, name, .. } => {
                format!("client {address} (linking as {name})")
            }
            Party::Peer { name, .. } => format!("peer {name}"),
        }
    }
}

async fn handle(
    stream: TcpStream,
    address: SocketAddr,
    state: Arc<ServerState>,
    shutdown: CancellationToken,
) {
    let limits = &state.limits;
    let patience = Patience {
        idle: Some(limits.idle_timeout),
        partial_line: limits.partial_line_timeout,
    };
    let mut connection = Connection::new(stream, limits.max_line, patience);
    let mut party = Party::Client(address);
    // Cancelled when a newer link of the same neighbour replaces this one.
    let mut replaced = CancellationToken::new();
    let ended = loop {
        let frame = tokio::select! {
            _ = shutdown.cancelled() => break "server shutting down".to_owned(),
            _ = replaced.cancelled() => break "replaced by a newer link of the same neighbour".to_owned(),
            frame = connection.read_frame() => frame,
        };
        let was_peer = matches!(party, Party::Peer { .. });
        let outcome = match frame {
            Ok(None) => break "end of input".to_owned(),
            Err(e) => break e.to_string(),
            Ok(Some(Frame::TooLong(_))) if state.faults.has(Fault::LongLineDrop) => {
                break "line over 64 KiB (long-line-drop fault)".to_owned();
            }
            Ok(Some(Frame::Line(line)))
                if state.faults.has(Fault::LongLineDrop) && line.len() > LONG_LINE_LIMIT =>
            {
                break "line over 64 KiB (long-line-drop fault)".to_owned();
            }
            Ok(Some(Frame::TooLong(head))) => {
                state.log.line(format!(
                    "in {}: line over {} bytes, answered with `?` and a cut copy",
                    party.label(),
                    head.len()
                ));
                Outcome::Reply(error_reply(&head))
            }
            Ok(Some(Frame::Line(line))) => answer(&line, &mut party, &state).await,
        };
        if let (false, Party::Peer { link, .. }) = (was_peer, &party) {
            replaced = link.replaced.clone();
            connection.set_patience(Patience {
                idle: None,
                ..patience
            });
            keep_alive(connection.socket(), limits.peer_keepalive);
        }
        match outcome {
            Outcome::Silent => {}
            Outcome::HangUp => break "hung up (crash-float-radius fault)".to_owned(),
            Outcome::Reply(reply) => {
                if let Err(e) = connection.write(&reply).await {
                    break e.to_string();
                }
                if state.faults.has(Fault::OnePerConn) {
                    let _ = connection.flush().await;
                    break "one command per connection (one-per-conn fault)".to_owned();
                }
            }
            Outcome::Refuse(reply, why) => {
                let _ = connection.write(&reply).await;
                break why;
            }
        }
        if !connection.has_buffered_line()
            && let Err(e) = connection.flush().await
        {
            break e.to_string();
        }
    };
    let _ = connection.finish().await;
    match &party {
        Party::Peer { name, .. } => state
            .log
            .line(format!("peer {name} ({address}) disconnected: {ended}")),
        Party::Challenged { name, .. } => state.log.line(format!(
            "link from {address} claiming to be {name} ended before it proved the herd's secret: {ended}"
        )),
        Party::Client(_) if ended.contains(" within ") => state
            .log
            .line(format!("client {address} dropped: {ended}")),
        Party::Client(_) => {}
    }
}

/// What a line gets.
enum Outcome {
    Reply(Vec<u8>),
    /// No reply: a blank line, a peer's update, or a faulty server's silence.
    Silent,
    /// Drop the connection without a reply (only under a fault).
    HangUp,
    /// Reply, then close the connection, for this reason (a refused peer link).
    Refuse(Vec<u8>, String),
}

/// The reply to one line, if it gets one.
async fn answer(line: &[u8], party: &mut Party, state: &ServerState) -> Outcome {
    let received = ClientTime::now();
    let label = party.label();
    match party {
        Party::Peer { name, .. } => return peer_line(line, name, &label, state),
        Party::Challenged { name, nonce, .. } => {
            return match state.peers.verify(name, nonce, line) {
                Ok(()) => {
                    state
                        .log
                        .line(format!("in {label}: peer link from {name}, proof accepted"));
                    let link = state.peers.register(name);
                    *party = Party::Peer {
                        name: name.clone(),
                        link,
                    };
                    Outcome::Silent
                }
                Err(why) => refuse(line, &label, why, state),
            };
        }
        Party::Client(_) => {}
    }
    let faults = &state.faults;
    if faults.has(Fault::CrashFloatRadius) && Faults::has_fractional_radius(line) {
        return Outcome::HangUp;
    }
    let parsed = if faults.is_empty() {
        parse_command(line)
    } else {
        faults.parse(line)
    };
    let reply = match parsed {
        Ok(None) if faults.has(Fault::ReplyBlank) => return Outcome::Reply(b"? \n".to_vec()),
        Ok(None) => return Outcome::Silent,
        Err(CommandError::Position(_) | CommandError::Time(_))
            if let Some(reply) = faults.nonfinite_reply(&state.name, line) =>
        {
            cmd::faulty::store_nonfinite(line, state);
            Ok([reply.as_slice(), b"\n"].concat())
        }
        Err(CommandError::UnknownCommand) if faults.has(Fault::SilentInvalid) => {
            return Outcome::Silent;
        }
        Ok(Some(Command::Iamat(iamat))) => cmd::iamat::run(&iamat, received, state),
        Ok(Some(Command::Whatsat(whatsat))) => cmd::whatsat::run(&whatsat, state)
            .await
            .ok_or_else(|| "no server has heard of this client".to_owned()),
        Ok(Some(Command::Peer(name))) if state.neighbours.contains(&name) => {
            let Party::Client(address) = *party else {
                return Outcome::Silent;
            };
            return match state.peers.admit(&name, address.ip()) {
                Admission::Open => {
                    state.log.line(format!(
                        "in {label}: {} (peer link from {name})",
                        printable(line)
                    ));
                    let link = state.peers.register(&name);
                    *party = Party::Peer { name, link };
                    Outcome::Silent
                }
                Admission::Challenge(nonce) => {
                    state.log.line(format!(
                        "in {label}: {} (challenged to prove the herd's secret)",
                        printable(line)
                    ));
                    let challenge = format!("CHALLENGE {nonce}\n").into_bytes();
                    *party = Party::Challenged {
                        address,
                        name,
                        nonce,
                    };
                    Outcome::Reply(challenge)
                }
                Admission::Refused(why) => refuse(line, &label, why, state),
            };
        }
        Ok(Some(Command::Peer(_))) => Err("PEER from a server that is not a neighbour".to_owned()),
        Ok(Some(Command::At(_))) => Err("AT is accepted only on a peer link".to_owned()),
        Err(e) => {
            if matches!(e, CommandError::Time(_)) && faults.has(Fault::RejectedOverwrites) {
                cmd::faulty::overwrite_position(line, state);
            }
            Err(e.to_string())
        }
    };
    match reply {
        Ok(reply) => {
            let first_line = reply.split(|b| *b == b'\n').next().unwrap_or_default();
            let rest = reply.len() - first_line.len() - 1;
            let extra = if rest > 0 {
                format!(" (+{rest} bytes of Places JSON)")
            } else {
                String::new()
            };
            state.log.line(format!("in {label}: {}", printable(line)));
            state
                .log
                .line(format!("out {label}: {}{extra}", printable(first_line)));
            Outcome::Reply(reply)
        }
        Err(why) => {
            let reply = faults
                .error_reply(line)
                .unwrap_or_else(|| error_reply(line));
            state
                .log
                .line(format!("in {label}: {} (invalid: {why})", printable(line)));
            state.log.line(format!(
                "out {label}: {}",
                printable(&reply[..reply.len() - 1])
            ));
            Outcome::Reply(reply)
        }
    }
}

/// A line on an established peer link: an update is stored and flooded if it is new and within
/// this server's bounds; anything else is logged and ignored (peers get no replies).
fn peer_line(line: &[u8], name: &str, label: &str, state: &ServerState) -> Outcome {
    match parse_command(line) {
        Ok(Some(Command::At(at))) => {
            let verdict = match cmd::at::run(at, name, state) {
                Ok(Stored::Newer) => "stored".to_owned(),
                Ok(Stored::NotNewer) => "not newer, dropped".to_owned(),
                Ok(Stored::Full) => format!(
                    "dropped: this server holds its limit of {} clients",
                    state.limits.max_clients
                ),
                Err(why) => format!("dropped: {why}"),
            };
            state
                .log
                .line(format!("in {label}: {} ({verdict})", printable(line)));
        }
        Ok(None) => {}
        _ => state.log.line(format!(
            "in {label}: {} (not an update, ignored)",
            printable(line)
        )),
    }
    Outcome::Silent
}

/// Refuses a peer link: `? ` and a copy of `line`, then the connection closes.
fn refuse(line: &[u8], label: &str, why: String, state: &ServerState) -> Outcome {
    state.log.line(format!(
        "in {label}: {} (peer link refused: {why})",
        printable(line)
    ));
    Outcome::Refuse(error_reply(line), format!("peer link refused: {why}"))
}
