//! `places/*`: the request the implementation sent to Places for a WHATSAT (protocol.md §3),
//! legacy Nearby Search or Places API (New), whichever it calls: the endpoint, the client's
//! location, the radius in metres, a key, and for the New API the field mask and result count.
//!
//! Each test uses a position no other test uses and finds its own request among those the
//! stand-in recorded by that location.

use mocks::{PlacesApi, PlacesRequest};
use serde_json::Value;

use crate::at_judge::setup_iamat;
use crate::case;
use crate::fixtures::{time_from_now, unique_position};
use crate::places_call::{self, center_of, request_at};
use crate::runner::{Ctx, Problem, Shape, TestCase, fail};

pub static TESTS: &[TestCase] = &[
    case!(
        "places/endpoint",
        Must,
        [],
        "WHATSAT makes a Nearby Search request: legacy `GET /maps/api/place/nearbysearch/json` or Places API (New) `POST /v1/places:searchNearby`.",
        endpoint
    ),
    case!(
        "places/location",
        Must,
        [],
        "The request's centre is the client's stored position (legacy `location=LAT,LNG`; New `center` latitude and longitude).",
        location
    ),
    case!(
        "places/radius-metres",
        Must,
        [],
        "The request's radius is the WHATSAT radius in metres (10 km → 10000).",
        radius_metres
    ),
    case!(
        "places/radius-fractional",
        Should,
        [],
        "A fractional WHATSAT radius is converted exactly (2.5 km → 2500 m).",
        radius_fractional
    ),
    case!(
        "places/key",
        Must,
        [],
        "The request carries a non-empty API key (legacy `key`; New `X-Goog-Api-Key`).",
        key
    ),
    case!(
        "places/field-mask",
        Must,
        [],
        "A Places API (New) request carries a non-empty `X-Goog-FieldMask` (Google refuses it without one).",
        field_mask
    ),
    case!(
        "places/result-count",
        Must,
        [],
        "A Places API (New) request asks for at least the WHATSAT bound: `maxResultCount` left out or between the bound and 20.",
        result_count
    ),
];

/// What a test learned: its request as the stand-in saw it, and the numbers it should carry.
struct Sent {
    request: PlacesRequest,
    lat: f64,
    lng: f64,
}

/// IAMAT at a fresh position, WHATSAT with `radius` and `bound`, then the stand-in's record of
/// the request.
async fn request_for(ctx: &Ctx, radius: &str, bound: usize) -> Result<Sent, Problem> {
    let id = ctx.client_id("");
    let (position, lat, lng) = unique_position();
    setup_iamat(ctx, &id, &position, &time_from_now(-1_000_000)).await?;
    let reply = ctx
        .reply_to(
            format!("WHATSAT {id} {radius} {bound}").as_bytes(),
            Shape::Whatsat,
        )
        .await?;
    if reply.starts_with(b"? ") {
        return fail(format!(
            "the WHATSAT was answered as invalid (`{}`), so no Places request could be checked",
            String::from_utf8_lossy(crate::expect::trim(&reply))
        ));
    }
    match request_at(ctx, lat, lng).await {
        Some(request) => Ok(Sent { request, lat, lng }),
        None => fail(format!(
            "the Places stand-in at {} received no request for location {lat},{lng} ({} requests in \
             all): is the server started with this URL as its Places base URL?",
            ctx.env.stand_in.uri(),
            ctx.env.stand_in.received().await.len()
        )),
    }
}

/// [`request_for`] for the tests about what the request carries: when no request at all has
/// reached the stand-in, that is places/endpoint's finding, and these tests cannot be judged.
async fn request_to_judge(ctx: &Ctx, radius: &str, bound: usize) -> Result<Sent, Problem> {
    match request_for(ctx, radius, bound).await {
        Err(Problem::Fail(failure)) => {
            places_call::needs_stand_in_asked(ctx).await?;
            Err(Problem::Fail(failure))
        }
        judged => judged,
    }
}

fn query<'a>(r: &'a PlacesRequest, name: &str) -> Option<&'a str> {
    r.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The request as the stand-in saw it, for messages (the key left out).
fn shown(r: &PlacesRequest) -> String {
    let q: Vec<String> = r
        .query
        .iter()
        .map(|(k, v)| {
            if k == "key" {
                format!("{k}=<key>")
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    let line = if q.is_empty() {
        format!("{} {}", r.method, r.path)
    } else {
        format!("{} {}?{}", r.method, r.path, q.join("&"))
    };
    match (r.api, &r.body) {
        (PlacesApi::New, Some(body)) => format!("{line} {body}"),
        (PlacesApi::New, None) => format!(
            "{line} (body not JSON: {})",
            String::from_utf8_lossy(&r.raw_body)
        ),
        _ => line,
    }
}

/// A New-API body's `locationRestriction.circle.radius`, as sent.
fn new_api_radius(r: &PlacesRequest) -> Option<&Value> {
    r.body
        .as_ref()?
        .get("locationRestriction")?
        .get("circle")?
        .get("radius")
}

async fn endpoint(ctx: &Ctx) -> Result<(), Problem> {
    let s = request_for(ctx, "10", 1).await?;
    if s.request.api == PlacesApi::Other {
        return fail(format!(
            "the Places request was `{}`; expected the legacy Nearby Search \
             `GET /maps/api/place/nearbysearch/json` or Places API (New) \
             `POST /v1/places:searchNearby`",
            shown(&s.request)
        ));
    }
    Ok(())
}

async fn location(ctx: &Ctx) -> Result<(), Problem> {
    let s = request_to_judge(ctx, "10", 1).await?;
    let r = &s.request;
    if center_of(r) == Some((s.lat, s.lng)) {
        return Ok(());
    }
    let sent = match r.api {
        PlacesApi::Legacy => query(r, "location").map(|t| format!("`{t}`")),
        _ => center_of(r).map(|(a, b)| format!("latitude {a}, longitude {b}")),
    };
    fail(format!(
        "the request's location is {}; expected {},{} (request: `{}`)",
        sent.unwrap_or_else(|| "missing".into()),
        s.lat,
        s.lng,
        shown(r)
    ))
}

async fn check_radius(ctx: &Ctx, radius: &str, metres: f64) -> Result<(), Problem> {
    let s = request_to_judge(ctx, radius, 1).await?;
    let r = &s.request;
    let sent: Option<String> = match r.api {
        PlacesApi::New => new_api_radius(r).map(Value::to_string),
        _ => query(r, "radius").map(str::to_owned),
    };
    match sent {
        Some(text) if text.trim_matches('"').parse::<f64>().ok() == Some(metres) => Ok(()),
        other => fail(format!(
            "the request's radius is {} for WHATSAT radius {radius} km; expected {metres} (metres = km × 1000) (request: `{}`)",
            other.map_or("missing".into(), |t| format!("`{t}`")),
            shown(r)
        )),
    }
}

async fn radius_metres(ctx: &Ctx) -> Result<(), Problem> {
    check_radius(ctx, "10", 10_000.0).await
}

async fn radius_fractional(ctx: &Ctx) -> Result<(), Problem> {
    check_radius(ctx, "2.5", 2_500.0).await
}

async fn key(ctx: &Ctx) -> Result<(), Problem> {
    let s = request_to_judge(ctx, "10", 1).await?;
    let r = &s.request;
    let (key, name) = match r.api {
        PlacesApi::New => (
            r.header("x-goog-api-key").or_else(|| query(r, "key")),
            "`X-Goog-Api-Key` header",
        ),
        _ => (query(r, "key"), "`key` parameter"),
    };
    match key {
        Some(k) if !k.trim().is_empty() => Ok(()),
        _ => fail(format!(
            "the request has no (or an empty) {name} (request: `{}`)",
            shown(r)
        )),
    }
}

/// The test's request when it went to Places API (New); a skip for the legacy API.
async fn new_api_request(ctx: &Ctx, bound: usize) -> Result<PlacesRequest, Problem> {
    let s = request_to_judge(ctx, "10", bound).await?;
    if s.request.api != PlacesApi::New {
        return Err(Problem::Skip(
            "the server calls the legacy Nearby Search, not Places API (New)".into(),
        ));
    }
    Ok(s.request)
}

async fn field_mask(ctx: &Ctx) -> Result<(), Problem> {
    let r = new_api_request(ctx, 1).await?;
    match r
        .header("x-goog-fieldmask")
        .or_else(|| query(&r, "fields"))
        .or_else(|| query(&r, "$fields"))
    {
        Some(mask) if !mask.trim().is_empty() => Ok(()),
        _ => fail(format!(
            "the Places API (New) request has no (or an empty) `X-Goog-FieldMask` header, so Google answers 400 (request: `{}`)",
            shown(&r)
        )),
    }
}

/// The bound result-count asks for.
const RESULT_COUNT_BOUND: usize = 5;

async fn result_count(ctx: &Ctx) -> Result<(), Problem> {
    let r = new_api_request(ctx, RESULT_COUNT_BOUND).await?;
    let sent = r.body.as_ref().and_then(|b| b.get("maxResultCount"));
    let fits = match sent {
        None | Some(Value::Null) => true,
        Some(n) => n
            .as_u64()
            .is_some_and(|n| (RESULT_COUNT_BOUND as u64..=20).contains(&n)),
    };
    if fits {
        return Ok(());
    }
    fail(format!(
        "the request's maxResultCount is {} for WHATSAT bound {RESULT_COUNT_BOUND}; expected it left out or between {RESULT_COUNT_BOUND} and 20 (request: `{}`)",
        sent.map_or("missing".into(), Value::to_string),
        shown(&r)
    ))
}
