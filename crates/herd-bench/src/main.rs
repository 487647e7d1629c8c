//! `herd-bench`: thin CLI over the `herd_bench` library.

use std::process::ExitCode;

use clap::Parser as _;
use herd_bench::args::Args;

/// The allocator `herd-server` uses: the in-process reference herd (`--spawn-reference`,
/// `--compare reference`) then runs as the server binary does, and the load costs less CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("herd-bench: {}", one_line(&e));
            return ExitCode::from(2);
        }
    };
    match herd_bench::app::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herd-bench: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// clap's error as one line: its first line without the `error: ` prefix, and where to look.
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    format!("{first} (see --help)")
}
