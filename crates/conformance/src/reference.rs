//! `conformance reference-server NAME --herd FILE ...` (hidden): runs one server of the reference
//! implementation (`herd_server`) as its own process, so the no-argument run can stop and restart
//! reference servers like any `--spawn`ed implementation — without needing the `herd-server`
//! binary to be built next to this one.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use herd_server::faults::Fault;
use herd_server::places::PlacesApi;
use herd_server::{Launch, PlacesChoice, StopSignals, serve_until_stopped};
use herd_wire::Herd;
use tokio::net::TcpListener;

/// The first argument that selects this mode.
pub const SUBCOMMAND: &str = "reference-server";

/// One reference server of a herd (internal: the suite spawns this for its no-argument run).
#[derive(Parser, Debug)]
#[command(name = "conformance reference-server")]
pub struct ReferenceArgs {
    /// The server's name in the herd.
    pub name: String,
    /// The herd (preset or TOML file) with every server's address.
    #[arg(long)]
    pub herd: String,
    /// Listen on this port on 127.0.0.1 instead of the herd file's address.
    #[arg(long)]
    pub port: Option<u16>,
    /// Places base URL (the suite's stand-in).
    #[arg(long)]
    pub places_url: String,
    /// Where NAME.log goes (none: no log file).
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
    /// A deliberate mistake (for the suite's self-tests).
    #[arg(long, value_enum)]
    pub fault: Vec<Fault>,
    /// Which Places API to call.
    #[arg(long, value_enum, default_value = "legacy")]
    pub places_api: PlacesApi,
}

/// Serves until SIGTERM or Ctrl-C; returns the exit code.
pub async fn serve(args: ReferenceArgs) -> u8 {
    // Registered first: a stop while the server starts must still stop it cleanly.
    let mut stop = match StopSignals::register() {
        Ok(stop) => stop,
        Err(e) => {
            eprintln!("conformance reference-server: cannot watch for stop signals: {e}");
            return 2;
        }
    };
    match serve_inner(args, &mut stop).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("conformance reference-server: {e:#}");
            2
        }
    }
}

async fn serve_inner(args: ReferenceArgs, stop: &mut StopSignals) -> anyhow::Result<()> {
    let herd = Herd::load(&args.herd)?;
    let spec = herd.server(&args.name).ok_or_else(|| {
        anyhow::anyhow!(
            "`{}` is not a server of herd {} ({})",
            args.name,
            herd.origin,
            herd.names().join(", ")
        )
    })?;
    let address = match args.port {
        Some(port) => format!("127.0.0.1:{port}"),
        None => spec.address.clone(),
    };
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|e| anyhow::anyhow!("{} cannot listen on {address}: {e}", args.name))?;
    let places = PlacesChoice::choose(
        Some(&args.places_url),
        None,
        args.places_api,
        Duration::from_secs(5),
    )
    .await?;
    let shared = Launch {
        herd: herd.clone(),
        log_dir: args.log_dir.clone(),
        places: places.client.clone(),
        faults: args.fault.clone(),
        limits: Default::default(),
    };
    serve_until_stopped(
        &shared,
        vec![(args.name.clone(), listener)],
        stop,
        shared.limits.shutdown_grace,
        |running| {
            eprintln!(
                "reference server {} listening on {} (faults: {:?})",
                running.name, running.address, args.fault
            )
        },
    )
    .await?;
    Ok(())
}
