//! Turns each HTTP request into the stand-in's response.
//!
//! One catch-all wiremock mock uses [`PlacesResponder`]; it reads the current
//! latency and failure mode from shared atomics, so both can change at run time
//! without remounting mocks (which would also wipe the recorded requests).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use herd_wire::google_json::to_google_string;
use wiremock::{Request, Respond, ResponseTemplate};

use crate::config::FailureMode;
use crate::legacy::legacy_answer;
use crate::request::{PlacesApi, PlacesRequest};

/// Content type of every JSON answer, as Google sends it.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=UTF-8";
/// Body of a [`FailureMode::NotJson`] answer.
pub const NOT_JSON_BODY: &str = "<html>not json</html>";
/// Body of a [`FailureMode::Http500`] answer.
pub const HTTP500_BODY: &str = "Internal Server Error (places-mock failure mode http500)";
/// How long a [`FailureMode::Hang`] answer waits.
pub const HANG_DELAY: Duration = Duration::from_secs(3600);

/// Latency and failure mode, shared between the stand-in handle and the responder.
#[derive(Debug, Default)]
pub(crate) struct Behaviour {
    latency_nanos: AtomicU64,
    failure: AtomicU8,
}

impl Behaviour {
    pub(crate) fn set_latency(&self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.latency_nanos.store(nanos, Ordering::Relaxed);
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_nanos(self.latency_nanos.load(Ordering::Relaxed))
    }

    pub(crate) fn set_failure(&self, mode: FailureMode) {
        self.failure.store(mode.to_code(), Ordering::Relaxed);
    }

    pub(crate) fn failure(&self) -> FailureMode {
        FailureMode::from_code(self.failure.load(Ordering::Relaxed))
    }
}

/// How many distinct legacy answers are kept; past that the cache starts afresh.
const CACHED_ANSWERS: usize = 4096;

/// The wiremock responder behind every stand-in.
pub(crate) struct PlacesResponder {
    pub(crate) behaviour: Arc<Behaviour>,
    /// Rendered legacy answers by query string. Answers are a pure function of the query, and a
    /// herd under load (a benchmark's probes poll one location hundreds of times) asks the same
    /// thing again and again: rendering 20 places each time made the stand-in the bottleneck.
    pub(crate) legacy_cache: Mutex<HashMap<String, Arc<str>>>,
}

impl PlacesResponder {
    pub(crate) fn new(behaviour: Arc<Behaviour>) -> PlacesResponder {
        PlacesResponder {
            behaviour,
            legacy_cache: Mutex::default(),
        }
    }

    /// The rendered legacy answer to `request`, from the cache when it was asked before.
    fn legacy_body(&self, request: &Request) -> Arc<str> {
        let key = request.url.query().unwrap_or_default().to_owned();
        let cached = self
            .legacy_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(body) = cached {
            return body;
        }
        let query: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let body: Arc<str> = to_google_string(&legacy_answer(&query)).into();
        let mut cache = self
            .legacy_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHED_ANSWERS {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&body));
        body
    }

    /// Google's answer to a Places request.
    fn answer(&self, api: PlacesApi, request: &Request) -> ResponseTemplate {
        match api {
            PlacesApi::Legacy => json_response(200, self.legacy_body(request).as_bytes().to_vec()),
            PlacesApi::New => {
                let (status, body) = PlacesRequest::from_recorded(request).answer();
                let body = serde_json::to_string_pretty(&body).unwrap_or_default();
                json_response(status, body.into_bytes())
            }
            PlacesApi::Other => ResponseTemplate::new(404),
        }
    }
}

impl Respond for PlacesResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let api = PlacesApi::of(request.method.as_str(), request.url.path());
        let latency = self.behaviour.latency();
        let template =
            match (api, self.behaviour.failure()) {
                (PlacesApi::Other, _) => ResponseTemplate::new(404),
                (_, FailureMode::Http500) => ResponseTemplate::new(500)
                    .set_body_raw(HTTP500_BODY, "text/plain; charset=UTF-8"),
                (_, FailureMode::NotJson) => ResponseTemplate::new(200)
                    .set_body_raw(NOT_JSON_BODY, "text/html; charset=UTF-8"),
                (_, FailureMode::EchoKey) => echo_key(api, request),
                (_, FailureMode::Hang) => {
                    return self
                        .answer(api, request)
                        .set_delay(latency.saturating_add(HANG_DELAY));
                }
                (_, FailureMode::None) => self.answer(api, request),
            };
        template.set_delay(latency)
    }
}

/// A [`FailureMode::EchoKey`] answer: HTTP 400 quoting the key the request carried.
fn echo_key(api: PlacesApi, request: &Request) -> ResponseTemplate {
    let key = match api {
        PlacesApi::New => request
            .headers
            .get("x-goog-api-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        _ => request
            .url
            .query_pairs()
            .find(|(k, _)| k == "key")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default(),
    };
    let body = match api {
        PlacesApi::New => serde_json::json!({
            "error": {"code": 400, "message": format!("API key not valid: {key}"), "status": "INVALID_ARGUMENT"}
        }),
        _ => serde_json::json!({
            "error_message": format!("The provided API key is invalid: {key}"),
            "results": [],
            "status": "REQUEST_DENIED",
        }),
    };
    json_response(400, body.to_string().into_bytes())
}

fn json_response(status: u16, body: Vec<u8>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, JSON_CONTENT_TYPE)
}
