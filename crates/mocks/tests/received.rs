//! `PlacesStandIn::received` reports what servers asked, parsed.

mod common;

use common::{UCLA, client, get, legacy_url, new_api_body, new_api_url};
use mocks::{PlacesApi, PlacesStandIn};

#[tokio::test]
async fn requests_are_listed_in_order_with_parameters_parsed() {
    let places = PlacesStandIn::start().await.expect("start");
    assert!(places.received().await.is_empty());

    get(&legacy_url(
        &places.uri(),
        "location=34.068930,-118.445127&radius=10000&key=secret",
    ))
    .await;
    get(&legacy_url(&places.uri(), "location=bogus&radius=-1")).await;
    client()
        .post(new_api_url(&places.uri()))
        .header("X-Goog-Api-Key", "new-key")
        .header("X-Goog-FieldMask", "*")
        .json(&new_api_body(UCLA, 2500.0, Some(7)))
        .send()
        .await
        .expect("POST");
    get(&format!("{}/elsewhere?x=1", places.uri())).await;

    let seen = places.received().await;
    assert_eq!(seen.len(), 4);

    let legacy = &seen[0];
    assert_eq!(legacy.api, PlacesApi::Legacy);
    assert_eq!(legacy.method, "GET");
    assert_eq!(legacy.path, "/maps/api/place/nearbysearch/json");
    assert_eq!(legacy.key.as_deref(), Some("secret"));
    assert_eq!(legacy.location, Some(UCLA));
    assert_eq!(legacy.radius_m, Some(10_000.0));
    assert_eq!(legacy.max_results, None);
    assert_eq!(legacy.body, None);
    assert!(
        legacy
            .query
            .contains(&("radius".to_string(), "10000".to_string()))
    );

    let bad = &seen[1];
    assert_eq!(bad.api, PlacesApi::Legacy);
    assert_eq!(
        (bad.key.clone(), bad.location, bad.radius_m),
        (None, None, None)
    );

    let new = &seen[2];
    assert_eq!(new.api, PlacesApi::New);
    assert_eq!(new.method, "POST");
    assert_eq!(new.key.as_deref(), Some("new-key"));
    assert_eq!(new.header("x-goog-fieldmask"), Some("*"));
    assert_eq!(new.location, Some(UCLA));
    assert_eq!(new.radius_m, Some(2500.0));
    assert_eq!(new.max_results, Some(7));
    assert_eq!(new.body, Some(new_api_body(UCLA, 2500.0, Some(7))));

    let other = &seen[3];
    assert_eq!(other.api, PlacesApi::Other);
    assert_eq!(other.path, "/elsewhere");
    assert_eq!(other.query, [("x".to_string(), "1".to_string())]);
}
