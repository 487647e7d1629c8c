//! `Flooder`: one persistent TCP link to each neighbour, carrying location updates.
//!
//! A link task connects to its neighbour, introduces itself with `PEER <name>`, and then writes
//! one AT line per update. It also reads from the socket, although peers never answer, because a
//! read that ends is the only prompt sign that the neighbour went away; the link then reconnects
//! with a capped backoff. While a neighbour is unreachable its updates are dropped: the protocol
//! does not replay updates missed while a server was down, and a client never waits on a link.

use std::sync::Arc;
use std::time::Duration;

use herd_wire::AtLine;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::log::{Entry, ServerLog};

/// Updates waiting for one link; beyond this they are dropped (memory stays bounded).
const LINK_QUEUE: usize = 65_536;
/// First and longest wait between connection attempts.
const BACKOFF_START: Duration = Duration::from_millis(25);
const BACKOFF_CAP: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Link {
    neighbour: String,
    queue: mpsc::Sender<Arc<AtLine>>,
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
        relink: bool,
        shutdown: &CancellationToken,
    ) -> Flooder {
        let links = neighbours
            .iter()
            .map(|(name, address)| {
                let (queue, updates) = mpsc::channel(LINK_QUEUE);
                let task = LinkTask {
                    me: me.to_owned(),
                    neighbour: Arc::from(name.as_str()),
                    address: address.clone(),
                    log: log.clone(),
                    relink,
                };
                tokio::spawn(task.run(updates, shutdown.clone()));
                Link {
                    neighbour: name.clone(),
                    queue,
                }
            })
            .collect();
        Flooder { links }
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
                let _ = link.queue.try_send(Arc::clone(at));
            }
        }
    }
}

struct LinkTask {
    me: String,
    neighbour: Arc<str>,
    address: String,
    log: ServerLog,
    /// False only under the `no-relink` fault: a dropped link stays down.
    relink: bool,
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
                    if !self.relink {
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
            while updates.try_recv().is_ok() {}
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
        let mut scratch = [0u8; 512];
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return "shutting down".into(),
                read = reader.read(&mut scratch) => match read {
                    Ok(0) => return "the neighbour closed the connection".into(),
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
                        self.log.entry(Entry::Flood { to: Arc::clone(&self.neighbour), updates: sent });
                    }
                }
            }
        }
    }
}
