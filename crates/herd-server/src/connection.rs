//! `Connection`: line framing over one TCP stream.
//!
//! Reads complete lines, and at end of input a final unterminated one (the *eof* client style).
//! A line longer than the limit is not buffered whole: its first `max_line` bytes are kept for
//! the `? ` reply and the rest is discarded up to the next newline, so memory stays bounded. The
//! limit is on the line, not on a read: a long line is too long whether it arrives in one
//! segment or in many, so every server of a herd takes or refuses the same lines.
//! Replies are buffered and flushed when no further input is already waiting, which batches the
//! replies to pipelined commands into few writes.
//!
//! Two clocks bound how long a connection may hold the server's memory without progress: an
//! *idle* timeout while no line has started (client connections only; `None` for peer links),
//! and a *partial-line* timeout from the first byte of a line to its end, which no trickle of
//! bytes resets (slowloris).
//!
//! Both clocks share one timer per connection, moved only when it goes off early: a connection
//! that answers thousands of lines a second touches tokio's timer wheel about once per patience
//! period, not twice per read (a `timeout` around each read registered and cleared a timer entry
//! for every request, under the time driver's lock).

use std::pin::Pin;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::{Instant, Sleep, sleep_until};

/// The default longest line, as the protocol's examples and the course servers use it.
pub const MAX_LINE: usize = crate::limits::DEFAULT_MAX_LINE;

/// How long a connection may wait for input.
#[derive(Clone, Copy, Debug)]
pub struct Patience {
    /// With no line started; `None` waits for ever (peer links, watched by keepalive).
    pub idle: Option<Duration>,
    /// From a line's first byte to its newline.
    pub partial_line: Duration,
}

/// One unit of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A line, without its `\n`.
    Line(BytesMut),
    /// A line longer than the limit: its first `max_line` bytes.
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
    max_line: usize,
    patience: Patience,
    /// When the unfinished line in `buffer` (or the one being discarded) began.
    line_started: Option<Instant>,
    /// Armed for the current deadline or an earlier one (then re-armed when it goes off).
    timer: Option<Pin<Box<Sleep>>>,
}

impl Connection {
    /// Wraps an accepted or connected stream; lines are cut at `max_line` bytes.
    pub fn new(stream: TcpStream, max_line: usize, patience: Patience) -> Connection {
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        Connection {
            reader,
            writer: BufWriter::new(writer),
            buffer: BytesMut::with_capacity(4096),
            discarding: false,
            eof: false,
            max_line,
            patience,
            line_started: None,
            timer: None,
        }
    }

    /// Changes how long the connection waits (a client connection that became a peer link).
    pub fn set_patience(&mut self, patience: Patience) {
        self.patience = patience;
    }

    /// The underlying socket (for socket options such as keepalive).
    pub fn socket(&self) -> &TcpStream {
        self.reader.as_ref()
    }

    /// True when a complete line is already buffered (so a flush can wait).
    pub fn has_buffered_line(&self) -> bool {
        !self.discarding && self.buffer.contains(&b'\n')
    }

    /// The next frame, or `None` at end of input. Fails with `TimedOut` when the connection
    /// outstays its [`Patience`].
    pub async fn read_frame(&mut self) -> std::io::Result<Option<Frame>> {
        loop {
            if let Some(newline) = self.buffer.iter().position(|b| *b == b'\n') {
                let mut line = self.buffer.split_to(newline + 1);
                line.truncate(newline);
                self.line_started = (!self.buffer.is_empty()).then(Instant::now);
                if std::mem::take(&mut self.discarding) {
                    continue;
                }
                if line.len() > self.max_line {
                    line.truncate(self.max_line);
                    return Ok(Some(Frame::TooLong(line)));
                }
                return Ok(Some(Frame::Line(line)));
            }
            if self.discarding {
                self.buffer.clear();
            } else if self.buffer.len() > self.max_line {
                let head = self.buffer.split_to(self.max_line);
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
            let read = match self.deadline() {
                None => self.reader.read_buf(&mut self.buffer).await,
                Some((at, what, after)) => {
                    let timer = self.timer.get_or_insert_with(|| Box::pin(sleep_until(at)));
                    if timer.deadline() > at {
                        timer.as_mut().reset(at);
                    }
                    loop {
                        tokio::select! {
                            biased;
                            read = self.reader.read_buf(&mut self.buffer) => break read,
                            () = timer.as_mut() => {
                                if Instant::now() >= at {
                                    return Err(timed_out(what, after));
                                }
                                timer.as_mut().reset(at);
                            }
                        }
                    }
                }
            }?;
            if read == 0 {
                self.eof = true;
            } else if self.line_started.is_none() && self.buffer.last() != Some(&b'\n') {
                // Only an unfinished line needs its start: lines that arrived whole are taken
                // before the next read, so the common read costs no clock reading here.
                self.line_started = Some(Instant::now());
            }
        }
    }

    /// When the next read gives up, why, and the patience it outstayed: the partial-line clock
    /// while a line is unfinished, else the idle clock from now (no deadline for a peer link).
    fn deadline(&self) -> Option<(Instant, &'static str, Duration)> {
        match (self.line_started, self.patience.idle) {
            (Some(started), _) => Some((
                started + self.patience.partial_line,
                "a line was not finished",
                self.patience.partial_line,
            )),
            (None, Some(idle)) => Some((Instant::now() + idle, "nothing was sent", idle)),
            (None, None) => None,
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

/// The error a connection ends with when it outstays its patience.
fn timed_out(what: &str, after: Duration) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("{what} within {} s", after.as_secs_f64()),
    )
}
