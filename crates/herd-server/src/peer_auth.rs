//! Who may open a peer link, and the challenge–response that proves the herd's secret.
//!
//! The handshake (the README's "Peer links" section is its specification):
//!
//! ```text
//! linking server:    PEER <its name>
//! accepting server:  CHALLENGE <32 hex digits, a fresh random nonce>
//! linking server:    AUTH <HMAC-SHA256(secret, "herd-peer-v1\n<linker>\n<acceptor>\n<nonce>"), 64 hex digits>
//! ```
//!
//! after which the link carries AT lines as before. A wrong proof or any other line gets `? ` and
//! a copy, and the connection is closed: nothing it sends is stored or flooded. The secret never
//! crosses the wire, and a fresh nonce per link means a recorded handshake cannot be replayed.
//!
//! A herd without a secret speaks the original handshake (`PEER <name>`, then AT lines) and
//! accepts it only from the neighbour's configured IP address; the server warns at start-up that
//! its peers are unauthenticated. Either way a neighbour has at most one live link: a new one
//! replaces the old (so a neighbour that restarts relinks at once, and a half-open old link
//! cannot block it).

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use herd_wire::{Herd, PeerSecret};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

/// What the handshake's HMAC covers besides the names and the nonce (a version, so a later
/// handshake cannot be confused with this one).
const CONTEXT: &str = "herd-peer-v1";

/// How one server decides on the `PEER` handshakes it receives.
#[derive(Debug)]
pub struct PeerGate {
    me: String,
    secret: Option<PeerSecret>,
    /// Each neighbour's configured addresses (used only without a secret).
    addresses: HashMap<String, Vec<IpAddr>>,
    live: Arc<Mutex<HashMap<String, (u64, CancellationToken)>>>,
    next_link: AtomicU64,
}

/// The answer to `PEER <name>` from an allowed neighbour name.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// No secret, and the connection comes from the neighbour's address: the link is open.
    Open,
    /// Send `CHALLENGE <nonce>` and wait for the proof.
    Challenge(String),
    /// Refused, saying why (for the log).
    Refused(String),
}

/// A live peer link; dropping it frees its neighbour's slot.
#[derive(Debug)]
pub struct LiveLink {
    name: String,
    id: u64,
    /// Cancelled when a newer link of the same neighbour replaces this one.
    pub replaced: CancellationToken,
    live: Arc<Mutex<HashMap<String, (u64, CancellationToken)>>>,
}

impl Drop for LiveLink {
    fn drop(&mut self) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if live.get(&self.name).is_some_and(|(id, _)| *id == self.id) {
            live.remove(&self.name);
        }
    }
}

impl PeerGate {
    /// The gate of server `me` of `herd`; neighbour host names are resolved once, here.
    pub fn new(me: &str, herd: &Herd) -> PeerGate {
        let addresses = herd
            .server(me)
            .map(|spec| spec.neighbours.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|name| {
                let ips = herd
                    .server(&name)
                    .and_then(|s| s.address.to_socket_addrs().ok())
                    .map(|found| found.map(|a| a.ip()).collect())
                    .unwrap_or_default();
                (name, ips)
            })
            .collect();
        PeerGate {
            me: me.to_owned(),
            secret: herd.secret().cloned(),
            addresses,
            live: Arc::default(),
            next_link: AtomicU64::new(0),
        }
    }

    /// True when links must prove the herd's secret.
    pub fn authenticated(&self) -> bool {
        self.secret.is_some()
    }

    /// What a `PEER name` from `from` gets; `name` is known to be a neighbour.
    pub fn admit(&self, name: &str, from: IpAddr) -> Admission {
        if self.secret.is_some() {
            return Admission::Challenge(hex::encode(rand::random::<[u8; 16]>()));
        }
        let allowed = self
            .addresses
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if allowed.contains(&from) {
            Admission::Open
        } else {
            Admission::Refused(format!(
                "PEER {name} from {from}, but {name} is configured at {} (no secret: a peer is \
                 recognised by its address only)",
                allowed
                    .iter()
                    .map(IpAddr::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }

    /// Checks `line` as the `AUTH` answer of neighbour `name` to `nonce`.
    pub fn verify(&self, name: &str, nonce: &str, line: &[u8]) -> Result<(), String> {
        let Some(secret) = &self.secret else {
            return Err("no secret to check a proof against".to_owned());
        };
        let proof = line
            .strip_prefix(b"AUTH ")
            .ok_or_else(|| "expected `AUTH <proof>` after the CHALLENGE".to_owned())?;
        let proof = hex::decode(proof.trim_ascii())
            .map_err(|_| "the AUTH proof is not hexadecimal".to_owned())?;
        mac(secret, name, &self.me, nonce)
            .verify_slice(&proof)
            .map_err(|_| {
                "wrong AUTH proof: the neighbour does not know the herd's secret".to_owned()
            })
    }

    /// Records a new live link of `name`, replacing (cancelling) the one before.
    pub fn register(&self, name: &str) -> LiveLink {
        let id = self.next_link.fetch_add(1, Ordering::Relaxed);
        let replaced = CancellationToken::new();
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, old)) = live.insert(name.to_owned(), (id, replaced.clone())) {
            old.cancel();
        }
        LiveLink {
            name: name.to_owned(),
            id,
            replaced,
            live: Arc::clone(&self.live),
        }
    }
}

/// The linking side's `AUTH` line (with newline) for a `CHALLENGE` line from `acceptor`.
pub fn answer_challenge(
    secret: &PeerSecret,
    me: &str,
    acceptor: &str,
    challenge: &[u8],
) -> Result<Vec<u8>, String> {
    let nonce = challenge
        .strip_prefix(b"CHALLENGE ")
        .map(<[u8]>::trim_ascii)
        .filter(|n| !n.is_empty() && n.iter().all(u8::is_ascii_hexdigit))
        .ok_or_else(|| {
            format!(
                "expected `CHALLENGE <nonce>` from {acceptor}, got `{}` (does it have the herd's secret?)",
                String::from_utf8_lossy(challenge).trim_end()
            )
        })?;
    let nonce = String::from_utf8_lossy(nonce);
    let proof = hex::encode(mac(secret, me, acceptor, &nonce).finalize().into_bytes());
    Ok(format!("AUTH {proof}\n").into_bytes())
}

fn mac(secret: &PeerSecret, linker: &str, acceptor: &str, nonce: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(format!("{CONTEXT}\n{linker}\n{acceptor}\n{nonce}").as_bytes());
    mac
}

/// A fresh random secret for a herd that runs in one process (`herd-server --all`).
pub fn random_secret() -> PeerSecret {
    PeerSecret::new(&hex::encode(rand::random::<[u8; 32]>()))
        .unwrap_or_else(|| unreachable!("64 hex digits are not empty"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn herd(secret: Option<&str>) -> Herd {
        let mut herd = herd_wire::Preset::Winter21.herd();
        if let Some(secret) = secret.and_then(PeerSecret::new) {
            herd = herd.with_secret(secret);
        }
        herd
    }

    #[test]
    fn a_proof_from_the_secret_passes_and_any_other_fails() {
        let gate = PeerGate::new("Riley", &herd(Some("s3cret")));
        let Admission::Challenge(nonce) = gate.admit("Jaquez", [10, 0, 0, 9].into()) else {
            panic!("with a secret every PEER is challenged");
        };
        let challenge = format!("CHALLENGE {nonce}");
        let good = PeerSecret::new("s3cret").unwrap();
        let auth = answer_challenge(&good, "Jaquez", "Riley", challenge.as_bytes()).unwrap();
        assert_eq!(gate.verify("Jaquez", &nonce, auth.trim_ascii_end()), Ok(()));
        // The proof binds the names and the nonce, not only the secret.
        assert!(
            gate.verify("Juzang", &nonce, auth.trim_ascii_end())
                .is_err()
        );
        assert!(gate.verify("Jaquez", "00", auth.trim_ascii_end()).is_err());
        let bad = PeerSecret::new("guess").unwrap();
        let forged = answer_challenge(&bad, "Jaquez", "Riley", challenge.as_bytes()).unwrap();
        assert!(
            gate.verify("Jaquez", &nonce, forged.trim_ascii_end())
                .is_err()
        );
        assert!(
            gate.verify("Jaquez", &nonce, b"AT Jaquez +0.1 x +1+1 1")
                .is_err()
        );
        assert!(gate.verify("Jaquez", &nonce, b"AUTH zz").is_err());
    }

    #[test]
    fn without_a_secret_only_the_configured_address_may_link() {
        let gate = PeerGate::new("Riley", &herd(None));
        assert_eq!(gate.admit("Jaquez", [127, 0, 0, 1].into()), Admission::Open);
        assert!(matches!(
            gate.admit("Jaquez", [10, 1, 2, 3].into()),
            Admission::Refused(_)
        ));
    }

    #[test]
    fn a_new_link_replaces_the_old_one() {
        let gate = PeerGate::new("Riley", &herd(None));
        let first = gate.register("Jaquez");
        let second = gate.register("Jaquez");
        assert!(first.replaced.is_cancelled());
        drop(first);
        assert!(!second.replaced.is_cancelled());
        assert_eq!(gate.live.lock().unwrap().len(), 1);
        drop(second);
        assert!(gate.live.lock().unwrap().is_empty());
    }
}
