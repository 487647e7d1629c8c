//! A small TCP client for the suite: speaks both client styles of protocol.md §1 (line and eof),
//! never waits past a deadline, and records every byte sent and received in a [`Transcript`] so a
//! report can show exactly what went over the wire.
//!
//! A paced connection (one with the server's [`Patience`]) also ends a read when the server goes
//! quiet: a reply that stops short of its terminator is handed over after one quiet period (a
//! server that never ends its lines still gets judged), and a reply that never starts is judged
//! missing only after the re-check says the server answers other commands meanwhile.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::patience::{Alive, Patience};

/// What happened on the wire, in order, with times relative to the test's start.
#[derive(Debug)]
pub struct Transcript {
    start: Instant,
    next_conn: AtomicUsize,
    events: Mutex<Vec<WireEvent>>,
}

/// One recorded event.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WireEvent {
    /// Seconds since the test started.
    pub at: f64,
    /// Which connection of the test (1, 2, ...).
    pub conn: usize,
    /// `connect`, `send`, `recv`, `half-close`, `eof`, `close`, `error`.
    pub kind: &'static str,
    /// Bytes sent or received (lossy UTF-8), or a note.
    pub data: String,
}

impl Default for Transcript {
    fn default() -> Self {
        Transcript {
            start: Instant::now(),
            next_conn: AtomicUsize::new(1),
            events: Mutex::new(Vec::new()),
        }
    }
}

impl Transcript {
    fn record(&self, conn: usize, kind: &'static str, data: &[u8]) {
        let event = WireEvent {
            at: self.start.elapsed().as_secs_f64(),
            conn,
            kind,
            data: String::from_utf8_lossy(data).into_owned(),
        };
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<WireEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

/// How a read ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// The reply was complete by its own terminator.
    Complete,
    /// The server closed the connection (or reset it).
    Eof,
    /// Bytes arrived, then nothing for a quiet period: neither the terminator nor a close came.
    Quiet,
    /// Nothing arrived for two quiet periods, although the server answered a probe meanwhile.
    Silent {
        /// The quiet period waited each time.
        quiet: Duration,
        /// The probe's round trip.
        probe: Duration,
    },
    /// Nothing arrived, and the server did not answer a probe within `probe` either.
    Unresponsive { probe: Duration },
    /// A WHATSAT got nothing while the server answered a probe IAMAT (in `probe`), and a probe
    /// WHATSAT got nothing within `places_probe` either: its WHATSATs wait on something outside
    /// it, most likely its Places request.
    PlacesStalled {
        probe: Duration,
        places_probe: Duration,
    },
    /// The deadline passed first.
    Timeout,
}

impl End {
    /// Whether the read stopped because the server went quiet or the time ran out (not because
    /// the reply was complete or the connection closed).
    pub fn is_wait(&self) -> bool {
        !matches!(self, End::Complete | End::Eof)
    }
}

/// Bytes read for one reply and how the read ended.
#[derive(Clone, Debug)]
pub struct Received {
    pub bytes: Vec<u8>,
    pub end: End,
}

/// A client connection to a server under test.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    id: usize,
    transcript: Arc<Transcript>,
    /// Received but not yet handed out.
    pending: Vec<u8>,
    eof: bool,
    pace: Option<Arc<Patience>>,
    /// The command being answered is a WHATSAT, whose reply may wait on a Places request.
    awaits_places: bool,
}

/// What one patient wait for bytes gave.
enum Filled {
    /// Bytes, or the close.
    More,
    /// No byte for a quiet period (two, around a re-check, when nothing had arrived yet).
    Quiet(End),
    /// The deadline passed.
    Deadline,
}

impl Conn {
    /// Connects, giving up at `deadline`.
    pub async fn connect(
        addr: SocketAddr,
        transcript: &Arc<Transcript>,
        deadline: Instant,
    ) -> Result<Conn, String> {
        let id = transcript.next_conn.fetch_add(1, Ordering::Relaxed);
        let stream = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                transcript.record(id, "error", format!("connect to {addr}: {e}").as_bytes());
                return Err(format!("cannot connect to {addr}: {e}"));
            }
            Err(_) => {
                transcript.record(
                    id,
                    "error",
                    format!("connect to {addr}: timed out").as_bytes(),
                );
                return Err(format!("connecting to {addr} timed out"));
            }
        };
        let _ = stream.set_nodelay(true);
        transcript.record(id, "connect", addr.to_string().as_bytes());
        Ok(Conn {
            stream,
            id,
            transcript: Arc::clone(transcript),
            pending: Vec::new(),
            eof: false,
            pace: None,
            awaits_places: false,
        })
    }

    /// Like [`Conn::connect`], with reads that end when the server goes quiet (see the module).
    pub async fn connect_paced(
        addr: SocketAddr,
        transcript: &Arc<Transcript>,
        deadline: Instant,
        pace: Option<Arc<Patience>>,
    ) -> Result<Conn, String> {
        let mut conn = Conn::connect(addr, transcript, deadline).await?;
        conn.pace = pace;
        Ok(conn)
    }

    /// Says whether the reply read next answers a WHATSAT, which waits on the server's Places
    /// request: a paced read then learns the server's Places pace before it judges silence.
    pub fn set_awaits_places(&mut self, awaits: bool) {
        self.awaits_places = awaits;
    }

    /// Writes all of `bytes`.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.transcript.record(self.id, "send", bytes);
        self.stream.write_all(bytes).await.map_err(|e| {
            self.transcript
                .record(self.id, "error", format!("write: {e}").as_bytes());
            format!("writing to the server failed: {e}")
        })
    }

    /// Writes `bytes` one byte per write, pausing `gap` between writes.
    pub async fn send_bytewise(&mut self, bytes: &[u8], gap: Duration) -> Result<(), String> {
        for byte in bytes {
            self.send(std::slice::from_ref(byte)).await?;
            self.stream.flush().await.map_err(|e| e.to_string())?;
            tokio::time::sleep(gap).await;
        }
        Ok(())
    }

    /// Shuts down the write side (the eof client style).
    pub async fn half_close(&mut self) -> Result<(), String> {
        self.transcript.record(self.id, "half-close", b"");
        self.stream
            .shutdown()
            .await
            .map_err(|e| format!("half-closing failed: {e}"))
    }

    /// Reads until `complete` finds the end of a reply in the buffered bytes (it returns the
    /// reply's length), the server closes, the server goes quiet (paced connections), or
    /// `deadline` passes.
    pub async fn read_until(
        &mut self,
        complete: impl Fn(&[u8]) -> Option<usize>,
        deadline: Instant,
    ) -> Received {
        loop {
            if let Some(len) = complete(&self.pending) {
                let rest = self.pending.split_off(len.min(self.pending.len()));
                let bytes = std::mem::replace(&mut self.pending, rest);
                return Received {
                    bytes,
                    end: End::Complete,
                };
            }
            if self.eof {
                return self.take(End::Eof);
            }
            match self.fill_patiently(deadline).await {
                Filled::More => {}
                Filled::Quiet(end) => return self.take(end),
                Filled::Deadline => return self.take(End::Timeout),
            }
        }
    }

    /// Everything pending, ended by `end`.
    fn take(&mut self, end: End) -> Received {
        Received {
            bytes: std::mem::take(&mut self.pending),
            end,
        }
    }

    /// Waits for more bytes; on a paced connection at most a quiet period, or, when nothing has
    /// arrived yet, a quiet period, a re-check and one more quiet period.
    async fn fill_patiently(&mut self, deadline: Instant) -> Filled {
        let Some(pace) = self.pace.clone() else {
            return if self.fill(deadline).await {
                Filled::More
            } else {
                Filled::Deadline
            };
        };
        let quiet = pace.quiet();
        if self.fill((Instant::now() + quiet).min(deadline)).await {
            return Filled::More;
        }
        if Instant::now() >= deadline {
            return Filled::Deadline;
        }
        if !self.pending.is_empty() {
            return Filled::Quiet(End::Quiet);
        }
        // Nothing yet: is the server answering anyone? Keep reading while it is asked.
        let alive = tokio::select! {
            filled = self.fill(deadline) => {
                return if filled { Filled::More } else { Filled::Deadline };
            }
            alive = pace.alive() => alive,
        };
        match alive {
            Alive::Answered(probe) => {
                let mut quiet = pace.quiet();
                if self.awaits_places {
                    let places = tokio::select! {
                        filled = self.fill(deadline) => {
                            return if filled { Filled::More } else { Filled::Deadline };
                        }
                        places = pace.places_pace() => places,
                    };
                    match places {
                        // The server's WHATSATs take this long now: one more such wait.
                        Alive::Answered(took) => quiet += took,
                        Alive::NoAnswer(places_probe) => {
                            return Filled::Quiet(End::PlacesStalled {
                                probe,
                                places_probe,
                            });
                        }
                    }
                }
                if self.fill((Instant::now() + quiet).min(deadline)).await {
                    Filled::More
                } else if Instant::now() >= deadline {
                    Filled::Deadline
                } else {
                    Filled::Quiet(End::Silent { quiet, probe })
                }
            }
            Alive::NoAnswer(probe) => Filled::Quiet(End::Unresponsive { probe }),
        }
    }

    /// Reads everything until the server closes (or `deadline`).
    pub async fn read_to_eof(&mut self, deadline: Instant) -> Received {
        self.read_until(|_| None, deadline).await
    }

    /// Reads a WHATSAT-shaped reply: an `? ` line, or lines up to the first blank line. A reply
    /// that holds a complete JSON value followed by a single newline is taken as complete after
    /// `grace` without more bytes, so a server that sends one newline too few costs `grace`, not
    /// the whole deadline. With `linger`, bytes arriving within `grace` after the end are
    /// included too, so an extra newline is seen.
    pub async fn read_whatsat(
        &mut self,
        deadline: Instant,
        grace: Duration,
        linger: bool,
    ) -> Received {
        let mut soft: Option<Instant> = None;
        loop {
            if let Some(len) = whatsat_end(&self.pending) {
                let rest = self.pending.split_off(len);
                let mut bytes = std::mem::replace(&mut self.pending, rest);
                if linger && !bytes.starts_with(b"? ") {
                    let extra = self
                        .read_for(grace.min(deadline.saturating_duration_since(Instant::now())))
                        .await;
                    bytes.extend(extra.bytes);
                }
                return Received {
                    bytes,
                    end: End::Complete,
                };
            }
            if self.eof {
                return self.take(End::Eof);
            }
            if json_then_newline(&self.pending) {
                soft.get_or_insert_with(|| (Instant::now() + grace).min(deadline));
            } else {
                soft = None;
            }
            match soft {
                Some(soft_end) => {
                    if !self.fill(soft_end).await {
                        return self.take(if Instant::now() >= deadline {
                            End::Timeout
                        } else {
                            End::Complete
                        });
                    }
                }
                None => match self.fill_patiently(deadline).await {
                    Filled::More => {}
                    Filled::Quiet(end) => return self.take(end),
                    Filled::Deadline => return self.take(End::Timeout),
                },
            }
        }
    }

    /// Reads whatever arrives within `wait` (for checking that nothing is sent): never paced.
    pub async fn read_for(&mut self, wait: Duration) -> Received {
        let pace = self.pace.take();
        let got = self.read_until(|_| None, Instant::now() + wait).await;
        self.pace = pace;
        got
    }

    /// Reads more bytes into `pending`; false when the deadline passed first.
    async fn fill(&mut self, deadline: Instant) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
            Err(_) => false,
            Ok(Ok(0)) => {
                self.transcript.record(self.id, "eof", b"");
                self.eof = true;
                true
            }
            Ok(Ok(n)) => {
                self.transcript.record(self.id, "recv", &chunk[..n]);
                self.pending.extend_from_slice(&chunk[..n]);
                true
            }
            Ok(Err(e)) => {
                self.transcript
                    .record(self.id, "error", format!("read: {e}").as_bytes());
                self.eof = true;
                true
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.transcript.record(self.id, "close", b"");
    }
}

/// End of a one-line reply: just past the first `\n`.
pub fn line_end(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n').map(|i| i + 1)
}

/// End of `count` lines.
pub fn lines_end(count: usize) -> impl Fn(&[u8]) -> Option<usize> {
    move |buf: &[u8]| {
        let mut seen = 0;
        for (i, &b) in buf.iter().enumerate() {
            if b == b'\n' {
                seen += 1;
                if seen == count {
                    return Some(i + 1);
                }
            }
        }
        None
    }
}

/// End of a WHATSAT reply: a `? ` line ends at its newline, anything else at the first `\n\n`.
pub fn whatsat_end(buf: &[u8]) -> Option<usize> {
    if buf.starts_with(b"? ") {
        return line_end(buf);
    }
    buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2)
}

/// Whether `buf` is a line, then one complete JSON value, then exactly one `\n`.
fn json_then_newline(buf: &[u8]) -> bool {
    let Some(first) = line_end(buf) else {
        return false;
    };
    let body = &buf[first..];
    if !body.ends_with(b"\n") || body.ends_with(b"\n\n") {
        return false;
    }
    serde_json::from_slice::<serde_json::Value>(body).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_ends() {
        assert_eq!(line_end(b"AT x\nmore"), Some(5));
        assert_eq!(line_end(b"AT x"), None);
        assert_eq!(lines_end(2)(b"a\nb\nc\n"), Some(4));
        assert_eq!(whatsat_end(b"? WHATSAT a 1 1\n"), Some(16));
        assert_eq!(whatsat_end(b"AT x\n{\n}\n\n"), Some(10));
        assert_eq!(whatsat_end(b"AT x\n{\n}\n"), None);
        assert!(json_then_newline(b"AT x\n{\n   \"a\" : 1\n}\n"));
        assert!(!json_then_newline(b"AT x\n{\n   \"a\" : 1\n"));
        assert!(!json_then_newline(b"AT x\n{}\n\n"));
    }
}
