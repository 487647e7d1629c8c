//! The loopback floor: round trips to a one-server [`Sink`] in the bench process, one at a time,
//! over the same kind of socket and framing and through the same client code as the run. Its
//! p50 is the least a request can cost on this machine, so each measured p50 is reported as a
//! multiple of it.

use std::time::Duration;

use herd_wire::{ClientTime, Herd};
use serde::Serialize;
use tokio::time::Instant;

use crate::args::Framing;
use crate::conn::Endpoint;
use crate::request::{Request, position_for};
use crate::sink::Sink;
use crate::stats::Percentiles;
use crate::stats::{micros, new_histogram};

/// The floor is measured for at most this long, whatever `requests` says.
const FLOOR_TIME_LIMIT: Duration = Duration::from_secs(3);

/// What the floor measurement found.
#[derive(Clone, Debug, Serialize)]
pub struct Floor {
    /// `line` or `eof`, as the run.
    pub framing: String,
    /// Round trips that failed (a healthy machine has none).
    pub errors: u64,
    pub latency: Percentiles,
}

/// Measures up to `requests` sequential IAMAT round trips to an in-process sink.
pub async fn measure(requests: u32, framing: Framing, timeout: Duration) -> anyhow::Result<Floor> {
    let topology = Herd::from_toml(
        "[[server]]\nname = \"echo\"\naddress = \"127.0.0.1:1\"\nneighbours = []\n",
        "floor",
    )?;
    let sink = Sink::start(&topology).await?;
    let Some((name, address)) = sink.servers().into_iter().next() else {
        anyhow::bail!("the floor's echo server did not start");
    };
    let endpoint = Endpoint {
        name,
        address,
        framing,
        timeout,
    };
    let mut histogram = new_histogram();
    let mut slot = None;
    let mut errors = 0;
    let position = position_for(0);
    let give_up = Instant::now() + FLOOR_TIME_LIMIT;
    for n in 0..requests {
        if Instant::now() >= give_up {
            break;
        }
        let request = Request::iamat(&format!("floor-{n}"), &position, ClientTime::now());
        let sent = Instant::now();
        match endpoint.exchange(&mut slot, &request).await {
            Ok(_) => {
                let _ = histogram.record(micros(sent.elapsed()).max(1));
            }
            Err(_) => errors += 1,
        }
    }
    drop(sink);
    Ok(Floor {
        framing: framing.name().to_owned(),
        errors,
        latency: Percentiles::of(&histogram),
    })
}
