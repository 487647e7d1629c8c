//! One request and its reply over TCP, in either framing, within one deadline.
//!
//! *line*: write the request and read until the expected replies are complete (or the server
//! closes). *eof*: write, shut down the write side, read until the server closes — what servers
//! that answer only after end of input (and the course's grader) need.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::cli::Framing;
use crate::reply::{ReplyKind, excerpt, replies_end};

/// Why an exchange failed; shown as `ADDRESS: cause`.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("{address}: cannot resolve the host name ({cause})")]
    Resolve { address: String, cause: String },
    #[error("{address}: connection refused — is a herd server listening there?")]
    Refused { address: String },
    #[error("{address}: timed out after {waited} while connecting")]
    ConnectTimedOut { address: String, waited: String },
    #[error("{address}: cannot connect ({cause})")]
    Connect { address: String, cause: String },
    #[error("{address}: timed out after {waited} waiting for the reply{detail}")]
    TimedOut {
        address: String,
        waited: String,
        detail: String,
    },
    #[error("{address}: closed the connection without replying")]
    ClosedEarly { address: String },
    #[error("{address}: connection failed while {doing} ({cause})")]
    Io {
        address: String,
        doing: &'static str,
        cause: String,
    },
}

/// What to send, how, and what reply to wait for.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub address: &'a str,
    pub bytes: &'a [u8],
    pub framing: Framing,
    pub timeout: Duration,
    /// The replies the request gets, in order (empty: read whatever comes until the deadline).
    pub expect: &'a [ReplyKind],
}

/// Sends the request and returns the reply bytes as received.
pub fn exchange(request: &Request<'_>) -> Result<Vec<u8>, ExchangeError> {
    let deadline = Instant::now() + request.timeout;
    let address = request.address.to_owned();
    let waited = humantime::format_duration(request.timeout).to_string();
    let mut stream = connect(&address, deadline, &waited)?;
    let io = |doing: &'static str| {
        let address = address.clone();
        move |e: std::io::Error| ExchangeError::Io {
            address,
            doing,
            cause: e.to_string(),
        }
    };
    stream
        .set_write_timeout(Some(remaining(deadline)))
        .map_err(io("setting a timeout"))?;
    stream
        .set_nodelay(true)
        .map_err(io("setting TCP_NODELAY"))?;
    stream
        .write_all(request.bytes)
        .map_err(io("sending the request"))?;
    if request.framing == Framing::Eof {
        stream
            .shutdown(Shutdown::Write)
            .map_err(io("half-closing after the request"))?;
    }
    let mut received = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if request.framing == Framing::Line
            && !request.expect.is_empty()
            && replies_end(&received, request.expect).is_some()
        {
            return Ok(received);
        }
        let left = remaining(deadline);
        if left.is_zero() {
            return timed_out(request, address, waited, received);
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(io("setting a timeout"))?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return timed_out(request, address, waited, received);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A reset after a complete reply (servers that close with unread input) is fine.
            Err(e) if e.kind() == ErrorKind::ConnectionReset && !received.is_empty() => break,
            Err(e) => return Err(io("reading the reply")(e)),
        }
    }
    if received.is_empty() && !request.expect.is_empty() {
        return Err(ExchangeError::ClosedEarly { address });
    }
    Ok(received)
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

fn connect(address: &str, deadline: Instant, waited: &str) -> Result<TcpStream, ExchangeError> {
    let candidates: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| ExchangeError::Resolve {
            address: address.to_owned(),
            cause: e.to_string(),
        })?
        .collect();
    let mut last = ExchangeError::Resolve {
        address: address.to_owned(),
        cause: "no addresses".to_owned(),
    };
    for candidate in candidates {
        let left = remaining(deadline);
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&candidate, left) {
            Ok(stream) => return Ok(stream),
            Err(e) => {
                last = match e.kind() {
                    ErrorKind::ConnectionRefused => ExchangeError::Refused {
                        address: address.to_owned(),
                    },
                    ErrorKind::TimedOut | ErrorKind::WouldBlock => ExchangeError::ConnectTimedOut {
                        address: address.to_owned(),
                        waited: waited.to_owned(),
                    },
                    _ => ExchangeError::Connect {
                        address: address.to_owned(),
                        cause: e.to_string(),
                    },
                }
            }
        }
    }
    Err(last)
}

/// The deadline passed: fine when no reply was expected, otherwise an error that says what
/// arrived and what to try.
fn timed_out(
    request: &Request<'_>,
    address: String,
    waited: String,
    received: Vec<u8>,
) -> Result<Vec<u8>, ExchangeError> {
    if request.expect.is_empty() {
        return Ok(received);
    }
    let detail = match (received.is_empty(), request.framing) {
        (true, Framing::Line) => "; nothing arrived (a server that answers only after the client \
             half-closes needs --framing eof)"
            .to_owned(),
        (true, Framing::Eof) => "; nothing arrived".to_owned(),
        (false, Framing::Line) => format!(
            "; the reply is incomplete after {} bytes (a WHATSAT reply ends with an empty line): `{}`",
            received.len(),
            excerpt(&received)
        ),
        (false, Framing::Eof) => format!(
            "; the server sent {} bytes but did not close the connection: `{}`",
            received.len(),
            excerpt(&received)
        ),
    };
    Err(ExchangeError::TimedOut {
        address,
        waited,
        detail,
    })
}
