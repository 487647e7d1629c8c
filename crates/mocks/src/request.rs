//! What the stand-in saw: received HTTP requests parsed into [`PlacesRequest`]s.

use serde_json::Value;

use crate::legacy::{legacy_answer, parse_location, parse_radius, query_value};
use crate::new_api::{new_api_answer, parse_query};

/// Path of the legacy Nearby Search (JSON output).
pub const LEGACY_PATH: &str = "/maps/api/place/nearbysearch/json";
/// Path of the Places API (New) Nearby Search.
pub const NEW_API_PATH: &str = "/v1/places:searchNearby";

/// Which Places API a request was addressed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlacesApi {
    /// `GET /maps/api/place/nearbysearch/json`.
    Legacy,
    /// `POST /v1/places:searchNearby`.
    New,
    /// Anything else (answered 404).
    Other,
}

impl PlacesApi {
    /// Classifies a request by method and path.
    pub fn of(method: &str, path: &str) -> Self {
        match (method, path) {
            ("GET", LEGACY_PATH) => Self::Legacy,
            ("POST", NEW_API_PATH) => Self::New,
            _ => Self::Other,
        }
    }
}

/// One request the stand-in received, with the search parameters pulled out.
///
/// The parsed fields are `None` when absent or malformed: for the legacy API
/// `key`, `location` and `radius` come from the query string and `max_results`
/// is always `None`; for the new API `key` is the `X-Goog-Api-Key` header and
/// the rest come from a valid JSON body (`maxResultCount` only when given).
#[derive(Clone, Debug, PartialEq)]
pub struct PlacesRequest {
    pub api: PlacesApi,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The URL path, without the query.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    /// Headers in order, names in lower case; values that are not UTF-8 are lossily decoded.
    pub headers: Vec<(String, String)>,
    /// The body, when it is JSON.
    pub body: Option<serde_json::Value>,
    /// The body as received.
    pub raw_body: Vec<u8>,
    /// The API key.
    pub key: Option<String>,
    /// `(lat, lng)` of the search centre.
    pub location: Option<(f64, f64)>,
    /// Search radius in metres.
    pub radius_m: Option<f64>,
    /// `maxResultCount` of a new-API request.
    pub max_results: Option<u32>,
}

impl PlacesRequest {
    /// Parses a request recorded by wiremock. Never fails: what cannot be read is `None`.
    pub fn from_recorded(request: &wiremock::Request) -> Self {
        let method = request.method.as_str().to_string();
        let path = request.url.path().to_string();
        let api = PlacesApi::of(&method, &path);
        let query: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_string(), value)
            })
            .collect();
        let body = serde_json::from_slice(&request.body).ok();
        let mut parsed = Self {
            api,
            method,
            path,
            query,
            headers,
            body,
            raw_body: request.body.clone(),
            key: None,
            location: None,
            radius_m: None,
            max_results: None,
        };
        match api {
            PlacesApi::Legacy => {
                parsed.key = query_value(&parsed.query, "key").map(str::to_string);
                parsed.location = query_value(&parsed.query, "location").and_then(parse_location);
                parsed.radius_m = query_value(&parsed.query, "radius").and_then(parse_radius);
            }
            PlacesApi::New => {
                parsed.key = parsed.header("x-goog-api-key").map(str::to_string);
                if let Ok(search) = parse_query(&request.body) {
                    parsed.location = Some((search.lat, search.lng));
                    parsed.radius_m = Some(search.radius_m);
                }
                parsed.max_results = parsed
                    .body
                    .as_ref()
                    .and_then(|b| b.get("maxResultCount"))
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok());
            }
            PlacesApi::Other => {}
        }
        parsed
    }

    /// What the stand-in answers this request when no failure is switched on: the HTTP status
    /// and the JSON body (`Null` for a 404). A test predicts from it what the server that made
    /// the request should relay.
    pub fn answer(&self) -> (u16, Value) {
        match self.api {
            PlacesApi::Legacy => (200, legacy_answer(&self.query)),
            PlacesApi::New => new_api_answer(
                |name| self.header(name).filter(|v| !v.trim().is_empty()),
                &self.query,
                &self.raw_body,
            ),
            PlacesApi::Other => (404, Value::Null),
        }
    }

    /// The first value of a header, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}
