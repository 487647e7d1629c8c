//! Herd configuration: which servers exist, where they listen, and who links to whom.
//!
//! A herd is a TOML file of `[[server]]` tables (`name`, `address`, `neighbours`). Links are
//! bidirectional, so naming a neighbour on either side is enough. Every preset in protocol.md §6
//! ships inside the binary (from the repository's `herds/` folder).
//!
//! A herd may carry a shared secret for its peer links, at the top of the file: `secret = "..."`
//! or `secret_file = "path"` (relative to the herd file; the form for real deployments, so the
//! secret is not in a file that gets shared). Servers prove knowledge of it when they link.
//!
//! A `[[route]]` table (`from`, `to`, `via`) makes server `from` dial `via` instead of `to`'s
//! address for its link to `to`: tests put a fault-injecting proxy on a link this way.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

/// One server of a herd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    /// The server's name, as it appears in AT lines.
    pub name: String,
    /// `host:port` where it listens.
    pub address: String,
    /// Its neighbours' names (links from both sides), in the herd's server order.
    pub neighbours: Vec<String>,
}

impl ServerSpec {
    /// The port part of the address.
    pub fn port(&self) -> u16 {
        split_address(&self.address).map_or(0, |(_, port)| port)
    }
}

/// A validated herd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Herd {
    /// Where the herd came from: a preset name or a file path.
    pub origin: String,
    servers: Vec<ServerSpec>,
    secret: Option<PeerSecret>,
    routes: Vec<Route>,
}

/// A link dialled through another address (a proxy).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The server that dials.
    pub from: String,
    /// The neighbour it links to.
    pub to: String,
    /// The `host:port` it dials instead of `to`'s address.
    pub via: String,
}

/// The herd's shared peer-link secret; never printed (`Debug` shows its length only).
#[derive(Clone, PartialEq, Eq)]
pub struct PeerSecret(String);

impl PeerSecret {
    /// A secret from its text; `None` when it is empty or only white space.
    pub fn new(text: &str) -> Option<PeerSecret> {
        let text = text.trim();
        (!text.is_empty()).then(|| PeerSecret(text.to_owned()))
    }

    /// The secret's bytes, for the HMAC key.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for PeerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PeerSecret(<{} bytes>)", self.0.len())
    }
}

/// A herd that could not be loaded, with the line to look at where there is one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HerdError {
    #[error("{origin}: cannot read the herd file: {cause}")]
    Read { origin: String, cause: String },
    #[error("{origin}: not a valid herd file: {cause}")]
    Syntax { origin: String, cause: String },
    #[error("{origin}:{line}: {problem}")]
    Invalid {
        origin: String,
        line: usize,
        problem: String,
    },
    #[error("{origin}: a herd needs at least one [[server]]")]
    Empty { origin: String },
    #[error(
        "unknown herd `{0}`: name a preset (winter21, spring21, spring20, winter18, recent) or a .toml file"
    )]
    Unknown(String),
}

/// The herds of past course terms, built in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    Winter21,
    Spring21,
    Spring20,
    Winter18,
    Recent,
}

impl Preset {
    /// Every preset, the default first.
    pub const ALL: [Preset; 5] = [
        Preset::Winter21,
        Preset::Spring21,
        Preset::Spring20,
        Preset::Winter18,
        Preset::Recent,
    ];

    /// The preset's name, as `--herd` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Winter21 => "winter21",
            Preset::Spring21 => "spring21",
            Preset::Spring20 => "spring20",
            Preset::Winter18 => "winter18",
            Preset::Recent => "recent",
        }
    }

    /// The preset's TOML text, as in `herds/NAME.toml`.
    pub fn toml(self) -> &'static str {
        match self {
            Preset::Winter21 => include_str!("../../../herds/winter21.toml"),
            Preset::Spring21 => include_str!("../../../herds/spring21.toml"),
            Preset::Spring20 => include_str!("../../../herds/spring20.toml"),
            Preset::Winter18 => include_str!("../../../herds/winter18.toml"),
            Preset::Recent => include_str!("../../../herds/recent.toml"),
        }
    }

    /// The preset called `name`, if any.
    pub fn by_name(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The preset as a herd. Presets are checked by the tests, so this cannot fail at run time.
    pub fn herd(self) -> Herd {
        Herd::from_toml(self.toml(), self.name())
            .unwrap_or_else(|e| unreachable!("built-in preset {} is invalid: {e}", self.name()))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HerdFile {
    secret: Option<Spanned<String>>,
    secret_file: Option<Spanned<String>>,
    #[serde(default)]
    server: Vec<ServerEntry>,
    #[serde(default)]
    route: Vec<Spanned<Route>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerEntry {
    name: Spanned<String>,
    address: Spanned<String>,
    #[serde(default)]
    neighbours: Vec<Spanned<String>>,
}

fn split_address(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse().ok()?;
    (!host.is_empty()).then_some((host, port))
}

impl Herd {
    /// `spec` is a preset name or a path to a TOML file.
    pub fn load(spec: &str) -> Result<Herd, HerdError> {
        if let Some(preset) = Preset::by_name(spec) {
            return Ok(preset.herd());
        }
        let path = Path::new(spec);
        if !spec.ends_with(".toml") && !path.exists() {
            return Err(HerdError::Unknown(spec.to_owned()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| HerdError::Read {
            origin: spec.to_owned(),
            cause: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Herd::from_toml_in(&text, spec, base)
    }

    /// Parses and validates herd TOML; `origin` names it in errors. A `secret_file` is read
    /// relative to the current directory.
    pub fn from_toml(text: &str, origin: &str) -> Result<Herd, HerdError> {
        Herd::from_toml_in(text, origin, Path::new("."))
    }

    /// Parses and validates herd TOML; a `secret_file` is read relative to `base`.
    fn from_toml_in(text: &str, origin: &str, base: &Path) -> Result<Herd, HerdError> {
        let file: HerdFile = toml::from_str(text).map_err(|e| HerdError::Syntax {
            origin: origin.to_owned(),
            cause: e.to_string().trim_end().replace('\n', " "),
        })?;
        let line_of = |span: std::ops::Range<usize>| {
            text[..span.start.min(text.len())].matches('\n').count() + 1
        };
        let invalid = |span, problem: String| HerdError::Invalid {
            origin: origin.to_owned(),
            line: line_of(span),
            problem,
        };
        if file.server.is_empty() {
            return Err(HerdError::Empty {
                origin: origin.to_owned(),
            });
        }
        let mut names = BTreeSet::new();
        let mut addresses = BTreeSet::new();
        for entry in &file.server {
            let name = entry.name.get_ref();
            if name.is_empty() || name.chars().any(char::is_whitespace) {
                return Err(invalid(
                    entry.name.span(),
                    format!("server name `{name}` must be one word"),
                ));
            }
            if !names.insert(name.as_str()) {
                return Err(invalid(
                    entry.name.span(),
                    format!("server `{name}` is defined twice"),
                ));
            }
            let address = entry.address.get_ref();
            if split_address(address).is_none() {
                return Err(invalid(
                    entry.address.span(),
                    format!("address `{address}` of {name} is not HOST:PORT"),
                ));
            }
            if !addresses.insert(address.as_str()) {
                return Err(invalid(
                    entry.address.span(),
                    format!("address `{address}` of {name} is already used by another server"),
                ));
            }
        }
        let mut links = BTreeSet::new();
        for entry in &file.server {
            let name = entry.name.get_ref();
            for neighbour in &entry.neighbours {
                let other = neighbour.get_ref();
                if other == name {
                    return Err(invalid(
                        neighbour.span(),
                        format!("server {name} names itself as a neighbour"),
                    ));
                }
                if !names.contains(other.as_str()) {
                    return Err(invalid(
                        neighbour.span(),
                        format!("neighbour `{other}` of {name} is not a server of this herd"),
                    ));
                }
                links.insert((name.as_str(), other.as_str()));
                links.insert((other.as_str(), name.as_str()));
            }
        }
        let order: Vec<&str> = file
            .server
            .iter()
            .map(|e| e.name.get_ref().as_str())
            .collect();
        let servers = file
            .server
            .iter()
            .map(|entry| {
                let name = entry.name.get_ref().as_str();
                ServerSpec {
                    name: name.to_owned(),
                    address: entry.address.get_ref().clone(),
                    neighbours: order
                        .iter()
                        .filter(|other| links.contains(&(name, **other)))
                        .map(|other| (*other).to_owned())
                        .collect(),
                }
            })
            .collect();
        let secret = match (&file.secret, &file.secret_file) {
            (Some(_), Some(both)) => {
                return Err(invalid(
                    both.span(),
                    "give either `secret` or `secret_file`, not both".to_owned(),
                ));
            }
            (Some(text), None) => Some(
                PeerSecret::new(text.get_ref())
                    .ok_or_else(|| invalid(text.span(), "`secret` is empty".to_owned()))?,
            ),
            (None, Some(file_name)) => {
                let path = base.join(file_name.get_ref());
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    invalid(
                        file_name.span(),
                        format!("cannot read secret_file {}: {e}", path.display()),
                    )
                })?;
                Some(PeerSecret::new(&text).ok_or_else(|| {
                    invalid(
                        file_name.span(),
                        format!("secret_file {} is empty", path.display()),
                    )
                })?)
            }
            (None, None) => None,
        };
        let mut routes = Vec::new();
        for route in &file.route {
            let r = route.get_ref();
            if !links.contains(&(r.from.as_str(), r.to.as_str())) {
                return Err(invalid(
                    route.span(),
                    format!("route from {} to {}: they are not neighbours", r.from, r.to),
                ));
            }
            if split_address(&r.via).is_none() {
                return Err(invalid(
                    route.span(),
                    format!("route via `{}` is not HOST:PORT", r.via),
                ));
            }
            routes.push(r.clone());
        }
        Ok(Herd {
            origin: origin.to_owned(),
            servers,
            secret,
            routes,
        })
    }

    /// The address server `from` dials for its link to `to`: a route's `via`, or `to`'s address.
    pub fn link_address(&self, from: &str, to: &str) -> Option<&str> {
        self.routes
            .iter()
            .find(|r| r.from == from && r.to == to)
            .map(|r| r.via.as_str())
            .or_else(|| self.server(to).map(|s| s.address.as_str()))
    }

    /// The same herd with server `from`'s link to `to` dialled through `via`.
    pub fn with_route(mut self, from: &str, to: &str, via: &str) -> Herd {
        self.routes.retain(|r| !(r.from == from && r.to == to));
        self.routes.push(Route {
            from: from.to_owned(),
            to: to.to_owned(),
            via: via.to_owned(),
        });
        self
    }

    /// The shared secret of the herd's peer links, if it has one.
    pub fn secret(&self) -> Option<&PeerSecret> {
        self.secret.as_ref()
    }

    /// The same herd with `secret` for its peer links.
    pub fn with_secret(mut self, secret: PeerSecret) -> Herd {
        self.secret = Some(secret);
        self
    }

    /// The servers, in file order.
    pub fn servers(&self) -> &[ServerSpec] {
        &self.servers
    }

    /// The server called `name`.
    pub fn server(&self, name: &str) -> Option<&ServerSpec> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// The server names, in file order.
    pub fn names(&self) -> Vec<&str> {
        self.servers.iter().map(|s| s.name.as_str()).collect()
    }

    /// The same herd with every server moved to `127.0.0.1:port`, ports in server order
    /// (tests put herds on free ports this way).
    pub fn on_ports(&self, ports: &[u16]) -> Herd {
        let mut herd = self.clone();
        for (server, port) in herd.servers.iter_mut().zip(ports) {
            server.address = format!("127.0.0.1:{port}");
        }
        herd
    }

    /// The herd as TOML, in the format [`Herd::from_toml`] reads (every link listed on both sides).
    pub fn to_toml(&self) -> String {
        let mut out = format!("# herd {}\n", self.origin);
        if let Some(secret) = &self.secret {
            out.push_str(&format!("secret = {:?}\n", secret.0));
        }
        for s in &self.servers {
            let neighbours: Vec<String> = s.neighbours.iter().map(|n| format!("{:?}", n)).collect();
            out.push_str(&format!(
                "\n[[server]]\nname = {:?}\naddress = {:?}\nneighbours = [{}]\n",
                s.name,
                s.address,
                neighbours.join(", ")
            ));
        }
        for r in &self.routes {
            out.push_str(&format!(
                "\n[[route]]\nfrom = {:?}\nto = {:?}\nvia = {:?}\n",
                r.from, r.to, r.via
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_loads_with_five_servers_on_the_default_ports() {
        for preset in Preset::ALL {
            let herd = preset.herd();
            assert_eq!(herd.servers().len(), 5, "{}", preset.name());
            let ports: Vec<u16> = herd.servers().iter().map(ServerSpec::port).collect();
            assert_eq!(ports, vec![12000, 12001, 12002, 12003, 12004]);
        }
    }

    #[test]
    fn winter21_matches_the_spec_topology() {
        let herd = Preset::Winter21.herd();
        assert_eq!(
            herd.names(),
            vec!["Riley", "Jaquez", "Juzang", "Campbell", "Bernard"]
        );
        let n = |name| herd.server(name).unwrap().neighbours.clone();
        assert_eq!(n("Riley"), vec!["Jaquez", "Juzang"]);
        assert_eq!(n("Bernard"), vec!["Jaquez", "Juzang", "Campbell"]);
        assert_eq!(n("Campbell"), vec!["Juzang", "Bernard"]);
    }

    #[test]
    fn a_link_named_on_one_side_counts_for_both() {
        let herd = Herd::from_toml(
            "[[server]]\nname='A'\naddress='h:1'\nneighbours=['B']\n[[server]]\nname='B'\naddress='h:2'\n",
            "t",
        )
        .unwrap();
        assert_eq!(herd.server("B").unwrap().neighbours, vec!["A"]);
    }

    #[test]
    fn errors_name_the_line() {
        let err = |text: &str| Herd::from_toml(text, "h.toml").unwrap_err().to_string();
        assert_eq!(
            err("[[server]]\nname='A'\naddress='h:1'\nneighbours=['C']\n"),
            "h.toml:4: neighbour `C` of A is not a server of this herd"
        );
        assert_eq!(
            err("[[server]]\nname='A'\naddress='h:1'\nneighbours=['A']\n"),
            "h.toml:4: server A names itself as a neighbour"
        );
        assert_eq!(
            err("[[server]]\nname='A'\naddress='h:1'\n[[server]]\nname='B'\naddress='h:1'\n"),
            "h.toml:6: address `h:1` of B is already used by another server"
        );
        assert_eq!(
            err("[[server]]\nname='A'\naddress='h:1'\n[[server]]\nname='A'\naddress='h:2'\n"),
            "h.toml:5: server `A` is defined twice"
        );
        assert_eq!(
            err("[[server]]\nname='A'\naddress='nope'\n"),
            "h.toml:3: address `nope` of A is not HOST:PORT"
        );
        assert!(err("").contains("at least one"));
        assert!(err("[[server]]\nname='A'\n").contains("not a valid herd file"));
    }

    #[test]
    fn to_toml_round_trips() {
        let herd = Preset::Recent.herd().on_ports(&[1, 2, 3, 4, 5]);
        let again = Herd::from_toml(&herd.to_toml(), "recent").unwrap();
        assert_eq!(again.servers(), herd.servers());
    }

    #[test]
    fn unknown_names_say_what_is_accepted() {
        assert!(
            Herd::load("winter99")
                .unwrap_err()
                .to_string()
                .contains("winter21")
        );
    }

    #[test]
    fn a_secret_is_read_inline_or_from_a_file_next_to_the_herd_and_never_printed() {
        let two = "[[server]]\nname='A'\naddress='h:1'\nneighbours=['B']\n[[server]]\nname='B'\naddress='h:2'\n";
        let inline = Herd::from_toml(&format!("secret = ' s3cret '\n{two}"), "t").unwrap();
        assert_eq!(
            inline.secret().map(PeerSecret::as_bytes),
            Some(&b"s3cret"[..])
        );
        assert!(!format!("{inline:?}").contains("s3cret"));
        assert_eq!(
            Herd::from_toml(&inline.to_toml(), "t").unwrap().secret(),
            inline.secret()
        );

        let dir = std::env::temp_dir().join(format!("herd-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("peer.key"), "from-file\n").unwrap();
        let file = dir.join("herd.toml");
        std::fs::write(&file, format!("secret_file = 'peer.key'\n{two}")).unwrap();
        let loaded = Herd::load(file.to_str().unwrap()).unwrap();
        assert_eq!(
            loaded.secret().map(PeerSecret::as_bytes),
            Some(&b"from-file"[..])
        );
        std::fs::write(&file, format!("secret_file = 'missing.key'\n{two}")).unwrap();
        let error = Herd::load(file.to_str().unwrap()).unwrap_err().to_string();
        assert!(error.contains("cannot read secret_file"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);

        let both = Herd::from_toml(&format!("secret='a'\nsecret_file='b'\n{two}"), "t");
        assert!(both.unwrap_err().to_string().contains("not both"));
        let empty = Herd::from_toml(&format!("secret=' '\n{two}"), "t");
        assert!(empty.unwrap_err().to_string().contains("empty"));
        assert!(Preset::Winter21.herd().secret().is_none());
    }

    #[test]
    fn a_route_changes_only_the_address_its_server_dials() {
        let two = "[[server]]\nname='A'\naddress='h:1'\nneighbours=['B']\n[[server]]\nname='B'\naddress='h:2'\n";
        let herd = Herd::from_toml(
            &format!("{two}[[route]]\nfrom='A'\nto='B'\nvia='p:9'\n"),
            "t",
        )
        .unwrap();
        assert_eq!(herd.link_address("A", "B"), Some("p:9"));
        assert_eq!(herd.link_address("B", "A"), Some("h:1"));
        assert_eq!(Herd::from_toml(&herd.to_toml(), "t").unwrap(), herd);
        let stray = Herd::from_toml(
            &format!("{two}[[route]]\nfrom='A'\nto='C'\nvia='p:9'\n"),
            "t",
        );
        assert!(stray.unwrap_err().to_string().contains("not neighbours"));
    }
}
