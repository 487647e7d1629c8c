//! Which herd the bench loads and how it gets there: a herd already running (by herd file or
//! addresses), the reference herd started in this process, or processes started from a command
//! template — plus the check that something listens before a run starts.

use std::time::Duration;

use anyhow::{Context as _, bail};
use herd_server::LocalHerd;
use herd_server::places::{PlacesApi, PlacesClient};
use herd_spawn::Spawner;
use herd_wire::Herd;
use tokio::net::TcpStream;

use crate::sink::Sink;
use tokio::time::timeout;

/// Where the herd under test comes from.
#[derive(Clone, Debug)]
pub enum HerdSource {
    /// A running herd at the addresses of this herd file or preset.
    Running(Herd),
    /// Running servers given by address.
    Targets(Vec<String>),
    /// The reference herd, started in this process on free ports with this topology.
    Reference(Herd),
    /// One process per server of the topology, from a `sh -c` template.
    Spawn { template: String, topology: Herd },
    /// The built-in sink ([`Sink`]) in this process, one listener per server of the topology.
    Sink(Herd),
}

impl HerdSource {
    /// A `--compare` operand: `reference`, `sink`, `spawn:CMD`, or a preset / herd file that
    /// is running.
    pub fn from_operand(operand: &str, topology: &Herd) -> anyhow::Result<HerdSource> {
        if operand == "reference" {
            return Ok(HerdSource::Reference(topology.clone()));
        }
        if operand == "sink" {
            return Ok(HerdSource::Sink(topology.clone()));
        }
        if let Some(template) = operand.strip_prefix("spawn:") {
            if template.trim().is_empty() {
                bail!(
                    "`spawn:` needs a command, e.g. spawn:'python3 server.py {{name}} --port {{port}}'"
                );
            }
            return Ok(HerdSource::Spawn {
                template: template.to_owned(),
                topology: topology.clone(),
            });
        }
        let herd = Herd::load(operand).map_err(|e| {
            anyhow::anyhow!(
                "{e} (a --compare operand is `reference`, `sink`, `spawn:CMD`, a preset or a herd file)"
            )
        })?;
        Ok(HerdSource::Running(herd))
    }

    /// How the source is named in the output.
    pub fn label(&self) -> String {
        match self {
            HerdSource::Running(herd) => format!("herd {} (running)", herd.origin),
            HerdSource::Targets(t) => format!("targets {}", t.join(", ")),
            HerdSource::Reference(herd) => {
                format!("reference herd {} (in-process, free ports)", herd.origin)
            }
            HerdSource::Spawn { template, topology } => {
                format!("spawn:{template} (herd {}, free ports)", topology.origin)
            }
            HerdSource::Sink(herd) => {
                format!("built-in sink {} (in-process, free ports)", herd.origin)
            }
        }
    }

    /// Whether the bench must provide a Places stand-in for it.
    pub fn needs_places(&self) -> bool {
        matches!(self, HerdSource::Reference(_) | HerdSource::Spawn { .. })
    }
}

impl StartedHerd {
    /// The servers the bench started that have since gone down (see `Spawner::down_servers`).
    pub async fn down_servers(&self) -> Vec<herd_spawn::Down> {
        match &self._keep {
            Keep::Processes(spawner) => spawner.down_servers().await,
            Keep::Nothing | Keep::Local(_) | Keep::Sink(_) => Vec::new(),
        }
    }
}

/// A herd ready to be loaded; anything the bench started stops when this is dropped.
#[derive(Debug)]
pub struct StartedHerd {
    pub label: String,
    /// (name, address) of every server, in herd order.
    pub servers: Vec<(String, String)>,
    /// The herd runs inside the bench process (its CPU counts as the bench's).
    pub in_process: bool,
    _keep: Keep,
}

/// Held only so that what the bench started stops when the herd is dropped.
#[derive(Debug)]
#[allow(dead_code)]
enum Keep {
    Nothing,
    Local(Box<LocalHerd>),
    Processes(Box<Spawner>),
    Sink(Box<Sink>),
}

/// Starts (or just names) the herd of `source`. `places_url` is the bench's stand-in.
pub async fn start(source: &HerdSource, places_url: Option<&str>) -> anyhow::Result<StartedHerd> {
    let label = source.label();
    match source {
        HerdSource::Running(herd) => Ok(StartedHerd {
            label,
            servers: pairs(herd),
            in_process: false,
            _keep: Keep::Nothing,
        }),
        HerdSource::Targets(targets) => Ok(StartedHerd {
            label,
            servers: targets.iter().map(|t| (t.clone(), t.clone())).collect(),
            in_process: false,
            _keep: Keep::Nothing,
        }),
        HerdSource::Reference(topology) => {
            let url = places_url.context("the reference herd needs a Places URL")?;
            let places = PlacesClient::new(
                url,
                herd_server::setup::STAND_IN_KEY.to_owned(),
                PlacesApi::Legacy,
                Duration::from_secs(5),
            )?;
            let local = LocalHerd::start(topology, places, None)
                .await
                .context("cannot start the reference herd")?;
            Ok(StartedHerd {
                label,
                servers: pairs(&local.herd),
                in_process: true,
                _keep: Keep::Local(Box::new(local)),
            })
        }
        HerdSource::Spawn { template, topology } => {
            spawn(template, topology, places_url.unwrap_or_default(), label).await
        }
        HerdSource::Sink(topology) => {
            let sink = Sink::start(topology)
                .await
                .context("cannot start the built-in sink")?;
            Ok(StartedHerd {
                label,
                servers: sink.servers(),
                in_process: true,
                _keep: Keep::Sink(Box::new(sink)),
            })
        }
    }
}

fn pairs(herd: &Herd) -> Vec<(String, String)> {
    herd.servers()
        .iter()
        .map(|s| (s.name.clone(), s.address.clone()))
        .collect()
}

async fn spawn(
    template: &str,
    topology: &Herd,
    places_url: &str,
    label: String,
) -> anyhow::Result<StartedHerd> {
    let names: Vec<String> = topology.names().iter().map(|n| (*n).to_owned()).collect();
    let spawner = Spawner::launch(template, topology, places_url, &names).await?;
    for restart in spawner.restarts() {
        eprintln!("herd-bench: {restart}");
    }
    Ok(StartedHerd {
        label,
        servers: pairs(spawner.herd()),
        in_process: false,
        _keep: Keep::Processes(Box::new(spawner)),
    })
}

/// The servers that accept no TCP connection within a second.
pub async fn unreachable(servers: &[(String, String)]) -> Vec<(String, String)> {
    let checks = servers.iter().map(|(name, address)| async move {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_operands_parse() {
        let topo = herd_wire::Preset::Winter21.herd();
        assert!(matches!(
            HerdSource::from_operand("reference", &topo),
            Ok(HerdSource::Reference(_))
        ));
        assert!(matches!(
            HerdSource::from_operand("spawn:x {name}", &topo),
            Ok(HerdSource::Spawn { .. })
        ));
        assert!(matches!(
            HerdSource::from_operand("spring20", &topo),
            Ok(HerdSource::Running(_))
        ));
        assert!(matches!(
            HerdSource::from_operand("sink", &topo),
            Ok(HerdSource::Sink(_))
        ));
        assert!(HerdSource::from_operand("spawn: ", &topo).is_err());
        let err = HerdSource::from_operand("nonsense", &topo)
            .unwrap_err()
            .to_string();
        assert!(err.contains("spawn:CMD"), "{err}");
    }
}
