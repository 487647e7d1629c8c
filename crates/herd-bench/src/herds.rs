//! Which herd the bench loads and how it gets there: a herd already running (by herd file or
//! addresses), the reference herd started in this process, or processes started from a command
//! template — plus the check that something listens before a run starts.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use herd_server::LocalHerd;
use herd_server::places::{PlacesApi, PlacesClient};
use herd_wire::Herd;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep, timeout};

/// How long spawned servers get to start listening.
const SPAWN_READY: Duration = Duration::from_secs(20);

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
}

impl HerdSource {
    /// A `--compare` operand: `reference`, `spawn:CMD`, or a preset / herd file that is running.
    pub fn from_operand(operand: &str, topology: &Herd) -> anyhow::Result<HerdSource> {
        if operand == "reference" {
            return Ok(HerdSource::Reference(topology.clone()));
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
                "{e} (a --compare operand is `reference`, `spawn:CMD`, a preset or a herd file)"
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
        }
    }

    /// Whether the bench must provide a Places stand-in for it.
    pub fn needs_places(&self) -> bool {
        matches!(self, HerdSource::Reference(_) | HerdSource::Spawn { .. })
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
    Processes(Vec<Child>, tempfile::TempDir),
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
    }
}

fn pairs(herd: &Herd) -> Vec<(String, String)> {
    herd.servers()
        .iter()
        .map(|s| (s.name.clone(), s.address.clone()))
        .collect()
}

async fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let mut listeners = Vec::new();
    for _ in 0..n {
        listeners.push(TcpListener::bind("127.0.0.1:0").await?);
    }
    Ok(listeners
        .iter()
        .filter_map(|l| l.local_addr().ok().map(|a| a.port()))
        .collect())
}

/// Fills a template's placeholders for one server.
pub fn fill(
    template: &str,
    name: &str,
    address: &str,
    herd_file: &str,
    places_url: &str,
    log_dir: &str,
) -> String {
    let port = address.rsplit_once(':').map_or("", |(_, p)| p);
    template
        .replace("{name}", name)
        .replace("{port}", port)
        .replace("{address}", address)
        .replace("{herd_file}", herd_file)
        .replace("{places_url}", places_url)
        .replace("{log_dir}", log_dir)
}

async fn spawn(
    template: &str,
    topology: &Herd,
    places_url: &str,
    label: String,
) -> anyhow::Result<StartedHerd> {
    let dir = tempfile::Builder::new()
        .prefix("herd-bench-")
        .tempdir()
        .context("cannot create a temporary folder for the spawned herd")?;
    let ports = free_ports(topology.servers().len()).await?;
    let herd = topology.on_ports(&ports);
    let herd_file = dir.path().join("herd.toml");
    std::fs::write(&herd_file, herd.to_toml())?;
    let log_dir = dir.path().join("logs");
    std::fs::create_dir_all(&log_dir)?;
    let mut children = Vec::new();
    let mut outputs = Vec::new();
    for spec in herd.servers() {
        let command = fill(
            template,
            &spec.name,
            &spec.address,
            &herd_file.display().to_string(),
            places_url,
            &log_dir.display().to_string(),
        );
        let out_path = dir.path().join(format!("{}.out", spec.name));
        let out = std::fs::File::create(&out_path)?;
        let err = out.try_clone()?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot run `{command}`"))?;
        children.push(child);
        outputs.push(out_path);
    }
    for ((spec, child), out) in herd.servers().iter().zip(&mut children).zip(&outputs) {
        wait_listening(&spec.name, &spec.address, child, out).await?;
    }
    Ok(StartedHerd {
        label,
        servers: pairs(&herd),
        in_process: false,
        _keep: Keep::Processes(children, dir),
    })
}

async fn wait_listening(
    name: &str,
    address: &str,
    child: &mut Child,
    output: &PathBuf,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + SPAWN_READY;
    let tail = || {
        let text = std::fs::read_to_string(output).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    };
    loop {
        if let Ok(Ok(_)) = timeout(Duration::from_millis(500), TcpStream::connect(address)).await {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            bail!(
                "spawned server {name} exited ({status}) before listening on {address}; its output: {}",
                tail()
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "spawned server {name} did not listen on {address} within {}s; its output: {}",
                SPAWN_READY.as_secs(),
                tail()
            );
        }
        sleep(Duration::from_millis(50)).await;
    }
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
    fn placeholders_are_filled() {
        let cmd = fill(
            "py s.py {name} --herd {herd_file} --port {port} --places-url {places_url} --log-dir {log_dir} # {address}",
            "Riley",
            "127.0.0.1:4000",
            "/t/h.toml",
            "http://127.0.0.1:9",
            "/t/logs",
        );
        assert_eq!(
            cmd,
            "py s.py Riley --herd /t/h.toml --port 4000 --places-url http://127.0.0.1:9 --log-dir /t/logs # 127.0.0.1:4000"
        );
    }

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
        assert!(HerdSource::from_operand("spawn: ", &topo).is_err());
        let err = HerdSource::from_operand("nonsense", &topo)
            .unwrap_err()
            .to_string();
        assert!(err.contains("spawn:CMD"), "{err}");
    }
}
