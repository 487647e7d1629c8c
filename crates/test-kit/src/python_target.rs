//! The Python target (`python/herd_server.py`) as a test double: finds or creates its venv and
//! starts its servers as real processes on given ports.
//!
//! One piece of code for every crate whose tests run the Python target, so that a fresh checkout
//! needs nothing but `cargo test`: the first caller creates `<workspace>/.venv` with the packages
//! of `python/requirements.txt` (under a file lock, so parallel tests do it once).

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::workspace::workspace_root;

/// The Python server script.
pub fn server_script() -> PathBuf {
    workspace_root().join("python/herd_server.py")
}

/// The Python interpreter to run the target with: `$HERD_PYTHON`, else the workspace venv,
/// created on first use.
pub fn python() -> anyhow::Result<PathBuf> {
    if let Some(python) = std::env::var_os("HERD_PYTHON") {
        return Ok(PathBuf::from(python));
    }
    let root = workspace_root();
    let venv = root.join(".venv");
    let python = venv.join("bin/python");
    let lock_path = root.join("target/.python-venv.lock");
    if let Some(parent) = lock_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    lock.lock().context("cannot lock the venv lock file")?;
    // The marker holds the requirements it was made with, so a venv made before a package was
    // added to requirements.txt gets it on the next use.
    let ready = venv.join(".herd-ready");
    let requirements = std::fs::read_to_string(root.join("python/requirements.txt"))
        .context("cannot read python/requirements.txt")?;
    if std::fs::read_to_string(&ready).ok().as_deref() != Some(requirements.as_str()) {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .context(
                "cannot run python3 to create the Python target's venv (is Python 3 installed?)",
            )?;
        if !status.success() {
            bail!("`python3 -m venv {}` failed", venv.display());
        }
        let status = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(root.join("python/requirements.txt"))
            .arg("pytest")
            .status()
            .context("cannot run pip in the Python target's venv")?;
        if !status.success() {
            bail!(
                "pip could not install python/requirements.txt into {} (is PyPI reachable?)",
                venv.display()
            );
        }
        std::fs::write(&ready, &requirements)?;
    }
    Ok(python)
}

/// [`python`] as text for a command line; panics when there is none: a test that needs the
/// Python target must not silently skip.
pub fn python_command() -> String {
    python()
        .expect("the Python target's interpreter")
        .display()
        .to_string()
}

/// The `--spawn` template (of `herd-spawn`) that starts the Python target, one process per
/// server, with these `--fault` switches on.
pub fn spawn_template(faults: &[&str]) -> String {
    let mut template = format!(
        "{} {} {{name}} --herd {{herd}} --port {{port}} --places-url {{places_url}} --log-dir {{log_dir}}",
        python_command(),
        server_script().display()
    );
    for fault in faults {
        template.push_str(&format!(" --fault {fault}"));
    }
    template
}

/// One running Python server; killed on drop.
#[derive(Debug)]
pub struct PythonServer {
    pub name: String,
    pub address: SocketAddr,
    child: Child,
}

/// How to start one Python server.
#[derive(Clone, Debug)]
pub struct PythonServerSpec<'a> {
    pub name: &'a str,
    pub herd_file: &'a Path,
    pub port: u16,
    pub places_url: &'a str,
    pub faults: &'a [&'a str],
    pub log_dir: &'a Path,
}

impl PythonServer {
    /// Starts the server and waits (up to 15 s) until its port accepts connections.
    pub fn start(spec: &PythonServerSpec<'_>) -> anyhow::Result<PythonServer> {
        let mut command = Command::new(python()?);
        command
            .arg(server_script())
            .arg(spec.name)
            .arg("--herd")
            .arg(spec.herd_file)
            .arg("--port")
            .arg(spec.port.to_string())
            .arg("--places-url")
            .arg(spec.places_url)
            .arg("--log-dir")
            .arg(spec.log_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group, so that the check below can tell its socket from another program's.
            .process_group(0);
        for fault in spec.faults {
            command.arg("--fault").arg(fault);
        }
        let child = command.spawn().context("cannot start the Python target")?;
        let address = SocketAddr::from(([127, 0, 0, 1], spec.port));
        let mut server = PythonServer {
            name: spec.name.to_owned(),
            address,
            child,
        };
        let pgid = i32::try_from(server.child.id())?;
        let deadline = Instant::now() + Duration::from_secs(15);
        // Listening means the target itself listens: a port chosen free a moment ago may have
        // been taken by another program since.
        while !herd_spawn::group_listens(address, pgid) {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "the Python target {} exited at start-up ({status}); is port {} taken?",
                    spec.name,
                    spec.port
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "the Python target {} did not listen on {address} within 15 s",
                    spec.name
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(server)
    }

    /// Stops the server now (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        self.kill();
    }
}
