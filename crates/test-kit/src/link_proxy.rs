//! `LinkProxy`: a TCP proxy to put between two herd servers, with faults switched at run time.
//!
//! A herd file routes a link through it (`[[route]] from, to, via`), so the linking server
//! dials the proxy, which dials the real neighbour. What the proxy can do to the link:
//!
//! - **latency**: hold every chunk this long before passing it on;
//! - **cut**: close every connection through it and refuse new ones (a partition), until healed;
//! - **one-way black hole**: swallow what flows in one direction, pass the other;
//! - **tiny segments**: pass bytes on one at a time (a peer's reader must not care).
//!
//! Each connection is two copy loops reading the current settings at every chunk, so a change
//! applies to links already open. Bounded: one 16 KiB buffer per direction and connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// One direction of a proxied link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the server that dialled (the proxy's client) to the neighbour.
    Forward,
    /// From the neighbour back to the server that dialled.
    Backward,
}

#[derive(Debug, Default)]
struct Settings {
    latency_us: AtomicU64,
    black_hole_forward: AtomicBool,
    black_hole_backward: AtomicBool,
    tiny_segments: AtomicBool,
    /// Bytes passed on in each direction (for tests to see traffic).
    forwarded: AtomicU64,
    backwarded: AtomicU64,
}

/// A running proxy; stops (closing its connections) when dropped.
#[derive(Debug)]
pub struct LinkProxy {
    address: SocketAddr,
    settings: Arc<Settings>,
    /// `true` while the link is cut.
    cut: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.task.abort();
        let _ = self.cut.send(true);
    }
}

impl LinkProxy {
    /// Listens on a free port of 127.0.0.1 and forwards every connection to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<LinkProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let settings = Arc::new(Settings::default());
        let (cut, cut_watch) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            listener,
            target,
            Arc::clone(&settings),
            cut_watch,
        ));
        Ok(LinkProxy {
            address,
            settings,
            cut,
            task,
        })
    }

    /// Where to dial (the `via` of a herd file's route).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Holds every chunk this long.
    pub fn set_latency(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.settings.latency_us.store(micros, Ordering::Relaxed);
    }

    /// Cuts the link (open connections are closed, new ones refused) or heals it.
    pub fn set_cut(&self, cut: bool) {
        let _ = self.cut.send(cut);
    }

    /// Swallows (or passes again) what flows in `direction`.
    pub fn set_black_hole(&self, direction: Direction, on: bool) {
        let flag = match direction {
            Direction::Forward => &self.settings.black_hole_forward,
            Direction::Backward => &self.settings.black_hole_backward,
        };
        flag.store(on, Ordering::Relaxed);
    }

    /// Passes bytes on one at a time (or in whole chunks again).
    pub fn set_tiny_segments(&self, on: bool) {
        self.settings.tiny_segments.store(on, Ordering::Relaxed);
    }

    /// Bytes passed on so far in `direction` (swallowed ones not counted).
    pub fn passed(&self, direction: Direction) -> u64 {
        match direction {
            Direction::Forward => self.settings.forwarded.load(Ordering::Relaxed),
            Direction::Backward => self.settings.backwarded.load(Ordering::Relaxed),
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    settings: Arc<Settings>,
    cut: watch::Receiver<bool>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if *cut.borrow() {
            drop(client);
            continue;
        }
        let settings = Arc::clone(&settings);
        let mut cut = cut.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(target).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            let seen = cut.clone();
            let forward = pipe(
                client_read,
                server_write,
                &settings,
                &seen,
                Direction::Forward,
            );
            let backward = pipe(
                server_read,
                client_write,
                &settings,
                &seen,
                Direction::Backward,
            );
            tokio::select! {
                _ = forward => {}
                _ = backward => {}
                _ = cut.wait_for(|cut| *cut) => {}
            }
        });
    }
}

/// Copies `from` to `to` as the settings say, until either side ends or the link is cut.
async fn pipe(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    settings: &Settings,
    cut: &watch::Receiver<bool>,
    direction: Direction,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    let (black_hole, passed) = match direction {
        Direction::Forward => (&settings.black_hole_forward, &settings.forwarded),
        Direction::Backward => (&settings.black_hole_backward, &settings.backwarded),
    };
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        let latency = Duration::from_micros(settings.latency_us.load(Ordering::Relaxed));
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        // Checked on every chunk, not only by the connection's select: bytes written after
        // `set_cut(true)` returned must never pass, however the tasks happen to be scheduled.
        if *cut.borrow() {
            return;
        }
        if black_hole.load(Ordering::Relaxed) {
            continue;
        }
        let written = if settings.tiny_segments.load(Ordering::Relaxed) {
            let mut result = Ok(());
            for byte in &buffer[..n] {
                result = async {
                    to.write_all(std::slice::from_ref(byte)).await?;
                    to.flush().await
                }
                .await;
                if result.is_err() {
                    break;
                }
            }
            result
        } else {
            to.write_all(&buffer[..n]).await
        };
        if written.is_err() {
            return;
        }
        passed.fetch_add(n as u64, Ordering::Relaxed);
    }
}
