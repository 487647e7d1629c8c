//! `places-mock`: runs the Google Places stand-in as a standalone HTTP server.
//!
//! Prints its base URL as the only line on stdout, a hint on stderr, and serves
//! until Ctrl-C or SIGTERM. Bad arguments or an unusable port exit with status 2.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use mocks::{FailureMode, PlacesStandIn, StandInConfig, ZERO_RESULTS_AREA};

/// A local stand-in for Google Places Nearby Search (legacy and New API).
///
/// Answers `GET /maps/api/place/nearbysearch/json?location=LAT,LNG&radius=METRES&key=KEY`
/// exactly as Google lays it out, and `POST /v1/places:searchNearby` (headers
/// X-Goog-Api-Key and X-Goog-FieldMask), with deterministic synthetic places.
/// Any non-empty key is accepted. Prints `http://127.0.0.1:PORT` on stdout, then
/// serves until Ctrl-C or SIGTERM.
#[derive(Debug, Parser)]
#[command(name = "places-mock", version)]
struct Cli {
    /// Port to listen on at 127.0.0.1; 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Delay added before every response, e.g. `20ms`, `1s`, `1s500ms`.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    latency: Duration,

    /// Failure to inject: `http500` answers HTTP 500, `hang` waits an hour
    /// (so client timeouts fire), `not-json` answers `<html>not json</html>`.
    #[arg(long = "fail", value_enum, value_name = "MODE", default_value_t = FailMode::None)]
    fail: FailMode,
}

/// Command-line spelling of [`FailureMode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FailMode {
    /// Behave like Google.
    None,
    /// HTTP 500 with a short text body.
    Http500,
    /// Wait an hour before answering.
    Hang,
    /// HTTP 200 with an HTML body.
    NotJson,
}

impl From<FailMode> for FailureMode {
    fn from(mode: FailMode) -> Self {
        match mode {
            FailMode::None => Self::None,
            FailMode::Http500 => Self::Http500,
            FailMode::Hang => Self::Hang,
            FailMode::NotJson => Self::NotJson,
        }
    }
}

/// Exit status for bad arguments and an unusable port.
const USAGE_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help or --version.
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            let rendered = err.to_string();
            let first_line = rendered.lines().next().unwrap_or("invalid arguments");
            let message = first_line.strip_prefix("error: ").unwrap_or(first_line);
            eprintln!("places-mock: {message} (see --help)");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("places-mock: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(cli))
}

async fn serve(cli: Cli) -> ExitCode {
    let config = StandInConfig {
        port: Some(cli.port),
        latency: cli.latency,
        failure: cli.fail.into(),
    };
    let stand_in = match PlacesStandIn::start_unrecorded(config).await {
        Ok(stand_in) => stand_in,
        Err(err) => {
            eprintln!("places-mock: {err:#}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    let uri = stand_in.uri();
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{uri}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        // Nobody reads our address; serving anyway would be pointless.
        return ExitCode::FAILURE;
    }
    drop(stdout);
    let (empty_lat, empty_lng) = ZERO_RESULTS_AREA.example;
    eprintln!(
        "places-mock: serving Google Places stand-in at {uri} (latency {}, failure mode {:?})\n\
         \x20 legacy: curl '{uri}/maps/api/place/nearbysearch/json?location=34.068930,-118.445127&radius=10000&key=test'\n\
         \x20 new:    curl -X POST {uri}/v1/places:searchNearby -H 'X-Goog-Api-Key: test' -H 'X-Goog-FieldMask: *' \\\n\
         \x20           -d '{{\"maxResultCount\": 5, \"locationRestriction\": {{\"circle\": {{\"center\": {{\"latitude\": 34.07, \"longitude\": -118.45}}, \"radius\": 1000}}}}}}'\n\
         \x20 point a server at it by replacing https://maps.googleapis.com (or https://places.googleapis.com)\n\
         \x20 with {uri}, e.g. the reference server's Places base-URL option or a Python server's URL constant.\n\
         \x20 searches centred south of {}° latitude (e.g. {empty_lat},{empty_lng}) answer ZERO_RESULTS.\n\
         \x20 Ctrl-C or SIGTERM stops it.",
        humantime::format_duration(cli.latency),
        cli.fail,
        ZERO_RESULTS_AREA.south_of_latitude,
    );
    if let Err(err) = shutdown_signal().await {
        eprintln!("places-mock: cannot wait for a shutdown signal: {err}");
        return ExitCode::FAILURE;
    }
    eprintln!("places-mock: shutting down");
    drop(stand_in);
    ExitCode::SUCCESS
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
