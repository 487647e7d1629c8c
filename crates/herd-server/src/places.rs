//! `PlacesClient`: Nearby Search against Google (legacy or new API) or a stand-in.
//!
//! Whatever happens, the caller gets JSON text to serve: Google's answer with the results cut to
//! the bound, in Google's own layout, or a Google-shaped `UNKNOWN_ERROR` object saying what failed.
//! The WHATSAT was valid, so a Places failure is never a `?`. The API key never reaches a log line
//! or an error message.

use std::time::{Duration, Instant};

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
#[derive(Clone, Debug)]
pub struct PlacesClient {
    http: reqwest::Client,
    base_url: String,
    key: String,
    api: PlacesApi,
}

/// Keeps the characters a query value may carry as they are and percent-encodes the rest.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
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
        })
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
        let (request, shown_url) = match self.api {
            PlacesApi::Legacy => {
                let url = format!(
                    "{}/maps/api/place/nearbysearch/json?location={}&radius={}",
                    self.base_url,
                    position.places_location(),
                    radius.metres()
                );
                let request = self
                    .http
                    .get(format!("{url}&key={}", percent_encode(&self.key)));
                (request, url)
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
                (request, format!("POST {url}"))
            }
        };
        let outcome = self.fetch(request).await;
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

    /// Sends the request; the JSON object it answered, or what went wrong (without the key).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newline_runs_squeeze_to_one_and_trailing_ones_go() {
        assert_eq!(
            squeeze_newlines("{\n\n\n   \"a\" : 1\n}\n\n"),
            "{\n   \"a\" : 1\n}"
        );
        assert_eq!(squeeze_newlines("x"), "x");
    }

    #[test]
    fn keys_are_percent_encoded() {
        assert_eq!(percent_encode("AIza-_.~"), "AIza-_.~");
        assert_eq!(percent_encode("a b&c"), "a%20b%26c");
    }

    #[test]
    fn error_object_is_google_shaped() {
        assert_eq!(
            error_json("boom"),
            "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"UNKNOWN_ERROR\",\n   \"error_message\" : \"boom\"\n}"
        );
    }
}
