//! Shared test support: a real reference herd on free ports with a real Places stand-in, the
//! bench binary run as a user would (from the workspace root), and the report's checks.

// Each test binary includes this module and uses a part of it, re-exports too.
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use herd_server::Limits;
use herd_server::LocalHerd;
use herd_server::places::{PlacesApi, PlacesClient};
use herd_wire::Preset;
use mocks::PlacesStandIn;
pub use test_kit::workspace_root;

/// Every bench run in a test must finish within this.
pub const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// The short workload every test uses unless it needs another.
pub const SHORT: &[&str] = &["--duration", "1s", "--warmup", "200ms", "--clients", "20"];

/// The reference herd (winter21 topology) in this process, with a Places stand-in, and its herd
/// file for `--herd`.
pub struct TestHerd {
    pub herd: LocalHerd,
    pub places: PlacesStandIn,
    pub dir: tempfile::TempDir,
    pub herd_file: PathBuf,
}

impl TestHerd {
    pub async fn start() -> TestHerd {
        TestHerd::start_limited(&Limits::default()).await
    }

    /// Like [`TestHerd::start`], with these bounds on every server.
    pub async fn start_limited(limits: &Limits) -> TestHerd {
        let places = PlacesStandIn::start().await.unwrap();
        let client = PlacesClient::new(
            &places.uri(),
            "test-key".into(),
            PlacesApi::Legacy,
            Duration::from_secs(10),
        )
        .unwrap();
        let herd = LocalHerd::start_limited(&Preset::Winter21.herd(), client, None, &[], limits)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let herd_file = dir.path().join("herd.toml");
        std::fs::write(&herd_file, herd.herd.to_toml()).unwrap();
        TestHerd {
            herd,
            places,
            dir,
            herd_file,
        }
    }
}

/// What a finished bench run left.
pub type Run = test_kit::binary::Finished;

/// Runs the bench binary with `args` from the workspace root (without blocking the runtime the
/// herd lives on).
pub async fn bench(args: &[&str]) -> Run {
    let exe = assert_cmd::cargo::cargo_bin("herd-bench");
    test_kit::binary::run_within(&exe, args, &workspace_root(), RUN_DEADLINE).await
}

/// The `--spawn` template that starts the Python target, one process per server.
pub fn python_template() -> String {
    test_kit::python_target::spawn_template(&[])
}

/// Reads the `--json` file.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Milliseconds as the summary prints them.
pub fn ms(us: u64) -> String {
    format!("{}.{:03}", us / 1000, us % 1000)
}

/// Checks that sent = replied + errors, overall and for each server and kind.
pub fn assert_counts_add_up(report: &serde_json::Value) {
    let check = |lane: &serde_json::Value| {
        let errors: u64 = lane["errors"].as_object().unwrap().values().map(u).sum();
        assert_eq!(u(&lane["sent"]), u(&lane["replied"]) + errors, "{lane}");
    };
    check(&report["requests"]);
    let mut sent = 0;
    for kind in ["iamat", "whatsat"] {
        check(&report[kind]["all"]);
        let servers = report[kind]["servers"].as_array().unwrap();
        let by_server: u64 = servers.iter().map(|s| u(&s["sent"])).sum();
        assert_eq!(by_server, u(&report[kind]["all"]["sent"]));
        servers.iter().for_each(check);
        sent += u(&report[kind]["all"]["sent"]);
    }
    assert_eq!(sent, u(&report["requests"]["sent"]));
}

/// Checks that every probe that started reached every server; a failure shows the whole
/// propagation report (which servers missed probes) and the run's output.
pub fn assert_probes_converged(report: &serde_json::Value, run: &Run) {
    let probes = &report["propagation"]["probes"];
    let context = format!(
        "{probes}\npropagation: {}\nstdout:\n{}\nstderr:\n{}",
        report["propagation"], run.stdout, run.stderr
    );
    assert!(u(&probes["started"]) > 0, "no probe started: {context}");
    assert_eq!(u(&probes["lost"]), 0, "{context}");
    assert_eq!(u(&probes["converged"]), u(&probes["started"]), "{context}");
    assert_eq!(
        u(&report["propagation"]["convergence"]["count"]),
        u(&probes["converged"])
    );
}
