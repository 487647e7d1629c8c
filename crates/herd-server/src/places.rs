//! `PlacesClient`: Nearby Search against Google (legacy or new API) or a stand-in.
//!
//! Whatever happens, the caller gets JSON text to serve: Google's answer with the results cut to
//! the bound, in Google's own layout, or a Google-shaped `UNKNOWN_ERROR` object saying what failed.
//! The WHATSAT was valid, so a Places failure is never a `?`. The API key never reaches a log line
//! or an error message, even when Places echoes it back in an error text.
//!
//! Outbound calls are bounded: at most `--places-concurrency` requests in flight per server (the
//! rest wait for a slot), and identical requests in flight share one call, so a client that
//! sends the same WHATSAT a thousand times costs Google (and the key's quota) one request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use tokio::sync::Semaphore;

use herd_wire::google_json::to_google_string;
use herd_wire::{Bound, Position, Radius};
use serde_json::{Value, json};

use crate::log::ServerLog;

/// Which Places API to call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlacesApi {
    /// Nearby Search (legacy): `GET /maps/api/place/nearbysearch/json`.
    Legacy,
    /// Places API (New): `POST /v1/places:searchNearby`.
    New,
}

/// Google's real base URL.
pub const GOOGLE_BASE_URL: &str = "https://maps.googleapis.com";
/// The new API's base URL.
pub const GOOGLE_NEW_BASE_URL: &str = "https://places.googleapis.com";
/// What the new API is asked to return.
const FIELD_MASK: &str = "places.id,places.displayName,places.formattedAddress,places.location,places.rating,places.userRatingCount,places.types";

/// A Places client shared by every connection (and every server of an in-process herd), so HTTP
/// connections are reused.
#[derive(Clone)]
pub struct PlacesClient {
    http: reqwest::Client,
    base_url: String,
    key: String,
    api: PlacesApi,
    /// Free slots for requests in flight.
    slots: Arc<Semaphore>,
    /// Requests in flight, by what they ask, so identical ones share one call.
    in_flight: Arc<Mutex<HashMap<String, Fetch>>>,
}

/// One Places call that several WHATSATs may wait on.
type Fetch = Shared<BoxFuture<'static, Result<Value, String>>>;

impl std::fmt::Debug for PlacesClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlacesClient")
            .field("base_url", &self.base_url)
            .field("api", &self.api)
            .field("free_slots", &self.slots.available_permits())
            .finish_non_exhaustive()
    }
}

/// Every run of two or more newlines becomes one, and trailing newlines go (protocol.md §3).
pub fn squeeze_newlines(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if !(c == '\n' && out.ends_with('\n')) {
            out.push(c);
        }
    }
    out.truncate(out.trim_end_matches('\n').len());
    out
}

/// The Google-shaped object served when the Places call failed.
pub fn error_json(message: &str) -> String {
    to_google_string(&json!({
        "html_attributions": [],
        "results": [],
        "status": "UNKNOWN_ERROR",
        "error_message": message,
    }))
}

impl PlacesClient {
    /// A client for `base_url` (no trailing slash) with this key and per-request timeout.
    pub fn new(
        base_url: &str,
        key: String,
        api: PlacesApi,
        timeout: Duration,
    ) -> anyhow::Result<PlacesClient> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(PlacesClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            api,
            slots: Arc::new(Semaphore::new(crate::limits::DEFAULT_PLACES_CONCURRENCY)),
            in_flight: Arc::default(),
        })
    }

    /// The same client (sharing its HTTP connections) with its own `slots` requests in flight
    /// and its own coalescing: each server of a herd gets one.
    pub fn with_concurrency(&self, slots: usize) -> PlacesClient {
        PlacesClient {
            slots: Arc::new(Semaphore::new(slots)),
            in_flight: Arc::default(),
            ..self.clone()
        }
    }

    /// Nearby places for a WHATSAT: JSON text ready to serve (no trailing newline).
    pub async fn nearby(
        &self,
        position: &Position,
        radius: &Radius,
        bound: Bound,
        log: &ServerLog,
    ) -> String {
        let started = Instant::now();
        // What identifies the request for coalescing: the logged URL, and the body if any.
        let (request, shown_url, what) = match self.api {
            PlacesApi::Legacy => {
                let endpoint = format!("{}/maps/api/place/nearbysearch/json", self.base_url);
                let location = position.places_location();
                let radius = radius.metres();
                let request = self.http.get(&endpoint).query(&[
                    ("location", location.as_str()),
                    ("radius", radius.as_str()),
                    ("key", self.key.as_str()),
                ]);
                let shown = format!("{endpoint}?location={location}&radius={radius}");
                (request, shown.clone(), shown)
            }
            PlacesApi::New => {
                let url = format!("{}/v1/places:searchNearby", self.base_url);
                let body = json!({
                    "maxResultCount": bound.get().max(1),
                    "locationRestriction": {"circle": {
                        "center": {"latitude": position.lat(), "longitude": position.lng()},
                        "radius": radius.km() * 1000.0,
                    }},
                });
                let request = self
                    .http
                    .post(&url)
                    .header("X-Goog-Api-Key", &self.key)
                    .header("X-Goog-FieldMask", FIELD_MASK)
                    .json(&body);
                (request, format!("POST {url}"), format!("POST {url} {body}"))
            }
        };
        let outcome = self.fetch_shared(&what, request).await;
        let elapsed = started.elapsed();
        let json = match outcome {
            Ok(body) => {
                let kept = self.cut_to_bound(body, bound);
                log.line(format!(
                    "places {shown_url} -> {} in {:.1} ms",
                    kept.get("status").and_then(Value::as_str).unwrap_or("200"),
                    elapsed.as_secs_f64() * 1e3
                ));
                match self.api {
                    PlacesApi::Legacy => to_google_string(&kept),
                    PlacesApi::New => serde_json::to_string_pretty(&kept).unwrap_or_default(),
                }
            }
            Err(problem) => {
                log.line(format!(
                    "places {shown_url} -> failed in {:.1} ms: {problem}",
                    elapsed.as_secs_f64() * 1e3
                ));
                error_json(&problem)
            }
        };
        squeeze_newlines(&json)
    }

    /// The answer to the request identified by `what` (URL and body as logged): joins the
    /// identical call in flight, or makes it when a slot is free.
    async fn fetch_shared(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, String> {
        let fetch = {
            let mut in_flight = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            in_flight
                .entry(what.to_owned())
                .or_insert_with(|| {
                    let client = self.clone();
                    let what = what.to_owned();
                    async move {
                        let answer = match client.slots.acquire().await {
                            Ok(_slot) => client.fetch(request).await,
                            Err(_) => Err("the Places client is closed".to_owned()),
                        };
                        client
                            .in_flight
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&what);
                        answer.map_err(|problem| scrub(&problem, &client.key))
                    }
                    .boxed()
                    .shared()
                })
                .clone()
        };
        fetch.await
    }

    /// Sends the request; the JSON object it answered, or what went wrong.
    async fn fetch(&self, request: reqwest::RequestBuilder) -> Result<Value, String> {
        let response = request.send().await.map_err(|e| {
            let e = e.without_url();
            if e.is_timeout() {
                "the Places request timed out".to_owned()
            } else if e.is_connect() {
                "cannot connect to the Places service".to_owned()
            } else {
                format!("the Places request failed: {e}")
            }
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("the Places answer could not be read: {}", e.without_url()))?;
        let body: Option<Value> = serde_json::from_str(&text).ok();
        if !status.is_success() {
            let detail = body
                .as_ref()
                .and_then(|b| {
                    b.pointer("/error/message")
                        .or_else(|| b.get("error_message"))
                })
                .and_then(Value::as_str)
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            return Err(format!(
                "the Places service answered HTTP {}{detail}",
                status.as_u16()
            ));
        }
        match body {
            Some(value @ Value::Object(_)) => Ok(value),
            _ => Err("the Places service answered something that is not a JSON object".to_owned()),
        }
    }

    fn cut_to_bound(&self, mut body: Value, bound: Bound) -> Value {
        let list = match self.api {
            PlacesApi::Legacy => "results",
            PlacesApi::New => "places",
        };
        if let Some(Value::Array(items)) = body.get_mut(list) {
            items.truncate(bound.get() as usize);
        }
        body
    }
}

/// `text` with every occurrence of the key (as is or percent-encoded) replaced: an error text
/// from Places may echo the request, and it is relayed to the client and the log.
fn scrub(text: &str, key: &str) -> String {
    if key.len() < 4 {
        return text.to_owned();
    }
    let encoded: String = url_encoded(key);
    text.replace(key, "[key]").replace(&encoded, "[key]")
}

/// How a query string carries `value`.
fn url_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_scrubbed_raw_and_encoded() {
        assert_eq!(
            scrub("bad key AIza b/c (AIza%20b%2Fc)", "AIza b/c"),
            "bad key [key] ([key])"
        );
        assert_eq!(scrub("no key here", "secret-key"), "no key here");
    }

    #[test]
    fn newline_runs_squeeze_to_one_and_trailing_ones_go() {
        assert_eq!(
            squeeze_newlines("{\n\n\n   \"a\" : 1\n}\n\n"),
            "{\n   \"a\" : 1\n}"
        );
        assert_eq!(squeeze_newlines("x"), "x");
    }

    #[test]
    fn error_object_is_google_shaped() {
        assert_eq!(
            error_json("boom"),
            "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"UNKNOWN_ERROR\",\n   \"error_message\" : \"boom\"\n}"
        );
    }
}
