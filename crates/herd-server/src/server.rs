//! One herd server's accept loop and the driver of one connection: read a frame, have
//! [`crate::cmd`] answer it, write the reply, log the exchange.
//!
//! The accept loop keeps the connection bound (`--max-connections`: one more is closed at once)
//! and survives descriptor exhaustion: a reserve descriptor is given up to accept and close the
//! waiting connection (so its client sees a close, not a hang), and both conditions are logged
//! at most once a second with a count, so no flood of log lines and no busy loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use herd_wire::command::error_reply;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cmd::{self, Outcome};
use crate::connection::{Connection, Frame, Patience};
use crate::flood::keep_alive;
use crate::log::{Entry, ServerLog};
use crate::party::Party;
use crate::state::ServerState;

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
    // Both waits are made once, not per line: each new one registers with its token's notifier.
    let shutting_down = shutdown.cancelled();
    tokio::pin!(shutting_down);
    // Ends when a newer link of the same neighbour replaces this one (never for a client).
    let mut replaced = Box::pin(CancellationToken::new().cancelled_owned());
    let ended = loop {
        let frame = tokio::select! {
            _ = &mut shutting_down => break "server shutting down".to_owned(),
            _ = &mut replaced => break "replaced by a newer link of the same neighbour".to_owned(),
            frame = connection.read_frame() => frame,
        };
        let was_peer = matches!(party, Party::Peer { .. });
        // Taken before the line is answered: a handshake's own line is still the client's.
        let who = party.who();
        let (line, outcome) = match frame {
            Ok(None) => break "end of input".to_owned(),
            Err(e) => break e.to_string(),
            Ok(Some(frame)) if state.faults.hangs_up_on(&frame) => {
                break "line over 64 KiB (long-line-drop fault)".to_owned();
            }
            Ok(Some(Frame::TooLong(head))) => {
                let reply = error_reply(&head);
                let why = format!("line over {} bytes, answered with a cut copy", head.len());
                (head, Outcome::Invalid(reply, why))
            }
            Ok(Some(Frame::Line(line))) => {
                let outcome = cmd::answer(&line, &mut party, &state).await;
                (line, outcome)
            }
        };
        if let (false, Party::Peer { link, .. }) = (was_peer, &party) {
            replaced = Box::pin(link.replaced.clone().cancelled_owned());
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
            if state.faults.closes_after_first_reply() {
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
