//! `herd-bench`: thin CLI over the `herd_bench` library.

use std::process::ExitCode;

use clap::Parser;
use herd_bench::args::Args;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match herd_bench::app::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herd-bench: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
