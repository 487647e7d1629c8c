//! The proxy-herd wire grammar, shared by the reference server, the client and the bench.
//!
//! Everything here is pure: parsing and rendering of the protocol's lines (see
//! `shared/spec/protocol.md`), the herd configuration and its built-in presets. The conformance
//! suite deliberately does *not* use this crate for its expectations, so that a bug here cannot
//! hide behind a matching bug in the server.

pub mod at_line;
pub mod cli_values;
pub mod client_time;
pub mod command;
pub mod fields;
pub mod google_json;
pub mod herd;
pub mod position;
pub mod request;
pub mod whatsat_args;

pub use at_line::AtLine;
pub use cli_values::{Framing, parse_duration};
pub use client_time::{ClientTime, TimeDiff};
pub use command::{Command, Iamat, Whatsat, parse_command};
pub use herd::{Herd, HerdError, PeerSecret, Preset, ServerSpec};
pub use position::Position;
pub use whatsat_args::{Bound, Radius};
