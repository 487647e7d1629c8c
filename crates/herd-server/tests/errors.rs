//! Every invalid command gets exactly `? ` + its trimmed copy, and nothing accepted is lost.

#![allow(clippy::unwrap_used)]

mod support;

use support::*;

/// Invalid lines as sent, paired with the exact reply the spec fixes.
const INVALID: &[(&[u8], &[u8])] = &[
    (b"HELLO", b"? HELLO\n"),
    (
        b"iamat kiwi +34-118 1621464827.5",
        b"? iamat kiwi +34-118 1621464827.5\n",
    ),
    (b"IAMAT", b"? IAMAT\n"),
    (b"IAMAT kiwi +34-118", b"? IAMAT kiwi +34-118\n"),
    (
        b"IAMAT kiwi +34-118 1.5 extra",
        b"? IAMAT kiwi +34-118 1.5 extra\n",
    ),
    (b"IAMAT kiwi 34-118 1.5", b"? IAMAT kiwi 34-118 1.5\n"),
    (b"IAMAT kiwi +34.1 1.5", b"? IAMAT kiwi +34.1 1.5\n"),
    (b"IAMAT kiwi +34,-118 1.5", b"? IAMAT kiwi +34,-118 1.5\n"),
    (b"IAMAT kiwi +91-118 1.5", b"? IAMAT kiwi +91-118 1.5\n"),
    (b"IAMAT kiwi +34-180.5 1.5", b"? IAMAT kiwi +34-180.5 1.5\n"),
    (b"IAMAT kiwi +34.-118 1.5", b"? IAMAT kiwi +34.-118 1.5\n"),
    (b"IAMAT kiwi +34-118 -1.5", b"? IAMAT kiwi +34-118 -1.5\n"),
    (b"IAMAT kiwi +34-118 1e9", b"? IAMAT kiwi +34-118 1e9\n"),
    (b"IAMAT kiwi +34-118 nan", b"? IAMAT kiwi +34-118 nan\n"),
    (
        b"IAMAT kiwi +34-118 1.0000000001",
        b"? IAMAT kiwi +34-118 1.0000000001\n",
    ),
    (b"IAMAT kiwi +34-118 12:00", b"? IAMAT kiwi +34-118 12:00\n"),
    (b"WHATSAT", b"? WHATSAT\n"),
    (b"WHATSAT known 10", b"? WHATSAT known 10\n"),
    (b"WHATSAT known 10 5 5", b"? WHATSAT known 10 5 5\n"),
    (b"WHATSAT known 51 5", b"? WHATSAT known 51 5\n"),
    (b"WHATSAT known 50.5 5", b"? WHATSAT known 50.5 5\n"),
    (b"WHATSAT known 0 5", b"? WHATSAT known 0 5\n"),
    (b"WHATSAT known -5 5", b"? WHATSAT known -5 5\n"),
    (b"WHATSAT known ten 5", b"? WHATSAT known ten 5\n"),
    (b"WHATSAT known 10 21", b"? WHATSAT known 10 21\n"),
    (b"WHATSAT known 10 -1", b"? WHATSAT known 10 -1\n"),
    (b"WHATSAT known 10 2.5", b"? WHATSAT known 10 2.5\n"),
    (
        b"WHATSAT nobody-knows-me 10 5",
        b"? WHATSAT nobody-knows-me 10 5\n",
    ),
    (
        b"AT Riley +0.5 kiwi +34-118 1.5",
        b"? AT Riley +0.5 kiwi +34-118 1.5\n",
    ),
    (b"PEER Stranger", b"? PEER Stranger\n"),
    (
        b"  \t WHATSAT   known 51 5 \t ",
        b"? WHATSAT   known 51 5\n",
    ),
    (
        b"\xff\xfe garbage \x00 bytes",
        b"? \xff\xfe garbage \x00 bytes\n",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn each_invalid_line_gets_its_exact_question_mark_reply() {
    let herd = TestHerd::winter21().await;
    let riley = herd.addr("Riley");
    eof_exchange(riley, b"IAMAT known +34-118 1.5\n").await;
    assert!(INVALID.len() >= 25);
    for (line, expected) in INVALID {
        let mut input = line.to_vec();
        input.push(b'\n');
        let reply = eof_exchange(riley, &input).await;
        assert_eq!(text(&reply), text(expected), "reply to {:?}", text(line));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_lines_on_one_connection_are_answered_in_order_and_the_session_goes_on() {
    let herd = TestHerd::winter21().await;
    let riley = herd.addr("Riley");
    let mut client = LineClient::connect(riley).await;
    client.send(b"IAMAT known +34-118 1.5\n").await;
    let at = client.line().await;
    assert!(at.starts_with(b"AT Riley "));
    for (line, expected) in INVALID {
        client.send(line).await;
        client.send(b"\r\n").await;
        assert_eq!(text(&client.line().await), text(expected));
    }
    client.send(b"WHATSAT known 1 0\n").await;
    let reply = client.whatsat_reply().await;
    assert_eq!(
        first_line(&reply),
        &at[..at.len() - 1],
        "what was accepted is still there"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn blank_lines_get_no_reply() {
    let herd = TestHerd::winter21().await;
    let reply = eof_exchange(herd.addr("Riley"), b"\n \t \r\n\x0b\n   ").await;
    assert_eq!(reply, b"");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_over_long_line_gets_a_cut_copy_and_the_connection_survives() {
    let herd = TestHerd::winter21().await;
    let mut client = LineClient::connect(herd.addr("Riley")).await;
    let mut long = b"IAMAT ".to_vec();
    long.resize(300 * 1024, b'x');
    long.push(b'\n');
    client.send(&long).await;
    let reply = client.line().await;
    let limit = herd_server::connection::MAX_LINE;
    assert_eq!(
        reply.len(),
        2 + limit + 1,
        "`? ` + the first {limit} bytes + newline"
    );
    assert_eq!(&reply[..8], b"? IAMAT ");
    client.send(b"IAMAT after-long +1+1 1\n").await;
    assert!(client.line().await.starts_with(b"AT Riley "));
}
