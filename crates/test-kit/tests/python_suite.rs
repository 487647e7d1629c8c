//! Runs the Python target's own pytest suite, so `cargo test --workspace` runs every test.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use test_kit::python_target::python;
use test_kit::workspace_root;

#[test]
fn the_python_targets_pytest_suite_passes() {
    let output = Command::new(python().unwrap())
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "python/test_herd_server.py",
        ])
        .current_dir(workspace_root())
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "pytest failed:\n{report}");
    assert!(report.contains(" passed"), "pytest ran tests:\n{report}");
}
