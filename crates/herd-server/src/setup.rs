//! Starting servers: choosing the Places backend and launching a server of a herd.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use herd_wire::Herd;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::log::ServerLog;
use crate::places::{GOOGLE_BASE_URL, GOOGLE_NEW_BASE_URL, PlacesApi, PlacesClient};
use crate::server::serve;
use crate::state::ServerState;

/// The key sent to a Places URL given without `GOOGLE_PLACES_API_KEY` (stand-ins want one).
pub const STAND_IN_KEY: &str = "test-key";

/// Where WHATSAT's places come from, and why.
#[derive(Debug)]
pub struct PlacesChoice {
    pub client: PlacesClient,
    /// The built-in stand-in, kept alive as long as the choice is.
    #[cfg(feature = "stand-in")]
    pub stand_in: Option<mocks::PlacesStandIn>,
    /// One line for the operator: which backend is in use.
    pub notice: String,
}

impl PlacesChoice {
    /// `url` (from `--places-url`) wins; else a key means Google; else the built-in stand-in.
    pub async fn choose(
        url: Option<&str>,
        key: Option<String>,
        api: PlacesApi,
        timeout: Duration,
    ) -> anyhow::Result<PlacesChoice> {
        let key = key.filter(|k| !k.trim().is_empty());
        match (url, key) {
            (Some(url), key) => {
                let client = PlacesClient::new(
                    url,
                    key.clone().unwrap_or_else(|| STAND_IN_KEY.to_owned()),
                    api,
                    timeout,
                )?;
                let whose = if key.is_some() {
                    "GOOGLE_PLACES_API_KEY"
                } else {
                    "a test key"
                };
                Ok(PlacesChoice {
                    notice: format!("Places: {url} with {whose}"),
                    client,
                    #[cfg(feature = "stand-in")]
                    stand_in: None,
                })
            }
            (None, Some(key)) => {
                let base = match api {
                    PlacesApi::Legacy => GOOGLE_BASE_URL,
                    PlacesApi::New => GOOGLE_NEW_BASE_URL,
                };
                Ok(PlacesChoice {
                    client: PlacesClient::new(base, key, api, timeout)?,
                    #[cfg(feature = "stand-in")]
                    stand_in: None,
                    notice: format!("Places: Google ({base}) with GOOGLE_PLACES_API_KEY"),
                })
            }
            #[cfg(not(feature = "stand-in"))]
            (None, None) => anyhow::bail!(
                "this herd-server was built without the Places stand-in: give --places-url URL \
                 or set GOOGLE_PLACES_API_KEY"
            ),
            #[cfg(feature = "stand-in")]
            (None, None) => {
                // Unrecorded: a long-running herd must not keep every request it ever made.
                let stand_in = mocks::PlacesStandIn::start_unrecorded(Default::default()).await?;
                let url = stand_in.uri();
                Ok(PlacesChoice {
                    client: PlacesClient::new(&url, STAND_IN_KEY.to_owned(), api, timeout)?,
                    notice: format!(
                        "Places: no GOOGLE_PLACES_API_KEY, so WHATSAT is answered by the built-in Places stand-in at {url}"
                    ),
                    stand_in: Some(stand_in),
                })
            }
        }
    }
}

/// What every server of a run shares.
#[derive(Clone, Debug)]
pub struct Launch {
    pub herd: Herd,
    /// Where `NAME.log` files go; `None` logs nowhere.
    pub log_dir: Option<PathBuf>,
    pub places: PlacesClient,
    /// Deliberate faults (conformance self-tests only); empty for a correct server.
    pub faults: Vec<crate::faults::Fault>,
    /// Every server's bounds.
    pub limits: crate::limits::Limits,
}

/// A started server.
#[derive(Debug)]
pub struct Running {
    pub name: String,
    pub address: SocketAddr,
    pub log_path: Option<PathBuf>,
    pub state: Arc<ServerState>,
}

/// Starts server `name` of the herd on `listener` (which the caller bound, so tests can use
/// port 0); it runs until `shutdown`.
pub async fn launch(
    launch: &Launch,
    name: &str,
    listener: TcpListener,
    shutdown: &CancellationToken,
) -> anyhow::Result<Running> {
    let (log, log_path) = match &launch.log_dir {
        Some(dir) => {
            let (log, path) = ServerLog::open_rotated(dir, name, launch.limits.log_rotation())
                .await
                .map_err(|e| {
                    anyhow::anyhow!("cannot open the log of {name} in {}: {e}", dir.display())
                })?;
            (log, Some(path))
        }
        None => (ServerLog::discard(), None),
    };
    let address = listener.local_addr()?;
    let state = ServerState::start(
        name,
        &launch.herd,
        launch.places.clone(),
        log,
        crate::faults::Faults::new(&launch.faults),
        &launch.limits,
        shutdown,
    )?;
    state.log.line(format!("{name} listening on {address}"));
    tokio::spawn(serve(listener, Arc::clone(&state), shutdown.clone()));
    Ok(Running {
        name: name.to_owned(),
        address,
        log_path,
        state,
    })
}

/// `herd` closed to strangers: with its own secret, or a fresh random one when it runs in one
/// process (`herd-server --all`, in-process herds), where no other process needs to know it.
pub fn closed(herd: Herd) -> Herd {
    if herd.secret().is_some() {
        herd
    } else {
        herd.with_secret(crate::peer_auth::random_secret())
    }
}

/// Waits until the connections of `servers` have ended after a stop, at most `grace`: WHATSATs
/// already waiting on Places get their answer.
pub async fn drain(servers: &[Arc<ServerState>], grace: Duration) {
    let all = futures::future::join_all(servers.iter().map(|s| s.connections.wait()));
    let _ = tokio::time::timeout(grace, all).await;
}
