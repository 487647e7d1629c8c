//! The hidden `--fault` switches: each must change behaviour in exactly the documented way, or
//! the conformance suite's self-test would be proving nothing.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use herd_server::faults::Fault;
use herd_server::places::PlacesApi;
use herd_wire::Preset;
use support::*;

async fn faulty(faults: &[Fault]) -> TestHerd {
    TestHerd::start_faulty(
        &Preset::Winter21.herd(),
        PlacesApi::Legacy,
        Duration::from_secs(5),
        faults,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn reply_faults_change_the_bytes() {
    let herd = faulty(&[Fault::SixDigits, Fault::FloatPosition]).await;
    let reply = text(&eof_exchange(herd.addr("Riley"), b"IAMAT c +34.068930-118.445127 1.5").await);
    let diff = reply.split(' ').nth(2).unwrap();
    assert_eq!(diff.split_once('.').unwrap().1.len(), 6, "{reply}");
    assert!(reply.ends_with(" c +34.06893-118.445127 1.5\n"), "{reply}");

    let herd = faulty(&[Fault::SingleNewline, Fault::Untrimmed, Fault::Indent4]).await;
    eof_exchange(herd.addr("Riley"), b"IAMAT c +34-118 1").await;
    let reply = text(&eof_exchange(herd.addr("Riley"), b"WHATSAT c 50 2").await);
    assert!(
        reply.ends_with("}\n") && !reply.ends_with("\n\n"),
        "single newline"
    );
    assert!(reply.contains("\n    \"results\": ["), "indent 4");
    assert_eq!(reply.matches("\"place_id\"").count(), 20, "results not cut");
}

#[tokio::test(flavor = "multi_thread")]
async fn error_faults_change_the_question_mark_handling() {
    let herd = faulty(&[
        Fault::SilentInvalid,
        Fault::UntrimmedCopy,
        Fault::NoRadiusLimit,
    ])
    .await;
    let riley = herd.addr("Riley");
    assert_eq!(eof_exchange(riley, b"BOGUS\n").await, b"");
    assert_eq!(
        eof_exchange(riley, b"  IAMAT x\t\n").await,
        b"?   IAMAT x\t\n"
    );
    eof_exchange(riley, b"IAMAT c +1+1 1").await;
    assert!(
        eof_exchange(riley, b"WHATSAT c 99 1")
            .await
            .starts_with(b"AT Riley")
    );

    let herd = faulty(&[Fault::CrashFloatRadius]).await;
    eof_exchange(herd.addr("Riley"), b"IAMAT c +1+1 1").await;
    assert_eq!(
        eof_exchange(herd.addr("Riley"), b"WHATSAT c 10.5 1\nIAMAT d +1+1 1\n").await,
        b""
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_per_conn_answers_only_the_first_command() {
    let herd = faulty(&[Fault::OnePerConn]).await;
    let reply = text(&eof_exchange(herd.addr("Riley"), b"IAMAT a +1+1 1\nIAMAT b +1+1 1\n").await);
    assert_eq!(reply.lines().count(), 1, "{reply}");
}

#[tokio::test(flavor = "multi_thread")]
async fn flood_faults_stop_or_distort_propagation() {
    let herd = faulty(&[Fault::NoFlood]).await;
    eof_exchange(herd.addr("Riley"), b"IAMAT nf +1+1 1").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stored_at(herd.addr("Jaquez"), "nf").await, None);

    let herd = faulty(&[Fault::OneHop]).await;
    eof_exchange(herd.addr("Riley"), b"IAMAT oh +1+1 1").await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            stored_at(herd.addr("Jaquez"), "oh").await.is_some()
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stored_at(herd.addr("Campbell"), "oh").await,
        None,
        "two hops away never learns"
    );

    let herd = faulty(&[Fault::RecomputeRelay]).await;
    eof_exchange(herd.addr("Riley"), b"IAMAT rr +1+1 1").await;
    let jaquez = herd.addr("Jaquez");
    assert!(
        eventually(Duration::from_secs(5), || async {
            stored_at(jaquez, "rr").await.is_some()
        })
        .await
    );
    assert!(
        stored_at(jaquez, "rr")
            .await
            .unwrap()
            .starts_with(b"AT Jaquez ")
    );

    let herd = faulty(&[Fault::StaleAccepted]).await;
    let riley = herd.addr("Riley");
    eof_exchange(riley, b"IAMAT sa +1+1 200").await;
    eof_exchange(riley, b"IAMAT sa +2+2 100").await;
    assert!(
        stored_at(riley, "sa")
            .await
            .unwrap()
            .ends_with(b" +2+2 100"),
        "older replaced newer"
    );
}
