//! The herd's shape as the suite sees it: server names, addresses and (bidirectional) links, and
//! which servers an update can reach when some servers are down — a breadth-first search over the
//! links between running servers, so the expectation holds for any herd file.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;

use herd_wire::Herd;

/// Names, addresses and links of a herd under test.
#[derive(Clone, Debug)]
pub struct Topology {
    /// Server names in herd-file order.
    names: Vec<String>,
    addresses: BTreeMap<String, SocketAddr>,
    links: BTreeMap<String, BTreeSet<String>>,
}

impl Topology {
    /// Reads names, addresses and links from a herd; links are made symmetric.
    pub fn from_herd(herd: &Herd) -> Result<Topology, String> {
        let mut addresses = BTreeMap::new();
        let mut links: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for spec in herd.servers() {
            let addr = resolve(&spec.address).ok_or_else(|| {
                format!(
                    "server {} of herd {} has address `{}`, which does not resolve to HOST:PORT",
                    spec.name, herd.origin, spec.address
                )
            })?;
            addresses.insert(spec.name.clone(), addr);
            links.entry(spec.name.clone()).or_default();
            for other in &spec.neighbours {
                links
                    .entry(spec.name.clone())
                    .or_default()
                    .insert(other.clone());
                links
                    .entry(other.clone())
                    .or_default()
                    .insert(spec.name.clone());
            }
        }
        Ok(Topology {
            names: herd.servers().iter().map(|s| s.name.clone()).collect(),
            addresses,
            links,
        })
    }

    /// Server names in herd-file order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The address of `name`.
    pub fn address(&self, name: &str) -> Option<SocketAddr> {
        self.addresses.get(name).copied()
    }

    /// The neighbours of `name`.
    pub fn neighbours(&self, name: &str) -> Vec<String> {
        self.links
            .get(name)
            .map(|n| n.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The servers an update received at `origin` reaches when the servers in `down` are
    /// stopped: `origin` and every running server linked to it through running servers.
    pub fn reach(&self, origin: &str, down: &BTreeSet<String>) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        if down.contains(origin) || !self.links.contains_key(origin) {
            return seen;
        }
        let mut queue = VecDeque::from([origin.to_owned()]);
        seen.insert(origin.to_owned());
        while let Some(server) = queue.pop_front() {
            for next in self.links.get(&server).into_iter().flatten() {
                if !down.contains(next) && seen.insert(next.clone()) {
                    queue.push_back(next.clone());
                }
            }
        }
        seen
    }

    /// How many links separate `from` and `to` with every server up (`None`: not connected).
    pub fn hops(&self, from: &str, to: &str) -> Option<usize> {
        let mut dist = BTreeMap::from([(from.to_owned(), 0usize)]);
        let mut queue = VecDeque::from([from.to_owned()]);
        while let Some(server) = queue.pop_front() {
            let d = dist[&server];
            if server == to {
                return Some(d);
            }
            for next in self.links.get(&server).into_iter().flatten() {
                if !dist.contains_key(next) {
                    dist.insert(next.clone(), d + 1);
                    queue.push_back(next.clone());
                }
            }
        }
        None
    }

    /// Two servers as far apart as the herd allows (for races between distant servers).
    pub fn farthest_pair(&self) -> Option<(String, String)> {
        let mut best: Option<(usize, &String, &String)> = None;
        for a in &self.names {
            for b in &self.names {
                if let Some(h) = self.hops(a, b)
                    && best.is_none_or(|(d, _, _)| h > d)
                {
                    best = Some((h, a, b));
                }
            }
        }
        best.filter(|(d, _, _)| *d > 0)
            .map(|(_, a, b)| (a.clone(), b.clone()))
    }

    /// Every unordered pair of servers, in herd-file order.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for (i, a) in self.names.iter().enumerate() {
            for b in &self.names[i + 1..] {
                pairs.push((a.clone(), b.clone()));
            }
        }
        pairs
    }
}

fn resolve(address: &str) -> Option<SocketAddr> {
    use std::net::ToSocketAddrs as _;
    address.to_socket_addrs().ok()?.next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn winter21() -> Topology {
        Topology::from_herd(&Herd::load("winter21").expect("preset")).expect("topology")
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn reach_follows_running_links_only() {
        let t = winter21();
        assert_eq!(
            t.reach("Riley", &set(&[])),
            set(&["Riley", "Jaquez", "Juzang", "Campbell", "Bernard"])
        );
        // Riley's only neighbours are Jaquez and Juzang.
        assert_eq!(
            t.reach("Riley", &set(&["Jaquez", "Juzang"])),
            set(&["Riley"])
        );
        assert_eq!(
            t.reach("Campbell", &set(&["Jaquez", "Juzang"])),
            set(&["Campbell", "Bernard"])
        );
        assert_eq!(
            t.reach("Jaquez", &set(&["Bernard"])),
            set(&["Jaquez", "Riley", "Juzang", "Campbell"])
        );
        assert!(t.reach("Riley", &set(&["Riley"])).is_empty());
    }

    #[test]
    fn shape() {
        let t = winter21();
        assert_eq!(t.pairs().len(), 10);
        assert_eq!(t.hops("Riley", "Campbell"), Some(2));
        assert_eq!(t.hops("Riley", "Riley"), Some(0));
        assert_eq!(t.neighbours("Riley"), vec!["Jaquez", "Juzang"]);
        let (a, b) = t.farthest_pair().expect("pair");
        assert_eq!(t.hops(&a, &b), Some(2));
    }
}
