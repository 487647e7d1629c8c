//! The command line: subcommands and the options that may stand before or after them.

use std::ffi::OsString;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  herd-client iamat kiwi.cs.ucla.edu +34.068930-118.445127
  herd-client whatsat kiwi.cs.ucla.edu 10 5 --server Bernard
  herd-client raw 'WHATSAT kiwi.cs.ucla.edu 51 5' --addr 127.0.0.1:12000
  herd-client where kiwi.cs.ucla.edu --herd spring21
  herd-client iamat kiwi.cs.ucla.edu +34-118 --time 1621464827.959498503 --framing eof --json

Exit status: 0 on an AT reply, 1 when the server answered `?`, 2 on usage or connection errors
(and for `where`: 0 when some server knows the client, 1 when none does, 2 when a server failed).";

/// Talk to a proxy herd: report a client's location (IAMAT), ask what is near it (WHATSAT), send
/// any line, or see which servers of the herd know a client.
#[derive(Debug, Parser)]
#[command(name = "herd-client", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Print the reply bytes exactly as received.
    #[arg(long, global = true, conflicts_with = "json")]
    pub raw: bool,

    /// Print one JSON object with the parsed fields (and the Places JSON), for scripts.
    #[arg(long, global = true)]
    pub json: bool,

    /// When to colour the output (auto: only on a terminal, and never with NO_COLOR set).
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

/// What to send.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report a client's position: sends `IAMAT CLIENT POSITION TIME` and prints the AT reply.
    Iamat {
        /// The client ID (any word without white space), e.g. kiwi.cs.ucla.edu.
        client: String,
        /// ISO 6709 position: signed latitude then signed longitude, e.g. +34.068930-118.445127.
        #[arg(allow_hyphen_values = true)]
        position: String,
        /// The client time to send (seconds since the epoch, up to 9 fraction digits);
        /// default: now, with nanoseconds.
        #[arg(long, value_name = "T", allow_hyphen_values = true)]
        time: Option<String>,
    },
    /// Ask what is near a client: sends `WHATSAT CLIENT RADIUS BOUND` and prints the AT line
    /// and a table of the places.
    Whatsat {
        /// The client ID the herd has heard of.
        client: String,
        /// Radius in kilometres (more than 0, at most 50).
        #[arg(allow_hyphen_values = true)]
        radius: String,
        /// At most this many places (0 to 20).
        #[arg(allow_hyphen_values = true)]
        bound: String,
    },
    /// Send exactly this line, unchecked (for poking servers with bad input), and print the
    /// reply bytes as received. With line framing a missing newline is added.
    Raw {
        /// The line to send; several lines (separated by newlines) are several commands.
        #[arg(allow_hyphen_values = true)]
        line: OsString,
    },
    /// Ask every server of the herd about a client and print which server knows which location
    /// and client time: a view of how far a flood has spread.
    Where {
        /// The client ID to look up.
        client: String,
    },
}

/// Which server to talk to, and how.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The server to talk to, by name in the herd (default: the herd's first server).
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "addr")]
    pub server: Option<String>,

    /// The herd: a preset (winter21, spring21, spring20, winter18, recent) or a TOML file.
    #[arg(
        long,
        global = true,
        value_name = "PRESET|FILE",
        default_value = "winter21"
    )]
    pub herd: String,

    /// Talk to this address instead of a server of the herd.
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub addr: Option<String>,

    /// line: write a line and read one reply; eof: write, half-close, read until the server
    /// closes (for servers that answer only after end of input).
    #[arg(long, global = true, value_enum, default_value_t = Framing::Line)]
    pub framing: Framing,

    /// How long to wait for the connection and the whole reply, e.g. 5s, 300ms, 2.5 (seconds).
    #[arg(long, global = true, value_name = "DURATION", default_value = "5s", value_parser = parse_timeout)]
    pub timeout: Duration,
}

pub use herd_wire::Framing;

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl ColorWhen {
    /// Makes every `anstream` stream follow this choice.
    pub fn write_global(self) {
        let choice = match self {
            ColorWhen::Auto => anstream::ColorChoice::Auto,
            ColorWhen::Always => anstream::ColorChoice::Always,
            ColorWhen::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
    }
}

/// `5s`, `300ms`, or a bare number of seconds (`2.5`); zero is refused.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let duration = herd_wire::parse_duration(text)?;
    if duration.is_zero() {
        return Err("the timeout must be more than zero".to_owned());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_take_units_or_seconds() {
        assert_eq!(parse_timeout("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_timeout("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_timeout("5s"), Ok(Duration::from_secs(5)));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("-1").is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
