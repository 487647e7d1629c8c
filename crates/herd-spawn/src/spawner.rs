//! [`Spawner`]: starts each server from the template in its own process group, waits until the
//! server itself listens on its port, and stops servers — one at a time (for resilience tests)
//! or all at once when the spawner is dropped, so nothing is left behind on success, failure or
//! Ctrl-C.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use herd_wire::Herd;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::time::Instant;

use crate::procfs::{self, Listener};
use crate::template::{check_template, shell_quote, uses_herd_ports};

/// How long a spawned server may take to start listening.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How many times a herd is started on fresh ports when another program takes one of them.
pub const PORT_ATTEMPTS: usize = 3;

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another program listens on the port the server was given, so connections there would
    /// reach that program instead of the server.
    #[error(
        "another program (not one started by the command) listens on {address}, the port server \
         {name} was given\n  command: {command}\n  its output:\n{output}"
    )]
    PortTaken {
        name: String,
        address: SocketAddr,
        command: String,
        output: String,
    },
    #[error(
        "server {name} (pid {pid}) exited with {status} before listening on {address}\n  \
         command: {command}\n  its output:\n{output}"
    )]
    Exited {
        name: String,
        pid: u32,
        status: ExitStatus,
        address: SocketAddr,
        command: String,
        output: String,
    },
    #[error(
        "server {name} did not listen on {address} within {} s\n  command: {command}\n  its \
         output:\n{output}", START_TIMEOUT.as_secs()
    )]
    NotListening {
        name: String,
        address: SocketAddr,
        command: String,
        output: String,
    },
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

/// How long a server that stopped listening may take to exit before it is reported as still
/// running.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// A server that went down without being stopped.
#[derive(Debug)]
pub struct Down {
    pub name: String,
    pub how: HowDown,
    /// The last lines of what it printed, indented.
    pub output: String,
}

/// How a server went down.
#[derive(Debug)]
pub enum HowDown {
    Exited(ExitStatus),
    /// Its process still runs, but nothing listens on its address any more.
    StoppedListening(SocketAddr),
}

impl std::fmt::Display for Down {
    /// `Riley exited (exit status: 1); its last output:` and the lines.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.how {
            HowDown::Exited(status) => write!(f, "{} exited ({status})", self.name)?,
            HowDown::StoppedListening(address) => write!(
                f,
                "{} stopped listening on {address} (its process still runs)",
                self.name
            )?,
        }
        write!(f, "; its last output:\n{}", self.output)
    }
}

/// Starts and stops the servers of one herd from a command template.
#[derive(Debug)]
pub struct Spawner {
    template: String,
    herd: Herd,
    herd_file: PathBuf,
    places_url: String,
    /// Taken out only on drop, to keep the folder when [`Spawner::keep_logs`] was called.
    dir: Option<tempfile::TempDir>,
    keep: AtomicBool,
    children: Mutex<HashMap<String, Child>>,
    restarts: Vec<String>,
}

/// `n` ports that were free on 127.0.0.1 a moment ago (the kernel's choice, so they differ from
/// one call to the next).
pub fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

impl Spawner {
    /// Checks `template`, gives every server of `herd` a free port on 127.0.0.1 (unless the
    /// template cannot tell servers their port: then the herd's own ports are used, and must be
    /// free), writes the herd file the servers may read, starts the servers `names` and waits
    /// until each listens. When another program takes a port before its server binds it, the
    /// whole herd is started again on new ports, up to [`PORT_ATTEMPTS`] times;
    /// [`Spawner::restarts`] says why.
    pub async fn launch(
        template: &str,
        herd: &Herd,
        places_url: &str,
        names: &[String],
    ) -> anyhow::Result<Spawner> {
        Spawner::launch_with(template, herd, places_url, names, free_ports).await
    }

    /// [`Spawner::launch`] with the ports of each attempt chosen by `choose_ports`.
    pub async fn launch_with(
        template: &str,
        herd: &Herd,
        places_url: &str,
        names: &[String],
        mut choose_ports: impl FnMut(usize) -> std::io::Result<Vec<u16>>,
    ) -> anyhow::Result<Spawner> {
        let own_ports = !uses_herd_ports(template);
        let mut restarts = Vec::new();
        for attempt in 1..=PORT_ATTEMPTS {
            let ports = if own_ports {
                Some(
                    choose_ports(herd.servers().len())
                        .context("cannot find free ports on 127.0.0.1")?,
                )
            } else {
                None
            };
            let mut spawner = Spawner::prepare(template, herd, places_url, ports.as_deref())?;
            let started =
                futures::future::join_all(names.iter().map(|name| spawner.start(name))).await;
            let mut failures: Vec<(&String, StartError)> = names
                .iter()
                .zip(started)
                .filter_map(|(name, r)| r.err().map(|e| (name, e)))
                .collect();
            let taken = failures
                .iter()
                .position(|(_, e)| matches!(e, StartError::PortTaken { .. }));
            match taken {
                None if failures.is_empty() => {
                    spawner.restarts = restarts;
                    return Ok(spawner);
                }
                Some(i) if own_ports && attempt < PORT_ATTEMPTS => {
                    let (name, _) = failures.swap_remove(i);
                    let address = spawner.address(name)?;
                    restarts.push(format!(
                        "another program took {address}, the port chosen for {name}; the herd \
                         was started again on new ports"
                    ));
                    spawner.kill_all();
                }
                _ => {
                    let i = taken.unwrap_or(0);
                    let (name, e) = failures.swap_remove(i);
                    return Err(
                        anyhow::Error::new(e).context(format!("cannot start server {name}"))
                    );
                }
            }
        }
        bail!("the herd could not be started on free ports in {PORT_ATTEMPTS} attempts")
    }

    fn prepare(
        template: &str,
        herd: &Herd,
        places_url: &str,
        ports: Option<&[u16]>,
    ) -> anyhow::Result<Spawner> {
        check_template(template)?;
        let herd = match ports {
            Some(ports) => herd.on_ports(ports),
            None => {
                for spec in herd.servers() {
                    if std::net::TcpStream::connect(&spec.address).is_ok() {
                        bail!(
                            "{} of herd {} should listen on {}, but something already does: stop \
                             it, or pass {{port}} in --spawn, or use a herd file with free ports",
                            spec.name,
                            herd.origin,
                            spec.address
                        );
                    }
                }
                herd.clone()
            }
        };
        let dir = tempfile::Builder::new()
            .prefix("herd-spawn-")
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
            keep: AtomicBool::new(false),
            children: Mutex::new(HashMap::new()),
            restarts: Vec::new(),
        })
    }

    /// The herd with the ports the servers were given.
    pub fn herd(&self) -> &Herd {
        &self.herd
    }

    /// Why [`Spawner::launch`] had to start the herd again, one line per time.
    pub fn restarts(&self) -> &[String] {
        &self.restarts
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
        self.keep.store(true, Ordering::Relaxed);
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
        let herd_file = self.herd_file.display().to_string();
        let values = [
            ("{name}", name.to_owned()),
            ("{port}", addr.port().to_string()),
            ("{host}", addr.ip().to_string()),
            ("{address}", addr.to_string()),
            ("{places_url}", self.places_url.clone()),
            ("{herd}", herd_file.clone()),
            ("{herd_file}", herd_file),
            ("{log_dir}", self.log_dir().display().to_string()),
        ];
        let mut command = self.template.clone();
        for (key, value) in values {
            command = command.replace(key, &shell_quote(&value));
        }
        Ok(command)
    }

    /// Starts server `name` and waits until a process the command started listens on its port.
    pub async fn start(&self, name: &str) -> Result<(), StartError> {
        let command = self.command_for(name)?;
        let address = self.address(name)?;
        let out_path = self.log_dir().join(format!("{name}.out"));
        // Appended, so a restarted server's earlier output is kept.
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)
            .with_context(|| format!("cannot write {}", out_path.display()))?;
        let err = out.try_clone().context("cannot share the output file")?;
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
        let pgid = i32::try_from(pid).context("pid out of range")?;
        if let Ok(mut children) = self.children.lock() {
            children.insert(name.to_owned(), child);
        }
        let output = || tail(&out_path, 12);
        let give_up = Instant::now() + START_TIMEOUT;
        let mut stranger = false;
        loop {
            if tokio::net::TcpStream::connect(address).await.is_ok() {
                match procfs::listener_on(address.port(), pgid) {
                    Listener::Group | Listener::Unknown => return Ok(()),
                    Listener::Stranger => stranger = true,
                    Listener::Nobody => {}
                }
            }
            let taken = || StartError::PortTaken {
                name: name.to_owned(),
                address,
                command: command.clone(),
                output: output(),
            };
            if let Some(status) = self.exited(name) {
                if stranger {
                    return Err(taken());
                }
                return Err(StartError::Exited {
                    name: name.to_owned(),
                    pid,
                    status,
                    address,
                    command,
                    output: output(),
                });
            }
            if Instant::now() > give_up {
                self.kill(name);
                if stranger {
                    return Err(taken());
                }
                return Err(StartError::NotListening {
                    name: name.to_owned(),
                    address,
                    command,
                    output: output(),
                });
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

    /// The pid of the process that leads server `name`'s process group (the shell, or the
    /// server itself when the shell replaced itself with it).
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.children.lock().ok()?.get(name).map(Child::id)
    }

    /// Whether server `name` is running under the spawner.
    pub fn is_running(&self, name: &str) -> bool {
        self.children.lock().is_ok_and(|c| c.contains_key(name)) && self.exited(name).is_none()
    }

    /// The servers that went down without being stopped: their processes exited, or nothing
    /// accepts connections on their address any more (a server can close its listener and
    /// linger while it shuts down, and clients are refused all the same). By name.
    ///
    /// Cheap enough to call after every test: a wait status and a connection attempt each.
    pub async fn down_servers(&self) -> Vec<Down> {
        let mut names: Vec<String> = self
            .children
            .lock()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        let mut down = Vec::new();
        for name in names {
            let how = match self.exited(&name) {
                Some(status) => HowDown::Exited(status),
                None => {
                    let Ok(address) = self.address(&name) else {
                        continue;
                    };
                    let connect = tokio::net::TcpStream::connect(address);
                    let refused = matches!(
                        tokio::time::timeout(Duration::from_secs(1), connect).await,
                        Ok(Err(_))
                    );
                    if !refused {
                        continue;
                    }
                    // A server that closed its listener is often on its way out: give it a
                    // moment, so it is reported with its exit status and final words.
                    match self.exit_within(&name, EXIT_GRACE).await {
                        Some(status) => HowDown::Exited(status),
                        None => HowDown::StoppedListening(address),
                    }
                }
            };
            let output = tail(&self.log_dir().join(format!("{name}.out")), 5);
            down.push(Down { name, how, output });
        }
        down
    }

    /// Starts server `name` again after it went down: kills what is left of it first.
    pub async fn restart(&self, name: &str) -> Result<(), StartError> {
        self.kill(name);
        self.start(name).await
    }

    /// Waits up to `grace` for server `name` to exit.
    async fn exit_within(&self, name: &str, grace: Duration) -> Option<ExitStatus> {
        let until = tokio::time::Instant::now() + grace;
        loop {
            if let Some(status) = self.exited(name) {
                return Some(status);
            }
            if tokio::time::Instant::now() >= until {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The exit status of server `name` once no process of its group is left.
    fn exited(&self, name: &str) -> Option<ExitStatus> {
        let mut children = self.children.lock().ok()?;
        let child = children.get_mut(name)?;
        let status = child.try_wait().ok().flatten()?;
        group_gone(child).then_some(status)
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
        if self.keep.load(Ordering::Relaxed)
            && let Some(dir) = self.dir.take()
        {
            let _ = dir.keep();
        }
    }
}

/// True when no live process of the child's group is left.
fn group_gone(child: &Child) -> bool {
    let Ok(pgid) = i32::try_from(child.id()) else {
        return true;
    };
    match procfs::live_members(pgid) {
        Some(members) => members.is_empty(),
        // No /proc: ask the kernel (a zombie then counts as alive).
        None => killpg(Pid::from_raw(pgid), None) == Err(nix::errno::Errno::ESRCH),
    }
}

/// Signals the whole process group the child leads (the shell and what it started).
fn signal_group(child: &Child, signal: Signal) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

/// The last `lines` lines of a file, indented.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    if all.is_empty() {
        return "    (nothing)".to_owned();
    }
    let from = all.len().saturating_sub(lines);
    // A dying process often prints follow-up tracebacks (tasks cancelled on the way out) after
    // the one that killed it: keep the first exception line above the tail, it says why.
    let cause = all[..from]
        .iter()
        .find(|l| is_exception_line(l))
        .map(|l| format!("    {l}\n    …"));
    cause
        .into_iter()
        .chain(all[from..].iter().map(|l| format!("    {l}")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A traceback's last line: `SomeError: why` or `SystemExit: 1`, unindented.
fn is_exception_line(line: &str) -> bool {
    let Some((name, _)) = line.split_once(':') else {
        return false;
    };
    !name.is_empty()
        && !name.starts_with(char::is_whitespace)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '_')
        && ["Error", "Exit", "Exception", "Interrupt"]
            .iter()
            .any(|end| name.ends_with(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_exception_that_killed_the_process() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("x.out");
        let text = "listening\nTraceback (most recent call last):\n  File \"a\"\nSystemExit: 1\n\
                    Traceback (most recent call last):\n  File \"b\"\n    await x\n\
                    asyncio.exceptions.CancelledError\n";
        std::fs::write(&out, text).expect("write");
        assert_eq!(
            tail(&out, 3),
            "    SystemExit: 1\n    …\n      File \"b\"\n        await x\n    asyncio.exceptions.CancelledError"
        );
        assert!(!is_exception_line("  File \"x\", line 3: Error"));
    }

    #[test]
    fn every_placeholder_is_filled_and_quoted() {
        let herd = herd_wire::Preset::Winter21.herd();
        let spawner = Spawner::prepare(
            "py s.py {name} --port {port} --host {host} --at {address} --herd {herd} \
             --same {herd_file} --places {places_url} --logs {log_dir}",
            &herd,
            "http://127.0.0.1:9/a b",
            Some(&[4000, 4001, 4002, 4003, 4004]),
        )
        .unwrap();
        let herd_file = spawner.herd_file.display().to_string();
        let log_dir = spawner.log_dir().display().to_string();
        let name = herd.names()[1];
        assert_eq!(
            spawner.command_for(name).unwrap(),
            format!(
                "py s.py {name} --port 4001 --host 127.0.0.1 --at 127.0.0.1:4001 --herd \
                 {herd_file} --same {herd_file} --places 'http://127.0.0.1:9/a b' --logs {log_dir}"
            )
        );
        let written = std::fs::read_to_string(&spawner.herd_file).unwrap();
        assert!(written.contains("127.0.0.1:4004"), "{written}");
    }
}
