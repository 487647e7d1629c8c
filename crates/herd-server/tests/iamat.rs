//! IAMAT replies: exact bytes around a difference checked against the server's real clock.

#![allow(clippy::unwrap_used)]

mod support;

use support::*;

/// Splits `AT NAME DIFF REST` and checks the parts other than DIFF exactly; returns DIFF.
fn diff_of(reply: &[u8], server: &str, rest: &str) -> String {
    let reply = text(reply);
    let line = reply
        .strip_suffix('\n')
        .expect("reply ends with one newline");
    assert!(!line.contains('\n'), "one line: {reply:?}");
    let prefix = format!("AT {server} ");
    let after = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("starts with {prefix:?}: {line:?}"));
    let (diff, tail) = after.split_once(' ').unwrap();
    assert_eq!(tail, rest, "operands copied byte for byte");
    diff.to_owned()
}

/// `+s.nnnnnnnnn` / `-s.nnnnnnnnn` to nanoseconds, checking the exact shape.
fn diff_nanos(diff: &str) -> i128 {
    let (sign, magnitude) = diff.split_at(1);
    let (secs, frac) = magnitude.split_once('.').expect("a fraction");
    assert!(sign == "+" || sign == "-", "explicit sign: {diff}");
    assert_eq!(frac.len(), 9, "exactly nine fraction digits: {diff}");
    assert!(
        secs.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()),
        "{diff}"
    );
    let value = secs.parse::<i128>().unwrap() * 1_000_000_000 + frac.parse::<i128>().unwrap();
    if sign == "-" { -value } else { value }
}

#[tokio::test(flavor = "multi_thread")]
async fn reply_copies_operands_and_the_difference_is_exact() {
    let herd = TestHerd::winter21().await;
    let client_time = "1621464827.959498503";
    let before = now_nanos();
    let reply = eof_exchange(
        herd.addr("Riley"),
        format!("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 {client_time}\n").as_bytes(),
    )
    .await;
    let after = now_nanos();
    let diff = diff_of(
        &reply,
        "Riley",
        &format!("kiwi.cs.ucla.edu +34.068930-118.445127 {client_time}"),
    );
    let client_nanos: i128 = 1_621_464_827_959_498_503;
    let value = diff_nanos(&diff);
    assert!(
        value >= before - client_nanos && value <= after - client_nanos,
        "{diff} within the call"
    );
    assert!(diff.starts_with('+'));
}

#[tokio::test(flavor = "multi_thread")]
async fn client_ahead_gives_a_negative_difference() {
    let herd = TestHerd::winter21().await;
    let ahead = now_nanos() + 3_600 * 1_000_000_000;
    let time = format!("{}.{:09}", ahead / 1_000_000_000, ahead % 1_000_000_000);
    let before = now_nanos();
    let reply = eof_exchange(
        herd.addr("Jaquez"),
        format!("IAMAT a -33.86+151.20 {time}").as_bytes(),
    )
    .await;
    let after = now_nanos();
    let diff = diff_of(&reply, "Jaquez", &format!("a -33.86+151.20 {time}"));
    assert!(
        diff.starts_with("-0.") || diff.starts_with("-3599."),
        "{diff}"
    );
    let value = diff_nanos(&diff);
    assert!(value >= before - ahead && value <= after - ahead);
}

#[tokio::test(flavor = "multi_thread")]
async fn positions_and_times_are_never_re_rendered() {
    let herd = TestHerd::winter21().await;
    for (position, time) in [
        ("+34-118", "1621464827"),
        ("+90-180", "1.5"),
        ("-90.000000+180.000000", "0000000001.100000000"),
        ("+00.0-000.0", "1621464827.1"),
    ] {
        let reply = eof_exchange(
            herd.addr("Riley"),
            format!("IAMAT c {position} {time}").as_bytes(),
        )
        .await;
        diff_of(&reply, "Riley", &format!("c {position} {time}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn white_space_and_crlf_are_separators_and_client_ids_are_bytes() {
    let herd = TestHerd::winter21().await;
    let reply = eof_exchange(
        herd.addr("Riley"),
        b"\t IAMAT \x0b k\xc3\xa9y\xffz \x0c +1+2\t3.5 \r\n",
    )
    .await;
    let line = text(&reply);
    assert!(reply.ends_with(b" k\xc3\xa9y\xffz +1+2 3.5\n"), "{line:?}");
    assert!(reply.starts_with(b"AT Riley +"), "{line:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_iamat_is_answered_but_does_not_replace_the_stored_line() {
    let herd = TestHerd::winter21().await;
    let riley = herd.addr("Riley");
    let newer = eof_exchange(riley, b"IAMAT old-test +1+1 200").await;
    let older = eof_exchange(riley, b"IAMAT old-test +2+2 100").await;
    assert!(
        text(&older).ends_with(" old-test +2+2 100\n"),
        "older IAMAT still answered"
    );
    assert_eq!(
        stored_at(riley, "old-test").await.unwrap(),
        first_line(&newer)
    );
}
