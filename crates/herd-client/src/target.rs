//! Which server a command goes to: `--addr`, or `--server` looked up in `--herd`.

use herd_wire::Herd;

use crate::cli::TargetArgs;

/// One server to talk to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The server's name when it came from the herd.
    pub name: Option<String>,
    /// `host:port`.
    pub address: String,
}

impl Target {
    /// `Riley (127.0.0.1:12000)` or just the address.
    pub fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} ({})", self.address),
            None => self.address.clone(),
        }
    }
}

/// Loads `--herd`, with a message that says what was wrong.
pub fn load_herd(args: &TargetArgs) -> Result<Herd, String> {
    Herd::load(&args.herd).map_err(|e| e.to_string())
}

/// The one server a command talks to.
pub fn resolve(args: &TargetArgs) -> Result<Target, String> {
    if let Some(address) = &args.addr {
        check_address(address)?;
        return Ok(Target {
            name: None,
            address: address.clone(),
        });
    }
    let herd = load_herd(args)?;
    let spec = match &args.server {
        Some(name) => herd.server(name).ok_or_else(|| {
            format!(
                "no server `{name}` in herd {}; its servers are {}",
                herd.origin,
                herd.names().join(", ")
            )
        })?,
        None => herd
            .servers()
            .first()
            .ok_or_else(|| format!("herd {} has no servers", herd.origin))?,
    };
    Ok(Target {
        name: Some(spec.name.clone()),
        address: spec.address.clone(),
    })
}

/// Every server of the herd, in herd order (for `where`).
pub fn every_server(args: &TargetArgs) -> Result<Vec<Target>, String> {
    if args.addr.is_some() || args.server.is_some() {
        return Err(
            "`where` asks every server of a herd: choose the herd with --herd, not --addr or --server"
                .to_owned(),
        );
    }
    let herd = load_herd(args)?;
    Ok(herd
        .servers()
        .iter()
        .map(|spec| Target {
            name: Some(spec.name.clone()),
            address: spec.address.clone(),
        })
        .collect())
}

fn check_address(address: &str) -> Result<(), String> {
    let valid = address
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if valid {
        Ok(())
    } else {
        Err(format!(
            "--addr `{address}` is not HOST:PORT, like 127.0.0.1:12000"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Framing;
    use std::time::Duration;

    fn args(server: Option<&str>, addr: Option<&str>) -> TargetArgs {
        TargetArgs {
            server: server.map(str::to_owned),
            herd: "winter21".to_owned(),
            addr: addr.map(str::to_owned),
            framing: Framing::Line,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn defaults_to_the_first_server_of_the_herd() {
        let target = resolve(&args(None, None)).unwrap();
        assert_eq!(target.describe(), "Riley (127.0.0.1:12000)");
        let target = resolve(&args(Some("Bernard"), None)).unwrap();
        assert_eq!(target.address, "127.0.0.1:12004");
    }

    #[test]
    fn errors_say_what_exists() {
        let err = resolve(&args(Some("Nobody"), None)).unwrap_err();
        assert_eq!(
            err,
            "no server `Nobody` in herd winter21; its servers are Riley, Jaquez, Juzang, Campbell, Bernard"
        );
        assert!(
            resolve(&args(None, Some("nope")))
                .unwrap_err()
                .contains("HOST:PORT")
        );
        assert!(every_server(&args(None, Some("h:1"))).is_err());
        assert_eq!(every_server(&args(None, None)).unwrap().len(), 5);
    }
}
