//! `places/*`: the request the implementation sent to Places for a WHATSAT (protocol.md §3):
//! the legacy Nearby Search endpoint, the client's location, the radius in metres, a key.
//!
//! Each test uses a position no other test uses and finds its own request among those the
//! stand-in recorded by that location.

use mocks::PlacesRequest;

use crate::at_judge::setup_iamat;
use crate::case;
use crate::fixtures::{time_from_now, unique_position};
use crate::runner::{Ctx, Problem, Shape, TestCase, fail};

pub static TESTS: &[TestCase] = &[
    case!(
        "places/endpoint",
        Must,
        [],
        "WHATSAT makes a legacy Nearby Search request: `GET /maps/api/place/nearbysearch/json`.",
        endpoint
    ),
    case!(
        "places/location",
        Must,
        [],
        "The request's `location` is `LAT,LNG` of the client's stored position.",
        location
    ),
    case!(
        "places/radius-metres",
        Must,
        [],
        "The request's `radius` is the WHATSAT radius in metres (10 km → 10000).",
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
        "The request carries a non-empty `key`.",
        key
    ),
];

/// What a test learned: its request as the stand-in saw it, and the numbers it should carry.
struct Sent {
    request: PlacesRequest,
    lat: f64,
    lng: f64,
}

/// IAMAT at a fresh position, WHATSAT with `radius`, then the stand-in's record of the request.
async fn request_for(ctx: &Ctx, radius: &str) -> Result<Sent, Problem> {
    let id = ctx.client_id("");
    let (position, lat, lng) = unique_position();
    setup_iamat(ctx, &id, &position, &time_from_now(-1_000_000)).await?;
    let reply = ctx
        .reply_to(
            format!("WHATSAT {id} {radius} 1").as_bytes(),
            Shape::Whatsat,
        )
        .await?;
    if reply.starts_with(b"? ") {
        return fail(format!(
            "the WHATSAT was answered as invalid (`{}`), so no Places request could be checked",
            String::from_utf8_lossy(crate::expect::trim(&reply))
        ));
    }
    let received = ctx.env.stand_in.received().await;
    let ours = received.iter().find(|r| {
        let loc = query(r, "location").and_then(parse_location).or(r.location);
        loc.is_some_and(|(a, b)| (a - lat).abs() < 1e-7 && (b - lng).abs() < 1e-7)
    });
    match ours {
        Some(request) => Ok(Sent {
            request: request.clone(),
            lat,
            lng,
        }),
        None => fail(format!(
            "the Places stand-in at {} received no request for location {lat},{lng} ({} requests in \
             all): is the server started with this URL as its Places base URL?",
            ctx.env.stand_in.uri(),
            received.len()
        )),
    }
}

fn query<'a>(r: &'a PlacesRequest, name: &str) -> Option<&'a str> {
    r.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn parse_location(text: &str) -> Option<(f64, f64)> {
    let (a, b) = text.split_once(',')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The request line as the stand-in saw it, for messages.
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
    format!("{} {}?{}", r.method, r.path, q.join("&"))
}

async fn endpoint(ctx: &Ctx) -> Result<(), Problem> {
    let s = request_for(ctx, "10").await?;
    let r = &s.request;
    if r.method != "GET" || r.path != "/maps/api/place/nearbysearch/json" {
        return fail(format!(
            "the Places request was `{}`; the suite's stand-in checks the legacy Nearby Search \
             `GET /maps/api/place/nearbysearch/json`",
            shown(r)
        ));
    }
    Ok(())
}

async fn location(ctx: &Ctx) -> Result<(), Problem> {
    let s = request_for(ctx, "10").await?;
    match query(&s.request, "location") {
        Some(text) if parse_location(text) == Some((s.lat, s.lng)) => Ok(()),
        other => fail(format!(
            "the request's location is {}; expected `{},{}` (request: `{}`)",
            other.map_or("missing".into(), |t| format!("`{t}`")),
            s.lat,
            s.lng,
            shown(&s.request)
        )),
    }
}

async fn check_radius(ctx: &Ctx, radius: &str, metres: f64) -> Result<(), Problem> {
    let s = request_for(ctx, radius).await?;
    match query(&s.request, "radius") {
        Some(text) if text.parse::<f64>().ok() == Some(metres) => Ok(()),
        other => fail(format!(
            "the request's radius is {} for WHATSAT radius {radius} km; expected {metres} (metres = km × 1000) (request: `{}`)",
            other.map_or("missing".into(), |t| format!("`{t}`")),
            shown(&s.request)
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
    let s = request_for(ctx, "10").await?;
    match query(&s.request, "key") {
        Some(k) if !k.trim().is_empty() => Ok(()),
        _ => fail(format!(
            "the request has no (or an empty) `key` parameter (request: `{}`)",
            shown(&s.request)
        )),
    }
}
