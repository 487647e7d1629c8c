//! Test fixtures: a real reference herd in-process (with the built-in Places stand-in), the Python
//! target as a real process, and snapshot filters for the fields that change from run to run.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use assert_cmd::Command;
use herd_server::places::PlacesApi;
use herd_server::{LocalHerd, PlacesChoice};
use tempfile::TempDir;
use tokio::runtime::Runtime;

/// A fixed client time, so that the UTC date-time in the output is checked too.
pub const TIME: &str = "1621464827.959498503";

/// The winter21 herd running in this process on free ports, plus its herd file.
pub struct RefHerd {
    herd: Option<LocalHerd>,
    places: Option<PlacesChoice>,
    pub dir: TempDir,
    pub herd_file: PathBuf,
    rt: Runtime,
}

impl RefHerd {
    pub fn start() -> RefHerd {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let (places, herd) = rt.block_on(async {
            let places =
                PlacesChoice::choose(None, None, PlacesApi::Legacy, Duration::from_secs(5))
                    .await
                    .expect("Places stand-in");
            let herd = LocalHerd::start(
                &herd_wire::Preset::Winter21.herd(),
                places.client.clone(),
                None,
            )
            .await
            .expect("reference herd");
            (places, herd)
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let herd_file = dir.path().join("herd.toml");
        std::fs::write(&herd_file, herd.herd.to_toml()).expect("herd file");
        RefHerd {
            herd: Some(herd),
            places: Some(places),
            dir,
            herd_file,
            rt,
        }
    }

    /// `herd-client --herd <this herd>`, colour off.
    pub fn client(&self) -> Command {
        let mut command = client();
        command.arg("--herd").arg(&self.herd_file);
        command
    }

    /// The address of server `name`.
    pub fn addr(&self, name: &str) -> String {
        self.herd
            .as_ref()
            .and_then(|h| h.address(name))
            .map(|a| a.to_string())
            .expect("server of the herd")
    }

    /// The Places stand-in's URL (for the Python target).
    pub fn places_url(&self) -> String {
        self.places
            .as_ref()
            .and_then(|p| p.stand_in.as_ref())
            .map(|s| s.uri())
            .expect("stand-in")
    }

    /// Makes the Places stand-in fail every request from now on.
    pub fn break_places(&self, mode: mocks::FailureMode) {
        let stand_in = self
            .places
            .as_ref()
            .and_then(|p| p.stand_in.as_ref())
            .expect("stand-in");
        self.rt.block_on(stand_in.set_failure(mode));
    }

    /// Reports `client` at `position` to the herd's first server with the fixed time.
    pub fn report(&self, client: &str, position: &str) {
        self.client()
            .args(["iamat", client, position, "--time", TIME])
            .assert()
            .success();
    }
}

impl Drop for RefHerd {
    fn drop(&mut self) {
        // The servers and the stand-in stop inside their runtime.
        let _inside = self.rt.enter();
        drop(self.herd.take());
        drop(self.places.take());
    }
}

/// `herd-client` with colour off and no herd chosen.
pub fn client() -> Command {
    let mut command = Command::cargo_bin("herd-client").expect("herd-client binary");
    command.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    command
}

/// The snapshot filters: addresses, skews and the local time of `now` replies.
pub fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"127\.0\.0\.1:\d+", "[addr]"),
        (r#""skew_ns": -?\d+"#, r#""skew_ns": "[skew]""#),
        (r"[+-]\d+\.\d{9}\b", "[skew]"),
        (
            r"[+-](?:\d+d )?(?:\d+h )?(?:\d+m )?\d+(?:\.\d+)? ?(?:ns|µs|ms|s)\b",
            "[skew]",
        ),
        // The last column's rule is as wide as its widest (unredacted) value.
        (r"═+\n", "═…\n"),
        (r"─+\n", "─…\n"),
    ]
}

/// One Python target server, a real process (see `test_kit::python_target`); killed on drop.
pub struct PythonServer {
    _process: test_kit::python_target::PythonServer,
    pub address: String,
    pub dir: TempDir,
}

impl PythonServer {
    /// Starts server `Clark` of a one-server herd with `faults`, and waits until it accepts.
    pub fn start(places_url: &str, faults: &[&str]) -> PythonServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let (herd_file, address) = test_kit::herd_file::one_server(dir.path(), "Clark");
        let process = test_kit::python_target::PythonServer::start(
            &test_kit::python_target::PythonServerSpec {
                name: "Clark",
                herd_file: &herd_file,
                port: address.port(),
                places_url,
                faults,
                log_dir: dir.path(),
            },
        )
        .expect("the Python target starts");
        PythonServer {
            _process: process,
            address: address.to_string(),
            dir,
        }
    }
}
