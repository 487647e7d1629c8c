//! Runs against the Python target (python/herd_server.py), started by the bench's spawn
//! mechanism, and a `--compare` of the reference herd with it.

mod support;

use support::*;

/// How long probes may take to reach every Python server before they count as lost.
const PYTHON_SETTLE: &str = "15s";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_python_target_counts_add_up_and_probes_converge() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("py.json");
    let template = python_template();
    let mut args = vec!["--spawn", &template];
    args.extend(SHORT);
    args.extend(["--whatsat-ratio", "0.2", "--probe-ratio", "0.05"]);
    // The Python herd converges in about a second under this load; a slow CI machine must not
    // turn that into lost probes (a healthy run does not wait for the settle time).
    args.extend(["--settle", PYTHON_SETTLE]);
    args.extend(["--json", json_path.to_str().unwrap()]);
    let run = bench(&args).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Places stand-in: http://127.0.0.1:"),
        "{}",
        run.stdout
    );
    let report = json(&json_path);
    assert!(
        report["parameters"]["herd"]
            .as_str()
            .unwrap()
            .starts_with("spawn:")
    );
    assert_counts_add_up(&report);
    assert_probes_converged(&report, &run);
    assert_eq!(
        u(&report["requests"]["sent"]),
        u(&report["requests"]["replied"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_runs_both_herds_and_prints_ratios() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("cmp.json");
    let b = format!("spawn:{}", python_template());
    let mut args = vec!["--compare", "reference", &b];
    args.extend([
        "--duration",
        "700ms",
        "--warmup",
        "200ms",
        "--clients",
        "10",
    ]);
    args.extend([
        "--settle",
        PYTHON_SETTLE,
        "--probe-ratio",
        "0.05",
        "--json",
        json_path.to_str().unwrap(),
    ]);
    let run = bench(&args).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("== A: reference herd winter21"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("== B: spawn:"), "{}", run.stdout);
    assert!(run.stdout.contains("Comparison: B / A"), "{}", run.stdout);
    let report = json(&json_path);
    for side in ["a", "b"] {
        assert_counts_add_up(&report[side]);
        assert_probes_converged(&report[side], &run);
    }
    let t = &report["ratios"]["throughput"];
    let expect = t["b"].as_f64().unwrap() / t["a"].as_f64().unwrap();
    assert!((t["b_over_a"].as_f64().unwrap() - expect).abs() < 1e-9);
    let row = run
        .stdout
        .lines()
        .find(|l| l.starts_with("throughput (replies/s)"))
        .unwrap();
    assert!(row.ends_with(&format!("{expect:.3}")), "{row}");
    for key in [
        "iamat_p50",
        "iamat_p99",
        "convergence_p50",
        "convergence_p99",
    ] {
        assert!(report["ratios"].get(key).is_some(), "{key}");
    }
}

/// A spawned server killed in the middle of a run makes the run fail, naming the server, instead
/// of passing off a partial herd's figures as the herd's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawned_server_that_dies_mid_run_fails_the_run() {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};

    let dir = tempfile::tempdir().unwrap();
    // Each server's shell writes its pid and then becomes the server.
    let template = format!(
        "echo $$ > {}/{{name}}.pid; exec {}",
        dir.path().display(),
        python_template()
    );
    let mut child = tokio::process::Command::new(assert_cmd::cargo::cargo_bin("herd-bench"))
        .args([
            "--spawn",
            &template,
            "--duration",
            "3s",
            "--warmup",
            "200ms",
        ])
        .args(["--clients", "10", "--probe-ratio", "0"])
        .current_dir(workspace_root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    // The header is printed once every server listens, just before the load starts.
    while !printed.contains("Places stand-in:") {
        let mut line = String::new();
        let n = tokio::time::timeout(RUN_DEADLINE, stdout.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the bench ended before its header: {printed}");
        printed.push_str(&line);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let pid: i32 = std::fs::read_to_string(dir.path().join("Riley.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).await.unwrap();
    let mut stderr = String::new();
    let mut err_pipe = child.stderr.take().unwrap();
    err_pipe.read_to_string(&mut stderr).await.unwrap();
    let status = tokio::time::timeout(RUN_DEADLINE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(1), "{printed}{rest}\n{stderr}");
    assert!(
        rest.contains("Requests: "),
        "the summary is still printed: {rest}"
    );
    assert!(
        stderr.contains("herd-bench: a server of spawn:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("during the run, Riley exited (signal: 9 (SIGKILL)); its last output:"),
        "{stderr}"
    );
}
