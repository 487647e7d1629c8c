//! One herd server: its state, its accept loop and the handling of one connection.
//!
//! The accept loop keeps the connection bound (`--max-connections`: one more is closed at once)
//! and survives descriptor exhaustion: a reserve descriptor is given up to accept and close the
//! waiting connection (so its client sees a close, not a hang), and both conditions are logged
//! at most once a second with a count, so no flood of log lines and no busy loop.

use std::borrow::Cow;
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
use crate::log::{Entry, ServerLog, Who, printable};
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
        name: Arc<str>,
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

    /// How the log names the other end.
    fn who(&self) -> Who {
        match self {
            Party::Client(address) | Party::Challenged { address, .. } => Who::Client(*address),
            Party::Peer { name, .. } => Who::Peer(Arc::clone(name)),
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
        // Taken before the line is answered: a handshake's own line is still the client's.
        let who = party.who();
        let (line, outcome) = match frame {
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
                let reply = error_reply(&head);
                let why = format!("line over {} bytes, answered with a cut copy", head.len());
                (head, Outcome::Invalid(reply, why))
            }
            Ok(Some(Frame::Line(line))) => {
                let outcome = answer(&line, &mut party, &state).await;
                (line, outcome)
            }
        };
        if let (false, Party::Peer { link, .. }) = (was_peer, &party) {
            replaced = link.replaced.clone();
            connection.set_patience(Patience {
                idle: None,
                ..patience
            });
            keep_alive(connection.socket(), limits.peer_keepalive);
        }
        // The reply goes on to the log writer with the request, which formats and frees both.
        let exchange = |request, invalid, reply| Entry::Exchange {
            who,
            request,
            invalid,
            reply,
        };
        let written = match outcome {
            Outcome::Silent(None) => None,
            Outcome::Silent(Some(verdict)) => {
                state.log.entry(Entry::Input {
                    who: party.who(),
                    line,
                    verdict,
                });
                None
            }
            Outcome::HangUp => break "hung up (crash-float-radius fault)".to_owned(),
            Outcome::Refuse(reply, why) => {
                let _ = connection.write(&reply).await;
                break why;
            }
            Outcome::Logged(reply) => Some(connection.write(&reply).await),
            Outcome::Reply(reply) => {
                let written = connection.write(&reply).await;
                state.log.entry(exchange(line, None, reply));
                Some(written)
            }
            Outcome::Invalid(reply, why) => {
                let written = connection.write(&reply).await;
                state.log.entry(exchange(line, Some(why), reply));
                Some(written)
            }
        };
        if let Some(written) = written {
            if let Err(e) = written {
                break e.to_string();
            }
            if state.faults.has(Fault::OnePerConn) {
                let _ = connection.flush().await;
                break "one command per connection (one-per-conn fault)".to_owned();
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

/// What a line gets. The connection handler writes the reply, then hands the request and the
/// reply to the log as one event, so answering a line formats nothing for the log.
enum Outcome {
    /// The reply to a valid command.
    Reply(Vec<u8>),
    /// The `? ` reply to an invalid line, and why it is invalid.
    Invalid(Vec<u8>, String),
    /// A reply whose event is already logged (a peer-link challenge).
    Logged(Vec<u8>),
    /// No reply: a blank line, a peer's update, or a faulty server's silence; with what became
    /// of the line when the log should say.
    Silent(Option<Cow<'static, str>>),
    /// Drop the connection without a reply (only under a fault).
    HangUp,
    /// Reply, then close the connection, for this reason (a refused peer link).
    Refuse(Vec<u8>, String),
}

/// The reply to one line, if it gets one.
async fn answer(line: &[u8], party: &mut Party, state: &ServerState) -> Outcome {
    let received = ClientTime::now();
    match party {
        Party::Peer { name, .. } => return peer_line(line, name, state),
        Party::Challenged { .. } => {
            let label = party.label();
            let Party::Challenged { name, nonce, .. } = party else {
                return Outcome::Silent(None);
            };
            return match state.peers.verify(name, nonce, line) {
                Ok(()) => {
                    state
                        .log
                        .line(format!("in {label}: peer link from {name}, proof accepted"));
                    let link = state.peers.register(name);
                    *party = Party::Peer {
                        name: Arc::from(name.as_str()),
                        link,
                    };
                    Outcome::Silent(None)
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
        Ok(None) => return Outcome::Silent(None),
        Err(CommandError::Position(_) | CommandError::Time(_))
            if let Some(reply) = faults.nonfinite_reply(&state.name, line) =>
        {
            cmd::faulty::store_nonfinite(line, state);
            Ok([reply.as_slice(), b"\n"].concat())
        }
        Err(CommandError::UnknownCommand) if faults.has(Fault::SilentInvalid) => {
            return Outcome::Silent(None);
        }
        Ok(Some(Command::Iamat(iamat))) => cmd::iamat::run(&iamat, received, state),
        Ok(Some(Command::Whatsat(whatsat))) => cmd::whatsat::run(&whatsat, state)
            .await
            .ok_or_else(|| "no server has heard of this client".to_owned()),
        Ok(Some(Command::Peer(name))) if state.neighbours.contains(&name) => {
            let Party::Client(address) = *party else {
                return Outcome::Silent(None);
            };
            let label = party.label();
            return match state.peers.admit(&name, address.ip()) {
                Admission::Open => {
                    state.log.line(format!(
                        "in {label}: {} (peer link from {name})",
                        printable(line)
                    ));
                    let link = state.peers.register(&name);
                    *party = Party::Peer {
                        name: name.into(),
                        link,
                    };
                    Outcome::Silent(None)
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
                    Outcome::Logged(challenge)
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
        Ok(reply) => Outcome::Reply(reply),
        Err(why) => {
            let reply = faults
                .error_reply(line)
                .unwrap_or_else(|| error_reply(line));
            Outcome::Invalid(reply, why)
        }
    }
}

/// A line on an established peer link: an update is stored and flooded if it is new and within
/// this server's bounds; anything else is logged and ignored (peers get no replies).
fn peer_line(line: &[u8], name: &str, state: &ServerState) -> Outcome {
    let verdict = match parse_command(line) {
        Ok(Some(Command::At(at))) => match cmd::at::run(at, name, state) {
            Ok(Stored::Newer) => Cow::Borrowed("stored"),
            Ok(Stored::NotNewer) => Cow::Borrowed("not newer, dropped"),
            Ok(Stored::Full) => Cow::Owned(format!(
                "dropped: this server holds its limit of {} clients",
                state.limits.max_clients
            )),
            Err(why) => Cow::Owned(format!("dropped: {why}")),
        },
        Ok(None) => return Outcome::Silent(None),
        _ => Cow::Borrowed("not an update, ignored"),
    };
    Outcome::Silent(Some(verdict))
}

/// Refuses a peer link: `? ` and a copy of `line`, then the connection closes.
fn refuse(line: &[u8], label: &str, why: String, state: &ServerState) -> Outcome {
    state.log.line(format!(
        "in {label}: {} (peer link refused: {why})",
        printable(line)
    ));
    Outcome::Refuse(error_reply(line), format!("peer link refused: {why}"))
}
