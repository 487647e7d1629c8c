//! Network isolation of the submissions of a batch: where this process may create network
//! namespaces (`unshare -n`, root or user namespaces), each suite run gets its own, with only
//! loopback up, so submissions that hard-code the same ports run side by side; elsewhere they
//! share the machine's network and those submissions run one at a time.

use std::process::{Command, Stdio};

/// How the batch's suite runs are kept apart on the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// Each suite run (its stand-in, its servers) in a network namespace of its own.
    Namespaces,
    /// One shared network; the reason namespaces could not be used.
    Shared(String),
}

/// The shell that brings loopback up inside the new namespace and becomes the suite run
/// (`exec`, so the pid the batch signals is the suite's own).
const UP_AND_EXEC: &str = "ip link set lo up && exec \"$0\" \"$@\"";

impl Isolation {
    /// Tries once: `unshare --net` with loopback up and a loopback socket bound inside.
    pub fn detect() -> Isolation {
        let probe = Command::new("unshare")
            .args(["--net", "--", "sh", "-c"])
            .arg("ip link set lo up && ip -o link show lo | grep -q UP")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        match probe {
            Ok(out) if out.status.success() => Isolation::Namespaces,
            Ok(out) => Isolation::Shared(format!(
                "`unshare --net` with `ip link set lo up` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Isolation::Shared(format!("cannot run `unshare` ({e})")),
        }
    }

    /// True when submissions with fixed ports can run side by side.
    pub fn separates_ports(&self) -> bool {
        matches!(self, Isolation::Namespaces)
    }

    /// One line for the log and the summary.
    pub fn describe(&self) -> String {
        match self {
            Isolation::Namespaces => "network isolation: each submission in its own network \
                 namespace (unshare -n, loopback only), so fixed-port submissions run side by side"
                .to_owned(),
            Isolation::Shared(why) => format!(
                "network isolation: none ({why}); submissions that choose their own ports run \
                 one at a time"
            ),
        }
    }

    /// The program and leading arguments that start `exe` under this isolation.
    pub fn wrap(&self, exe: &std::path::Path) -> (std::ffi::OsString, Vec<std::ffi::OsString>) {
        match self {
            Isolation::Namespaces => (
                "unshare".into(),
                vec![
                    "--net".into(),
                    "--".into(),
                    "sh".into(),
                    "-c".into(),
                    UP_AND_EXEC.into(),
                    exe.as_os_str().to_owned(),
                ],
            ),
            Isolation::Shared(_) => (exe.as_os_str().to_owned(), Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_has_its_own_loopback_ports() {
        let isolation = Isolation::detect();
        if !isolation.separates_ports() {
            eprintln!("skipped: {}", isolation.describe());
            return;
        }
        // A port held here is free inside the namespace.
        let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = held.local_addr().expect("addr").port();
        let (program, mut args) = isolation.wrap(std::path::Path::new("python3"));
        args.extend([
            "-c".into(),
            format!("import socket; socket.socket().bind(('127.0.0.1', {port}))").into(),
        ]);
        let status = Command::new(program).args(args).status().expect("run");
        assert!(
            status.success(),
            "port {port} was taken inside the namespace"
        );
    }
}
