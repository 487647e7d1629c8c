//! Herd files a test writes for a server it starts itself, on a free port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::ports::free_port;

/// Writes `dir/herd.toml`: a herd of the one server `name`, on a free port of 127.0.0.1, with no
/// neighbours. Returns the file and the server's address.
pub fn one_server(dir: &Path, name: &str) -> (PathBuf, SocketAddr) {
    let address = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let path = dir.join("herd.toml");
    std::fs::write(
        &path,
        format!("[[server]]\nname = \"{name}\"\naddress = \"{address}\"\n"),
    )
    .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    (path, address)
}
