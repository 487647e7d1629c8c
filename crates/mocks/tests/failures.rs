//! Injected latency and failures, including switching them at run time.

mod common;

use std::time::{Duration, Instant};

use common::{UCLA, get, legacy_search};
use mocks::{FailureMode, HTTP500_BODY, NOT_JSON_BODY, PlacesStandIn, StandInConfig};

fn failing(failure: FailureMode) -> StandInConfig {
    StandInConfig {
        failure,
        ..StandInConfig::default()
    }
}

#[tokio::test]
async fn http500_mode_answers_500_with_text() {
    let places = PlacesStandIn::start_with(failing(FailureMode::Http500))
        .await
        .expect("start");
    let (status, content_type, body) = get(&legacy_search(&places.uri(), UCLA, 100.0)).await;
    assert_eq!(status, 500);
    assert!(content_type.starts_with("text/plain"));
    assert_eq!(body, HTTP500_BODY);
}

#[tokio::test]
async fn not_json_mode_answers_html() {
    let places = PlacesStandIn::start_with(failing(FailureMode::NotJson))
        .await
        .expect("start");
    let (status, _, body) = get(&legacy_search(&places.uri(), UCLA, 100.0)).await;
    assert_eq!(status, 200);
    assert_eq!(body, NOT_JSON_BODY);
    assert!(serde_json::from_str::<serde_json::Value>(&body).is_err());
}

#[tokio::test]
async fn hang_mode_makes_a_client_timeout_fire() {
    let places = PlacesStandIn::start_with(failing(FailureMode::Hang))
        .await
        .expect("start");
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let started = Instant::now();
    let error = impatient
        .get(legacy_search(&places.uri(), UCLA, 100.0))
        .send()
        .await
        .expect_err("must time out");
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let latency = Duration::from_millis(200);
    let config = StandInConfig {
        latency,
        ..StandInConfig::default()
    };
    let places = PlacesStandIn::start_with(config).await.expect("start");
    for url in [
        legacy_search(&places.uri(), UCLA, 100.0),
        format!("{}/maps/api/place/nearbysearch/json", places.uri()),
    ] {
        let started = Instant::now();
        let (status, _, _) = get(&url).await;
        assert_eq!(status, 200);
        assert!(started.elapsed() >= latency, "{:?}", started.elapsed());
    }
}

#[tokio::test]
async fn failure_and_latency_can_change_at_run_time() {
    let places = PlacesStandIn::start().await.expect("start");
    let url = legacy_search(&places.uri(), UCLA, 100.0);
    assert_eq!(get(&url).await.0, 200);

    places.set_failure(FailureMode::Http500).await;
    assert_eq!(get(&url).await.0, 500);

    places.set_failure(FailureMode::NotJson).await;
    assert_eq!(get(&url).await.2, NOT_JSON_BODY);

    places.set_failure(FailureMode::None).await;
    places.set_latency(Duration::from_millis(150)).await;
    let started = Instant::now();
    let (status, _, body) = get(&url).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"status\" : \"OK\""));
    assert!(started.elapsed() >= Duration::from_millis(150));

    places.set_failure(FailureMode::Hang).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let error = impatient.get(&url).send().await.expect_err("must time out");
    assert!(error.is_timeout());

    // Switching did not forget what came before.
    assert_eq!(places.received().await.len(), 5);
}

#[tokio::test]
async fn a_busy_port_is_reported_by_number() {
    let first = PlacesStandIn::start().await.expect("start");
    let config = StandInConfig {
        port: Some(first.port()),
        ..StandInConfig::default()
    };
    let error = PlacesStandIn::start_with(config)
        .await
        .expect_err("port is taken");
    let message = format!("{error:#}");
    assert!(
        message.contains(&format!("127.0.0.1:{}", first.port())),
        "{message}"
    );
}

#[tokio::test]
async fn a_chosen_free_port_is_used() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
    let port = probe.local_addr().expect("addr").port();
    drop(probe);
    let config = StandInConfig {
        port: Some(port),
        ..StandInConfig::default()
    };
    let places = PlacesStandIn::start_with(config).await.expect("start");
    assert_eq!(places.uri(), format!("http://127.0.0.1:{port}"));
}
