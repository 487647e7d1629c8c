//! The reference proxy-herd server, as a library: the `herd-server` binary is a thin CLI over it,
//! and tests and tools start servers in-process through [`launch`].
//!
//! Layout, after tokio's mini-redis: [`connection`] owns framing, [`db`] owns the locations,
//! [`cmd`] has one module per command, [`flood`] owns the peer links, [`places`] the Google calls,
//! [`log`] the log files, [`state`] is what one server is, [`party`] who is on the other end of
//! a connection, [`server`] accepts connections and drives each one. [`limits`] holds every
//! bound (each a flag), [`peer_auth`] the peer-link handshake.

mod cmd;
pub mod connection;
mod db;
pub mod faults;
mod flood;
mod limits;
mod local_herd;
mod log;
mod party;
pub mod peer_auth;
pub mod places;
mod server;
pub mod setup;
pub mod state;
mod stop;

pub use limits::Limits;
pub use local_herd::LocalHerd;
pub use setup::{Launch, PlacesChoice, Running, closed, drain, launch};
pub use stop::{StopSignals, serve_until_stopped};
