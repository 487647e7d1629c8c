//! One server as the bench talks to it: connecting, framing a request (`line` or `eof`) and
//! reading exactly one reply, all under one deadline.

use std::time::Duration;

use herd_wire::AtLine;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::args::Framing;
use crate::request::{ErrorKind, Kind, Request, first_line};

/// The most the bench reads of one `eof` reply (a WHATSAT with 20 places is a few KiB).
const MAX_EOF_REPLY: u64 = 4 << 20;

/// A server of the herd under test.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub name: String,
    pub address: String,
    pub framing: Framing,
    pub timeout: Duration,
}

/// A persistent `line` connection, kept between requests.
#[derive(Debug)]
pub struct LineConn {
    stream: BufReader<TcpStream>,
}

impl Endpoint {
    /// Sends `request` and reads its reply. `slot` holds the client's `line` connection: opened
    /// when empty, dropped after any failure that may leave it out of step (unused for `eof`).
    pub async fn exchange(
        &self,
        slot: &mut Option<LineConn>,
        request: &Request,
    ) -> Result<AtLine, ErrorKind> {
        let outcome = match self.framing {
            Framing::Line => timeout(self.timeout, self.exchange_line(slot, request)).await,
            Framing::Eof => timeout(self.timeout, self.exchange_eof(request)).await,
        };
        let result = outcome.unwrap_or(Err(ErrorKind::Timeout));
        // A `?` line is a whole reply, so the connection is still in step; anything else is not.
        if matches!(result, Err(e) if e != ErrorKind::Rejected) {
            *slot = None;
        }
        result
    }

    /// Opens a connection (used for the reachability check too).
    pub async fn connect(&self) -> Result<TcpStream, ErrorKind> {
        match timeout(self.timeout, TcpStream::connect(&self.address)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                Ok(stream)
            }
            Ok(Err(_)) | Err(_) => Err(ErrorKind::Connect),
        }
    }

    async fn exchange_line(
        &self,
        slot: &mut Option<LineConn>,
        request: &Request,
    ) -> Result<AtLine, ErrorKind> {
        if slot.is_none() {
            let stream = self.connect().await?;
            *slot = Some(LineConn {
                stream: BufReader::new(stream),
            });
        }
        let Some(conn) = slot.as_mut() else {
            return Err(ErrorKind::Connect);
        };
        conn.stream
            .get_mut()
            .write_all(&request.line)
            .await
            .map_err(io_error)?;
        let mut line = Vec::with_capacity(128);
        read_line(&mut conn.stream, &mut line).await?;
        let (first, _) = first_line(&line);
        let at = request.check_first_line(first)?;
        if request.kind == Kind::Whatsat {
            // The Places JSON follows and ends with an empty line.
            loop {
                line.clear();
                read_line(&mut conn.stream, &mut line).await?;
                if first_line(&line).0.is_empty() {
                    break;
                }
            }
        }
        Ok(at)
    }

    async fn exchange_eof(&self, request: &Request) -> Result<AtLine, ErrorKind> {
        let mut stream = self.connect().await?;
        stream.write_all(&request.line).await.map_err(io_error)?;
        stream.shutdown().await.map_err(io_error)?;
        let mut reply = Vec::with_capacity(256);
        (&mut stream)
            .take(MAX_EOF_REPLY)
            .read_to_end(&mut reply)
            .await
            .map_err(io_error)?;
        if reply.is_empty() {
            return Err(ErrorKind::Closed);
        }
        request.check_first_line(first_line(&reply).0)
    }
}

async fn read_line(stream: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> Result<(), ErrorKind> {
    let n = stream.read_until(b'\n', line).await.map_err(io_error)?;
    if n == 0 || !line.ends_with(b"\n") {
        return Err(ErrorKind::Closed);
    }
    Ok(())
}

fn io_error(e: std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as Io;
    match e.kind() {
        Io::ConnectionReset | Io::BrokenPipe | Io::UnexpectedEof | Io::ConnectionAborted => {
            ErrorKind::Closed
        }
        _ => ErrorKind::Io,
    }
}
