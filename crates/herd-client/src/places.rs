//! The rows of the places table, read from the Places JSON of either API: legacy Nearby Search
//! (`results`, `status`) or Places API (New) (`places`), so any server's answer can be shown.

use serde_json::Value;

/// One place, as far as the JSON says.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    pub name: String,
    /// `(lat, lng)` in degrees.
    pub location: Option<(f64, f64)>,
    pub rating: Option<f64>,
    pub vicinity: String,
    pub types: Vec<String>,
}

/// The places in `json`, in the server's order.
pub fn places(json: &Value) -> Vec<Place> {
    if let Some(results) = json.get("results").and_then(Value::as_array) {
        return results.iter().map(legacy_place).collect();
    }
    json.get("places")
        .and_then(Value::as_array)
        .map(|places| places.iter().map(new_api_place).collect())
        .unwrap_or_default()
}

/// The legacy `status` and `error_message` when the status is not `OK` (the new API has no status).
pub fn problem(json: &Value) -> Option<String> {
    let status = json.get("status").and_then(Value::as_str)?;
    if status == "OK" {
        return None;
    }
    Some(match json.get("error_message").and_then(Value::as_str) {
        Some(message) => format!("{status}: {message}"),
        None => status.to_owned(),
    })
}

fn text(value: Option<&Value>) -> String {
    value.and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn point(value: Option<&Value>, lat: &str, lng: &str) -> Option<(f64, f64)> {
    let value = value?;
    Some((value.get(lat)?.as_f64()?, value.get(lng)?.as_f64()?))
}

fn types(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|types| {
            types
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn legacy_place(result: &Value) -> Place {
    Place {
        name: text(result.get("name")),
        location: point(result.pointer("/geometry/location"), "lat", "lng"),
        rating: result.get("rating").and_then(Value::as_f64),
        vicinity: text(result.get("vicinity")),
        types: types(result.get("types")),
    }
}

fn new_api_place(place: &Value) -> Place {
    Place {
        name: text(place.pointer("/displayName/text")),
        location: point(place.get("location"), "latitude", "longitude"),
        rating: place.get("rating").and_then(Value::as_f64),
        vicinity: text(place.get("formattedAddress")),
        types: types(place.get("types")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_both_apis() {
        let legacy = json!({"results": [{"name": "Café", "geometry": {"location": {"lat": 1.0, "lng": 2.0}},
            "rating": 4.5, "vicinity": "1 Main St", "types": ["cafe", "food"]}], "status": "OK"});
        let new = json!({"places": [{"displayName": {"text": "Café"}, "location": {"latitude": 1.0, "longitude": 2.0},
            "rating": 4.5, "formattedAddress": "1 Main St", "types": ["cafe", "food"]}]});
        assert_eq!(places(&legacy), places(&new));
        assert_eq!(places(&legacy)[0].location, Some((1.0, 2.0)));
        assert_eq!(problem(&legacy), None);
    }

    #[test]
    fn problems_carry_the_message() {
        let denied = json!({"error_message": "bad key", "results": [], "status": "REQUEST_DENIED"});
        assert_eq!(problem(&denied).as_deref(), Some("REQUEST_DENIED: bad key"));
        assert!(places(&json!({})).is_empty());
    }
}
