//! Server processes a test starts and keeps running: spawned in a process group of their own,
//! waited for until they listen, and killed when the test is done with them.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command};
use std::time::Duration;

use crate::waiting::group_listens_within;

/// A child process killed (and reaped) on drop, so that a failing test leaves no server behind.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `command` in a process group of its own and blocks until that group listens on `addr`;
/// panics, naming `name`, when it does not within `within`.
///
/// Its own group so that the wait tells its socket from another program's (see
/// [`group_listens_within`]).
pub fn spawn_listening(
    command: &mut Command,
    name: &str,
    addr: SocketAddr,
    within: Duration,
) -> KillOnDrop {
    let child = command
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let pgid = i32::try_from(child.id()).expect("a pid fits in i32");
    let server = KillOnDrop(child);
    assert!(
        group_listens_within(addr, pgid, within),
        "{name} listens on {addr} within {within:?}"
    );
    server
}
