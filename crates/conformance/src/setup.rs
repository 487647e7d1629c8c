//! The servers under test: the reference herd started in-process (no target), a running server
//! (`--target`), or an implementation's servers started by the suite (`--spawn`) — plus the
//! probe that checks the target answers at all, detects its framing and learns its name.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use herd_wire::Herd;
use tokio::time::Instant;

use crate::expect::{now_ns, time_text};
use crate::patience::Paces;
use crate::runner::{Env, Framing, Target};
use crate::topology::Topology;
use crate::wire::{Conn, End, Transcript, line_end};
use herd_spawn::Spawner;

/// Where the servers come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Start the reference herd: one `conformance reference-server` process per server (so
    /// resilience tests can stop them), or all in this process with `in_process`.
    Reference {
        herd: Herd,
        server: String,
        in_process: bool,
    },
    /// A herd someone else runs, at the addresses of the herd file.
    Herd { herd: Herd, server: String },
    /// A server someone else runs.
    Target {
        address: String,
        name: Option<String>,
    },
    /// Start the implementation's servers from a command template.
    Spawn {
        template: String,
        herd: Herd,
        server: String,
        whole_herd: bool,
    },
}

/// `--framing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FramingChoice {
    /// Detect: line, or eof when the server answers only after half-close.
    Auto,
    Line,
    Eof,
}

/// Settings for [`prepare`].
#[derive(Clone, Debug)]
pub struct Settings {
    pub source: Source,
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
    _reference: Option<herd_server::LocalHerd>,
}

/// Why the suite could not run.
#[derive(Debug)]
pub struct CannotRun(pub String);

impl<E: std::fmt::Display> From<E> for CannotRun {
    fn from(e: E) -> CannotRun {
        CannotRun(format!("{e:#}"))
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
    let mut header = Vec::new();
    let mut reference = None;
    let mut procs = None;
    let mut topology = None;
    let targets: Vec<Target> = match &settings.source {
        Source::Reference {
            herd,
            server,
            in_process: false,
        } => {
            let exe = std::env::current_exe()
                .map_err(|e| CannotRun(format!("cannot find the suite's own program: {e}")))?;
            // `exec`: the shell becomes the server, so stopping it leaves no orphan behind.
            let template = format!(
                "exec {} {} {{name}} --herd {{herd}} --places-url {{places_url}} --log-dir {{log_dir}}",
                herd_spawn::shell_quote(&exe.display().to_string()),
                crate::reference::SUBCOMMAND
            );
            let (spawner, targets) =
                spawn_servers(&template, herd, server, true, &places_url).await?;
            header.push(format!(
                "reference herd {}: {} reference-server processes (stopped and restarted by \
                 resilience tests): {}",
                herd.origin,
                targets.len(),
                describe(&targets)
            ));
            header.push(format!(
                "  logs and output: {}",
                spawner.log_dir().display()
            ));
            topology = Some(Topology::from_herd(spawner.herd())?);
            procs = Some(Arc::new(spawner));
            targets
        }
        Source::Herd { herd, server } => {
            let t = Topology::from_herd(herd)?;
            let mut targets: Vec<Target> = Vec::new();
            for name in t.names() {
                let addr = t
                    .address(name)
                    .ok_or_else(|| CannotRun(format!("no address for {name}")))?;
                targets.push(Target {
                    addr,
                    name: Some(name.clone()),
                    name_configured: true,
                });
            }
            primary_first(&mut targets, server);
            header.push(format!(
                "running herd {}: {}",
                herd.origin,
                describe(&targets)
            ));
            topology = Some(t);
            targets
        }
        Source::Reference {
            herd,
            server,
            in_process: true,
        } => {
            let choice = herd_server::PlacesChoice::choose(
                Some(&places_url),
                None,
                herd_server::places::PlacesApi::Legacy,
                Duration::from_secs(5),
            )
            .await?;
            let local = herd_server::LocalHerd::start(herd, choice.client, None).await?;
            let targets: Vec<Target> = local
                .servers
                .iter()
                .map(|s| Target {
                    addr: s.address,
                    name: Some(s.name.clone()),
                    name_configured: true,
                })
                .collect();
            header.push(format!(
                "reference herd {} started in-process (resilience tests need processes: drop \
                 --in-process): {}",
                herd.origin,
                describe(&targets)
            ));
            topology = Some(Topology::from_herd(&local.herd)?);
            reference = Some(local);
            let mut targets = targets;
            primary_first(&mut targets, server);
            targets
        }
        Source::Target { address, name } => {
            let addr = resolve(address).await?;
            vec![Target {
                addr,
                name: name.clone(),
                name_configured: name.is_some(),
            }]
        }
        Source::Spawn {
            template,
            herd,
            server,
            whole_herd,
        } => {
            let (spawner, targets) =
                spawn_servers(template, herd, server, *whole_herd, &places_url).await?;
            header.push(format!("spawned: {}", spawner.command_for(server)?));
            header.push(format!(
                "  logs and output: {}",
                spawner.log_dir().display()
            ));
            if *whole_herd {
                topology = Some(Topology::from_herd(spawner.herd())?);
            }
            procs = Some(Arc::new(spawner));
            targets
        }
    };
    header.push(format!(
        "Places stand-in: {places_url}  (the implementation must use this as its Places base URL)"
    ));
    let Some(primary) = targets.first().cloned() else {
        return Err(CannotRun("no server to check".into()));
    };
    let (framing, learned, note) = probe(primary.addr, settings.framing, settings.timeout).await?;
    let run_stamp = format!("{:04x}", rand::random::<u16>());
    let mut targets = targets;
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
            procs,
            topology,
            seed: settings.seed,
            paces: Paces::new(framing, settings.timeout, &run_stamp),
            run_stamp,
            restarts: tokio::sync::Mutex::new(()),
            unreached: Default::default(),
        }),
        header,
        target_label,
        _reference: reference,
    })
}

/// Starts `server` (and, with `whole_herd`, every other server of the herd, all at once) from
/// `template`; returns the spawner and the targets, `server` first.
async fn spawn_servers(
    template: &str,
    herd: &Herd,
    server: &str,
    whole_herd: bool,
    places_url: &str,
) -> Result<(Spawner, Vec<Target>), CannotRun> {
    let mut names: Vec<String> = vec![server.to_owned()];
    if whole_herd {
        names.extend(
            herd.names()
                .iter()
                .map(|n| (*n).to_owned())
                .filter(|n| n != server),
        );
    }
    let spawner = Spawner::launch(template, herd, places_url, &names)
        .await
        .map_err(|e| CannotRun(format!("{e:#}")))?;
    for restart in spawner.restarts() {
        eprintln!("conformance: {restart}");
    }
    let mut targets = Vec::new();
    for name in &names {
        targets.push(Target {
            addr: spawner.address(name)?,
            name: Some(name.clone()),
            name_configured: true,
        });
    }
    Ok((spawner, targets))
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

/// How long the probe waits for a first byte in each framing it tries.
const PROBE_WAIT: Duration = Duration::from_secs(2);

/// Sends one IAMAT to learn in which framing the server answers and its name. A server that
/// accepts connections always gets a verdict: one that answers in neither framing is checked in
/// the chosen one (line, for auto), and every test then says what it got. Only an address that
/// refuses connections makes the suite give up.
async fn probe(
    addr: SocketAddr,
    choice: FramingChoice,
    timeout: Duration,
) -> Result<(Framing, Option<String>, &'static str), CannotRun> {
    let transcript = Arc::new(Transcript::default());
    let wait = PROBE_WAIT.min(timeout);
    let connect = || async {
        Conn::connect(addr, &transcript, Instant::now() + timeout)
            .await
            .map_err(|e| {
                CannotRun(format!(
                    "{e}: is the server running there? (nothing to check)"
                ))
            })
    };
    let mut conn = connect().await?;
    let command = format!(
        "IAMAT conf-probe-{:06x} +0.000001+0.000001 {}",
        rand::random::<u32>() & 0xff_ffff,
        time_text(now_ns())
    );
    let name_of = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let mut fields = text.split_ascii_whitespace();
        (fields.next() == Some("AT"))
            .then(|| fields.next().map(str::to_owned))
            .flatten()
    };
    let io = |e: String| CannotRun(format!("probing {addr}: {e}"));
    if choice == FramingChoice::Eof {
        conn.send(command.as_bytes()).await.map_err(io)?;
        conn.half_close().await.map_err(io)?;
        let got = probe_reply(&mut conn, wait).await;
        return Ok((Framing::Eof, name_of(&got), silent_note(&got)));
    }
    conn.send(format!("{command}\n").as_bytes())
        .await
        .map_err(io)?;
    let got = probe_reply(&mut conn, wait).await;
    if !got.is_empty() || choice == FramingChoice::Line {
        let note = if got.is_empty() {
            silent_note(&got)
        } else if !got.ends_with(b"\n") {
            " (its replies do not end with a newline; iamat/reply-shape and framing/line-client say so)"
        } else {
            ""
        };
        return Ok((Framing::Line, name_of(&got), note));
    }
    // Nothing to a line: does it answer once the client half-closes?
    if conn.half_close().await.is_err() {
        conn = connect().await?;
        conn.send(command.as_bytes()).await.map_err(io)?;
        conn.half_close().await.map_err(io)?;
    }
    let late = probe_reply(&mut conn, wait).await;
    if !late.is_empty() {
        return Ok((
            Framing::Eof,
            name_of(&late),
            " (detected: the server answered only after the client half-closed, so framing/line-client will fail)",
        ));
    }
    Ok((Framing::Line, None, silent_note(&late)))
}

/// Reads until a line ends, the server closes, or it has been quiet for a moment after some
/// bytes (a reply without newline), waiting at most `wait` for the first byte.
async fn probe_reply(conn: &mut Conn, wait: Duration) -> Vec<u8> {
    let got = conn
        .read_until(
            |b: &[u8]| (!b.is_empty()).then_some(b.len()),
            Instant::now() + wait,
        )
        .await;
    let mut bytes = got.bytes;
    if !bytes.is_empty() && !bytes.contains(&b'\n') && got.end == End::Complete {
        let rest = conn
            .read_until(line_end, Instant::now() + Duration::from_millis(300))
            .await;
        bytes.extend(rest.bytes);
    }
    bytes
}

/// The header's note for a server that answered the probe with nothing.
fn silent_note(got: &[u8]) -> &'static str {
    if got.is_empty() {
        " (the server accepted a connection but answered the probe IAMAT in neither framing; \
         every test runs and says what it got)"
    } else {
        ""
    }
}
