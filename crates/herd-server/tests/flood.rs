//! Flooding across a whole in-process herd: reach, ordering, ties, and many clients at once.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::*;

const SETTLE: Duration = Duration::from_secs(5);

/// Waits until every server of the herd stores exactly `expected` for `client`.
async fn converges(herd: &TestHerd, client: &str, expected: &[u8]) -> Vec<String> {
    let mut late = Vec::new();
    for server in herd.herd.herd.names() {
        let addr = herd.addr(server);
        let ok = eventually(SETTLE, || async {
            stored_at(addr, client).await.as_deref() == Some(expected)
        })
        .await;
        if !ok {
            late.push(format!(
                "{server}: {:?}",
                stored_at(addr, client).await.map(|l| text(&l))
            ));
        }
    }
    late
}

#[tokio::test(flavor = "multi_thread")]
async fn an_update_reaches_the_farthest_server_with_the_at_line_unchanged() {
    let herd = TestHerd::winter21().await;
    // Riley's farthest servers in winter21 are two hops away: Campbell and Bernard.
    let at = eof_exchange(herd.addr("Riley"), b"IAMAT far +34-118 10").await;
    let late = converges(&herd, "far", first_line(&at)).await;
    assert!(late.is_empty(), "did not learn Riley's line: {late:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newer_update_replaces_everywhere_and_a_stale_one_changes_nothing() {
    let herd = TestHerd::winter21().await;
    let first = eof_exchange(herd.addr("Riley"), b"IAMAT moving +1+1 100").await;
    assert!(
        converges(&herd, "moving", first_line(&first))
            .await
            .is_empty()
    );
    let newer = eof_exchange(herd.addr("Campbell"), b"IAMAT moving +2+2 200").await;
    assert!(
        converges(&herd, "moving", first_line(&newer))
            .await
            .is_empty()
    );
    let stale = eof_exchange(herd.addr("Jaquez"), b"IAMAT moving +3+3 150").await;
    assert!(
        stale.starts_with(b"AT Jaquez "),
        "a stale IAMAT is still answered"
    );
    let equal = eof_exchange(herd.addr("Bernard"), b"IAMAT moving +2+2 200").await;
    assert!(equal.starts_with(b"AT Bernard "));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Bernard's equal-time line differs from Campbell's only in the server name; the tie-break
    // (byte-wise greater line) keeps Campbell's everywhere: "AT C" > "AT B".
    assert!(
        converges(&herd, "moving", first_line(&newer))
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_equal_time_updates_converge_to_one_line() {
    let herd = TestHerd::winter21().await;
    let (a, b) = tokio::join!(
        eof_exchange(herd.addr("Riley"), b"IAMAT tie +10+10 500"),
        eof_exchange(herd.addr("Campbell"), b"IAMAT tie +20+20 500"),
    );
    let winner = std::cmp::max(first_line(&a), first_line(&b)).to_vec();
    let late = converges(&herd, "tie", &winner).await;
    assert!(late.is_empty(), "servers disagree: {late:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hundreds_of_clients_at_once_all_converge() {
    let herd = TestHerd::winter21().await;
    let names = herd
        .herd
        .herd
        .names()
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>();
    let mut sent = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300 {
        let addr = herd.addr(&names[i % names.len()]);
        tasks.spawn(async move {
            let client = format!("many-{i}");
            let at =
                eof_exchange(addr, format!("IAMAT {client} +1+1 {}", 1000 + i).as_bytes()).await;
            (client, first_line(&at).to_vec())
        });
    }
    while let Some(done) = tasks.join_next().await {
        sent.push(done.unwrap());
    }
    for (client, at) in &sent {
        let late = converges(&herd, client, at).await;
        assert!(late.is_empty(), "{client} lost: {late:?}");
    }
}
