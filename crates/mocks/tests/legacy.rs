//! The legacy Nearby Search over real HTTP: layout, determinism, geometry, errors.

mod common;

use common::{UCLA, get, get_json, legacy_search, legacy_url};
use herd_wire::google_json::to_google_string;
use mocks::{
    JSON_CONTENT_TYPE, MISSING_KEY_MESSAGE, PlacesStandIn, ZERO_RESULTS_AREA, haversine_m,
    legacy_nearby,
};

#[tokio::test]
async fn ok_answer_matches_the_snapshot_byte_for_byte() {
    let places = PlacesStandIn::start().await.expect("start");
    let (status, content_type, body) = get(&legacy_search(&places.uri(), UCLA, 1000.0)).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, JSON_CONTENT_TYPE);
    insta::assert_snapshot!("legacy_ucla_1km", body);
}

#[tokio::test]
async fn served_body_is_the_pure_function_rendered_google_style() {
    let places = PlacesStandIn::start().await.expect("start");
    for radius in [1.0, 1000.0, 10_000.0] {
        let (_, _, body) = get(&legacy_search(&places.uri(), UCLA, radius)).await;
        assert_eq!(
            body,
            to_google_string(&legacy_nearby(UCLA.0, UCLA.1, radius))
        );
        assert!(body.starts_with("{\n   \"html_attributions\" : [],\n"));
        assert!(!body.ends_with('\n'));
    }
}

#[tokio::test]
async fn two_stand_ins_give_identical_answers() {
    let first = PlacesStandIn::start().await.expect("start");
    let second = PlacesStandIn::start().await.expect("start");
    assert_ne!(first.uri(), second.uri());
    for (location, radius) in [
        (UCLA, 10_000.0),
        ((-33.86, 151.2), 500.0),
        ((0.0, 0.0), 50_000.0),
    ] {
        let a = get(&legacy_search(&first.uri(), location, radius)).await.2;
        let b = get(&legacy_search(&second.uri(), location, radius)).await.2;
        assert_eq!(a, b);
    }
}

#[tokio::test]
async fn every_place_lies_inside_the_radius_and_pages_hold_at_most_20() {
    let places = PlacesStandIn::start().await.expect("start");
    let centres = [
        UCLA,
        (89.99, 0.0),
        (-59.99, 179.999),
        (0.0, -180.0),
        (90.0, 45.0),
    ];
    for centre in centres {
        for radius in [1.0, 37.5, 900.0, 5_000.0, 12_345.0, 50_000.0] {
            let body = get_json(&legacy_search(&places.uri(), centre, radius)).await;
            assert_eq!(body["status"], "OK", "{centre:?} {radius}");
            let results = body["results"].as_array().expect("results");
            assert!(!results.is_empty() && results.len() <= 20);
            for result in results {
                let location = &result["geometry"]["location"];
                let point = (
                    location["lat"].as_f64().expect("lat"),
                    location["lng"].as_f64().expect("lng"),
                );
                let distance = haversine_m(centre, point);
                assert!(
                    distance <= radius,
                    "{centre:?} r={radius}: {point:?} at {distance} m"
                );
            }
        }
    }
}

#[tokio::test]
async fn next_page_token_only_when_more_than_20_candidates() {
    let places = PlacesStandIn::start().await.expect("start");
    for (radius, results, token) in [
        (1.0, 1, false),
        (1000.0, 4, false),
        (5000.0, 20, false),
        (5001.0, 20, true),
        (10_000.0, 20, true),
    ] {
        let body = get_json(&legacy_search(&places.uri(), UCLA, radius)).await;
        assert_eq!(
            body["results"].as_array().map(Vec::len),
            Some(results),
            "{radius}"
        );
        assert_eq!(body.get("next_page_token").is_some(), token, "{radius}");
        if token {
            let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
            assert_eq!(
                keys,
                ["html_attributions", "next_page_token", "results", "status"]
            );
        }
    }
}

#[tokio::test]
async fn answers_exercise_escapes() {
    let places = PlacesStandIn::start().await.expect("start");
    let (_, _, body) = get(&legacy_search(&places.uri(), UCLA, 10_000.0)).await;
    assert!(
        body.contains("\\n\\n"),
        "an escaped blank line inside a string"
    );
    assert!(
        body.contains("\\\"") || body.contains("\\\\"),
        "a quote or backslash"
    );
    assert!(!body.is_ascii(), "non-ASCII text");
    assert!(!body.contains("\n\n"), "no real blank line in the layout");
}

#[tokio::test]
async fn the_zero_results_area_is_empty() {
    let places = PlacesStandIn::start().await.expect("start");
    let (status, _, body) = get(&legacy_search(
        &places.uri(),
        ZERO_RESULTS_AREA.example,
        50_000.0,
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}"
    );
    let below_one_metre = get_json(&legacy_search(&places.uri(), UCLA, 0.5)).await;
    assert_eq!(below_one_metre["status"], "ZERO_RESULTS");
}

#[tokio::test]
async fn missing_or_empty_key_is_request_denied() {
    let places = PlacesStandIn::start().await.expect("start");
    for query in [
        "location=34,-118&radius=100",
        "location=34,-118&radius=100&key=",
        "key=",
    ] {
        let body = get_json(&legacy_url(&places.uri(), query)).await;
        assert_eq!(body["status"], "REQUEST_DENIED", "{query}");
        assert_eq!(body["error_message"], MISSING_KEY_MESSAGE);
        assert_eq!(body["results"], serde_json::json!([]));
    }
    let (_, _, text) = get(&legacy_url(&places.uri(), "radius=1")).await;
    assert!(text.starts_with("{\n   \"error_message\" : \"You must use an API key"));
}

#[tokio::test]
async fn each_bad_parameter_is_invalid_request() {
    let places = PlacesStandIn::start().await.expect("start");
    let cases = [
        "radius=100",
        "location=&radius=100",
        "location=34.06&radius=100",
        "location=34.06;-118.44&radius=100",
        "location=abc,def&radius=100",
        "location=91,0&radius=100",
        "location=-90.5,0&radius=100",
        "location=0,180.1&radius=100",
        "location=0,-181&radius=100",
        "location=NaN,0&radius=100",
        "location=34,-118",
        "location=34,-118&radius=",
        "location=34,-118&radius=0",
        "location=34,-118&radius=-5",
        "location=34,-118&radius=50001",
        "location=34,-118&radius=ten",
    ];
    for query in cases {
        let url = legacy_url(&places.uri(), &format!("{query}&key=test-key"));
        let (status, content_type, text) = get(&url).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(content_type, JSON_CONTENT_TYPE);
        let body: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(body["status"], "INVALID_REQUEST", "{query}");
        assert_eq!(body["html_attributions"], serde_json::json!([]));
        assert_eq!(body["results"], serde_json::json!([]));
    }
    // Without any error message the body is exactly Google's three members.
    let (_, _, text) = get(&legacy_url(&places.uri(), "radius=100&key=k")).await;
    assert_eq!(
        text,
        "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"INVALID_REQUEST\"\n}"
    );
}

#[tokio::test]
async fn boundary_values_are_accepted() {
    let places = PlacesStandIn::start().await.expect("start");
    for query in [
        "location=90,180&radius=50000",
        "location=-59,-180&radius=1",
        "location=+34.1,-118.4&radius=0.9",
    ] {
        let body = get_json(&legacy_url(&places.uri(), &format!("{query}&key=k"))).await;
        let status = body["status"].as_str().unwrap_or_default();
        assert!(
            status == "OK" || status == "ZERO_RESULTS",
            "{query}: {status}"
        );
    }
}

#[tokio::test]
async fn other_paths_are_404() {
    let places = PlacesStandIn::start().await.expect("start");
    for path in [
        "/",
        "/maps/api/place/nearbysearch/xml?key=k",
        "/maps/api/place/textsearch/json",
    ] {
        let (status, _, _) = get(&format!("{}{path}", places.uri())).await;
        assert_eq!(status, 404, "{path}");
    }
    let status = common::client()
        .post(legacy_search(&places.uri(), UCLA, 100.0))
        .send()
        .await
        .expect("POST")
        .status();
    assert_eq!(status.as_u16(), 404);
}
