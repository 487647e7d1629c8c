//! WHATSAT replies: the stored AT line, Google-layout JSON cut to the bound, two final newlines;
//! the Places request the server makes; and what it serves when Places fails.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use herd_server::places::PlacesApi;
use herd_wire::Preset;
use mocks::{FailureMode, PlacesApi as SeenApi};
use support::*;

const IAMAT: &[u8] = b"IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503\n";

/// The reply with the AT line's time difference (which depends on the clock) redacted.
fn redact(reply: &[u8]) -> String {
    let text = text(reply);
    let (first, rest) = text.split_once('\n').unwrap();
    let mut fields: Vec<&str> = first.split(' ').collect();
    fields[2] = "[DIFF]";
    format!("{}\n{rest}", fields.join(" "))
}

#[tokio::test(flavor = "multi_thread")]
async fn reply_is_the_at_line_then_google_layout_json_then_two_newlines() {
    let herd = TestHerd::winter21().await;
    let riley = herd.addr("Riley");
    let at = eof_exchange(riley, IAMAT).await;
    let reply = eof_exchange(riley, b"WHATSAT kiwi.cs.ucla.edu 10 2\n").await;
    assert!(reply.starts_with(&at), "the stored AT line, byte for byte");
    assert!(
        reply.ends_with(b"}\n\n") && !reply.ends_with(b"\n\n\n"),
        "exactly two final newlines"
    );
    assert!(
        !reply
            .windows(2)
            .skip(at.len())
            .take(reply.len() - at.len() - 3)
            .any(|w| w == b"\n\n")
    );
    insta::assert_snapshot!("whatsat_10km_bound_2", redact(&reply));
}

#[tokio::test(flavor = "multi_thread")]
async fn results_are_cut_to_the_bound_and_the_json_equals_the_stand_ins() {
    let herd = TestHerd::winter21().await;
    let riley = herd.addr("Riley");
    eof_exchange(riley, IAMAT).await;
    let full = mocks::legacy_nearby(34.068930, -118.445127, 50000.0);
    let available = full["results"].as_array().unwrap().len();
    assert_eq!(available, 20, "the stand-in offers a full page at 50 km");
    for bound in [0usize, 1, 5, 20] {
        let reply = eof_exchange(
            riley,
            format!("WHATSAT kiwi.cs.ucla.edu 50 {bound}").as_bytes(),
        )
        .await;
        let json_text = text(&reply).split_once('\n').unwrap().1.to_owned();
        let json: serde_json::Value = serde_json::from_str(&json_text).unwrap();
        let mut expected = full.clone();
        expected["results"].as_array_mut().unwrap().truncate(bound);
        assert_eq!(json, expected, "bound {bound}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_places_request_carries_location_radius_in_metres_and_key() {
    let herd = TestHerd::winter21().await;
    let riley = herd.addr("Riley");
    eof_exchange(riley, IAMAT).await;
    eof_exchange(riley, b"WHATSAT kiwi.cs.ucla.edu 10.5 3").await;
    let seen = herd.places.received().await;
    assert_eq!(seen.len(), 1, "one Places request per WHATSAT");
    let request = &seen[0];
    assert_eq!(request.api, SeenApi::Legacy);
    assert_eq!(request.method, "GET");
    let query = |k: &str| {
        request
            .query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        query("location"),
        Some("34.068930,-118.445127"),
        "the client's own digits"
    );
    assert_eq!(query("radius"), Some("10500"), "kilometres × 1000");
    assert_eq!(query("key"), Some("test-key"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whatsat_for_a_flooded_client_serves_the_original_at_line_and_asks_places_once() {
    let herd = TestHerd::winter21().await;
    let at = eof_exchange(herd.addr("Riley"), IAMAT).await;
    let campbell = herd.addr("Campbell");
    assert!(
        eventually(Duration::from_secs(5), || async {
            stored_at(campbell, "kiwi.cs.ucla.edu").await.is_some()
        })
        .await
    );
    let before = herd.places.received().await.len();
    let reply = eof_exchange(campbell, b"WHATSAT kiwi.cs.ucla.edu 5 1").await;
    assert!(
        reply.starts_with(&at),
        "Riley's line, not one recomputed at Campbell"
    );
    assert_eq!(herd.places.received().await.len(), before + 1);
}

async fn failure_reply(mode: FailureMode) -> String {
    let herd = TestHerd::start_with(
        &Preset::Winter21.herd(),
        PlacesApi::Legacy,
        Duration::from_millis(400),
    )
    .await;
    herd.places.set_failure(mode).await;
    let riley = herd.addr("Riley");
    eof_exchange(riley, b"IAMAT f +1+1 1").await;
    redact(&eof_exchange(riley, b"WHATSAT f 1 1").await)
}

#[tokio::test(flavor = "multi_thread")]
async fn places_failures_give_a_google_shaped_error_not_a_question_mark() {
    let http500 = failure_reply(FailureMode::Http500).await;
    let not_json = failure_reply(FailureMode::NotJson).await;
    let hang = failure_reply(FailureMode::Hang).await;
    insta::assert_snapshot!("places_http500", http500);
    insta::assert_snapshot!("places_not_json", not_json);
    insta::assert_snapshot!("places_timeout", hang);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_places_service_is_reported_and_the_key_never_leaks() {
    let url = format!("http://127.0.0.1:{}", test_kit::ports::free_port());
    let client = herd_server::places::PlacesClient::new(
        &url,
        "SECRET-KEY".into(),
        PlacesApi::Legacy,
        Duration::from_secs(2),
    )
    .unwrap();
    let logs = tempfile::tempdir().unwrap();
    let herd =
        herd_server::LocalHerd::start(&Preset::Winter21.herd(), client, Some(logs.path().into()))
            .await
            .unwrap();
    let riley = herd.address("Riley").unwrap();
    eof_exchange(riley, b"IAMAT r +1+1 1").await;
    let reply = text(&eof_exchange(riley, b"WHATSAT r 1 1").await);
    assert!(reply.contains("\"status\" : \"UNKNOWN_ERROR\""), "{reply}");
    assert!(
        reply.contains("cannot connect to the Places service"),
        "{reply}"
    );
    assert!(!reply.contains("SECRET-KEY"));
    herd.stop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = std::fs::read_to_string(logs.path().join("Riley.log")).unwrap();
    assert!(
        log.contains("places http://127.0.0.1:"),
        "Places calls are logged: {log}"
    );
    assert!(!log.contains("SECRET-KEY"), "the key never reaches the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_new_places_api_is_asked_with_headers_and_a_circle() {
    let herd = TestHerd::start_with(
        &Preset::Winter21.herd(),
        PlacesApi::New,
        Duration::from_secs(5),
    )
    .await;
    let riley = herd.addr("Riley");
    let at = eof_exchange(riley, b"IAMAT n +34.068930-118.445127 1").await;
    let reply = eof_exchange(riley, b"WHATSAT n 2 3").await;
    assert!(reply.starts_with(&at) && reply.ends_with(b"}\n\n"));
    let json: serde_json::Value =
        serde_json::from_str(text(&reply).split_once('\n').unwrap().1).unwrap();
    assert_eq!(json["places"].as_array().map(Vec::len), Some(3));
    let seen = herd.places.received().await;
    let request = &seen[0];
    assert_eq!(
        (request.api, request.method.as_str()),
        (SeenApi::New, "POST")
    );
    assert_eq!(request.key.as_deref(), Some("test-key"));
    assert_eq!(request.radius_m, Some(2000.0));
    assert_eq!(request.location, Some((34.06893, -118.445127)));
    assert_eq!(request.max_results, Some(3));
}
