//! `conformance`: a thin binary over the library; see `conformance --help`.

use std::process::ExitCode;

use clap::Parser;
use conformance::cli::{Args, run};
use conformance::grade::GradeArgs;
use conformance::reference::{ReferenceArgs, SUBCOMMAND, serve};
use herd_server::StopSignals;

#[tokio::main]
async fn main() -> ExitCode {
    // The hidden mode the suite spawns for its reference herd.
    if std::env::args().nth(1).as_deref() == Some(SUBCOMMAND) {
        let args = ReferenceArgs::parse_from(std::env::args().skip(1));
        let code = serve(args).await;
        // Exit now: the runtime's shutdown would wait for lingering blocking tasks, and a
        // stopped server must let go of its port promptly.
        std::process::exit(i32::from(code));
    }
    if std::env::args().nth(1).as_deref() == Some(conformance::grade::SUBCOMMAND) {
        // Named as typed, so usage lines and errors say `conformance grade`.
        let argv = std::iter::once("conformance grade".to_owned()).chain(std::env::args().skip(2));
        let args = GradeArgs::parse_from(argv);
        return ExitCode::from(conformance::grade::run(args).await);
    }
    let args = Args::parse();
    let mut stop = match StopSignals::register() {
        Ok(stop) => stop,
        Err(e) => {
            eprintln!("conformance: cannot watch for stop signals: {e}");
            return ExitCode::from(2);
        }
    };
    // On Ctrl-C or SIGTERM the run future is dropped, which stops every server it spawned.
    let code = tokio::select! {
        code = run(args) => code,
        signal = stop.wait() => {
            eprintln!("conformance: {signal}; stopping the servers it started");
            130
        }
    };
    ExitCode::from(code)
}
