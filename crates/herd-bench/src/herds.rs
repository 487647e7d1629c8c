//! What one side of the bench loads: a herd under test ([`HerdSource`], chosen and started the
//! same way as the conformance suite's) or the bench's own built-in sink — and the `--compare`
//! operands that name them.

use anyhow::{Context as _, bail};
use herd_server::Limits;
use herd_spawn::{HerdSource, Spawn, StartedHerd};
use herd_wire::Herd;

use crate::sink::Sink;

/// A herd under test, or the built-in sink ([`Sink`]) in this process, one listener per server
/// of the topology.
#[derive(Clone, Debug)]
pub enum HerdOrSink {
    Herd(HerdSource),
    Sink(Herd),
}

impl HerdOrSink {
    /// A `--compare` operand: `reference`, `sink`, `spawn:CMD`, or a preset / herd file that
    /// is running.
    pub fn from_operand(operand: &str, topology: &Herd) -> anyhow::Result<HerdOrSink> {
        if operand == "reference" {
            return Ok(HerdOrSink::Herd(HerdSource::Reference(topology.clone())));
        }
        if operand == "sink" {
            return Ok(HerdOrSink::Sink(topology.clone()));
        }
        if let Some(template) = operand.strip_prefix("spawn:") {
            if template.trim().is_empty() {
                bail!(
                    "`spawn:` needs a command, e.g. spawn:'python3 server.py {{name}} --port {{port}}'"
                );
            }
            return Ok(HerdOrSink::Herd(HerdSource::Spawn(Spawn::whole_herd(
                template, topology,
            ))));
        }
        let herd = Herd::load(operand).map_err(|e| {
            anyhow::anyhow!(
                "{e} (a --compare operand is `reference`, `sink`, `spawn:CMD`, a preset or a herd file)"
            )
        })?;
        Ok(HerdOrSink::Herd(HerdSource::Running(herd)))
    }

    /// How it is named in the output.
    pub fn label(&self) -> String {
        match self {
            HerdOrSink::Herd(source) => source.label(),
            HerdOrSink::Sink(herd) => {
                format!("built-in sink {} (in-process, free ports)", herd.origin)
            }
        }
    }

    /// Whether the bench must provide a Places stand-in for it.
    pub fn needs_places(&self) -> bool {
        matches!(self, HerdOrSink::Herd(source) if source.needs_places())
    }

    /// Whether it runs inside the bench process (its CPU counts as the bench's).
    pub fn in_process(&self) -> bool {
        match self {
            HerdOrSink::Herd(source) => source.in_process(),
            HerdOrSink::Sink(_) => true,
        }
    }

    /// Starts (or just names) it. `places_url` is the bench's stand-in; `limits` bound the
    /// in-process reference herd.
    pub async fn start(
        &self,
        places_url: Option<&str>,
        limits: &Limits,
    ) -> anyhow::Result<StartedHerd> {
        match self {
            HerdOrSink::Herd(source) => {
                let herd = source.start_with(places_url, limits).await?;
                for restart in herd.restarts() {
                    eprintln!("herd-bench: {restart}");
                }
                Ok(herd)
            }
            HerdOrSink::Sink(topology) => {
                let sink = Sink::start(topology)
                    .await
                    .context("cannot start the built-in sink")?;
                Ok(StartedHerd::holding(
                    self.label(),
                    sink.servers(),
                    Box::new(sink),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_operands_parse() {
        let topo = herd_wire::Preset::Winter21.herd();
        assert!(matches!(
            HerdOrSink::from_operand("reference", &topo),
            Ok(HerdOrSink::Herd(HerdSource::Reference(_)))
        ));
        assert!(matches!(
            HerdOrSink::from_operand("spawn:x {name}", &topo),
            Ok(HerdOrSink::Herd(HerdSource::Spawn { .. }))
        ));
        assert!(matches!(
            HerdOrSink::from_operand("spring20", &topo),
            Ok(HerdOrSink::Herd(HerdSource::Running(_)))
        ));
        assert!(matches!(
            HerdOrSink::from_operand("sink", &topo),
            Ok(HerdOrSink::Sink(_))
        ));
        assert!(HerdOrSink::from_operand("spawn: ", &topo).is_err());
        let err = HerdOrSink::from_operand("nonsense", &topo)
            .unwrap_err()
            .to_string();
        assert!(err.contains("spawn:CMD"), "{err}");
    }
}
