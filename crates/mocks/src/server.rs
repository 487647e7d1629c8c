//! [`PlacesStandIn`]: a running Google Places stand-in on a real local port.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use wiremock::{Mock, MockServer, matchers::any};

use crate::config::{FailureMode, StandInConfig};
use crate::request::PlacesRequest;
use crate::responder::{Behaviour, PlacesResponder};

/// A Google Places stand-in serving HTTP on 127.0.0.1 until dropped.
///
/// Answers the legacy Nearby Search and the Places API (New) `searchNearby`
/// with deterministic synthetic places (see [`crate::legacy_nearby`] and
/// [`crate::new_nearby`]); anything else gets a 404.
pub struct PlacesStandIn {
    server: MockServer,
    behaviour: Arc<Behaviour>,
}

impl std::fmt::Debug for PlacesStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlacesStandIn")
            .field("uri", &self.uri())
            .field("latency", &self.behaviour.latency())
            .field("failure", &self.behaviour.failure())
            .finish()
    }
}

impl PlacesStandIn {
    /// Starts a well-behaved stand-in on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(StandInConfig::default()).await
    }

    /// Starts a stand-in with `config`, recording every request for [`Self::received`].
    pub async fn start_with(config: StandInConfig) -> anyhow::Result<Self> {
        Self::launch(config, true).await
    }

    /// Starts a stand-in that does not record requests, for long-running use
    /// (the `places-mock` binary): memory stays flat however many requests
    /// arrive, and [`Self::received`] is always empty.
    pub async fn start_unrecorded(config: StandInConfig) -> anyhow::Result<Self> {
        Self::launch(config, false).await
    }

    async fn launch(config: StandInConfig, record: bool) -> anyhow::Result<Self> {
        let port = config.port.unwrap_or(0);
        let listener = TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("cannot bind 127.0.0.1:{port}"))?;
        let behaviour = Arc::new(Behaviour::default());
        behaviour.set_latency(config.latency);
        behaviour.set_failure(config.failure);
        let mut builder = MockServer::builder().listener(listener);
        if !record {
            builder = builder.disable_request_recording();
        }
        let server = builder.start().await;
        Mock::given(any())
            .respond_with(PlacesResponder::new(Arc::clone(&behaviour)))
            .mount(&server)
            .await;
        Ok(Self { server, behaviour })
    }

    /// Base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The port the stand-in listens on.
    pub fn port(&self) -> u16 {
        self.server.address().port()
    }

    /// Every request received so far, oldest first.
    pub async fn received(&self) -> Vec<PlacesRequest> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(PlacesRequest::from_recorded)
            .collect()
    }

    /// Switches the failure mode; it applies to requests arriving from now on.
    pub async fn set_failure(&self, mode: FailureMode) {
        self.behaviour.set_failure(mode);
    }

    /// Switches the latency added to every response arriving from now on.
    pub async fn set_latency(&self, latency: Duration) {
        self.behaviour.set_latency(latency);
    }
}
