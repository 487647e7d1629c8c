//! Waiting, bounded, for something a test cannot be told about: a condition to hold, or a process
//! the test started to listen on its port.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Polls `check` every 10 ms until it holds or `within` passes; true if it held.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Blocks until process group `pgid` listens on `addr`, for at most `within`; true if it does.
///
/// The group's own socket, not just any: a port chosen free a moment ago may have been taken by
/// another program since (see `herd_spawn::group_listens`).
pub fn group_listens_within(addr: SocketAddr, pgid: i32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while !herd_spawn::group_listens(addr, pgid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}
