//! Test doubles and helpers for the workspace's tests: a dev-dependency only, so no binary links
//! them.
//!
//! - [`python_target`]: the Python target (`python/herd_server.py`) started as real processes,
//!   its venv created on first use;
//! - [`link_proxy`]: a TCP proxy to put between two herd servers, with latency, cuts, one-way
//!   black holes and tiny segments switched at run time.
//!
//! The Google Places stand-in is not here: it is the `mocks` crate, which the reference server
//! may link (feature `stand-in`) to answer WHATSAT offline.

pub mod link_proxy;
pub mod python_target;

pub use link_proxy::{Direction, LinkProxy};
