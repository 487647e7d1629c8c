//! `Flooder`: one persistent TCP link to each neighbour, carrying location updates.
//!
//! A link task connects to its neighbour, introduces itself with `PEER <name>`, and then writes
//! one AT line per update. It also reads from the socket, although peers never answer, because a
//! read that ends is the only prompt sign that the neighbour went away; the link then reconnects
//! with a capped backoff. While a neighbour is unreachable its updates are dropped: the protocol
//! does not replay updates missed while a server was down, and a client never waits on a link.
//!
//! In a herd with a secret the link answers the neighbour's `CHALLENGE` with its proof
//! ([`crate::peer_auth`]) before the first update. Each link's queue is bounded in bytes, so a
//! neighbour that accepts and never reads costs the sender at most `--link-queue-bytes`; TCP
//! keepalive finds a link whose other end vanished without a word.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use herd_wire::{AtLine, PeerSecret};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::log::{Entry, ServerLog, printable};

/// Updates waiting for one link, counted; the byte bound ([`LinkConfig::queue_bytes`]) is the
/// one that matters, this one only sizes the channel.
const LINK_QUEUE: usize = 65_536;
/// How long a neighbour may take to send its `CHALLENGE`.
const CHALLENGE_TIMEOUT: Duration = Duration::from_secs(5);
/// First and longest wait between connection attempts.
const BACKOFF_START: Duration = Duration::from_millis(25);
const BACKOFF_CAP: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How links are made and bounded.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// The herd's secret, when links must prove it.
    pub secret: Option<PeerSecret>,
    /// Bytes queued per link before updates for it are dropped.
    pub queue_bytes: usize,
    /// Idle time before keepalive probes.
    pub keepalive: Duration,
    /// False only under the `no-relink` fault: a dropped link stays down.
    pub relink: bool,
}

#[derive(Debug)]
struct Link {
    neighbour: String,
    queue: mpsc::Sender<Arc<AtLine>>,
    /// Bytes in `queue` (each update counts its line and newline).
    queued: Arc<AtomicUsize>,
    queue_bytes: usize,
}

/// The links from one server to all its neighbours.
#[derive(Debug, Default)]
pub struct Flooder {
    links: Vec<Link>,
}

impl Flooder {
    /// Starts a link task per `(name, address)` neighbour.
    pub fn start(
        me: &str,
        neighbours: &[(String, String)],
        log: &ServerLog,
        config: &LinkConfig,
        shutdown: &CancellationToken,
    ) -> Flooder {
        let links = neighbours
            .iter()
            .map(|(name, address)| {
                let (queue, updates) = mpsc::channel(LINK_QUEUE);
                let queued = Arc::new(AtomicUsize::new(0));
                let task = LinkTask {
                    me: me.to_owned(),
                    neighbour: Arc::from(name.as_str()),
                    shown: Arc::from(printable(name.as_bytes())),
                    address: address.clone(),
                    log: log.clone(),
                    config: config.clone(),
                    queued: Arc::clone(&queued),
                };
                tokio::spawn(task.run(updates, shutdown.clone()));
                Link {
                    neighbour: name.clone(),
                    queue,
                    queued,
                    queue_bytes: config.queue_bytes,
                }
            })
            .collect();
        Flooder { links }
    }

    /// Bytes of updates queued on all links (bounded by `--link-queue-bytes` per link).
    pub fn queued_bytes(&self) -> usize {
        self.links
            .iter()
            .map(|link| link.queued.load(Ordering::Relaxed))
            .sum()
    }

    /// Sends `at` to every neighbour but `except` (the one it came from); never waits.
    pub fn forward(&self, at: &Arc<AtLine>, except: Option<&str>) {
        self.forward_to(at, |neighbour| Some(neighbour) != except);
    }

    /// Sends `at` to the neighbours `wanted` picks; never waits.
    pub fn forward_to(&self, at: &Arc<AtLine>, wanted: impl Fn(&str) -> bool) {
        for link in &self.links {
            if wanted(&link.neighbour) {
                // A full queue means the link is far behind or down: dropping is the protocol's
                // own answer to a neighbour that cannot take updates.
                let size = queued_size(at);
                if link.queued.fetch_add(size, Ordering::Relaxed) + size > link.queue_bytes
                    || link.queue.try_send(Arc::clone(at)).is_err()
                {
                    link.queued.fetch_sub(size, Ordering::Relaxed);
                }
            }
        }
    }
}

/// What one queued update counts against its link's byte bound.
fn queued_size(at: &AtLine) -> usize {
    at.as_bytes().len() + 1
}

struct LinkTask {
    me: String,
    neighbour: Arc<str>,
    /// The neighbour's name as the log shows it.
    shown: Arc<str>,
    address: String,
    log: ServerLog,
    config: LinkConfig,
    queued: Arc<AtomicUsize>,
}

impl LinkTask {
    async fn run(self, mut updates: mpsc::Receiver<Arc<AtLine>>, shutdown: CancellationToken) {
        let mut backoff = BACKOFF_START;
        let mut reported_down = false;
        loop {
            let attempt = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.address));
            let stream = tokio::select! {
                _ = shutdown.cancelled() => return,
                result = attempt => result,
            };
            match stream {
                Ok(Ok(stream)) => {
                    backoff = BACKOFF_START;
                    reported_down = false;
                    self.log.line(format!(
                        "link to {} ({}) connected",
                        self.neighbour, self.address
                    ));
                    let why = self.carry(stream, &mut updates, &shutdown).await;
                    if shutdown.is_cancelled() {
                        return;
                    }
                    self.log
                        .line(format!("link to {} dropped: {why}", self.neighbour));
                    if !self.config.relink {
                        return;
                    }
                }
                Ok(Err(e)) => {
                    if !reported_down {
                        self.log.line(format!(
                            "link to {} ({}) cannot connect: {e}; retrying",
                            self.neighbour, self.address
                        ));
                        reported_down = true;
                    }
                }
                Err(_) => {
                    if !reported_down {
                        self.log.line(format!(
                            "link to {} timed out connecting; retrying",
                            self.neighbour
                        ));
                        reported_down = true;
                    }
                }
            }
            // Updates that arrived while the neighbour was unreachable are not replayed.
            while let Ok(dropped) = updates.try_recv() {
                self.queued
                    .fetch_sub(queued_size(&dropped), Ordering::Relaxed);
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(BACKOFF_CAP);
        }
    }

    /// Writes updates until the link fails; returns why it ended.
    async fn carry(
        &self,
        stream: TcpStream,
        updates: &mut mpsc::Receiver<Arc<AtLine>>,
        shutdown: &CancellationToken,
    ) -> String {
        let _ = stream.set_nodelay(true);
        keep_alive(&stream, self.config.keepalive);
        let (mut reader, writer) = stream.into_split();
        let mut writer = BufWriter::new(writer);
        let hello = format!("PEER {}\n", self.me);
        if let Err(e) = async {
            writer.write_all(hello.as_bytes()).await?;
            writer.flush().await
        }
        .await
        {
            return e.to_string();
        }
        if let Some(secret) = &self.config.secret {
            let answered = async {
                let challenge = read_short_line(&mut reader).await?;
                let auth = crate::peer_auth::answer_challenge(
                    secret,
                    &self.me,
                    &self.neighbour,
                    &challenge,
                )?;
                writer.write_all(&auth).await.map_err(|e| e.to_string())?;
                writer.flush().await.map_err(|e| e.to_string())
            };
            match tokio::time::timeout(CHALLENGE_TIMEOUT, answered).await {
                Ok(Ok(())) => {}
                Ok(Err(why)) => return why,
                Err(_) => {
                    return format!(
                        "no CHALLENGE within {} s (does the neighbour have the herd's secret?)",
                        CHALLENGE_TIMEOUT.as_secs()
                    );
                }
            }
        }
        let mut scratch = [0u8; 512];
        // Made once: a new wait per batch registers with the token's notifier every time.
        let stopping = shutdown.cancelled();
        tokio::pin!(stopping);
        loop {
            tokio::select! {
                _ = &mut stopping => return "shutting down".into(),
                read = reader.read(&mut scratch) => match read {
                    Ok(0) => return "the neighbour closed the connection".into(),
                    // Peers never answer updates; a `?` is a refusal, say it before the close.
                    Ok(n) if scratch.starts_with(b"?") => {
                        return format!(
                            "the neighbour refused the link: {}",
                            crate::log::printable(scratch[..n].trim_ascii_end())
                        );
                    }
                    Ok(_) => {}
                    Err(e) => return e.to_string(),
                },
                update = updates.recv() => {
                    let Some(first) = update else { return "server stopped".into() };
                    // Let the updates of this scheduling round join this write: one send
                    // syscall for many updates when the herd is busy.
                    tokio::task::yield_now().await;
                    let mut sent = vec![first];
                    while let Ok(more) = updates.try_recv() {
                        sent.push(more);
                        if sent.len() >= 256 { break; }
                    }
                    let bytes: usize = sent.iter().map(|at| queued_size(at)).sum();
                    self.queued.fetch_sub(bytes, Ordering::Relaxed);
                    let result = async {
                        for at in &sent {
                            writer.write_all(at.as_bytes()).await?;
                            writer.write_all(b"\n").await?;
                        }
                        writer.flush().await
                    }.await;
                    if let Err(e) = result {
                        return e.to_string();
                    }
                    if self.log.is_on() {
                        self.log.entry(Entry::Flood { to: Arc::clone(&self.shown), updates: sent });
                    }
                }
            }
        }
    }
}

/// Reads one line of at most 256 bytes (the neighbour's `CHALLENGE`), without its newline.
async fn read_short_line(reader: &mut tokio::net::tcp::OwnedReadHalf) -> Result<Vec<u8>, String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 256 {
        match reader.read(&mut byte).await {
            Ok(0) => {
                return Err(format!(
                    "the neighbour closed the link during the handshake{}",
                    if line.is_empty() {
                        String::new()
                    } else {
                        format!(" after `{}`", crate::log::printable(&line))
                    }
                ));
            }
            Ok(_) if byte[0] == b'\n' => return Ok(line),
            Ok(_) => line.push(byte[0]),
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("the neighbour's handshake line is longer than 256 bytes".to_owned())
}

/// Turns on TCP keepalive (a peer link whose other end vanished is found and relinked).
pub fn keep_alive(stream: &TcpStream, idle: Duration) {
    let probes = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval((idle / 3).max(Duration::from_secs(1)));
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "freebsd"))]
    let probes = probes.with_retries(3);
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&probes);
}
