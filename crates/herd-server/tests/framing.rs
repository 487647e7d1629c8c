//! Both client styles, pipelining, split writes and the final unterminated line.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread")]
async fn eof_style_answers_an_unterminated_command_and_closes() {
    let herd = TestHerd::winter21().await;
    let reply = eof_exchange(herd.addr("Riley"), b"IAMAT e +1+1 1").await;
    assert!(reply.starts_with(b"AT Riley ") && reply.ends_with(b" e +1+1 1\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn pipelined_commands_are_answered_in_order() {
    let herd = TestHerd::winter21().await;
    let mut input = Vec::new();
    for i in 0..50 {
        input.extend_from_slice(format!("IAMAT p{i} +1+1 {i}\nBOGUS {i}\n").as_bytes());
    }
    input.extend_from_slice(b"WHATSAT p49 1 0\nIAMAT last +1+1 1");
    let reply = text(&eof_exchange(herd.addr("Riley"), &input).await);
    let lines: Vec<&str> = reply.lines().collect();
    for i in 0..50 {
        assert!(
            lines[2 * i].ends_with(&format!(" p{i} +1+1 {i}")),
            "{}",
            lines[2 * i]
        );
        assert_eq!(lines[2 * i + 1], format!("? BOGUS {i}"));
    }
    assert!(lines[100].ends_with(" p49 +1+1 49"), "WHATSAT's AT line");
    assert!(
        reply.ends_with(" last +1+1 1\n"),
        "the unterminated last line, answered last"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_written_one_byte_at_a_time_is_one_command() {
    let herd = TestHerd::winter21().await;
    let mut stream = tokio::net::TcpStream::connect(herd.addr("Jaquez"))
        .await
        .unwrap();
    stream.set_nodelay(true).unwrap();
    for byte in b"IAMAT slow +1+1 1\n" {
        stream.write_all(&[*byte]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut reply = vec![0u8; 256];
    let n = tokio::time::timeout(IO_DEADLINE, stream.read(&mut reply))
        .await
        .unwrap()
        .unwrap();
    assert!(text(&reply[..n]).starts_with("AT Jaquez +"));
    assert!(text(&reply[..n]).ends_with(" slow +1+1 1\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn line_style_keeps_the_connection_open_between_commands() {
    let herd = TestHerd::winter21().await;
    let mut client = LineClient::connect(herd.addr("Bernard")).await;
    client.send(b"IAMAT l +1+1 1\n").await;
    let at = client.line().await;
    client.send(b"WHATSAT l 1 1\n").await;
    let reply = client.whatsat_reply().await;
    assert!(reply.starts_with(&at));
    client.send(b"IAMAT l2 +1+1 2\r\n").await;
    assert!(client.line().await.ends_with(b" l2 +1+1 2\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn many_connections_at_once_are_all_answered() {
    let herd = TestHerd::winter21().await;
    let addr = herd.addr("Juzang");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        tasks.spawn(async move {
            (
                i,
                eof_exchange(addr, format!("IAMAT c{i} +1+1 1").as_bytes()).await,
            )
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (i, reply) = done.unwrap();
        assert!(reply.ends_with(format!(" c{i} +1+1 1\n").as_bytes()));
    }
}
