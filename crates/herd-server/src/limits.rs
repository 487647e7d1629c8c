//! `Limits`: every bound the server keeps, each a command-line flag with a documented default.
//!
//! The reference server runs for weeks facing anything, so nothing a peer or client sends may
//! grow memory, descriptors, log files or outbound calls without a bound. The defaults are far
//! above what a course herd needs and far below what would hurt the machine; the README's
//! "Limits and security" section explains each one and what happens at it.

use std::time::Duration;

use clap::builder::TypedValueParser as _;
use herd_wire::parse_duration;

use crate::log::LogRotation;

/// Longest line (without its `\n`) on client and peer connections alike.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;
/// Longest client ID.
pub const DEFAULT_MAX_CLIENT_ID: usize = 1024;
/// Most clients one server stores.
pub const DEFAULT_MAX_CLIENTS: usize = 1_000_000;
/// Most connections (clients and peers) one server holds open.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Bytes of updates waiting for one peer link before further ones are dropped.
pub const DEFAULT_LINK_QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// Places requests in flight per server.
pub const DEFAULT_PLACES_CONCURRENCY: usize = 64;

/// The bounds of one server.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
#[command(next_help_heading = "Limits (see the README's \"Limits and security\")")]
pub struct Limits {
    /// Longest line in bytes, without its newline, on client and peer connections alike; a
    /// longer one is answered `? ` with its first this-many bytes, whatever the segmentation.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(64..).map(|v| v as usize))]
    pub max_line: usize,

    /// Longest client ID in bytes; an IAMAT with a longer one gets `?`, a peer update is dropped.
    #[arg(long, default_value_t = DEFAULT_MAX_CLIENT_ID, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub max_client_id: usize,

    /// Most clients stored; at the limit an IAMAT of a new client gets `?` (known clients still
    /// update) and a peer update about a new client is dropped and logged.
    #[arg(long, default_value_t = DEFAULT_MAX_CLIENTS, value_name = "N", value_parser = clap::value_parser!(u64).range(1..).map(|v| v as usize))]
    pub max_clients: usize,

    /// Most open connections; beyond it new connections are closed at once (one log line per
    /// second says how many), and the open ones are unaffected.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS, value_name = "N", value_parser = clap::value_parser!(u64).range(1..).map(|v| v as usize))]
    pub max_connections: usize,

    /// A client connection that sends nothing for this long is closed (peer links are kept and
    /// watched by TCP keepalive instead).
    #[arg(long, default_value = "300", value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Duration,

    /// A connection whose line has started but not ended for this long is closed (slowloris).
    #[arg(long, default_value = "30", value_parser = parse_duration, value_name = "DURATION")]
    pub partial_line_timeout: Duration,

    /// A client time further than this ahead of the server's clock is invalid (`?` on IAMAT;
    /// a peer update carrying one is dropped and logged), so no client can be pinned for good.
    #[arg(long, default_value = "1d", value_parser = parse_duration, value_name = "DURATION")]
    pub max_future: Duration,

    /// Bytes of updates queued for one peer link; beyond it updates for that link are dropped
    /// (a neighbour that stops reading cannot grow the sender's memory).
    #[arg(long, default_value_t = DEFAULT_LINK_QUEUE_BYTES, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1024..).map(|v| v as usize))]
    pub link_queue_bytes: usize,

    /// Idle time before TCP keepalive probes a peer link, so a half-open link is found and
    /// relinked.
    #[arg(long, default_value = "30", value_parser = parse_duration, value_name = "DURATION")]
    pub peer_keepalive: Duration,

    /// Places requests in flight at once; further WHATSATs wait for a slot, and identical
    /// requests in flight share one call.
    #[arg(long, default_value_t = DEFAULT_PLACES_CONCURRENCY, value_name = "N", value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub places_concurrency: usize,

    /// On SIGTERM or Ctrl-C, how long WHATSATs already waiting on Places get to be answered
    /// before the server exits.
    #[arg(long, default_value = "2", value_parser = parse_duration, value_name = "DURATION")]
    pub shutdown_grace: Duration,

    /// Rotate a log file before it would grow past this size: bytes, or with a KiB, MiB or GiB
    /// suffix; 0 never rotates. NAME.log becomes NAME.log.1, .1 becomes .2, and so on.
    #[arg(long, default_value = "64MiB", value_parser = crate::log::parse_size, value_name = "SIZE")]
    pub log_max_size: u64,

    /// Rotated log files kept per server (NAME.log.1 … NAME.log.N); older ones are deleted.
    #[arg(long, default_value_t = LogRotation::DEFAULT_KEEP, value_name = "N")]
    pub log_keep: usize,
}

impl Limits {
    /// When the log files rotate.
    pub fn log_rotation(&self) -> LogRotation {
        LogRotation {
            max_size: self.log_max_size,
            keep: self.log_keep,
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_line: DEFAULT_MAX_LINE,
            max_client_id: DEFAULT_MAX_CLIENT_ID,
            max_clients: DEFAULT_MAX_CLIENTS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Duration::from_secs(300),
            partial_line_timeout: Duration::from_secs(30),
            max_future: Duration::from_secs(86_400),
            link_queue_bytes: DEFAULT_LINK_QUEUE_BYTES,
            peer_keepalive: Duration::from_secs(30),
            places_concurrency: DEFAULT_PLACES_CONCURRENCY,
            shutdown_grace: Duration::from_secs(2),
            log_max_size: LogRotation::DEFAULT_MAX_SIZE,
            log_keep: LogRotation::DEFAULT_KEEP,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        limits: Limits,
    }

    #[test]
    fn the_flag_defaults_are_the_library_defaults() {
        let parsed = Cli::try_parse_from(["herd-server"]).map(|c| c.limits);
        assert_eq!(parsed.ok(), Some(Limits::default()));
    }
}
