//! Proof by attack, in-process: each test is an attack that worked on the server before it had
//! bounds and peer authentication (issue 11's table), run against real servers on real sockets.
//! Counts and times are bounded; the limits are set low where waiting out a default would be slow.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use herd_server::places::{PlacesApi, PlacesClient};
use herd_server::{Limits, LocalHerd, launch};
use herd_wire::Herd;
use mocks::{FailureMode, PlacesStandIn, StandInConfig};
use support::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Reads one line (with its newline), or what came before the close, within `within`.
async fn read_line(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut line = Vec::new();
    let _ = tokio::time::timeout(within, async {
        let mut byte = [0u8; 1];
        while let Ok(1) = stream.read(&mut byte).await {
            line.push(byte[0]);
            if byte[0] == b'\n' {
                break;
            }
        }
    })
    .await;
    line
}

/// True when the server closes `stream` within `within` (whatever it sent before).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    tokio::time::timeout(within, async {
        let mut sink = [0u8; 4096];
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Server `A` of the herd `A – B, A – C` with a secret, and `C` when `with_c`, in-process; the
/// test plays `B`, a neighbour that knows the secret, whose own server is not running.
async fn herd_playing_b(
    limits: &Limits,
    with_c: bool,
) -> (
    Herd,
    Vec<herd_server::Running>,
    CancellationToken,
    PlacesStandIn,
) {
    let listeners = [
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    ];
    let [a, b, c] = [0, 1, 2].map(|i| listeners[i].local_addr().unwrap());
    let herd = Herd::from_toml(
        &format!(
            "secret = 'shared by A, B and C'\n\
             [[server]]\nname='A'\naddress='{a}'\nneighbours=['B', 'C']\n\
             [[server]]\nname='B'\naddress='{b}'\n\
             [[server]]\nname='C'\naddress='{c}'\n"
        ),
        "a-b-c",
    )
    .unwrap();
    let places = PlacesStandIn::start().await.unwrap();
    let shared = hand_launch(herd.clone(), &places, limits);
    let shutdown = CancellationToken::new();
    let [la, _lb, lc] = listeners;
    let mut running = vec![launch(&shared, "A", la, &shutdown).await.unwrap()];
    if with_c {
        running.push(launch(&shared, "C", lc, &shutdown).await.unwrap());
    }
    (herd, running, shutdown, places)
}

/// A herd of one server, `Solo`.
fn solo() -> Herd {
    Herd::from_toml(
        "[[server]]\nname = 'Solo'\naddress = '127.0.0.1:1'\n",
        "solo",
    )
    .unwrap()
}

fn iamat(client: &str) -> String {
    let now = now_nanos();
    format!(
        "IAMAT {client} +34.068930-118.445127 {}.{:09}\n",
        now / 1_000_000_000,
        now % 1_000_000_000
    )
}

/// Opens a link to `to` as neighbour `name`, proving `herd`'s secret.
async fn authenticated_link(herd: &Herd, to: SocketAddr, name: &str, acceptor: &str) -> TcpStream {
    let mut link = TcpStream::connect(to).await.unwrap();
    link.write_all(format!("PEER {name}\n").as_bytes())
        .await
        .unwrap();
    let challenge = read_line(&mut link, IO_DEADLINE).await;
    let secret = herd.secret().expect("in-process herds have a secret");
    let auth = herd_server::peer_auth::answer_challenge(
        secret,
        name,
        acceptor,
        challenge.trim_ascii_end(),
    )
    .unwrap();
    link.write_all(&auth).await.unwrap();
    link
}

#[tokio::test(flavor = "multi_thread")]
async fn a_process_claiming_a_neighbours_name_cannot_inject_an_update() {
    let herd = TestHerd::winter21().await;
    let riley = herd.addr("Riley");
    // The forged location of the table: it reached all five servers before.
    let forged = "AT Evil +0.000000001 conf-forged +48.858400+2.294500 1700000000.000000000";
    for attempt in 0..50 {
        let mut stream = TcpStream::connect(riley).await.unwrap();
        stream.write_all(b"PEER Jaquez\n").await.unwrap();
        let challenge = read_line(&mut stream, IO_DEADLINE).await;
        assert!(challenge.starts_with(b"CHALLENGE "), "{}", text(&challenge));
        let (sent, line) = if attempt % 2 == 0 {
            (forged.to_owned(), forged.to_owned())
        } else {
            let guess = format!("AUTH {}", "0".repeat(64));
            (format!("{guess}\n{forged}"), guess)
        };
        stream
            .write_all(format!("{sent}\n").as_bytes())
            .await
            .unwrap();
        assert_eq!(
            text(&read_line(&mut stream, IO_DEADLINE).await),
            format!("? {line}\n")
        );
        assert!(
            closed_within(&mut stream, IO_DEADLINE).await,
            "a failed link is closed"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for name in herd.herd.herd.names() {
        assert_eq!(
            stored_at(herd.addr(name), "conf-forged").await,
            None,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_neighbour_that_proves_the_secret_links_and_its_update_spreads() {
    let (herd, running, shutdown, _places) = herd_playing_b(&Limits::default(), true).await;
    let (a, c) = (running[0].address, running[1].address);
    let mut link = authenticated_link(&herd, a, "B", "A").await;
    let now = now_nanos();
    let update = format!(
        "AT B +0.000000001 conf-proven +48.858400+2.294500 {}.{:09}",
        now / 1_000_000_000,
        now % 1_000_000_000
    );
    link.write_all(format!("{update}\n").as_bytes())
        .await
        .unwrap();
    for (name, addr) in [("A", a), ("C", c)] {
        let arrived = eventually(IO_DEADLINE, || async {
            stored_at(addr, "conf-proven").await.as_deref() == Some(update.as_bytes())
        })
        .await;
        assert!(arrived, "{name} learned the authenticated update");
    }
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_far_future_time_is_refused_and_cannot_pin_a_client() {
    let (herd, running, shutdown, _places) = herd_playing_b(&Limits::default(), true).await;
    let (a, c) = (running[0].address, running[1].address);
    let pinning = "IAMAT conf-pinned +34.068930-118.445127 9999999999999999999999999999";
    let reply = eof_exchange(a, format!("{pinning}\n").as_bytes()).await;
    assert_eq!(text(&reply), format!("? {pinning}\n"));
    // Through a proven link too: dropped, not stored, not flooded; the update after it on the
    // same link shows the link was read past it.
    let mut link = authenticated_link(&herd, a, "B", "A").await;
    let forged = "AT B +0.000000001 conf-pinned +48.858400+2.294500 9999999999999999999999999999";
    let after = "AT B +0.000000001 conf-after-pin +48.858400+2.294500 1700000000.000000000";
    link.write_all(format!("{forged}\n{after}\n").as_bytes())
        .await
        .unwrap();
    let read_past = eventually(IO_DEADLINE, || async {
        stored_at(a, "conf-after-pin").await.is_some()
    })
    .await;
    assert!(
        read_past,
        "the link carried the update after the forged one"
    );
    assert_eq!(stored_at(a, "conf-pinned").await, None);
    assert_eq!(stored_at(c, "conf-pinned").await, None);
    // The client's genuine update is stored, and spreads.
    let reply = eof_exchange(a, iamat("conf-pinned").as_bytes()).await;
    assert!(reply.starts_with(b"AT A "), "{}", text(&reply));
    let spread = eventually(IO_DEADLINE, || async {
        stored_at(c, "conf-pinned").await.as_deref() == Some(first_line(&reply))
    })
    .await;
    assert!(spread, "the genuine update reached C");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn long_client_ids_are_refused_and_nothing_is_stored() {
    let herd = TestHerd::winter21().await;
    let riley = herd.addr("Riley");
    let mut client = LineClient::connect(riley).await;
    // 100 KB IDs (the table's +705 MB) and 2 KB ones (over --max-client-id, under the line limit).
    for (i, length) in [100_000usize, 2_000]
        .into_iter()
        .cycle()
        .take(200)
        .enumerate()
    {
        let id = format!("{i:06}{}", "x".repeat(length));
        let command = format!("IAMAT {id} +34.068930-118.445127 1700000000.0");
        client.send(format!("{command}\n").as_bytes()).await;
        let reply = client.line().await;
        let copy = &command.as_bytes()[..command.len().min(herd_server::connection::MAX_LINE)];
        assert_eq!(reply, [b"? ", copy, b"\n"].concat(), "IAMAT {i}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for name in herd.herd.herd.names() {
        assert!(herd.state(name).db.is_empty(), "{name} stored nothing");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_line_limit_does_not_depend_on_segmentation() {
    let herd = TestHerd::start(&solo()).await;
    let addr = herd.addr("Solo");
    let limit = herd_server::connection::MAX_LINE;
    for length in [limit, limit + 1, 100_000] {
        let line = vec![b'Z'; length];
        let kept = &line[..length.min(limit)];
        let want = [b"? ", kept, b"\n"].concat();
        for piece in [usize::MAX, 1024] {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let bytes = [line.as_slice(), b"\n"].concat();
            for chunk in bytes.chunks(piece.min(bytes.len())) {
                stream.write_all(chunk).await.unwrap();
                stream.flush().await.unwrap();
            }
            stream.shutdown().await.unwrap();
            let reply = read_until_closed(&mut stream).await;
            assert!(
                reply == want,
                "a {length}-byte line in pieces of {piece}: got {} bytes",
                reply.len()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_unfinished_connections_are_dropped_but_peer_links_are_kept() {
    let limits = Limits {
        idle_timeout: Duration::from_secs(1),
        partial_line_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let (herd, running, shutdown, _places) = herd_playing_b(&limits, false).await;
    let riley = running[0].address;
    let mut idle = TcpStream::connect(riley).await.unwrap();
    let mut link = authenticated_link(&herd, riley, "B", "A").await;
    // Slowloris: a byte every 200 ms, never a newline; the trickle must not reset the clock.
    let mut slow = TcpStream::connect(riley).await.unwrap();
    let started = Instant::now();
    let trickle = async {
        for byte in b"IAMAT conf-slowloris +1+1 1".iter().cycle().take(25) {
            if slow.write_all(&[*byte]).await.is_err() {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut probe = [0u8; 1];
            if let Ok(Ok(0)) =
                tokio::time::timeout(Duration::from_millis(1), slow.read(&mut probe)).await
            {
                return started.elapsed();
            }
        }
        started.elapsed()
    };
    let (dropped_after, idle_closed) = tokio::join!(trickle, closed_within(&mut idle, IO_DEADLINE));
    assert!(idle_closed, "an idle client is closed");
    assert!(
        dropped_after < Duration::from_millis(4500),
        "slowloris dropped after {dropped_after:?}, not at the end of its 5 s trickle"
    );
    // The peer link was as quiet as the idle client, and is still open.
    let update = format!(
        "AT B +0.000000001 conf-kept-link +1.000000+1.000000 {}",
        1_700_000_000
    );
    link.write_all(format!("{update}\n").as_bytes())
        .await
        .unwrap();
    let stored = eventually(IO_DEADLINE, || async {
        stored_at(riley, "conf-kept-link").await.as_deref() == Some(update.as_bytes())
    })
    .await;
    assert!(stored, "the idle peer link still carries updates");
    shutdown.cancel();
}

/// The idle clock runs from the last reply, however long the connection has been open: a
/// client that sends a line every 400 ms is kept well past the 1 s idle timeout (the timer
/// armed at its first wait goes off while it is busy, and is moved on), and once it stops it is
/// closed one idle period later.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_keeps_talking_is_kept_and_dropped_once_it_falls_silent() {
    let limits = Limits {
        idle_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let (_herd, running, shutdown, _places) = herd_playing_b(&limits, false).await;
    let stream = TcpStream::connect(running[0].address).await.unwrap();
    let mut lines = tokio::io::BufReader::new(stream);
    let started = Instant::now();
    for i in 0..8 {
        lines
            .get_mut()
            .write_all(format!("IAMAT conf-talker +1+1 {}\n", 1_700_000_000 + i).as_bytes())
            .await
            .unwrap();
        let mut reply = String::new();
        let read = tokio::time::timeout(IO_DEADLINE, lines.read_line(&mut reply)).await;
        assert!(
            matches!(read, Ok(Ok(n)) if n > 0) && reply.starts_with("AT A "),
            "line {i}, {:?} after the first: connection closed or no reply ({read:?}, {reply:?})",
            started.elapsed()
        );
        if i < 7 {
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
    }
    let last_reply = Instant::now();
    assert!(
        closed_within(lines.get_mut(), IO_DEADLINE).await,
        "a silent client is closed"
    );
    // Half the idle timeout: the rest is left for a reply read late on a busy machine.
    assert!(
        last_reply.elapsed() >= Duration::from_millis(500),
        "closed {:?} after its last reply, before the 1 s idle timeout could have run out",
        last_reply.elapsed()
    );
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_beyond_the_limit_are_closed_and_the_open_ones_still_work() {
    let limits = Limits {
        max_connections: 8,
        ..Limits::default()
    };
    let herd = TestHerd::start_limited(&solo(), &limits).await;
    let addr = herd.addr("Solo");
    let mut open = Vec::new();
    for i in 0..8 {
        let mut client = LineClient::connect(addr).await;
        client
            .send(iamat(&format!("conf-open-{i}")).as_bytes())
            .await;
        assert!(client.line().await.starts_with(b"AT Solo "));
        open.push(client);
    }
    for _ in 0..20 {
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let _ = extra.write_all(iamat("conf-extra").as_bytes()).await;
        let mut reply = Vec::new();
        let read = tokio::time::timeout(IO_DEADLINE, extra.read_to_end(&mut reply)).await;
        assert!(
            read.is_ok(),
            "a connection over the limit is closed, not left hanging"
        );
        assert!(reply.is_empty(), "and gets no reply: {}", text(&reply));
    }
    for (i, client) in open.iter_mut().enumerate() {
        client
            .send(iamat(&format!("conf-open-{i}")).as_bytes())
            .await;
        assert!(
            client.line().await.starts_with(b"AT Solo "),
            "open connection {i}"
        );
    }
    drop(open.pop());
    let addr_now = addr;
    let freed = eventually(IO_DEADLINE, || async move {
        let reply = try_eof_exchange(addr_now, iamat("conf-after").as_bytes(), IO_DEADLINE)
            .await
            .unwrap_or_default();
        reply.starts_with(b"AT Solo ")
    })
    .await;
    assert!(freed, "a closed connection frees its slot");
    assert_eq!(stored_at(addr, "conf-extra").await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_neighbour_that_never_reads_costs_the_sender_a_bounded_queue() {
    // A – B, where B is a socket that accepts and never reads.
    let a_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (a, b) = (
        a_listener.local_addr().unwrap(),
        b_listener.local_addr().unwrap(),
    );
    let herd = Herd::from_toml(
        &format!(
            "[[server]]\nname='A'\naddress='{a}'\nneighbours=['B']\n[[server]]\nname='B'\naddress='{b}'\n"
        ),
        "a-b",
    )
    .unwrap();
    let places = PlacesStandIn::start().await.unwrap();
    let limits = Limits {
        link_queue_bytes: 256 * 1024,
        ..Limits::default()
    };
    let shared = hand_launch(herd, &places, &limits);
    let shutdown = CancellationToken::new();
    let running = launch(&shared, "A", a_listener, &shutdown).await.unwrap();
    let (_never_read, _) = tokio::time::timeout(IO_DEADLINE, b_listener.accept())
        .await
        .unwrap()
        .unwrap();
    // 20,000 updates of about 1 KB: far more than the link queue and the socket buffers hold.
    let mut client = LineClient::connect(a).await;
    let id_tail = "q".repeat(1000);
    let mut max_queued = 0;
    for batch in 0..40 {
        let commands: String = (0..500)
            .map(|i| iamat(&format!("conf-{batch:02}-{i:03}-{id_tail}")))
            .collect();
        client.send(commands.as_bytes()).await;
        for _ in 0..500 {
            client.line().await;
        }
        max_queued = max_queued.max(running.state.flooder.queued_bytes());
    }
    assert!(
        max_queued <= limits.link_queue_bytes,
        "queued {max_queued} bytes for a link bounded at {}",
        limits.link_queue_bytes
    );
    assert!(max_queued > 0, "the link queue was used at all");
    shutdown.cancel();
}

/// A herd of one server over a stand-in that behaves as `config` says, with these limits.
async fn solo_over(config: StandInConfig, limits: &Limits) -> (LocalHerd, PlacesStandIn) {
    let places = PlacesStandIn::start_with(config).await.unwrap();
    let client = PlacesClient::new(
        &places.uri(),
        "secret-api-key-123".into(),
        PlacesApi::Legacy,
        Duration::from_secs(10),
    )
    .unwrap();
    let herd = LocalHerd::start_limited(&solo(), client, None, &[], limits)
        .await
        .unwrap();
    (herd, places)
}

#[tokio::test(flavor = "multi_thread")]
async fn places_calls_are_bounded_and_identical_ones_share_one_call() {
    let latency = Duration::from_millis(400);
    let limits = Limits {
        places_concurrency: 4,
        ..Limits::default()
    };
    let config = StandInConfig {
        latency,
        ..StandInConfig::default()
    };
    let (herd, places) = solo_over(config, &limits).await;
    let addr = herd.address("Solo").unwrap();
    for i in 0..16 {
        let command = format!(
            "IAMAT conf-place-{i} +{}.000000-118.000000 1700000000.0\n",
            10 + i
        );
        assert!(
            eof_exchange(addr, command.as_bytes())
                .await
                .starts_with(b"AT ")
        );
    }
    // 16 different positions, 4 slots: at least four rounds of the stand-in's latency.
    let started = Instant::now();
    let commands: Vec<String> = (0..16)
        .map(|i| format!("WHATSAT conf-place-{i} 10 1\n"))
        .collect();
    let asks = commands.iter().map(|c| eof_exchange(addr, c.as_bytes()));
    let replies = futures::future::join_all(asks).await;
    let took = started.elapsed();
    assert!(replies.iter().all(|r| r.ends_with(b"\n\n")));
    assert!(
        took >= latency * 4 - Duration::from_millis(50),
        "16 calls through 4 slots took {took:?}"
    );
    assert_eq!(places.received().await.len(), 16);

    // 60 identical WHATSATs at once: one call (a few if they straddle a call's end).
    let asks = (0..60).map(|_| eof_exchange(addr, b"WHATSAT conf-place-0 10 1\n"));
    let replies = futures::future::join_all(asks).await;
    assert!(
        replies.windows(2).all(|w| w[0] == w[1]),
        "every WHATSAT got the same answer"
    );
    let calls = places.received().await.len() - 16;
    assert!(
        calls <= 4,
        "60 identical WHATSATs made {calls} Places calls"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_places_error_that_echoes_the_key_reaches_the_client_without_it() {
    let config = StandInConfig {
        failure: FailureMode::EchoKey,
        ..StandInConfig::default()
    };
    let (herd, _places) = solo_over(config, &Limits::default()).await;
    let addr = herd.address("Solo").unwrap();
    eof_exchange(addr, iamat("conf-key").as_bytes()).await;
    let reply = text(&eof_exchange(addr, b"WHATSAT conf-key 10 1\n").await);
    assert!(reply.contains("UNKNOWN_ERROR"), "{reply}");
    assert!(
        reply.contains("[key]"),
        "the echo is there, the key is not: {reply}"
    );
    assert!(!reply.contains("secret-api-key-123"), "{reply}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_table_refuses_new_clients_and_keeps_updating_known_ones() {
    let limits = Limits {
        max_clients: 3,
        ..Limits::default()
    };
    let herd = TestHerd::start_limited(&solo(), &limits).await;
    let addr = herd.addr("Solo");
    for i in 0..3 {
        assert!(
            eof_exchange(addr, iamat(&format!("conf-full-{i}")).as_bytes())
                .await
                .starts_with(b"AT ")
        );
    }
    let refused = iamat("conf-full-3");
    assert_eq!(
        text(&eof_exchange(addr, refused.as_bytes()).await),
        format!("? {}", refused)
    );
    let again = eof_exchange(addr, iamat("conf-full-0").as_bytes()).await;
    assert!(again.starts_with(b"AT "), "a known client still updates");
    assert_eq!(
        stored_at(addr, "conf-full-0").await.as_deref(),
        Some(first_line(&again))
    );
    assert_eq!(herd.state("Solo").db.len(), 3);
}
