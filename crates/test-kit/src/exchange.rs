//! Talking to a line server over TCP as the simplest client does: write everything, half-close,
//! read the reply until the server closes. Bounded, so that a server that never answers fails
//! the test instead of hanging it.
//!
//! Whatever speaks the herd protocol itself (a kept-open line client, the `WHATSAT` that asks
//! what a server stores) stays in `herd-server`'s test support.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long any single exchange may take before the test fails.
pub const IO_DEADLINE: Duration = Duration::from_secs(10);

/// The *eof* client style: write `input`, half-close, read until the server closes; panics
/// when that fails or takes longer than [`IO_DEADLINE`].
pub async fn eof_exchange(addr: SocketAddr, input: &[u8]) -> Vec<u8> {
    try_eof_exchange(addr, input, IO_DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("server at {addr} answered and closed in time: {e}"))
}

/// [`eof_exchange`] for a server that may refuse or fail: the reply, or why there is none (a
/// `TimedOut` error after `within`).
pub async fn try_eof_exchange(
    addr: SocketAddr,
    input: &[u8],
    within: Duration,
) -> std::io::Result<Vec<u8>> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(input).await?;
        stream.shutdown().await?;
        let mut out = Vec::new();
        stream.read_to_end(&mut out).await?;
        Ok(out)
    };
    tokio::time::timeout(within, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no reply in time"))?
}

/// Reads what the server still sends on `stream` until it closes the connection; panics when
/// that fails or takes longer than [`IO_DEADLINE`].
pub async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut reply = Vec::new();
    tokio::time::timeout(IO_DEADLINE, stream.read_to_end(&mut reply))
        .await
        .expect("the server closed the connection in time")
        .expect("the connection reads until it closes");
    reply
}
