//! One herd server: its state, its accept loop and the handling of one connection.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use herd_wire::command::{Command, CommandError, error_reply, parse_command};
use herd_wire::{ClientTime, Herd};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::cmd;
use crate::connection::{Connection, Frame};
use crate::db::Db;
use crate::faults::{Fault, Faults, LONG_LINE_LIMIT};
use crate::flood::Flooder;
use crate::log::{Entry, ServerLog, Who, printable};
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
}

impl ServerState {
    /// The state of server `name` of `herd`; starts its links to the neighbours.
    pub fn start(
        name: &str,
        herd: &Herd,
        places: PlacesClient,
        log: ServerLog,
        faults: Faults,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Arc<ServerState>> {
        let spec = herd
            .server(name)
            .ok_or_else(|| anyhow::anyhow!("`{name}` is not a server of herd {}", herd.origin))?;
        let neighbours: Vec<(String, String)> = spec
            .neighbours
            .iter()
            .filter_map(|n| herd.server(n).map(|s| (s.name.clone(), s.address.clone())))
            .collect();
        let relink = !faults.has(Fault::NoRelink);
        let flooder = Flooder::start(name, &neighbours, &log, relink, shutdown);
        Ok(Arc::new(ServerState {
            name: name.to_owned(),
            neighbours: spec.neighbours.clone(),
            db: Db::default(),
            flooder,
            places,
            log,
            faults,
        }))
    }
}

/// Accepts connections until `shutdown`.
pub async fn serve(listener: TcpListener, state: Arc<ServerState>, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, address)) => {
                let state = Arc::clone(&state);
                let shutdown = shutdown.clone();
                tokio::spawn(async move { handle(stream, address, state, shutdown).await });
            }
            Err(e) => {
                // Out of file descriptors and the like: say so, breathe, go on.
                state.log.line(format!("accept failed: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

async fn handle(
    stream: TcpStream,
    address: SocketAddr,
    state: Arc<ServerState>,
    shutdown: CancellationToken,
) {
    let mut connection = Connection::new(stream);
    let mut party = Who::Client(address);
    let ended = loop {
        let frame = tokio::select! {
            _ = shutdown.cancelled() => break "server shutting down".to_owned(),
            frame = connection.read_frame() => frame,
        };
        // Taken before the line is answered: a handshake's own line is still the client's.
        let who = party.clone();
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
                (head, Outcome::Reply(reply, Some(why)))
            }
            Ok(Some(Frame::Line(line))) => {
                let outcome = answer(&line, &mut party, &state).await;
                (line, outcome)
            }
        };
        match outcome {
            Outcome::Silent(None) => {}
            Outcome::Silent(Some(verdict)) => state.log.entry(Entry::Input { who, line, verdict }),
            Outcome::HangUp => break "hung up (crash-float-radius fault)".to_owned(),
            Outcome::Reply(reply, invalid) => {
                let written = connection.write(&reply).await;
                // The reply goes on to the log writer, which formats and frees it.
                state.log.entry(Entry::Exchange {
                    who,
                    request: line,
                    invalid,
                    reply,
                });
                if let Err(e) = written {
                    break e.to_string();
                }
                if state.faults.has(Fault::OnePerConn) {
                    let _ = connection.flush().await;
                    break "one command per connection (one-per-conn fault)".to_owned();
                }
            }
        }
        if !connection.has_buffered_line()
            && let Err(e) = connection.flush().await
        {
            break e.to_string();
        }
    };
    let _ = connection.finish().await;
    if let Who::Peer(name) = &party {
        state.log.line(format!(
            "peer {} ({address}) disconnected: {}",
            printable(name.as_bytes()),
            printable(ended.as_bytes())
        ));
    }
}

/// What a line gets.
enum Outcome {
    /// A reply, and for an invalid line why it was invalid.
    Reply(Vec<u8>, Option<String>),
    /// No reply: a blank line, a peer's update, or a faulty server's silence; with what became
    /// of the line when the log should say.
    Silent(Option<Cow<'static, str>>),
    /// Drop the connection without a reply (only under a fault).
    HangUp,
}

/// The reply to one line, if it gets one.
async fn answer(line: &[u8], party: &mut Who, state: &ServerState) -> Outcome {
    let received = ClientTime::now();
    if let Who::Peer(name) = party {
        return match parse_command(line) {
            Ok(Some(Command::At(at))) => {
                let stored = cmd::at::run(at, name, state);
                Outcome::Silent(Some(Cow::Borrowed(if stored {
                    "stored"
                } else {
                    "not newer, dropped"
                })))
            }
            Ok(None) => Outcome::Silent(None),
            _ => Outcome::Silent(Some(Cow::Borrowed("not an update, ignored"))),
        };
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
        Ok(None) if faults.has(Fault::ReplyBlank) => {
            return Outcome::Reply(b"? \n".to_vec(), None);
        }
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
        Ok(Some(Command::Iamat(iamat))) => Ok(cmd::iamat::run(&iamat, received, state)),
        Ok(Some(Command::Whatsat(whatsat))) => cmd::whatsat::run(&whatsat, state)
            .await
            .ok_or_else(|| "no server has heard of this client".to_owned()),
        Ok(Some(Command::Peer(name))) if state.neighbours.contains(&name) => {
            let verdict = format!("peer link from {}", printable(name.as_bytes()));
            *party = Who::Peer(name.into());
            return Outcome::Silent(Some(Cow::Owned(verdict)));
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
        Ok(reply) => Outcome::Reply(reply, None),
        Err(why) => {
            let reply = faults
                .error_reply(line)
                .unwrap_or_else(|| error_reply(line));
            Outcome::Reply(reply, Some(why))
        }
    }
}
