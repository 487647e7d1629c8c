//! The herd under test, as the conformance suite and the bench both see it: where it comes from
//! (the reference herd in this process or as processes, a herd someone else runs, servers given
//! by address, or servers started from a command template), starting it, keeping it alive
//! (dropping the [`StartedHerd`] stops what was started), which servers are under test at which
//! address, how it is named in reports, and which of its servers are down or unreachable.
//!
//! What only one tool needs stays in that tool: the suite's probe and framing detection, the
//! bench's `--compare` operands and its built-in sink (held here through [`StartedHerd::holding`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use herd_server::Limits;
use herd_server::LocalHerd;
use herd_server::places::{PlacesApi, PlacesClient};
use herd_wire::Herd;
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::spawner::{Down, Spawner};

/// Where the herd under test comes from.
#[derive(Clone, Debug)]
pub enum HerdSource {
    /// A herd someone else runs, at the addresses of this herd file or preset.
    Running(Herd),
    /// Servers someone else runs, by `HOST:PORT` (their names are not known).
    Targets(Vec<String>),
    /// The reference herd, started in this process on free ports with this topology.
    Reference(Herd),
    /// The reference herd as one process per server, so that single servers can be stopped and
    /// restarted: the template runs one reference server (`conformance reference-server`).
    ReferenceProcesses(Spawn),
    /// An implementation's servers, one process each, from a `sh -c` command template.
    Spawn(Spawn),
}

/// Servers to start from a command template.
#[derive(Clone, Debug)]
pub struct Spawn {
    pub template: String,
    /// The topology; the servers get free ports unless the template cannot tell them theirs.
    pub herd: Herd,
    /// Which servers of the herd to start, in the order they are listed under test.
    pub names: Vec<String>,
}

impl Spawn {
    /// Every server of `herd`, in herd order.
    pub fn whole_herd(template: &str, herd: &Herd) -> Spawn {
        Spawn {
            template: template.to_owned(),
            herd: herd.clone(),
            names: herd.names().iter().map(|n| (*n).to_owned()).collect(),
        }
    }

    /// Whether every server of the herd is started.
    fn is_whole_herd(&self) -> bool {
        self.names.len() == self.herd.servers().len()
    }
}

impl HerdSource {
    /// How the source is named in reports.
    pub fn label(&self) -> String {
        match self {
            HerdSource::Running(herd) => format!("herd {} (running)", herd.origin),
            HerdSource::Targets(t) => format!("targets {}", t.join(", ")),
            HerdSource::Reference(herd) => {
                format!(
                    "reference herd {} (in-process, free ports, no log files)",
                    herd.origin
                )
            }
            HerdSource::ReferenceProcesses(spawn) => {
                format!(
                    "reference herd {} (processes, free ports)",
                    spawn.herd.origin
                )
            }
            HerdSource::Spawn(spawn) => {
                format!(
                    "spawn:{} (herd {}, free ports)",
                    spawn.template, spawn.herd.origin
                )
            }
        }
    }

    /// Whether the servers need a Places URL from the caller (a stand-in) to answer WHATSAT.
    pub fn needs_places(&self) -> bool {
        matches!(
            self,
            HerdSource::Reference(_) | HerdSource::ReferenceProcesses(_) | HerdSource::Spawn(_)
        )
    }

    /// Whether the herd runs inside this process (its CPU counts as the caller's).
    pub fn in_process(&self) -> bool {
        matches!(self, HerdSource::Reference(_))
    }

    /// Starts (or just names) the herd; `places_url` is where its servers get places from.
    pub async fn start(&self, places_url: Option<&str>) -> anyhow::Result<StartedHerd> {
        self.start_with(places_url, &Limits::default()).await
    }

    /// Like [`HerdSource::start`], with these bounds for the in-process reference herd (the only
    /// herd whose flags this process sets; the others keep their own).
    pub async fn start_with(
        &self,
        places_url: Option<&str>,
        limits: &Limits,
    ) -> anyhow::Result<StartedHerd> {
        let label = self.label();
        let started = |servers, whole_herd, keep| StartedHerd {
            label: label.clone(),
            servers,
            in_process: self.in_process(),
            whole_herd,
            keep,
        };
        Ok(match self {
            HerdSource::Running(herd) => started(pairs(herd), Some(herd.clone()), Keep::Nothing),
            HerdSource::Targets(targets) => started(
                targets.iter().map(|t| (t.clone(), t.clone())).collect(),
                None,
                Keep::Nothing,
            ),
            HerdSource::Reference(topology) => {
                let url = places_url.context("the reference herd needs a Places URL")?;
                let places = PlacesClient::new(
                    url,
                    herd_server::setup::STAND_IN_KEY.to_owned(),
                    PlacesApi::Legacy,
                    Duration::from_secs(5),
                )?;
                let local = LocalHerd::start_limited(topology, places, None, &[], limits)
                    .await
                    .context("cannot start the reference herd")?;
                let herd = local.herd.clone();
                started(pairs(&herd), Some(herd), Keep::Local(Box::new(local)))
            }
            HerdSource::ReferenceProcesses(spawn) | HerdSource::Spawn(spawn) => {
                let spawner = Spawner::launch(
                    &spawn.template,
                    &spawn.herd,
                    places_url.unwrap_or_default(),
                    &spawn.names,
                )
                .await?;
                let running = spawner.herd();
                let servers = spawn
                    .names
                    .iter()
                    .filter_map(|name| running.server(name))
                    .map(|s| (s.name.clone(), s.address.clone()))
                    .collect();
                let whole_herd = spawn.is_whole_herd().then(|| running.clone());
                started(servers, whole_herd, Keep::Processes(Arc::new(spawner)))
            }
        })
    }
}

/// A herd ready to be tested; anything that was started for it stops when this is dropped.
#[derive(Debug)]
pub struct StartedHerd {
    pub label: String,
    /// (name, address) of every server under test; a target's name is its address.
    pub servers: Vec<(String, String)>,
    /// The herd runs inside this process.
    pub in_process: bool,
    whole_herd: Option<Herd>,
    keep: Keep,
}

/// Held so that what was started stops when the herd is dropped.
#[derive(Debug)]
#[allow(dead_code)]
enum Keep {
    Nothing,
    Local(Box<LocalHerd>),
    Processes(Arc<Spawner>),
    Held(Box<dyn std::fmt::Debug + Send + Sync>),
}

impl StartedHerd {
    /// A herd the caller started in this process by its own means (the bench's built-in sink),
    /// kept running as long as `keep` is.
    pub fn holding(
        label: String,
        servers: Vec<(String, String)>,
        keep: Box<dyn std::fmt::Debug + Send + Sync>,
    ) -> StartedHerd {
        StartedHerd {
            label,
            servers,
            in_process: true,
            whole_herd: None,
            keep: Keep::Held(keep),
        }
    }

    /// The whole herd with the addresses it really runs at, when every server of it is under
    /// test (not for targets or a single spawned server).
    pub fn whole_herd(&self) -> Option<&Herd> {
        self.whole_herd.as_ref()
    }

    /// The processes started for the herd, to stop and restart single servers.
    pub fn spawner(&self) -> Option<&Arc<Spawner>> {
        match &self.keep {
            Keep::Processes(spawner) => Some(spawner),
            Keep::Nothing | Keep::Local(_) | Keep::Held(_) => None,
        }
    }

    /// Why the spawned herd had to be started again on new ports, one line per time.
    pub fn restarts(&self) -> &[String] {
        self.spawner().map_or(&[], |s| s.restarts())
    }

    /// The started processes that have since gone down (see [`Spawner::down_servers`]).
    pub async fn down_servers(&self) -> Vec<Down> {
        match self.spawner() {
            Some(spawner) => spawner.down_servers().await,
            None => Vec::new(),
        }
    }

    /// The servers under test that accept no TCP connection within a second.
    pub async fn unreachable(&self) -> Vec<(String, String)> {
        let checks = self.servers.iter().map(|(name, address)| async move {
            let ok = matches!(
                timeout(Duration::from_secs(1), TcpStream::connect(address.as_str())).await,
                Ok(Ok(_))
            );
            (!ok).then(|| (name.clone(), address.clone()))
        });
        futures::future::join_all(checks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}

/// (name, address) of every server of `herd`, in herd order.
fn pairs(herd: &Herd) -> Vec<(String, String)> {
    herd.servers()
        .iter()
        .map(|s| (s.name.clone(), s.address.clone()))
        .collect()
}
