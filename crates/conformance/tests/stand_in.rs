//! The suite's own expectations agree with what the Places stand-in really serves: the JSON a
//! WHATSAT must carry (the answer to the request made, cut to the bound) and Google's layout, as
//! the suite renders it, byte for byte against the stand-in's HTTP body, for both APIs.

use conformance::expect::google_layout;
use conformance::places_call::expected_relay;

#[tokio::test]
async fn expected_json_and_layout_match_the_stand_in_byte_for_byte() {
    let stand_in = mocks::PlacesStandIn::start().await.expect("stand-in");
    let http = reqwest::Client::new();
    for (lat, lng, radius_m) in [
        ("34.068930", "-118.445127", "10000"),
        ("-33.8567844", "151.2152967", "1000"),
        ("-75.100000", "123.350000", "5000"),
        ("0.5", "-0.5", "50000"),
    ] {
        let url = format!(
            "{}/maps/api/place/nearbysearch/json?location={lat},{lng}&radius={radius_m}&key=test",
            stand_in.uri()
        );
        let body = http
            .get(&url)
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("body");
        let served: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        let (lat, lng, radius_m): (f64, f64, f64) = (
            lat.parse().expect("lat"),
            lng.parse().expect("lng"),
            radius_m.parse().expect("radius"),
        );
        let expected = expected_relay(None, (lat, lng), radius_m / 1000.0, 20).value;
        assert_eq!(served, expected, "{url}");
        let recorded = stand_in.received().await;
        let request = recorded.last().expect("the request was recorded");
        let from_request = expected_relay(Some(request), (0.0, 0.0), 0.0, 20).value;
        assert_eq!(served, from_request, "{url}");
        assert_eq!(body.trim_end_matches('\n'), google_layout(&served), "{url}");
    }
}

#[tokio::test]
async fn the_new_api_answer_predicted_from_the_request_is_what_the_stand_in_serves() {
    let stand_in = mocks::PlacesStandIn::start().await.expect("stand-in");
    let http = reqwest::Client::new();
    for (mask, max, bound) in [
        ("*", Some(5), 5),
        ("places.displayName,places.location", Some(20), 3),
        ("places.id", None, 20),
    ] {
        let mut body = serde_json::json!({
            "locationRestriction": {"circle": {
                "center": {"latitude": 34.06893, "longitude": -118.445127},
                "radius": 10000.0,
            }},
        });
        if let Some(max) = max {
            body["maxResultCount"] = max.into();
        }
        let served: serde_json::Value = http
            .post(format!("{}/v1/places:searchNearby", stand_in.uri()))
            .header("X-Goog-Api-Key", "test")
            .header("X-Goog-FieldMask", mask)
            .json(&body)
            .send()
            .await
            .expect("POST")
            .json()
            .await
            .expect("JSON");
        let recorded = stand_in.received().await;
        let request = recorded.last().expect("the request was recorded");
        let expected = expected_relay(Some(request), (0.0, 0.0), 0.0, bound);
        let mut cut = served.clone();
        if let Some(serde_json::Value::Array(places)) = cut.get_mut("places") {
            places.truncate(bound);
        }
        assert_eq!(
            expected.value, cut,
            "mask {mask}, max {max:?}, bound {bound}"
        );
        assert!(expected.matches(&cut));
        assert!(!expected.matches(&served) || served == cut);
    }
}
