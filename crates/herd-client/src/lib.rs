//! `herd_client`: the library behind the `herd-client` command line.
//!
//! Layout: [`cli`] declares the arguments, [`target`] turns them into an address, [`exchange`]
//! owns the socket (both framings, one deadline), [`reply`] splits and parses what came back,
//! [`check`] validates operands before anything is sent, [`render`] and [`json`] print, and
//! [`commands`] ties them together per subcommand ([`where_view`] for the convergence view).

mod check;
mod cli;
mod commands;
mod exchange;
mod geo;
mod human;
mod json;
mod places;
mod render;
mod reply;
mod target;
mod where_view;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

/// How a run ended; the process exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered with an AT reply (exit 0).
    Answered,
    /// The server answered `?` (exit 1).
    Rejected,
    /// Bad usage, or the server could not be reached or understood (exit 2).
    Failed,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> ExitCode {
        ExitCode::from(match outcome {
            Outcome::Answered => 0,
            Outcome::Rejected => 1,
            Outcome::Failed => 2,
        })
    }
}

/// Parses `args` and runs the command, printing to stdout/stderr.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    cli.color.write_global();
    commands::run(&cli).into()
}
