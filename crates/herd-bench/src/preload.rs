//! `--preload N`: before a herd is measured, store N distinct clients in it, so a run can show
//! the rate of a herd that holds a million clients next to one that holds a thousand.
//!
//! The IAMATs are pipelined: a fixed set of `line` connections spread over the servers, each
//! writing a window of lines and then reading one reply line per line written. The whole preload
//! is bounded by `--preload-timeout`; progress goes to stderr. A preload ends only when every
//! server knows the last client of every connection, so the flood it started is over before the
//! measurement begins (updates on one link arrive in order, so the last one arrives last).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::bail;
use herd_wire::ClientTime;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::args::Framing;
use crate::conn::Endpoint;
use crate::request::{Request, position_for};

/// Connections the preload uses in all (spread over the servers).
const CONNECTIONS: u64 = 32;
/// Lines written before their replies are read.
const WINDOW: u64 = 128;
/// The longest a preload waits for its flood to reach every server.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);
/// How often a server that does not know a preloaded client yet is asked again.
const SETTLE_POLL: Duration = Duration::from_millis(20);
/// How often progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// What a finished preload did.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Preloaded {
    pub clients: u64,
    /// IAMATs answered with anything but an AT line.
    pub rejected: u64,
    /// Until every IAMAT was answered by the server it was sent to.
    pub stored_in_s: f64,
    /// Whether every server knew the last preloaded clients before the measurement began (the
    /// wait for that is bounded by `SETTLE_LIMIT`).
    pub settled: bool,
    /// The whole preload, the wait for the flood included.
    pub seconds: f64,
}

/// Stores `count` clients `bench-<run_id>-pre<n>` across `addresses`, within `limit`.
pub async fn run(
    count: u64,
    addresses: &[String],
    run_id: &str,
    limit: Duration,
    label: &str,
) -> anyhow::Result<Preloaded> {
    let started = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let rejected = Arc::new(AtomicU64::new(0));
    let connections = CONNECTIONS.min(count.max(1));
    let mut tasks = Vec::new();
    for c in 0..connections {
        // Connection c sends clients c, c + connections, c + 2 × connections, …
        let address = addresses[usize::try_from(c).unwrap_or(0) % addresses.len()].clone();
        let (done, rejected) = (Arc::clone(&done), Arc::clone(&rejected));
        let prefix = format!("bench-{run_id}-pre");
        tasks.push(tokio::spawn(async move {
            let mine: Vec<u64> = (c..count)
                .step_by(usize::try_from(connections).unwrap_or(1))
                .collect();
            one_connection(&address, &prefix, &mine, &done, &rejected).await
        }));
    }
    let progress = tokio::spawn(report_progress(Arc::clone(&done), count, label.to_owned()));
    let all = futures::future::join_all(tasks);
    let outcome = timeout(limit, all).await;
    progress.abort();
    let stored = done.load(Ordering::Relaxed);
    let Ok(results) = outcome else {
        bail!(
            "the preload of {label} stored {stored} of {count} clients within --preload-timeout {}; raise the timeout or lower --preload",
            humantime::format_duration(limit)
        );
    };
    for r in results {
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                bail!("the preload of {label} failed after {stored} of {count} clients: {e}")
            }
            Err(e) => bail!("the preload of {label} failed: {e}"),
        }
    }
    // The last client of each connection, at every server.
    let last: Vec<String> = (0..connections)
        .filter_map(|c| {
            (c..count)
                .step_by(usize::try_from(connections).unwrap_or(1))
                .last()
        })
        .map(|n| format!("bench-{run_id}-pre{n}"))
        .collect();
    let stored_in = started.elapsed().as_secs_f64();
    let wait = limit.saturating_sub(started.elapsed()).min(SETTLE_LIMIT);
    let settled = timeout(wait, settle(addresses, &last)).await.is_ok();
    if !settled {
        eprintln!(
            "herd-bench: warning: the preload of {label} stored {stored} clients, but {} later not every server knew the last of them; measuring anyway",
            humantime::format_duration(wait)
        );
    }
    Ok(Preloaded {
        stored_in_s: stored_in,
        settled,
        clients: stored,
        rejected: rejected.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Waits until every server answers WHATSAT for every client of `ids` with its AT line.
async fn settle(addresses: &[String], ids: &[String]) {
    let each = addresses.iter().map(|address| async move {
        let endpoint = Endpoint {
            name: address.clone(),
            address: address.clone(),
            framing: Framing::Line,
            timeout: Duration::from_secs(5),
        };
        let mut slot = None;
        for id in ids {
            let request = Request::whatsat(id, 1, 0);
            while endpoint.exchange(&mut slot, &request).await.is_err() {
                tokio::time::sleep(SETTLE_POLL).await;
            }
        }
    });
    futures::future::join_all(each).await;
}

async fn one_connection(
    address: &str,
    prefix: &str,
    clients: &[u64],
    done: &AtomicU64,
    rejected: &AtomicU64,
) -> anyhow::Result<()> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to {address}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut stream = BufReader::new(stream);
    let mut batch = Vec::with_capacity(usize::try_from(WINDOW).unwrap_or(128) * 80);
    let mut line = Vec::with_capacity(128);
    for window in clients.chunks(usize::try_from(WINDOW).unwrap_or(128)) {
        batch.clear();
        let time = ClientTime::now().to_wire();
        for n in window {
            let position = position_for(usize::try_from(*n).unwrap_or(0));
            batch.extend_from_slice(format!("IAMAT {prefix}{n} {position} {time}\n").as_bytes());
        }
        stream
            .get_mut()
            .write_all(&batch)
            .await
            .map_err(|e| anyhow::anyhow!("{address}: {e}"))?;
        for _ in window {
            line.clear();
            let n = stream
                .read_until(b'\n', &mut line)
                .await
                .map_err(|e| anyhow::anyhow!("{address}: {e}"))?;
            if n == 0 {
                bail!("{address} closed the connection during the preload");
            }
            if !line.starts_with(b"AT ") {
                rejected.fetch_add(1, Ordering::Relaxed);
            }
            done.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Prints `preload of HERD: N of M clients (R/s)` to stderr every couple of seconds.
async fn report_progress(done: Arc<AtomicU64>, count: u64, label: String) {
    let start = Instant::now();
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        let n = done.load(Ordering::Relaxed);
        let rate = n as f64 / start.elapsed().as_secs_f64().max(1e-3);
        let text = format!("herd-bench: preload of {label}: {n} of {count} clients ({rate:.0}/s)");
        eprintln!("{text}");
    }
}
