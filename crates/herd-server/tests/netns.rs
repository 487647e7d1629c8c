//! The default herd as five hosts: each server in its own network namespace with its own IP
//! address, joined by veth pairs on a bridge, and the test as a sixth host. This is where the
//! address check of a herd without a secret meets real, distinct addresses.
//!
//! Needs root and `ip` (iproute2); skipped, saying why, where namespaces cannot be made.
//! `tc netem` (delay and loss) is used when the kernel has it; otherwise the test says so and
//! runs without (delay and cuts are covered through the link proxy in `partitions.rs`).

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_herd-server");
const NAMES: [&str; 5] = ["Riley", "Jaquez", "Juzang", "Campbell", "Bernard"];

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The namespaces, links and processes of one run; all removed on drop.
struct Hosts {
    tag: String,
    servers: Vec<Child>,
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for child in &mut self.servers {
            let _ = child.kill();
            let _ = child.wait();
        }
        for i in 0..=NAMES.len() {
            let _ = ip(&["netns", "del", &format!("{}{i}", self.tag)]);
        }
        let _ = ip(&["link", "del", &format!("{}h", self.tag)]);
    }
}

/// Five server namespaces and a bridge namespace; the test's own end is `10.77.x.100`.
fn build(tag: &str, subnet: u8) -> Result<Hosts, String> {
    let hosts = Hosts {
        tag: tag.to_owned(),
        servers: Vec::new(),
    };
    let bridge_ns = format!("{tag}{}", NAMES.len());
    ip(&["netns", "add", &bridge_ns])?;
    ip(&["-n", &bridge_ns, "link", "add", "br0", "type", "bridge"])?;
    ip(&["-n", &bridge_ns, "link", "set", "br0", "up"])?;
    for i in 0..NAMES.len() {
        let ns = format!("{tag}{i}");
        ip(&["netns", "add", &ns])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        let (inner, outer) = (format!("{tag}s{i}"), format!("{tag}b{i}"));
        ip(&[
            "link", "add", &inner, "netns", &ns, "type", "veth", "peer", "name", &outer, "netns",
            &bridge_ns,
        ])?;
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("10.77.{subnet}.{}/24", i + 1),
            "dev",
            &inner,
        ])?;
        ip(&["-n", &ns, "link", "set", &inner, "up"])?;
        ip(&[
            "-n", &bridge_ns, "link", "set", &outer, "master", "br0", "up",
        ])?;
    }
    let (host, outer) = (format!("{tag}h"), format!("{tag}bh"));
    ip(&[
        "link", "add", &host, "type", "veth", "peer", "name", &outer, "netns", &bridge_ns,
    ])?;
    ip(&[
        "addr",
        "add",
        &format!("10.77.{subnet}.100/24"),
        "dev",
        &host,
    ])?;
    ip(&["link", "set", &host, "up"])?;
    ip(&[
        "-n", &bridge_ns, "link", "set", &outer, "master", "br0", "up",
    ])?;
    Ok(hosts)
}

/// Adds delay and loss on every server's link when the kernel has netem; says what it did.
fn shape(tag: &str) -> String {
    for i in 0..NAMES.len() {
        let ns = format!("{tag}{i}");
        let status = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns,
                "tc",
                "qdisc",
                "add",
                "dev",
                &format!("{tag}s{i}"),
            ])
            .args(["root", "netem", "delay", "5ms", "loss", "1%"])
            .stderr(Stdio::null())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            return "tc netem is not available here (no sch_netem): no delay or loss added".into();
        }
    }
    "tc netem: 5 ms delay and 1% loss on every server's link".into()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_herd_of_five_hosts_converges_and_refuses_a_peer_from_a_wrong_address() {
    let tag = format!("hn{}", std::process::id() % 100_000);
    let subnet = u8::try_from(std::process::id() % 200).unwrap() + 20;
    let mut hosts = match build(&tag, subnet) {
        Ok(hosts) => hosts,
        Err(why) => {
            println!("skipped: network namespaces cannot be made here ({why})");
            return;
        }
    };
    println!("{}", shape(&tag));
    let dir = tempfile::tempdir().unwrap();
    let address = |i: usize| format!("10.77.{subnet}.{}:12000", i + 1);
    let herd_text: String = winter21_neighbours()
        .iter()
        .enumerate()
        .map(|(i, neighbours)| {
            format!(
                "[[server]]\nname = '{}'\naddress = '{}'\nneighbours = [{}]\n",
                NAMES[i],
                address(i),
                neighbours
                    .iter()
                    .map(|n| format!("'{n}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    let herd_file = dir.path().join("hosts.toml");
    std::fs::write(&herd_file, herd_text).unwrap();
    for (i, name) in NAMES.iter().enumerate() {
        let child = Command::new("ip")
            .args(["netns", "exec", &format!("{tag}{i}"), BIN, "--herd"])
            .arg(&herd_file)
            .args([name, "--places-url", "http://127.0.0.1:9", "--log-dir"])
            .arg(dir.path().join("logs"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        hosts.servers.push(child);
    }
    let addrs: Vec<SocketAddr> = (0..NAMES.len())
        .map(|i| address(i).parse().unwrap())
        .collect();
    for (name, addr) in NAMES.iter().zip(&addrs) {
        let up = eventually(Duration::from_secs(10), || async {
            tokio::net::TcpStream::connect(addr).await.is_ok()
        })
        .await;
        assert!(up, "{name} listens on {addr}");
    }
    // Links connect with a backoff: repeat a fresh update until one reaches every host.
    let mut converged = false;
    for attempt in 0..40 {
        let client = format!("conf-hosts-{attempt}");
        let reply = eof_exchange(
            addrs[0],
            format!("IAMAT {client} +1.0+1.0 1700000000.{attempt:09}\n").as_bytes(),
        )
        .await;
        assert!(reply.starts_with(b"AT Riley "), "{}", text(&reply));
        let mut everywhere = true;
        for addr in &addrs[1..] {
            let addr = *addr;
            let client = client.clone();
            everywhere &= eventually(Duration::from_millis(500), || {
                let client = client.clone();
                async move { stored_at(addr, &client).await.is_some() }
            })
            .await;
        }
        if everywhere {
            converged = true;
            break;
        }
    }
    assert!(converged, "an update at Riley reached all five hosts");

    // The test host is not Jaquez's address: its PEER Jaquez is refused.
    use tokio::io::AsyncWriteExt;
    let mut stranger = tokio::net::TcpStream::connect(addrs[0]).await.unwrap();
    stranger
        .write_all(b"PEER Jaquez\nAT Jaquez +0.1 conf-hosts-forged +1.0+1.0 1700000000.0\n")
        .await
        .unwrap();
    let reply = read_until_closed(&mut stranger).await;
    assert_eq!(text(&reply), "? PEER Jaquez\n");
    assert_eq!(stored_at(addrs[0], "conf-hosts-forged").await, None);
}

/// Each winter21 server's neighbours, in NAMES order (protocol.md §6).
fn winter21_neighbours() -> Vec<Vec<String>> {
    let herd = herd_wire::Preset::Winter21.herd();
    NAMES
        .iter()
        .map(|name| herd.server(name).unwrap().neighbours.clone())
        .collect()
}
