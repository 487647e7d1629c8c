//! `Connection`: line framing over one TCP stream.
//!
//! Reads complete lines, and at end of input a final unterminated one (the *eof* client style).
//! A line longer than [`MAX_LINE`] is not buffered whole: its first [`MAX_LINE`] bytes are kept
//! for the `? ` reply and the rest is discarded up to the next newline, so memory stays bounded.
//! Replies are buffered and flushed when no further input is already waiting, which batches the
//! replies to pipelined commands into few writes.

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// The longest line kept; longer lines are answered with a `? ` copy of this many bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// One unit of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A line, without its `\n`.
    Line(BytesMut),
    /// A line longer than [`MAX_LINE`]: its first [`MAX_LINE`] bytes.
    TooLong(BytesMut),
}

/// A client or peer connection.
#[derive(Debug)]
pub struct Connection {
    reader: OwnedReadHalf,
    writer: BufWriter<OwnedWriteHalf>,
    buffer: BytesMut,
    /// Set while skipping the rest of an over-long line.
    discarding: bool,
    eof: bool,
}

impl Connection {
    /// Wraps an accepted or connected stream.
    pub fn new(stream: TcpStream) -> Connection {
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        Connection {
            reader,
            writer: BufWriter::new(writer),
            buffer: BytesMut::with_capacity(4096),
            discarding: false,
            eof: false,
        }
    }

    /// True when a complete line is already buffered (so a flush can wait).
    pub fn has_buffered_line(&self) -> bool {
        !self.discarding && self.buffer.contains(&b'\n')
    }

    /// The next frame, or `None` at end of input.
    pub async fn read_frame(&mut self) -> std::io::Result<Option<Frame>> {
        loop {
            if let Some(newline) = self.buffer.iter().position(|b| *b == b'\n') {
                let mut line = self.buffer.split_to(newline + 1);
                line.truncate(newline);
                if std::mem::take(&mut self.discarding) {
                    continue;
                }
                return Ok(Some(Frame::Line(line)));
            }
            if self.discarding {
                self.buffer.clear();
            } else if self.buffer.len() > MAX_LINE {
                let head = self.buffer.split_to(MAX_LINE);
                self.buffer.clear();
                self.discarding = true;
                return Ok(Some(Frame::TooLong(head)));
            }
            if self.eof {
                if self.discarding || self.buffer.is_empty() {
                    return Ok(None);
                }
                let rest = self.buffer.split();
                return Ok(Some(Frame::Line(rest)));
            }
            self.buffer.reserve(4096);
            if self.reader.read_buf(&mut self.buffer).await? == 0 {
                self.eof = true;
            }
        }
    }

    /// Queues reply bytes.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes).await
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush().await
    }

    /// Flushes and half-closes, after the client's end of input.
    pub async fn finish(&mut self) -> std::io::Result<()> {
        self.writer.flush().await?;
        self.writer.get_mut().shutdown().await
    }
}
