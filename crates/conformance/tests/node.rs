//! The suite against the Node.js target (node/herd_server.js, started by `--spawn`): it passes
//! every MUST test. Skipped, saying so, where `node` is not installed.

mod common;

use std::process::Command;

use common::{conformance, stderr, stdout, terminal_counts, workspace_root};

/// `node --version` if a usable Node.js is on the PATH.
fn node_version() -> Option<String> {
    let out = Command::new("node").arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn node_target_passes_every_must_test() {
    let Some(version) = node_version() else {
        eprintln!("SKIPPED: `node` is not installed, so the Node.js target cannot be checked");
        return;
    };
    let script = workspace_root().join("node/herd_server.js");
    let template = format!(
        "node {} {{name}} --herd {{herd}} --port {{port}} --places-url {{places_url}} --log-dir {{log_dir}}",
        script.display()
    );
    let out = conformance(&["--spawn", &template]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "Node {version}:\n{text}\n{}",
        stderr(&out)
    );
    let (passed, failed, _) = terminal_counts(&text);
    assert_eq!(failed, 0, "{text}");
    assert!(passed > 50, "{text}");
    assert!(
        text.contains("the server calls the legacy Nearby Search"),
        "{text}"
    );
}

#[test]
fn node_target_on_places_api_new_passes_every_must_test() {
    if node_version().is_none() {
        eprintln!("SKIPPED: `node` is not installed, so the Node.js target cannot be checked");
        return;
    }
    let script = workspace_root().join("node/herd_server.js");
    let template = format!(
        "node {} {{name}} --herd {{herd}} --port {{port}} --places-url {{places_url}} --log-dir {{log_dir}} --places-api new",
        script.display()
    );
    let out = conformance(&["--spawn", &template, "--run", "whatsat", "--run", "places"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert_eq!(terminal_counts(&text).1, 0, "{text}");
}
