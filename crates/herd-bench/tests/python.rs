//! Runs against the Python target (python/herd_server.py), started by the bench's spawn
//! mechanism, and a `--compare` of the reference herd with it.

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_python_target_counts_add_up_and_probes_converge() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("py.json");
    let template = python_template();
    let mut args = vec!["--spawn", &template];
    args.extend(SHORT);
    args.extend(["--whatsat-ratio", "0.2", "--probe-ratio", "0.05"]);
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
    assert_probes_converged(&report);
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
        assert_probes_converged(&report[side]);
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
