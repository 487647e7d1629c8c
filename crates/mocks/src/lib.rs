//! A Google Places stand-in for testing proxy-herd servers without Google.
//!
//! [`PlacesStandIn`] runs a real HTTP server (wiremock) on 127.0.0.1 that
//! answers the two Nearby Search APIs of `shared/spec/protocol.md` §3:
//!
//! - legacy `GET /maps/api/place/nearbysearch/json?location=LAT,LNG&radius=M&key=K`,
//!   laid out exactly as Google does (3-space indent, `"key" : value`);
//! - Places API (New) `POST /v1/places:searchNearby` with `X-Goog-Api-Key` and
//!   `X-Goog-FieldMask`.
//!
//! Answers are synthetic but plausible and fully deterministic: the same
//! search gives byte-identical output on every run and platform, every place
//! lies inside the search circle, and searches centred in [`ZERO_RESULTS_AREA`]
//! find nothing. [`legacy_nearby`] and [`new_nearby`] compute the bodies
//! without a server, so tests can predict what a herd server should relay.
//! Latency and failures (HTTP 500, hang, non-JSON) can be injected and changed
//! at run time; [`PlacesStandIn::received`] lists what servers asked.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let places = mocks::PlacesStandIn::start().await?;
//! let url = format!(
//!     "{}/maps/api/place/nearbysearch/json?location=34.068930,-118.445127&radius=10000&key=test",
//!     places.uri()
//! );
//! # let _ = url;
//! # Ok(())
//! # }
//! ```

mod area;
mod catalog;
mod config;
mod geo;
mod legacy;
mod new_api;
mod places;
mod request;
mod responder;
mod rng;
mod server;

pub use area::{MAX_CANDIDATES, ZERO_RESULTS_AREA, ZeroResultsArea, candidate_count};
pub use config::{FailureMode, StandInConfig};
pub use geo::{EARTH_RADIUS_M, haversine_m};
pub use legacy::{LEGACY_PAGE_SIZE, MISSING_KEY_MESSAGE, legacy_error, legacy_nearby};
pub use new_api::{
    NEW_API_MAX_RESULTS, NEW_API_MISSING_FIELD_MASK_MESSAGE, NEW_API_MISSING_KEY_MESSAGE,
    new_api_error, new_nearby,
};
pub use request::{LEGACY_PATH, NEW_API_PATH, PlacesApi, PlacesRequest};
pub use responder::{HANG_DELAY, HTTP500_BODY, JSON_CONTENT_TYPE, NOT_JSON_BODY};
pub use server::PlacesStandIn;
