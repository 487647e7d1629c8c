//! Fuzz target `connection`: one input is what a client sends on one connection to a real,
//! in-process reference server (one server, no neighbours, on a loopback port), cut into TCP
//! writes of a size the input chooses; the client then half-closes and reads to the end.
//!
//! Input layout: byte 0 picks the write size (1 to 64 bytes, or the whole input when ≥ 192),
//! the rest is sent. Checks, beyond "nothing panics" (libfuzzer-sys aborts on a panic in any
//! thread, the server's tasks included):
//! - the server answers and closes within 5 s of the client's EOF;
//! - every line up to the first valid WHATSAT (whose answer depends on what earlier inputs
//!   stored, and on Places) gets, in order: nothing when blank; exactly `? ` + trimmed copy when
//!   invalid (also `AT` and `PEER`, which a plain client may not send here); an AT line with the
//!   IAMAT's operands byte for byte for a valid IAMAT; and nothing else follows.
//!
//! Lines over 64 KiB are out of reach (`-max_len` stays far below); their segmentation-dependent
//! handling is issue 11 item 3's.

#![no_main]

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use herd_server::LocalHerd;
use herd_server::places::{PlacesApi, PlacesClient};
use herd_wire::command::{Command, error_reply, parse_command};
use herd_wire::{AtLine, ClientTime, Herd};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SOLO: &str = "[[server]]\nname = \"Solo\"\naddress = \"127.0.0.1:0\"\nneighbours = []\n";
/// A client time more than this far ahead may be refused once the server has `--max-future`
/// (issue 11 item 2); a client ID longer than this once it bounds IDs (item 3).
const MAX_FUTURE_NANOS: i128 = 86_400 * 1_000_000_000;
const MAX_CLIENT_ID: usize = 1024;

struct Harness {
    runtime: tokio::runtime::Runtime,
    address: SocketAddr,
    _herd: LocalHerd,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let herd = Herd::from_toml(SOLO, "fuzz").expect("the one-server herd");
    // Nothing listens on port 9 of loopback: a WHATSAT that reaches Places fails fast.
    let places = PlacesClient::new(
        "http://127.0.0.1:9",
        "fuzz-key".to_owned(),
        PlacesApi::Legacy,
        Duration::from_secs(1),
    )
    .expect("a Places client");
    let local = runtime
        .block_on(LocalHerd::start(&herd, places, None))
        .expect("the server starts");
    let address = local.address("Solo").expect("Solo is running");
    Harness {
        runtime,
        address,
        _herd: local,
    }
});

/// What one line must get.
enum Expect {
    Nothing,
    Exactly(Vec<u8>),
    AtFor(herd_wire::Iamat),
}

/// The expected answers, in order, up to the first line this model does not predict.
fn expectations(sent: &[u8]) -> Vec<Expect> {
    let mut lines: Vec<&[u8]> = sent.split(|b| *b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = Vec::new();
    for line in lines {
        match parse_command(line) {
            Ok(None) => out.push(Expect::Nothing),
            Err(_) | Ok(Some(Command::At(_) | Command::Peer(_))) => {
                out.push(Expect::Exactly(error_reply(line)))
            }
            Ok(Some(Command::Iamat(iamat))) => out.push(Expect::AtFor(iamat)),
            Ok(Some(Command::Whatsat(_))) => break,
        }
    }
    out
}

fn check(sent: &[u8], received: &[u8], now: ClientTime) {
    let expected = expectations(sent);
    let complete = !sent
        .split(|b| *b == b'\n')
        .any(|l| matches!(parse_command(l), Ok(Some(Command::Whatsat(_)))));
    let mut rest = received;
    for (i, want) in expected.iter().enumerate() {
        let take_line = |rest: &mut &[u8]| -> Vec<u8> {
            let end = rest
                .iter()
                .position(|b| *b == b'\n')
                .map_or(rest.len(), |n| n + 1);
            let (line, tail) = rest.split_at(end);
            *rest = tail;
            line.to_vec()
        };
        match want {
            Expect::Nothing => {}
            Expect::Exactly(reply) => {
                let got = take_line(&mut rest);
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(reply),
                    "reply to line {i}"
                );
            }
            Expect::AtFor(iamat) => {
                let got = take_line(&mut rest);
                let refused_by_a_bound = got.starts_with(b"? ")
                    && (iamat.time().as_nanos() > now.as_nanos() + MAX_FUTURE_NANOS
                        || iamat.client().len() > MAX_CLIENT_ID);
                if refused_by_a_bound {
                    continue;
                }
                let at = AtLine::parse(&got).unwrap_or_else(|e| {
                    panic!(
                        "line {i}: IAMAT answered {:?}: {e}",
                        String::from_utf8_lossy(&got)
                    )
                });
                assert!(
                    got.ends_with(b"\n"),
                    "line {i}: the AT line ends with a newline"
                );
                assert_eq!(at.server(), "Solo");
                assert_eq!(at.client(), iamat.client(), "line {i}: client copied");
                assert_eq!(
                    at.position().as_str(),
                    iamat.position().as_str(),
                    "line {i}"
                );
                assert_eq!(at.time(), iamat.time(), "line {i}");
            }
        }
    }
    if complete {
        assert!(
            rest.is_empty(),
            "nothing follows the last reply, got {:?}",
            String::from_utf8_lossy(rest)
        );
    }
}

async fn exchange(address: SocketAddr, chunk: usize, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    for piece in body.chunks(chunk.max(1)) {
        stream.write_all(piece).await?;
    }
    stream.shutdown().await?;
    let mut received = Vec::new();
    stream.read_to_end(&mut received).await?;
    Ok(received)
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, body)) = data.split_first() else {
        return;
    };
    let chunk = if size >= 192 {
        body.len()
    } else {
        usize::from(size % 64) + 1
    };
    let harness = &*HARNESS;
    let now = ClientTime::now();
    let received = harness.runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(5),
            exchange(harness.address, chunk, body),
        )
        .await
    });
    match received {
        Err(_) => panic!("no end of the reply within 5 s of the client's EOF"),
        Ok(Err(e)) => panic!("the connection failed: {e}"),
        Ok(Ok(received)) => check(body, &received, now),
    }
});
