//! The suite's own expectations agree with what the Places stand-in really serves: the JSON a
//! WHATSAT must carry (`mocks::legacy_nearby`, cut to the bound) and Google's layout, as the
//! suite renders it, byte for byte against the stand-in's HTTP body.

use conformance::catalogue::whatsat::expected_json;
use conformance::expect::google_layout;

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
        let expected = expected_json(lat, lng, radius_m / 1000.0, 20);
        assert_eq!(served, expected, "{url}");
        assert_eq!(body.trim_end_matches('\n'), google_layout(&served), "{url}");
    }
}
