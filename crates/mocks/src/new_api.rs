//! The Places API (New) answer: `POST /v1/places:searchNearby`.

use serde_json::{Map, Value, json};

use crate::legacy::query_value;
use crate::places::{Place, search_area};

/// `maxResultCount` when the request leaves it out (or sends 0), and its upper limit.
pub const NEW_API_MAX_RESULTS: u32 = 20;

/// Google's 403 message for a request without `X-Goog-Api-Key`.
pub const NEW_API_MISSING_KEY_MESSAGE: &str = "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.";

/// Google's 400 message for a request without `X-Goog-FieldMask`.
pub const NEW_API_MISSING_FIELD_MASK_MESSAGE: &str = "FieldMask is a required parameter. See https://cloud.google.com/apis/docs/system-parameters on how to provide it. As an example, you can set the header 'X-Goog-FieldMask' to 'displayName' to return the `displayName` field in the response.";

/// The Places API (New) body for a valid search with every field (field mask
/// `*`): `{"places": [...]}` with at most `max` places, or `{}` when there are
/// none, as Google answers. Pure and deterministic; the places are the same
/// ones [`crate::legacy_nearby`] lists for the same search, in the same order.
pub fn new_nearby(lat: f64, lng: f64, radius_m: f64, max: u32) -> Value {
    let area = search_area(lat, lng, radius_m);
    // u32 -> usize is lossless on every supported target.
    let limit = max.min(NEW_API_MAX_RESULTS) as usize;
    let places: Vec<Value> = area.places.iter().take(limit).map(new_place).collect();
    if places.is_empty() {
        return json!({});
    }
    json!({ "places": places })
}

/// A Google error body: `{"error": {"code", "message", "status"}}`.
pub fn new_api_error(code: u16, message: &str, status: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status}})
}

/// The validated body of a search request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct NearbyQuery {
    pub(crate) lat: f64,
    pub(crate) lng: f64,
    pub(crate) radius_m: f64,
    pub(crate) max: u32,
}

/// Reads and checks a request body the way Google does; `Err` is the message
/// for a 400 `INVALID_ARGUMENT`.
pub(crate) fn parse_query(body: &[u8]) -> Result<NearbyQuery, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| format!("Invalid JSON payload received. {err}"))?;
    let object = value
        .as_object()
        .ok_or("Invalid JSON payload received. Expected an object.")?;
    let max = match object.get("maxResultCount") {
        None | Some(Value::Null) => NEW_API_MAX_RESULTS,
        Some(count) => match count.as_i64() {
            Some(0) => NEW_API_MAX_RESULTS,
            Some(n) if (1..=i64::from(NEW_API_MAX_RESULTS)).contains(&n) => {
                u32::try_from(n).map_err(|_| max_count_message())?
            }
            _ => return Err(max_count_message()),
        },
    };
    let circle = object
        .get("locationRestriction")
        .and_then(|restriction| restriction.get("circle"))
        .ok_or("locationRestriction.circle is required.")?;
    let center = circle
        .get("center")
        .ok_or("locationRestriction.circle.center is required.")?;
    let lat = number(center, "latitude")?;
    let lng = number(center, "longitude")?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lng) {
        return Err(
            "Invalid center: latitude must be in [-90, 90] and longitude in [-180, 180].".into(),
        );
    }
    let radius_m = number(circle, "radius")?;
    if !(0.0..=50_000.0).contains(&radius_m) {
        return Err("Invalid radius. Must be within [0.0, 50000.0].".into());
    }
    Ok(NearbyQuery {
        lat,
        lng,
        radius_m,
        max,
    })
}

fn max_count_message() -> String {
    format!("maxResultCount must be between 1 and {NEW_API_MAX_RESULTS}, inclusive.")
}

/// A finite number field of a JSON object.
fn number(parent: &Value, field: &str) -> Result<f64, String> {
    parent
        .get(field)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("Invalid or missing numeric field '{field}'."))
}

/// Status and body for a new-API request: 403 without a key, 400 without a field mask or with a
/// bad body, else 200 with the places the mask asks for. `header` gives a header's non-blank
/// value by name; `query` is the URL's query (Google also takes `key` and `fields` there).
pub(crate) fn new_api_answer<'a>(
    header: impl Fn(&str) -> Option<&'a str>,
    query: &'a [(String, String)],
    body: &[u8],
) -> (u16, Value) {
    let key =
        header("x-goog-api-key").or_else(|| query_value(query, "key").filter(|k| !k.is_empty()));
    if key.is_none() {
        return (
            403,
            new_api_error(403, NEW_API_MISSING_KEY_MESSAGE, "PERMISSION_DENIED"),
        );
    }
    let mask = header("x-goog-fieldmask")
        .or_else(|| query_value(query, "fields"))
        .or_else(|| query_value(query, "$fields"))
        .filter(|m| !m.trim().is_empty());
    let Some(mask) = mask else {
        return (
            400,
            new_api_error(400, NEW_API_MISSING_FIELD_MASK_MESSAGE, "INVALID_ARGUMENT"),
        );
    };
    match parse_query(body) {
        Ok(search) => {
            let places = new_nearby(search.lat, search.lng, search.radius_m, search.max);
            (200, apply_field_mask(places, mask))
        }
        Err(message) => (400, new_api_error(400, &message, "INVALID_ARGUMENT")),
    }
}

/// Keeps only the place fields an `X-Goog-FieldMask` asks for.
///
/// `*`, `places` and `places.*` keep everything; `places.displayName,places.id`
/// keeps those two; a nested path such as `places.location.latitude` keeps the
/// whole `location`. Paths outside `places` are ignored.
pub(crate) fn apply_field_mask(body: Value, mask: &str) -> Value {
    let paths: Vec<&str> = mask.split(',').map(str::trim).collect();
    if paths
        .iter()
        .any(|p| matches!(*p, "*" | "places" | "places.*"))
    {
        return body;
    }
    let wanted: Vec<&str> = paths
        .iter()
        .filter_map(|p| p.strip_prefix("places."))
        .map(|rest| rest.split('.').next().unwrap_or(rest))
        .collect();
    let Value::Object(mut top) = body else {
        return body;
    };
    if let Some(Value::Array(places)) = top.get_mut("places") {
        for place in places.iter_mut() {
            if let Value::Object(fields) = place {
                fields.retain(|key, _| wanted.contains(&key.as_str()));
            }
        }
    }
    Value::Object(top)
}

/// One place, fields in the order Google's new API prints them.
fn new_place(place: &Place) -> Value {
    let mut fields = Map::new();
    fields.insert("id".into(), json!(place.place_id));
    fields.insert("types".into(), json!(place.category.types));
    fields.insert("formattedAddress".into(), json!(place.formatted_address));
    fields.insert(
        "location".into(),
        json!({"latitude": place.lat, "longitude": place.lng}),
    );
    fields.insert("rating".into(), place.rating_json());
    fields.insert(
        "googleMapsUri".into(),
        json!(format!("https://maps.google.com/?cid={}", place.maps_cid)),
    );
    fields.insert("businessStatus".into(), json!(place.business_status));
    fields.insert("userRatingCount".into(), json!(place.user_ratings_total));
    fields.insert(
        "displayName".into(),
        json!({"text": place.name, "languageCode": "en"}),
    );
    fields.insert("primaryType".into(), json!(place.category.types.first()));
    fields.insert("shortFormattedAddress".into(), json!(place.short_address));
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Result<NearbyQuery, String> {
        parse_query(text.as_bytes())
    }

    #[test]
    fn a_valid_body_parses() {
        let q = body(
            r#"{"maxResultCount": 5, "locationRestriction": {"circle": {"center": {"latitude": 34.0, "longitude": -118.0}, "radius": 1000}}}"#,
        );
        assert_eq!(
            q,
            Ok(NearbyQuery {
                lat: 34.0,
                lng: -118.0,
                radius_m: 1000.0,
                max: 5
            })
        );
        let q = body(
            r#"{"locationRestriction": {"circle": {"center": {"latitude": 1, "longitude": 2}, "radius": 3}}}"#,
        );
        assert_eq!(q.map(|q| q.max), Ok(20));
    }

    #[test]
    fn bad_bodies_are_rejected() {
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"locationRestriction": {"circle": {"center": {"latitude": 91, "longitude": 0}, "radius": 3}}}"#,
            r#"{"locationRestriction": {"circle": {"center": {"latitude": 1, "longitude": 0}, "radius": 50001}}}"#,
            r#"{"locationRestriction": {"circle": {"center": {"latitude": 1, "longitude": 0}}}}"#,
            r#"{"maxResultCount": 21, "locationRestriction": {"circle": {"center": {"latitude": 1, "longitude": 0}, "radius": 3}}}"#,
            r#"{"maxResultCount": -1, "locationRestriction": {"circle": {"center": {"latitude": 1, "longitude": 0}, "radius": 3}}}"#,
            r#"{"maxResultCount": "x", "locationRestriction": {"circle": {"center": {"latitude": 1, "longitude": 0}, "radius": 3}}}"#,
        ] {
            assert!(body(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_mask_keeps_only_named_fields() {
        let full = new_nearby(34.0, -118.0, 1000.0, 2);
        let masked = apply_field_mask(full.clone(), "places.displayName, places.location.latitude");
        let first = &masked["places"][0];
        let keys: Vec<&String> = first
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["location", "displayName"]);
        assert_eq!(apply_field_mask(full.clone(), "*"), full);
    }
}
