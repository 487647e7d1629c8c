//! Test doubles and helpers for the workspace's tests: a dev-dependency only, so no binary links
//! them. One copy of each job the test-support modules of several crates need:
//!
//! - [`python_target`]: the Python target (`python/herd_server.py`) started as real processes,
//!   its venv created on first use, and its `--spawn` template;
//! - [`link_proxy`]: a TCP proxy to put between two herd servers, with latency, cuts, one-way
//!   black holes and tiny segments switched at run time;
//! - [`ports`]: free ports on 127.0.0.1 (tests never use fixed ones);
//! - [`waiting`]: bounded waits for a condition, or for a started process to listen;
//! - [`server_process`]: a server process started, waited for and killed on drop;
//! - [`binary`]: a built binary run to its end, its exit code and output kept;
//! - [`exchange`]: one request written and the reply read until the server closes, bounded;
//! - [`herd_file`]: the herd file of one server on a free port;
//! - [`output`]: a process's output as text;
//! - [`workspace`]: the workspace root.
//!
//! What only one crate's tests need stays in that crate's test-support module. The Google Places
//! stand-in is not here: it is the `mocks` crate, which the reference server may link (feature
//! `stand-in`) to answer WHATSAT offline.

pub mod binary;
pub mod exchange;
pub mod herd_file;
pub mod link_proxy;
pub mod output;
pub mod ports;
pub mod python_target;
pub mod server_process;
pub mod waiting;
pub mod workspace;

pub use link_proxy::{Direction, LinkProxy};
pub use workspace::workspace_root;
