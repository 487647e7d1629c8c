//! A server's log file, written by a thread of its own so that no client reply waits on disk
//! or on formatting.
//!
//! Each line is `2026-11-21T23:00:00.123456Z <text>`; the time is taken when the event happens and
//! formatted by the writer. The queue is bounded: when the disk cannot keep up, lines are dropped
//! and the number dropped is logged once it can, so memory stays bounded under any load.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const QUEUE_LINES: usize = 65_536;

/// A handle for writing to one server's log; cheap to clone.
#[derive(Clone, Debug)]
pub struct ServerLog {
    /// `None` for a log that writes nowhere.
    queue: Option<SyncSender<(SystemTime, String)>>,
    dropped: Arc<AtomicU64>,
}

/// Renders bytes from the wire for a log line: valid UTF-8 as is, anything else escaped.
pub fn printable(bytes: &[u8]) -> String {
    if bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&c.escape_default().to_string()),
            c => out.push(c),
        }
    }
    out
}

fn stamp(at: SystemTime) -> String {
    OffsetDateTime::from(at)
        .format(&Rfc3339)
        .unwrap_or_else(|_| String::from("-"))
}

/// How long the writer rests after each batch. Resting lets lines pile up, so that under load a
/// busy server does not pay a thread wake-up per log line.
const BATCH_PAUSE: Duration = Duration::from_millis(5);

/// The writer thread: drains the queue in batches, one flush per batch.
fn write_lines(file: std::fs::File, lines: Receiver<(SystemTime, String)>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, file);
    while let Ok(first) = lines.recv() {
        let mut result = writeln!(out, "{} {}", stamp(first.0), first.1);
        while let Ok((at, text)) = lines.try_recv() {
            result = result.and_then(|()| writeln!(out, "{} {text}", stamp(at)));
        }
        if result.and_then(|()| out.flush()).is_err() {
            eprintln!("herd-server: cannot write its log; logging stops");
            return;
        }
        std::thread::sleep(BATCH_PAUSE);
    }
}

impl ServerLog {
    /// Opens (appending) `dir/NAME.log` and starts its writer thread.
    pub async fn open(dir: &Path, name: &str) -> std::io::Result<(ServerLog, PathBuf)> {
        tokio::fs::create_dir_all(dir).await?;
        let path = dir.join(format!("{name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let (queue, lines) = sync_channel(QUEUE_LINES);
        std::thread::Builder::new()
            .name(format!("log-{name}"))
            .spawn(move || write_lines(file, lines))?;
        let log = ServerLog {
            queue: Some(queue),
            dropped: Arc::new(AtomicU64::new(0)),
        };
        Ok((log, path))
    }

    /// A log that writes nowhere (for embedding without files).
    pub fn discard() -> ServerLog {
        ServerLog {
            queue: None,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Queues one line; never waits.
    pub fn line(&self, text: impl Into<String>) {
        let Some(queue) = &self.queue else { return };
        let now = SystemTime::now();
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let note = format!("({dropped} log lines dropped: disk too slow)");
            let _ = queue.try_send((now, note));
        }
        if let Err(TrySendError::Full(_)) = queue.try_send((now, text.into())) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
