//! `conformance`: a thin binary over the library; see `conformance --help`.

use std::process::ExitCode;

use clap::Parser;
use conformance::cli::{Args, run};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // On Ctrl-C or SIGTERM the run future is dropped, which stops every server it spawned.
    let code = tokio::select! {
        code = run(args) => code,
        signal = interrupted() => {
            eprintln!("conformance: {signal}; stopping the servers it started");
            130
        }
    };
    ExitCode::from(code)
}

/// Resolves on Ctrl-C or SIGTERM, naming which.
async fn interrupted() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "interrupted";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = term.recv() => "terminated",
    }
}
