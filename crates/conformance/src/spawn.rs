//! Process control for `--spawn`: starts an implementation's servers from a command template,
//! each in its own process group, waits until each listens, and stops them — one at a time (for
//! herd-wide resilience tests) or all at once when the [`Spawner`] is dropped, so no process is
//! left behind on success, failure or Ctrl-C.
//!
//! Template placeholders: `{name}` (server name), `{port}`, `{host}`, `{places_url}`, `{herd}`
//! (a herd TOML file the suite writes with every server's real address), `{log_dir}`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context as _, bail};
use herd_wire::Herd;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::time::Instant;

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "{name}",
    "{port}",
    "{host}",
    "{places_url}",
    "{herd}",
    "{log_dir}",
];

/// How long a spawned server may take to start listening.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Starts and stops the servers of one herd from a command template.
#[derive(Debug)]
pub struct Spawner {
    template: String,
    herd: Herd,
    herd_file: PathBuf,
    places_url: String,
    /// Taken out only on drop, to keep the folder when [`Spawner::keep_logs`] was called.
    dir: Option<tempfile::TempDir>,
    keep: std::sync::atomic::AtomicBool,
    children: Mutex<HashMap<String, Child>>,
}

impl Spawner {
    /// Checks `template`, gives every server of `herd` a free port on 127.0.0.1 and writes the
    /// herd file the servers may read.
    ///
    /// A template without `{port}` and `{herd}` cannot tell a server where to listen, so the
    /// servers must use the herd file's own ports (a course submission with ports in its code);
    /// those must be free.
    pub fn new(template: &str, herd: &Herd, places_url: &str) -> anyhow::Result<Spawner> {
        check_template(template)?;
        let herd = if uses_herd_ports(template) {
            for spec in herd.servers() {
                if std::net::TcpStream::connect(&spec.address).is_ok() {
                    bail!(
                        "{} of herd {} should listen on {}, but something already does: stop it, \
                         or pass {{port}} in --spawn, or use a herd file with free ports",
                        spec.name,
                        herd.origin,
                        spec.address
                    );
                }
            }
            herd.clone()
        } else {
            let listeners = herd
                .servers()
                .iter()
                .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
                .collect::<Result<Vec<_>, _>>()
                .context("cannot find free ports on 127.0.0.1")?;
            let ports = listeners
                .iter()
                .map(|l| l.local_addr().map(|a| a.port()))
                .collect::<Result<Vec<_>, _>>()?;
            drop(listeners);
            herd.on_ports(&ports)
        };
        let dir = tempfile::Builder::new()
            .prefix("conformance-spawn-")
            .tempdir()
            .context("cannot create a temporary folder for the spawned servers")?;
        let herd_file = dir.path().join("herd.toml");
        std::fs::write(&herd_file, herd.to_toml())
            .with_context(|| format!("cannot write {}", herd_file.display()))?;
        std::fs::create_dir_all(dir.path().join("logs"))?;
        Ok(Spawner {
            template: template.to_owned(),
            herd,
            herd_file,
            places_url: places_url.to_owned(),
            dir: Some(dir),
            keep: std::sync::atomic::AtomicBool::new(false),
            children: Mutex::new(HashMap::new()),
        })
    }

    /// The herd with the ports the servers were given.
    pub fn herd(&self) -> &Herd {
        &self.herd
    }

    /// Where the servers' logs and captured output go.
    pub fn log_dir(&self) -> PathBuf {
        self.dir
            .as_ref()
            .map(|d| d.path().join("logs"))
            .unwrap_or_default()
    }

    /// Keeps the logs folder after the run (for a grader to read after failures).
    pub fn keep_logs(&self) -> PathBuf {
        self.keep.store(true, std::sync::atomic::Ordering::Relaxed);
        self.log_dir()
    }

    /// The address of server `name`.
    pub fn address(&self, name: &str) -> anyhow::Result<SocketAddr> {
        let spec = self
            .herd
            .server(name)
            .with_context(|| format!("`{name}` is not a server of the herd"))?;
        spec.address
            .parse()
            .with_context(|| format!("bad address {} for {name}", spec.address))
    }

    /// The shell command that starts server `name`.
    pub fn command_for(&self, name: &str) -> anyhow::Result<String> {
        let addr = self.address(name)?;
        let log_dir = self.log_dir();
        let values = [
            ("{name}", name.to_owned()),
            ("{port}", addr.port().to_string()),
            ("{host}", addr.ip().to_string()),
            ("{places_url}", self.places_url.clone()),
            ("{herd}", self.herd_file.display().to_string()),
            ("{log_dir}", log_dir.display().to_string()),
        ];
        let mut command = self.template.clone();
        for (key, value) in values {
            command = command.replace(key, &shell_quote(&value));
        }
        Ok(command)
    }

    /// Starts server `name` and waits until it accepts connections.
    pub async fn start(&self, name: &str) -> anyhow::Result<()> {
        let command = self.command_for(name)?;
        let addr = self.address(name)?;
        let out_path = self.log_dir().join(format!("{name}.out"));
        // Appended, so a restarted server's earlier output is kept.
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)?;
        let err = out.try_clone()?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot run `{command}`"))?;
        let pid = child.id();
        if let Ok(mut children) = self.children.lock() {
            children.insert(name.to_owned(), child);
        }
        let give_up = Instant::now() + START_TIMEOUT;
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if let Some(status) = self.exited(name) {
                bail!(
                    "server {name} (pid {pid}) exited with {status} before listening on {addr}\n  command: {command}\n  its output:\n{}",
                    tail(&out_path, 12)
                );
            }
            if Instant::now() > give_up {
                self.kill(name);
                bail!(
                    "server {name} did not listen on {addr} within {} s\n  command: {command}\n  its output:\n{}",
                    START_TIMEOUT.as_secs(),
                    tail(&out_path, 12)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops server `name`: SIGTERM to its process group, SIGKILL after 2 s. Returns once every
    /// process of the group is gone (the shell may exit before the server it started, whose
    /// listening socket would still accept connections).
    pub async fn stop(&self, name: &str) -> anyhow::Result<()> {
        let Some(mut child) = self.children.lock().ok().and_then(|mut c| c.remove(name)) else {
            bail!("server {name} is not running under the suite");
        };
        signal_group(&child, Signal::SIGTERM);
        let give_up = Instant::now() + Duration::from_secs(2);
        while Instant::now() < give_up {
            let _ = child.try_wait();
            if group_gone(&child) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        signal_group(&child, Signal::SIGKILL);
        let _ = child.wait();
        let give_up = Instant::now() + Duration::from_secs(1);
        while !group_gone(&child) && Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Whether server `name` is running under the suite.
    pub fn is_running(&self, name: &str) -> bool {
        self.children.lock().is_ok_and(|c| c.contains_key(name)) && self.exited(name).is_none()
    }

    /// The exit status if server `name` has exited.
    fn exited(&self, name: &str) -> Option<std::process::ExitStatus> {
        let mut children = self.children.lock().ok()?;
        children.get_mut(name)?.try_wait().ok().flatten()
    }

    fn kill(&self, name: &str) {
        if let Some(mut child) = self.children.lock().ok().and_then(|mut c| c.remove(name)) {
            signal_group(&child, Signal::SIGKILL);
            let _ = child.wait();
        }
    }

    /// Kills every server now (also done on drop).
    pub fn kill_all(&self) {
        let children: Vec<Child> = self
            .children
            .lock()
            .map(|mut c| c.drain().map(|(_, child)| child).collect())
            .unwrap_or_default();
        for mut child in children {
            signal_group(&child, Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.kill_all();
        if self.keep.load(std::sync::atomic::Ordering::Relaxed)
            && let Some(dir) = self.dir.take()
        {
            let _ = dir.keep();
        }
    }
}

/// True when no live process of the child's group is left. Zombies do not count: a server
/// whose shell died first is reparented, and in a container nobody may ever reap it.
fn group_gone(child: &Child) -> bool {
    let Ok(pgid) = i32::try_from(child.id()) else {
        return true;
    };
    match live_members(pgid) {
        Some(n) => n == 0,
        // No /proc: ask the kernel (a zombie then counts as alive).
        None => killpg(Pid::from_raw(pgid), None) == Err(nix::errno::Errno::ESRCH),
    }
}

/// How many processes of group `pgid` are alive (not zombies), from /proc.
fn live_members(pgid: i32) -> Option<usize> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut live = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        if fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid)
            && fields.first() != Some(&"Z")
        {
            live += 1;
        }
    }
    Some(live)
}

/// Signals the whole process group the child leads (the shell and what it started).
fn signal_group(child: &Child, signal: Signal) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

/// Whether servers started from `template` must listen on the herd file's ports (it passes
/// neither `{port}` nor `{herd}`).
pub fn uses_herd_ports(template: &str) -> bool {
    !template.contains("{port}") && !template.contains("{herd}")
}

/// Rejects templates with unknown placeholders or no server name.
pub fn check_template(template: &str) -> anyhow::Result<()> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        let Some(close) = after.find('}') else {
            break;
        };
        let placeholder = &after[..=close];
        if !PLACEHOLDERS.contains(&placeholder) {
            bail!(
                "unknown placeholder {placeholder} in --spawn; use {}",
                PLACEHOLDERS.join(" ")
            );
        }
        rest = &after[close + 1..];
    }
    if !template.contains("{name}") && !template.contains("{port}") {
        bail!(
            "--spawn needs {{name}} (or {{port}}) so each server of the herd gets its own command"
        );
    }
    Ok(())
}

/// Quotes `value` for `sh` when it holds anything but safe characters.
pub fn shell_quote(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// The last `lines` lines of a file, indented.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let from = all.len().saturating_sub(lines);
    if all.is_empty() {
        return "    (nothing)".to_owned();
    }
    all[from..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert!(
            check_template("python s.py {name} --port {port} --places-url {places_url}").is_ok()
        );
        assert!(check_template("run {herd} {name}").is_ok());
        let unknown = check_template("run {nmae} {port}")
            .err()
            .map(|e| e.to_string());
        assert!(unknown.is_some_and(|e| e.contains("{nmae}")));
        assert!(check_template("run {name}").is_ok());
        assert!(uses_herd_ports("python3 server.py {name}"));
        assert!(!uses_herd_ports("run {herd} {name}"));
        assert!(check_template("run").is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("http://127.0.0.1:80"), "http://127.0.0.1:80");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
