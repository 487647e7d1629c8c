//! Faults across the herd, through the link proxy in `mocks`: a partition and its heal, a
//! one-way partition, and links that deliver one byte per segment. Real servers on real sockets;
//! every wait bounded.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use herd_server::{Limits, Running, launch};
use herd_wire::Herd;
use mocks::PlacesStandIn;
use support::*;
use test_kit::{Direction, LinkProxy};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The line herd A – B – C, every link dialled through its own proxy (A→B, B→A, B→C, C→B).
struct ProxiedLine {
    servers: Vec<Running>,
    a_to_b: LinkProxy,
    b_to_a: LinkProxy,
    _others: Vec<LinkProxy>,
    shutdown: CancellationToken,
    _places: PlacesStandIn,
}

impl Drop for ProxiedLine {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl ProxiedLine {
    async fn start() -> ProxiedLine {
        let listeners = [
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
        ];
        let [a, b, c] = [0, 1, 2].map(|i| listeners[i].local_addr().unwrap());
        let a_to_b = LinkProxy::start(b).await.unwrap();
        let b_to_a = LinkProxy::start(a).await.unwrap();
        let b_to_c = LinkProxy::start(c).await.unwrap();
        let c_to_b = LinkProxy::start(b).await.unwrap();
        let herd = Herd::from_toml(
            &format!(
                "secret = 'partition test'\n\
                 [[server]]\nname='A'\naddress='{a}'\nneighbours=['B']\n\
                 [[server]]\nname='B'\naddress='{b}'\nneighbours=['C']\n\
                 [[server]]\nname='C'\naddress='{c}'\n"
            ),
            "line",
        )
        .unwrap()
        .with_route("A", "B", &a_to_b.address().to_string())
        .with_route("B", "A", &b_to_a.address().to_string())
        .with_route("B", "C", &b_to_c.address().to_string())
        .with_route("C", "B", &c_to_b.address().to_string());
        let places = PlacesStandIn::start().await.unwrap();
        let shared = hand_launch(herd, &places, &Limits::default());
        let shutdown = CancellationToken::new();
        let mut servers = Vec::new();
        for (name, listener) in ["A", "B", "C"].into_iter().zip(listeners) {
            servers.push(launch(&shared, name, listener, &shutdown).await.unwrap());
        }
        ProxiedLine {
            servers,
            a_to_b,
            b_to_a,
            _others: vec![b_to_c, c_to_b],
            shutdown,
            _places: places,
        }
    }

    fn addr(&self, name: &str) -> SocketAddr {
        self.servers
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .address
    }

    /// Sends an IAMAT for `client` to `at`; the AT line it was answered with.
    async fn update(&self, at: &str, client: &str) -> Vec<u8> {
        let now = now_nanos();
        let command = format!(
            "IAMAT {client} +34.068930-118.445127 {}.{:09}\n",
            now / 1_000_000_000,
            now % 1_000_000_000
        );
        let reply = eof_exchange(self.addr(at), command.as_bytes()).await;
        assert!(reply.starts_with(b"AT "), "{}", text(&reply));
        first_line(&reply).to_vec()
    }

    /// True when every one of `servers` serves `line` for `client` within `within`.
    async fn everyone_has(
        &self,
        servers: &[&str],
        client: &str,
        line: &[u8],
        within: Duration,
    ) -> bool {
        for server in servers {
            let addr = self.addr(server);
            let has = eventually(within, || async {
                stored_at(addr, client).await.as_deref() == Some(line)
            })
            .await;
            if !has {
                return false;
            }
        }
        true
    }

    /// Waits until an update made at A reaches C (the links carry again); how long it took.
    async fn linked(&self, tag: &str) -> Duration {
        let started = Instant::now();
        for attempt in 0..100 {
            let client = format!("conf-relink-{tag}-{attempt}");
            let line = self.update("A", &client).await;
            if self
                .everyone_has(&["B", "C"], &client, &line, Duration::from_millis(100))
                .await
            {
                return started.elapsed();
            }
        }
        panic!("the herd did not relink within 100 attempts");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_partition_heals_every_update_reaches_every_server() {
    let herd = ProxiedLine::start().await;
    herd.linked("start").await;
    herd.a_to_b.set_cut(true);
    herd.b_to_a.set_cut(true);
    let isolated = herd.update("A", "conf-during-partition").await;
    let other_side = herd.update("C", "conf-other-side").await;
    assert!(
        herd.everyone_has(&["B"], "conf-other-side", &other_side, IO_DEADLINE)
            .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stored_at(herd.addr("B"), "conf-during-partition").await,
        None
    );
    assert_eq!(stored_at(herd.addr("A"), "conf-other-side").await, None);
    assert_eq!(
        stored_at(herd.addr("A"), "conf-during-partition")
            .await
            .as_deref(),
        Some(&isolated[..])
    );

    herd.a_to_b.set_cut(false);
    herd.b_to_a.set_cut(false);
    let relink = herd.linked("heal").await;
    println!("relinked {relink:?} after the heal");
    assert!(
        relink <= Duration::from_secs(2),
        "relinked after {relink:?}"
    );
    for i in 0..20 {
        let (origin, client) = if i % 2 == 0 {
            ("A", format!("conf-after-heal-{i}"))
        } else {
            ("C", format!("conf-after-heal-{i}"))
        };
        let line = herd.update(origin, &client).await;
        assert!(
            herd.everyone_has(&["A", "B", "C"], &client, &line, IO_DEADLINE)
                .await,
            "update {i} from {origin} after the heal reached every server"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_way_partition_stops_one_direction_only_and_tiny_segments_change_nothing() {
    let herd = ProxiedLine::start().await;
    herd.linked("start").await;
    // What A sends towards B vanishes; what B sends towards A arrives one byte per segment.
    herd.a_to_b.set_black_hole(Direction::Forward, true);
    herd.b_to_a.set_tiny_segments(true);
    let from_a = herd.update("A", "conf-one-way-a").await;
    let from_c = herd.update("C", "conf-one-way-c").await;
    assert!(
        herd.everyone_has(&["B", "A"], "conf-one-way-c", &from_c, IO_DEADLINE)
            .await,
        "B → A still carries"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stored_at(herd.addr("B"), "conf-one-way-a").await,
        None,
        "A → B is black-holed"
    );
    assert_eq!(
        stored_at(herd.addr("A"), "conf-one-way-a").await.as_deref(),
        Some(&from_a[..])
    );
    assert!(herd.b_to_a.passed(Direction::Forward) > 0);
}
