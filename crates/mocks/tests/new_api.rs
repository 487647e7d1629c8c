//! Places API (New) `searchNearby` over real HTTP: answers, limits and Google's errors.

mod common;

use common::{UCLA, client, new_api_body, new_api_url, unpack};
use mocks::{JSON_CONTENT_TYPE, PlacesStandIn, ZERO_RESULTS_AREA, haversine_m, new_nearby};
use serde_json::Value;

/// POST a search; returns status, content type and body text.
async fn post(
    base: &str,
    key: Option<&str>,
    mask: Option<&str>,
    body: String,
) -> (u16, String, String) {
    let mut request = client().post(new_api_url(base)).body(body);
    if let Some(key) = key {
        request = request.header("X-Goog-Api-Key", key);
    }
    if let Some(mask) = mask {
        request = request.header("X-Goog-FieldMask", mask);
    }
    unpack(request.send().await.expect("POST")).await
}

async fn search(base: &str, location: (f64, f64), radius: f64, max: Option<u32>) -> (u16, String) {
    let body = new_api_body(location, radius, max).to_string();
    let (status, _, text) = post(base, Some("test-key"), Some("*"), body).await;
    (status, text)
}

#[tokio::test]
async fn ok_answer_matches_the_snapshot() {
    let places = PlacesStandIn::start().await.expect("start");
    let body = new_api_body(UCLA, 1000.0, Some(3)).to_string();
    let (status, content_type, text) = post(&places.uri(), Some("k"), Some("*"), body).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, JSON_CONTENT_TYPE);
    assert_eq!(
        text,
        serde_json::to_string_pretty(&new_nearby(UCLA.0, UCLA.1, 1000.0, 3)).expect("json")
    );
    insta::assert_snapshot!("new_api_ucla_1km_max3", text);
}

#[tokio::test]
async fn max_result_count_is_respected_and_defaults_to_20() {
    let places = PlacesStandIn::start().await.expect("start");
    for (max, expected) in [
        (Some(1), 1),
        (Some(5), 5),
        (Some(20), 20),
        (None, 20),
        (Some(0), 20),
    ] {
        let (status, text) = search(&places.uri(), UCLA, 10_000.0, max).await;
        assert_eq!(status, 200);
        let body: Value = serde_json::from_str(&text).expect("JSON");
        let found = body["places"].as_array().map(Vec::len);
        assert_eq!(found, Some(expected), "maxResultCount {max:?}");
    }
    // Fewer candidates than asked for: all of them.
    let (_, text) = search(&places.uri(), UCLA, 500.0, Some(20)).await;
    let body: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(body["places"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn places_lie_inside_the_circle_and_match_the_legacy_ones() {
    let places = PlacesStandIn::start().await.expect("start");
    let (_, text) = search(&places.uri(), UCLA, 3000.0, None).await;
    let body: Value = serde_json::from_str(&text).expect("JSON");
    let legacy = mocks::legacy_nearby(UCLA.0, UCLA.1, 3000.0);
    let found = body["places"].as_array().expect("places");
    for (place, result) in found
        .iter()
        .zip(legacy["results"].as_array().expect("results"))
    {
        let point = (
            place["location"]["latitude"].as_f64().expect("lat"),
            place["location"]["longitude"].as_f64().expect("lng"),
        );
        assert!(haversine_m(UCLA, point) <= 3000.0);
        assert_eq!(place["id"], result["place_id"]);
        assert_eq!(place["displayName"]["text"], result["name"]);
    }
}

#[tokio::test]
async fn the_empty_area_answers_an_empty_object() {
    let places = PlacesStandIn::start().await.expect("start");
    let (status, text) = search(&places.uri(), ZERO_RESULTS_AREA.example, 50_000.0, None).await;
    assert_eq!((status, text.as_str()), (200, "{}"));
}

#[tokio::test]
async fn field_mask_limits_the_fields() {
    let places = PlacesStandIn::start().await.expect("start");
    let body = new_api_body(UCLA, 1000.0, Some(2)).to_string();
    let (status, _, text) = post(
        &places.uri(),
        Some("k"),
        Some("places.id,places.displayName"),
        body,
    )
    .await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&text).expect("JSON");
    for place in body["places"].as_array().expect("places") {
        let keys: Vec<&String> = place.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["id", "displayName"]);
    }
}

#[tokio::test]
async fn missing_key_is_403_permission_denied() {
    let places = PlacesStandIn::start().await.expect("start");
    for key in [None, Some("")] {
        let body = new_api_body(UCLA, 1000.0, None).to_string();
        let (status, content_type, text) = post(&places.uri(), key, Some("*"), body).await;
        assert_eq!(status, 403);
        assert_eq!(content_type, JSON_CONTENT_TYPE);
        let body: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(body["error"]["code"], 403);
        assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

#[tokio::test]
async fn missing_field_mask_or_bad_body_is_400_invalid_argument() {
    let places = PlacesStandIn::start().await.expect("start");
    let good = new_api_body(UCLA, 1000.0, None).to_string();
    let mut cases = vec![(None, good.clone())];
    cases.push((Some(""), good));
    for bad in [
        String::new(),
        "not json".to_string(),
        "[]".to_string(),
        "{}".to_string(),
        new_api_body((91.0, 0.0), 1000.0, None).to_string(),
        new_api_body((0.0, 181.0), 1000.0, None).to_string(),
        new_api_body(UCLA, 50_001.0, None).to_string(),
        new_api_body(UCLA, -1.0, None).to_string(),
        new_api_body(UCLA, 1000.0, Some(21)).to_string(),
        r#"{"maxResultCount": -1, "locationRestriction": {"circle": {"center": {"latitude": 1, "longitude": 2}, "radius": 3}}}"#.to_string(),
        r#"{"locationRestriction": {"circle": {"center": {"latitude": "1", "longitude": 2}, "radius": 3}}}"#.to_string(),
    ] {
        cases.push((Some("*"), bad));
    }
    for (mask, body) in cases {
        let (status, _, text) = post(&places.uri(), Some("k"), mask, body.clone()).await;
        assert_eq!(status, 400, "mask {mask:?} body {body}");
        let answer: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(answer["error"]["code"], 400);
        assert_eq!(answer["error"]["status"], "INVALID_ARGUMENT");
    }
}
