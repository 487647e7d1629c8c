//! Helpers shared by the integration tests: URLs and an HTTP client.

#![allow(dead_code)]

use std::time::Duration;

/// The UCLA campus, the course's example client position.
pub const UCLA: (f64, f64) = (34.068930, -118.445127);

/// URL of a legacy Nearby Search with the given raw query string.
pub fn legacy_url(base: &str, query: &str) -> String {
    format!("{base}/maps/api/place/nearbysearch/json?{query}")
}

/// URL of a well-formed legacy search.
pub fn legacy_search(base: &str, (lat, lng): (f64, f64), radius_m: f64) -> String {
    legacy_url(
        base,
        &format!("location={lat},{lng}&radius={radius_m}&key=test-key"),
    )
}

/// URL of the new API's Nearby Search.
pub fn new_api_url(base: &str) -> String {
    format!("{base}/v1/places:searchNearby")
}

/// A new-API request body.
pub fn new_api_body((lat, lng): (f64, f64), radius_m: f64, max: Option<u32>) -> serde_json::Value {
    let mut body = serde_json::json!({
        "locationRestriction": {"circle": {"center": {"latitude": lat, "longitude": lng}, "radius": radius_m}}
    });
    if let Some(max) = max {
        body["maxResultCount"] = max.into();
    }
    body
}

/// A client that gives up after 10 s, so a broken test cannot hang forever.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// GET `url`, returning status, content type and body text.
pub async fn get(url: &str) -> (u16, String, String) {
    unpack(client().get(url).send().await.expect("GET")).await
}

/// A response's status, content type and body text.
pub async fn unpack(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, content_type, response.text().await.expect("body"))
}

/// GET a legacy search and parse its JSON.
pub async fn get_json(url: &str) -> serde_json::Value {
    let (status, _, body) = get(url).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON body")
}
