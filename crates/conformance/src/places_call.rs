//! The Places request a WHATSAT made and the JSON its reply must then relay, for whichever API
//! the server called: legacy Nearby Search (`results`) or Places API (New) (`places`).
//!
//! The expected JSON is the stand-in's own answer to the very request the server made, cut to
//! the bound, so a wrong radius or location is reported once, by the `places/*` test about it,
//! and not again by every `whatsat/*` test. With no request found (a server that caches, or
//! asks elsewhere), the legacy answer for the true search stands in.

use mocks::{PlacesApi, PlacesRequest};
use serde_json::{Map, Value};

use crate::runner::{Ctx, Problem};

/// What a WHATSAT reply must carry as JSON.
#[derive(Clone, Debug)]
pub struct Expected {
    /// The API whose answer this is.
    pub api: PlacesApi,
    /// The answer, its place list cut to the bound.
    pub value: Value,
    /// The bound the place list was cut to.
    pub bound: usize,
}

impl Expected {
    /// The key holding the place list.
    pub fn list_key(&self) -> &'static str {
        match self.api {
            PlacesApi::New => "places",
            _ => "results",
        }
    }

    /// Whether `actual` is this answer by value. For the New API an empty `places` list and
    /// no `places` key mean the same (Google leaves the key out; a server that cuts the list
    /// to 0 may keep it).
    pub fn matches(&self, actual: &Value) -> bool {
        match self.api {
            PlacesApi::New => without_empty_places(actual) == without_empty_places(&self.value),
            _ => actual == &self.value,
        }
    }
}

/// Skips a test that compares with the stand-in's answers when the stand-in has received no
/// request at all in this run: the server asks Places elsewhere (a hard-coded Google URL is the
/// usual cause), which places/endpoint reports once; comparing its WHATSAT JSON or its requests
/// with the stand-in's would only repeat that finding in every test.
pub async fn needs_stand_in_asked(ctx: &Ctx) -> Result<(), Problem> {
    if ctx.env.stand_in.received().await.is_empty() {
        return Err(Problem::Skip(format!(
            "cannot be judged: the Places stand-in at {} has received no request in this run, \
             places/endpoint's finding (the server must use this URL as its Places base URL)",
            ctx.env.stand_in.uri()
        )));
    }
    Ok(())
}

/// Precision of a location match: the numbers the suite sent, as the server passed them on.
const SAME_DEGREES: f64 = 1e-7;

/// The latest request the stand-in received for a search centred at (`lat`, `lng`).
pub async fn request_at(ctx: &Ctx, lat: f64, lng: f64) -> Option<PlacesRequest> {
    ctx.env
        .stand_in
        .received()
        .await
        .into_iter()
        .rev()
        .find(|r| {
            center_of(r).is_some_and(|(a, b)| {
                (a - lat).abs() < SAME_DEGREES && (b - lng).abs() < SAME_DEGREES
            })
        })
}

/// The search centre a request names, also when the rest of a New-API body is unusable (so a
/// bad radius is reported as that, not as a missing request).
pub fn center_of(r: &PlacesRequest) -> Option<(f64, f64)> {
    r.location.or_else(|| {
        let center = r
            .body
            .as_ref()?
            .get("locationRestriction")?
            .get("circle")?
            .get("center")?;
        Some((
            center.get("latitude")?.as_f64()?,
            center.get("longitude")?.as_f64()?,
        ))
    })
}

/// The JSON a WHATSAT with `bound` must relay after the server made `request`; without one,
/// the legacy answer for (`lat`, `lng`) and `radius_km`.
pub fn expected_relay(
    request: Option<&PlacesRequest>,
    (lat, lng): (f64, f64),
    radius_km: f64,
    bound: usize,
) -> Expected {
    let (api, mut value) = match request {
        Some(r) if r.api == PlacesApi::New => (PlacesApi::New, new_api_answer(r, bound)),
        Some(r) if r.api == PlacesApi::Legacy => (PlacesApi::Legacy, r.answer().1),
        _ => (
            PlacesApi::Legacy,
            mocks::legacy_nearby(lat, lng, radius_km * 1000.0),
        ),
    };
    let key = if api == PlacesApi::New {
        "places"
    } else {
        "results"
    };
    if let Some(Value::Array(list)) = value.get_mut(key) {
        list.truncate(bound);
    }
    Expected { api, value, bound }
}

/// The New-API answer to `request`, asked for at least `bound` places: a server that asks for
/// fewer than the bound relays too few, and that shows as a difference, not as a pass.
fn new_api_answer(request: &PlacesRequest, bound: usize) -> Value {
    let asked = request.max_results.map_or(usize::MAX, |m| m as usize);
    if asked >= bound {
        return request.answer().1;
    }
    let mut raised = request.clone();
    if let Some(Value::Object(mut body)) = request.body.clone() {
        body.insert("maxResultCount".into(), Value::from(bound));
        raised.raw_body = Value::Object(body).to_string().into_bytes();
    }
    raised.answer().1
}

/// `value` with an empty top-level `places` list dropped.
fn without_empty_places(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, v)| {
                    !(k.as_str() == "places" && v.as_array().is_some_and(Vec::is_empty))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}

/// How `actual` departs from `expected`, every cause named: a list not cut to the bound, keys the
/// API does not answer with, then each differing value.
pub fn deviations(expected: &Expected, actual: &Value) -> Vec<String> {
    let key = expected.list_key();
    let mut found = Vec::new();
    let got = actual
        .get(key)
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if got > expected.bound {
        found.push(format!(
            "{key} not cut to the bound: {got} {key} for bound {} (the JSON's `{key}` must hold at most the bound)",
            expected.bound
        ));
    }
    let want = without_empty_places(&expected.value);
    let have = without_empty_places(actual);
    let extras: Vec<String> = match (&want, &have) {
        (Value::Object(w), Value::Object(h)) => h
            .keys()
            .filter(|k| !w.contains_key(*k) && k.as_str() != key)
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    let (api, answer) = match expected.api {
        PlacesApi::New => ("(New)", "a Places API (New) answer"),
        _ => ("(legacy Nearby Search)", "a legacy answer"),
    };
    for extra in &extras {
        found.push(format!(
            "a spurious `{extra}` key: the server called Places API {api}, and {answer} has no `{extra}`"
        ));
    }
    let said = |d: &String| {
        (got > expected.bound && d.starts_with(&format!("$.{key}: ")))
            || extras
                .iter()
                .any(|e| d.starts_with(&format!("$.{e}: not expected")))
    };
    found.extend(
        crate::expect::json_differences(&want, &have)
            .into_iter()
            .filter(|d| !said(d)),
    );
    found
}
