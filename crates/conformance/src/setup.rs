//! The servers under test — the reference herd (processes, or in this process), a running herd
//! (`--herd`), a running server (`--target`) or an implementation's servers (`--spawn`), chosen
//! and started by `herd_spawn` as the bench's are — with what only the suite adds: the reference
//! servers as its own processes, which server is primary, the run's header, and the [probe]
//! of the primary server.
//!
//! [probe]: crate::probe

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use herd_spawn::{HerdSource, Spawn, StartedHerd};
use herd_wire::Herd;

use crate::patience::Paces;
use crate::probe::{FramingChoice, probe};
use crate::runner::{Env, Target};
use crate::topology::Topology;

/// Settings for [`prepare`].
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where the servers come from.
    pub source: HerdSource,
    /// The server single-server tests talk to: one of the herd's, or the name the `--target`
    /// should have (`--name`; without it the name is learned from its first reply).
    pub primary: Option<String>,
    pub places_port: Option<u16>,
    pub framing: FramingChoice,
    pub timeout: Duration,
    pub settle: Duration,
    pub clock_tolerance: Duration,
    /// Seeds the tests' choices (`--seed`).
    pub seed: u64,
}

/// A ready run: the environment for the tests, what to tell the user, and what keeps the
/// servers alive (dropping it stops them).
#[derive(Debug)]
pub struct Prepared {
    pub env: Arc<Env>,
    /// Lines describing the run, for the report's header.
    pub header: Vec<String>,
    /// `host:port (name)` of the primary target, for machine reports.
    pub target_label: String,
    _herd: StartedHerd,
}

/// Why the suite could not run.
#[derive(Debug)]
pub struct CannotRun(pub String);

impl<E: std::fmt::Display> From<E> for CannotRun {
    fn from(e: E) -> CannotRun {
        CannotRun(format!("{e:#}"))
    }
}

/// The reference herd as one `conformance reference-server` process per server, so resilience
/// tests can stop them; `server` is started first and listed first.
pub(crate) fn reference_processes(herd: &Herd, server: &str) -> Result<HerdSource, CannotRun> {
    let exe = std::env::current_exe()
        .map_err(|e| CannotRun(format!("cannot find the suite's own program: {e}")))?;
    // `exec`: the shell becomes the server, so stopping it leaves no orphan behind.
    let template = format!(
        "exec {} {} {{name}} --herd {{herd}} --places-url {{places_url}} --log-dir {{log_dir}}",
        herd_spawn::shell_quote(&exe.display().to_string()),
        crate::reference::SUBCOMMAND
    );
    Ok(HerdSource::ReferenceProcesses(spawn_of(
        &template, herd, server, true,
    )))
}

/// `server` (and, with `whole_herd`, every other server of the herd after it) started from
/// `template`.
pub(crate) fn spawn_of(template: &str, herd: &Herd, server: &str, whole_herd: bool) -> Spawn {
    let mut names: Vec<String> = vec![server.to_owned()];
    if whole_herd {
        names.extend(
            herd.names()
                .iter()
                .map(|n| (*n).to_owned())
                .filter(|n| n != server),
        );
    }
    Spawn {
        template: template.to_owned(),
        herd: herd.clone(),
        names,
    }
}

/// Starts the stand-in (and servers, if the suite owns them) and probes the primary target.
pub async fn prepare(settings: Settings) -> Result<Prepared, CannotRun> {
    let stand_in = mocks::PlacesStandIn::start_with(mocks::StandInConfig {
        port: settings.places_port,
        ..Default::default()
    })
    .await
    .map_err(|e| CannotRun(format!("cannot start the Places stand-in: {e:#}")))?;
    let places_url = stand_in.uri();
    let started = settings.source.start(Some(&places_url)).await?;
    for restart in started.restarts() {
        eprintln!("conformance: {restart}");
    }
    let topology = started.whole_herd().map(Topology::from_herd).transpose()?;
    let mut targets = targets_of(&settings, &started, topology.as_ref()).await?;
    // The in-process herd is listed in herd order, a running herd with the primary first.
    let in_herd_order = describe(&targets);
    if let Some(server) = &settings.primary {
        primary_first(&mut targets, server);
    }
    let mut header = Vec::new();
    match &settings.source {
        HerdSource::ReferenceProcesses(spawn) => header.push(format!(
            "reference herd {}: {} reference-server processes (stopped and restarted by \
             resilience tests): {}",
            spawn.herd.origin,
            targets.len(),
            describe(&targets)
        )),
        HerdSource::Running(herd) => header.push(format!(
            "running herd {}: {}",
            herd.origin,
            describe(&targets)
        )),
        HerdSource::Reference(herd) => header.push(format!(
            "reference herd {} started in-process (resilience tests need processes: drop \
             --in-process): {in_herd_order}",
            herd.origin,
        )),
        HerdSource::Spawn(spawn) => {
            if let (Some(spawner), Some(server)) = (started.spawner(), spawn.names.first()) {
                header.push(format!("spawned: {}", spawner.command_for(server)?));
            }
        }
        HerdSource::Targets(_) => {}
    }
    if let Some(spawner) = started.spawner() {
        header.push(format!(
            "  logs and output: {}",
            spawner.log_dir().display()
        ));
    }
    header.push(format!(
        "Places stand-in: {places_url}  (the implementation must use this as its Places base URL)"
    ));
    let Some(primary) = targets.first().cloned() else {
        return Err(CannotRun("no server to check".into()));
    };
    let (framing, learned, note) = probe(primary.addr, settings.framing, settings.timeout)
        .await
        .map_err(CannotRun)?;
    let run_stamp = format!("{:04x}", rand::random::<u16>());
    if targets[0].name.is_none() {
        targets[0].name = learned.clone();
    }
    let name_shown = match (&targets[0].name, targets[0].name_configured) {
        (Some(n), true) => n.clone(),
        (Some(n), false) => format!("{n} (learned from its first reply; --name to check it)"),
        (None, _) => "?".to_owned(),
    };
    header.insert(
        0,
        format!("checking {} — server {name_shown}", primary.addr),
    );
    header.push(format!("framing: {}{note}", framing.name()));
    let target_label = format!(
        "{} ({})",
        primary.addr,
        targets[0].name.as_deref().unwrap_or("?")
    );
    Ok(Prepared {
        env: Arc::new(Env {
            targets,
            stand_in,
            framing,
            timeout: settings.timeout,
            settle: settings.settle,
            clock_tolerance: settings.clock_tolerance,
            procs: started.spawner().cloned(),
            topology,
            seed: settings.seed,
            paces: Paces::new(framing, settings.timeout, &run_stamp),
            run_stamp,
            restarts: tokio::sync::Mutex::new(()),
            unreached: Default::default(),
        }),
        header,
        target_label,
        _herd: started,
    })
}

/// The servers under test as the tests address them, in the order they were started or listed.
async fn targets_of(
    settings: &Settings,
    started: &StartedHerd,
    topology: Option<&Topology>,
) -> Result<Vec<Target>, CannotRun> {
    let mut targets = Vec::new();
    if let HerdSource::Targets(addresses) = &settings.source {
        for address in addresses {
            targets.push(Target {
                addr: resolve(address).await?,
                name: settings.primary.clone(),
                name_configured: settings.primary.is_some(),
            });
        }
        return Ok(targets);
    }
    for (name, _) in &started.servers {
        let addr = match (started.spawner(), topology) {
            (Some(spawner), _) => spawner.address(name)?,
            (None, Some(topology)) => topology
                .address(name)
                .ok_or_else(|| CannotRun(format!("no address for {name}")))?,
            (None, None) => return Err(CannotRun(format!("no address for {name}"))),
        };
        targets.push(Target {
            addr,
            name: Some(name.clone()),
            name_configured: true,
        });
    }
    Ok(targets)
}

/// `Riley 127.0.0.1:1234, Jaquez ...`.
fn describe(targets: &[Target]) -> String {
    targets
        .iter()
        .map(|t| format!("{} {}", t.name.as_deref().unwrap_or("?"), t.addr))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Puts `server` first: single-server tests talk to the first target.
fn primary_first(targets: &mut [Target], server: &str) {
    if let Some(i) = targets
        .iter()
        .position(|t| t.name.as_deref() == Some(server))
    {
        targets.swap(0, i);
    }
}

async fn resolve(address: &str) -> Result<SocketAddr, CannotRun> {
    let mut found = tokio::net::lookup_host(address).await.map_err(|e| {
        CannotRun(format!(
            "cannot resolve --target {address}: {e} (want HOST:PORT, e.g. localhost:12000)"
        ))
    })?;
    found
        .next()
        .ok_or_else(|| CannotRun(format!("--target {address} resolves to no address")))
}
