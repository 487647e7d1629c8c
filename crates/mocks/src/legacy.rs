//! The legacy Nearby Search answer: `GET /maps/api/place/nearbysearch/json`.

use serde_json::{Map, Value, json};

use crate::places::{Place, search_area};

/// Most results in one legacy page.
pub const LEGACY_PAGE_SIZE: usize = 20;

/// Google's message when the `key` parameter is missing or empty.
pub const MISSING_KEY_MESSAGE: &str = "You must use an API key to authenticate each request to Google Maps Platform APIs. For additional information, please refer to http://g.co/dev/maps-no-account";

/// The legacy answer body for a valid search: status `OK` with up to 20
/// results (and a `next_page_token` when the area holds more), or
/// `ZERO_RESULTS`. Pure and deterministic, so tests can compute what a server
/// relaying it should print; render it with
/// [`herd_wire::google_json::to_google_string`].
pub fn legacy_nearby(lat: f64, lng: f64, radius_m: f64) -> Value {
    let area = search_area(lat, lng, radius_m);
    let mut body = Map::new();
    body.insert("html_attributions".into(), json!([]));
    if area.places.is_empty() {
        body.insert("results".into(), json!([]));
        body.insert("status".into(), json!("ZERO_RESULTS"));
        return Value::Object(body);
    }
    if area.places.len() > LEGACY_PAGE_SIZE {
        body.insert("next_page_token".into(), json!(area.page_token));
    }
    let results: Vec<Value> = area
        .places
        .iter()
        .take(LEGACY_PAGE_SIZE)
        .map(legacy_result)
        .collect();
    body.insert("results".into(), Value::Array(results));
    body.insert("status".into(), json!("OK"));
    Value::Object(body)
}

/// An answer with no results and the given status, e.g. `INVALID_REQUEST`;
/// Google puts `error_message` first when it gives one.
pub fn legacy_error(status: &str, error_message: Option<&str>) -> Value {
    let mut body = Map::new();
    if let Some(message) = error_message {
        body.insert("error_message".into(), json!(message));
    }
    body.insert("html_attributions".into(), json!([]));
    body.insert("results".into(), json!([]));
    body.insert("status".into(), json!(status));
    Value::Object(body)
}

/// Parses `lat,lng` in degrees; `None` unless both are finite and in range.
pub(crate) fn parse_location(text: &str) -> Option<(f64, f64)> {
    let (lat, lng) = text.split_once(',')?;
    let lat: f64 = lat.trim().parse().ok()?;
    let lng: f64 = lng.trim().parse().ok()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng)).then_some((lat, lng))
}

/// Parses a radius in metres; `None` unless finite, above 0 and at most 50 000.
pub(crate) fn parse_radius(text: &str) -> Option<f64> {
    let radius: f64 = text.trim().parse().ok()?;
    (radius > 0.0 && radius <= 50_000.0).then_some(radius)
}

/// The first value of query parameter `name`.
pub(crate) fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The answer to a legacy request with these query parameters (always HTTP 200).
///
/// Checks, in order: `key` present and non-empty (else `REQUEST_DENIED`),
/// `location` present and valid, `radius` present and in (0, 50 000] (else
/// `INVALID_REQUEST`, with an `error_message` for a value that is present but bad).
pub(crate) fn legacy_answer(query: &[(String, String)]) -> Value {
    if query_value(query, "key").is_none_or(str::is_empty) {
        return legacy_error("REQUEST_DENIED", Some(MISSING_KEY_MESSAGE));
    }
    let Some(location_text) = query_value(query, "location") else {
        return legacy_error("INVALID_REQUEST", None);
    };
    let Some((lat, lng)) = parse_location(location_text) else {
        return legacy_error(
            "INVALID_REQUEST",
            Some("Invalid request. Invalid 'location' parameter."),
        );
    };
    let Some(radius_text) = query_value(query, "radius") else {
        return legacy_error("INVALID_REQUEST", None);
    };
    let Some(radius_m) = parse_radius(radius_text) else {
        return legacy_error(
            "INVALID_REQUEST",
            Some("Invalid request. Invalid 'radius' parameter."),
        );
    };
    legacy_nearby(lat, lng, radius_m)
}

/// One element of `results`, keys in Google's (alphabetical) order.
fn legacy_result(place: &Place) -> Value {
    let ((ne_lat, ne_lng), (sw_lat, sw_lng)) = place.viewport;
    let mut result = Map::new();
    result.insert("business_status".into(), json!(place.business_status));
    result.insert(
        "geometry".into(),
        json!({
            "location": {"lat": place.lat, "lng": place.lng},
            "viewport": {
                "northeast": {"lat": ne_lat, "lng": ne_lng},
                "southwest": {"lat": sw_lat, "lng": sw_lng}
            }
        }),
    );
    result.insert("icon".into(), json!(place.category.icon));
    result.insert(
        "icon_background_color".into(),
        json!(place.category.background),
    );
    result.insert("icon_mask_base_uri".into(), json!(place.category.pinlet));
    result.insert("name".into(), json!(place.name));
    if let Some(open_now) = place.open_now {
        result.insert("opening_hours".into(), json!({"open_now": open_now}));
    }
    if let Some(photo) = &place.photo {
        let attribution = format!(
            "<a href=\"https://maps.google.com/maps/contrib/{}\">{}</a>",
            photo.contributor_id, photo.author
        );
        result.insert(
            "photos".into(),
            json!([{
                "height": photo.height,
                "html_attributions": [attribution],
                "photo_reference": photo.reference,
                "width": photo.width
            }]),
        );
    }
    result.insert("place_id".into(), json!(place.place_id));
    result.insert(
        "plus_code".into(),
        json!({"compound_code": place.compound_code, "global_code": place.global_code}),
    );
    if let Some(price_level) = place.price_level {
        result.insert("price_level".into(), json!(price_level));
    }
    result.insert("rating".into(), place.rating_json());
    result.insert("reference".into(), json!(place.place_id));
    result.insert("scope".into(), json!("GOOGLE"));
    result.insert("types".into(), json!(place.category.types));
    result.insert("user_ratings_total".into(), json!(place.user_ratings_total));
    result.insert("vicinity".into(), json!(place.vicinity));
    Value::Object(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_parsing() {
        assert_eq!(parse_location("34.06,-118.44"), Some((34.06, -118.44)));
        assert_eq!(parse_location("90,180"), Some((90.0, 180.0)));
        for bad in [
            "",
            "34.06",
            "34.06;-118",
            "91,0",
            "0,181",
            "nan,0",
            "inf,0",
            "a,b",
            "1,2,3",
        ] {
            assert_eq!(parse_location(bad), None, "{bad}");
        }
    }

    #[test]
    fn radius_parsing() {
        assert_eq!(parse_radius("10000"), Some(10_000.0));
        assert_eq!(parse_radius("50000"), Some(50_000.0));
        for bad in ["", "0", "-1", "50001", "NaN", "inf", "ten"] {
            assert_eq!(parse_radius(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_key_order_follows_google() {
        let body = legacy_nearby(34.068930, -118.445127, 10_000.0);
        let keys: Vec<&str> = body
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            ["html_attributions", "next_page_token", "results", "status"]
        );
    }
}
