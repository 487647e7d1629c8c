//! What Linux's `/proc` says about a spawned server's process group: which of its processes are
//! alive, and whether the socket listening on a port is one of theirs. Every function answers
//! `None` when `/proc` cannot tell (another OS, or no permission), and callers then fall back to
//! what a TCP connection can tell.

use std::collections::HashSet;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// Who holds the socket listening on a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// Nothing listens there.
    Nobody,
    /// A process of the group listens there.
    Group,
    /// Something listens there, and no process of the group holds it.
    Stranger,
    /// `/proc` cannot tell whose the listening socket is.
    Unknown,
}

/// Whose is the socket listening on `port` (any local address, IPv4 or IPv6): a process of
/// group `pgid`, or another program?
pub fn listener_on(port: u16, pgid: i32) -> Listener {
    let Some(listening) = listening_inodes(port) else {
        return Listener::Unknown;
    };
    if listening.is_empty() {
        return Listener::Nobody;
    }
    let Some(members) = live_members(pgid) else {
        return Listener::Unknown;
    };
    // A group with no live process holds no socket.
    if members.is_empty() {
        return Listener::Stranger;
    }
    let mut readable = false;
    for pid in members {
        if let Some(held) = socket_inodes(pid) {
            readable = true;
            if !held.is_disjoint(&listening) {
                return Listener::Group;
            }
        }
    }
    if readable {
        Listener::Stranger
    } else {
        Listener::Unknown
    }
}

/// Whether a process of group `pgid` listens on `addr`: something there accepts a connection,
/// and `/proc` does not say that it is another program. For a caller that started a server in a
/// process group of its own (`process_group(0)`: the group is the child's pid) on a port chosen
/// free a moment ago.
pub fn group_listens(addr: SocketAddr, pgid: i32) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        && matches!(
            listener_on(addr.port(), pgid),
            Listener::Group | Listener::Unknown
        )
}

/// The pids of group `pgid` that are alive (zombies do not count: in a container nobody may ever
/// reap a server whose shell died first).
pub fn live_members(pgid: i32) -> Option<Vec<u32>> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut live = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((state, group)) = state_and_group(&stat)
            && group == pgid
            && state != "Z"
        {
            live.push(pid);
        }
    }
    Some(live)
}

/// The state and process group from a `/proc/PID/stat` line: `pid (comm) state ppid pgrp ...`,
/// where comm may hold spaces and parentheses.
fn state_and_group(stat: &str) -> Option<(&str, i32)> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?;
    let group = fields.nth(1)?.parse().ok()?;
    Some((state, group))
}

/// The inodes of the sockets listening on `port`, from `/proc/net/tcp` and `/proc/net/tcp6`.
fn listening_inodes(port: u16) -> Option<HashSet<u64>> {
    let mut found = HashSet::new();
    let mut any = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            any = true;
            found.extend(text.lines().filter_map(|l| listening_inode(l, port)));
        }
    }
    any.then_some(found)
}

/// The inode of one `/proc/net/tcp` row if it is a socket listening on `port`.
fn listening_inode(row: &str, port: u16) -> Option<u64> {
    const LISTEN: &str = "0A";
    let fields: Vec<&str> = row.split_whitespace().collect();
    let local_port = fields.get(1)?.rsplit_once(':')?.1;
    if u16::from_str_radix(local_port, 16).ok()? != port || *fields.get(3)? != LISTEN {
        return None;
    }
    fields.get(9)?.parse().ok()
}

/// The inodes of every socket process `pid` holds open.
fn socket_inodes(pid: u32) -> Option<HashSet<u64>> {
    let fds = std::fs::read_dir(Path::new("/proc").join(pid.to_string()).join("fd")).ok()?;
    Some(
        fds.flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .filter_map(|target| {
                let target = target.to_str()?;
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .parse()
                    .ok()
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_the_tcp_table() {
        let v4 = "   1: 0100007F:2EE0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 424242 1 0000000000000000 100 0 0 10 0";
        assert_eq!(listening_inode(v4, 12000), Some(424242));
        assert_eq!(listening_inode(v4, 12001), None);
        let established = v4.replacen(" 0A ", " 01 ", 1);
        assert_eq!(listening_inode(&established, 12000), None);
        let v6 = "   0: 00000000000000000000000001000000:2EE0 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 100 0 0 10 0";
        assert_eq!(listening_inode(v6, 12000), Some(77));
        assert_eq!(
            listening_inode("  sl  local_address rem_address   st", 12000),
            None
        );
    }

    #[test]
    fn stat_lines_with_awkward_names() {
        assert_eq!(
            state_and_group("123 (py (thon) x) S 1 4567 4567 0 -1"),
            Some(("S", 4567))
        );
        assert_eq!(state_and_group("9 (sh) Z 1 9 9"), Some(("Z", 9)));
        assert_eq!(state_and_group("garbage"), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_listener_of_this_process_is_found_in_its_group_and_not_in_another() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let own_group = nix::unistd::getpgrp().as_raw();
        assert_eq!(listener_on(port, own_group), Listener::Group);
        // A group that has no live member (the pgid of a process that does not exist).
        assert_eq!(listener_on(port, i32::MAX - 7), Listener::Stranger);
        drop(listener);
        assert_eq!(listener_on(port, own_group), Listener::Nobody);
    }
}
