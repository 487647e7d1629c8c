//! A server's log file, written by a background task so that no client reply waits on disk.
//!
//! Each line is `2026-11-21T23:00:00.123456Z <text>`. The queue is bounded: when the disk cannot
//! keep up, lines are dropped and the number dropped is logged once it can, so memory stays
//! bounded under any load.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

const QUEUE_LINES: usize = 65_536;

/// A handle for writing to one server's log; cheap to clone.
#[derive(Clone, Debug)]
pub struct ServerLog {
    queue: mpsc::Sender<String>,
    dropped: Arc<AtomicU64>,
}

/// Renders bytes from the wire for a log line: valid UTF-8 as is, anything else escaped.
pub fn printable(bytes: &[u8]) -> String {
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

impl ServerLog {
    /// Opens (appending) `dir/NAME.log` and starts its writer task.
    pub async fn open(dir: &Path, name: &str) -> std::io::Result<(ServerLog, PathBuf)> {
        tokio::fs::create_dir_all(dir).await?;
        let path = dir.join(format!("{name}.log"));
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await?;
        let (queue, mut lines) = mpsc::channel::<String>(QUEUE_LINES);
        tokio::spawn(async move {
            let mut out = tokio::io::BufWriter::new(file);
            while let Some(line) = lines.recv().await {
                let mut ok = out.write_all(line.as_bytes()).await.is_ok();
                while let Ok(more) = lines.try_recv() {
                    ok &= out.write_all(more.as_bytes()).await.is_ok();
                }
                if !ok || out.flush().await.is_err() {
                    eprintln!("herd-server: cannot write its log; logging stops");
                    return;
                }
            }
        });
        Ok((
            ServerLog {
                queue,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            path,
        ))
    }

    /// A log that writes nowhere (for embedding without files).
    pub fn discard() -> ServerLog {
        let (queue, _) = mpsc::channel(1);
        ServerLog {
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Queues one line; never waits.
    pub fn line(&self, text: impl AsRef<str>) {
        let stamp = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_else(|_| String::from("-"));
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = self.queue.try_send(format!(
                "{stamp} ({dropped} log lines dropped: disk too slow)\n"
            ));
        }
        if self
            .queue
            .try_send(format!("{stamp} {}\n", text.as_ref()))
            .is_err()
            && !self.queue.is_closed()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
