//! Runs against the reference herd, started in the test process on free ports.

mod support;

use std::time::Duration;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_counts_add_up_and_the_json_matches_the_summary() {
    let herd = TestHerd::start().await;
    let out = herd.dir.path();
    let (json_path, hgrm, plot) = (out.join("run.json"), out.join("hgrm"), out.join("run.svg"));
    let mut args = vec!["--herd", herd.herd_file.to_str().unwrap()];
    args.extend(SHORT);
    args.extend(["--whatsat-ratio", "0.2", "--probe-ratio", "0.05"]);
    args.extend(["--json", json_path.to_str().unwrap()]);
    args.extend([
        "--hgrm",
        hgrm.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    let run = bench(&args).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    let report = json(&json_path);
    assert_counts_add_up(&report);
    assert_probes_converged(&report, &run);
    assert_eq!(report["parameters"]["mode"], "closed loop");
    assert_eq!(report["parameters"]["clients"], 20);
    assert_eq!(report["parameters"]["servers"].as_array().unwrap().len(), 5);
    assert!(u(&report["whatsat"]["all"]["replied"]) > 0);
    assert!(run.stdout.contains("closed loop"), "{}", run.stdout);

    // The printed summary shows the JSON's figures.
    let r = &report["requests"];
    let errors: u64 = r["errors"].as_object().unwrap().values().map(u).sum();
    let line = format!(
        "Requests: {} sent, {} replied, {} errors",
        u(&r["sent"]),
        u(&r["replied"]),
        errors
    );
    assert!(run.stdout.contains(&line), "{line}\n{}", run.stdout);
    for (row, lat) in [
        ("IAMAT all", &report["iamat"]["all"]["latency"]),
        ("IAMAT Riley", &report["iamat"]["servers"][0]["latency"]),
        ("WHATSAT all", &report["whatsat"]["all"]["latency"]),
        ("convergence", &report["propagation"]["convergence"]),
    ] {
        let printed = run
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{row} ")))
            .unwrap_or_else(|| panic!("no `{row}` row in\n{}", run.stdout));
        let cols: Vec<&str> = printed[row.len()..].split_whitespace().collect();
        let expect: Vec<String> = std::iter::once(u(&lat["count"]).to_string())
            .chain(
                [
                    "p50_us",
                    "p75_us",
                    "p90_us",
                    "p99_us",
                    "p99_9_us",
                    "p99_99_us",
                    "max_us",
                ]
                .iter()
                .map(|k| ms(u(&lat[*k]))),
            )
            .collect();
        assert_eq!(cols, expect, "row {row}");
    }
    let probes = &report["propagation"]["probes"];
    assert!(run.stdout.contains(&format!(
        "Probes: {} started, {} converged, 0 lost",
        u(&probes["started"]),
        u(&probes["converged"])
    )));

    // One .hgrm per histogram, in HdrHistogram's layout, and a chart.
    let iamat = std::fs::read_to_string(hgrm.join("iamat-all.hgrm")).unwrap();
    assert!(iamat.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
    assert!(iamat.contains(&format!(
        "Total count    = {:>12}]",
        u(&report["iamat"]["all"]["latency"]["count"])
    )));
    for name in [
        "iamat-Riley",
        "whatsat-all",
        "propagation-all",
        "convergence",
    ] {
        assert!(hgrm.join(format!("{name}.hgrm")).exists(), "{name}.hgrm");
    }
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg"));
    for label in ["percentile", "99.9%", "iamat-all", "convergence"] {
        assert!(svg.contains(label), "{label} missing from the plot");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eof_framing_reconnects_per_request() {
    let herd = TestHerd::start().await;
    let json_path = herd.dir.path().join("eof.json");
    let mut args = vec![
        "--herd",
        herd.herd_file.to_str().unwrap(),
        "--framing",
        "eof",
    ];
    args.extend(SHORT);
    args.extend(["--whatsat-ratio", "0.5", "--probe-ratio", "0.05"]);
    args.extend(["--json", json_path.to_str().unwrap()]);
    let run = bench(&args).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = json(&json_path);
    assert_eq!(report["parameters"]["framing"], "eof");
    assert_counts_add_up(&report);
    assert_probes_converged(&report, &run);
    assert_eq!(
        u(&report["requests"]["sent"]),
        u(&report["requests"]["replied"])
    );
}

/// Coordinated omission: a Places stall makes WHATSATs slow for a while; in open loop the
/// requests scheduled during the stall count their wait, so p99 reaches the stall.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_records_a_stall_from_the_intended_send_time() {
    const STALL: Duration = Duration::from_millis(300);
    let herd = TestHerd::start().await;
    let json_path = herd.dir.path().join("open.json");
    let herd_file = herd.herd_file.to_str().unwrap().to_owned();
    let json_arg = json_path.to_str().unwrap().to_owned();
    let run = tokio::spawn(async move {
        bench(&[
            "--herd",
            &herd_file,
            "--duration",
            "2s",
            "--warmup",
            "200ms",
            "--clients",
            "20",
            "--rate",
            "200",
            "--whatsat-ratio",
            "1",
            "--probe-ratio",
            "0",
            "--json",
            &json_arg,
        ])
        .await
    });
    // Stall in the middle of the measured second.
    tokio::time::sleep(Duration::from_millis(900)).await;
    herd.places.set_latency(STALL).await;
    tokio::time::sleep(STALL).await;
    herd.places.set_latency(Duration::ZERO).await;
    let run = run.await.unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("open loop"), "{}", run.stdout);
    let report = json(&json_path);
    assert_eq!(report["parameters"]["mode"], "open loop");
    assert_counts_add_up(&report);
    let whatsat = &report["whatsat"]["all"]["latency"];
    let stall_us = u64::try_from(STALL.as_micros()).unwrap();
    assert!(
        u(&whatsat["p99_us"]) >= stall_us,
        "p99 hides the stall: {whatsat}"
    );
    assert!(
        u(&whatsat["p50_us"]) < stall_us,
        "the stall was not a stall: {whatsat}"
    );
    let intended = report["rate"]["intended_per_s"].as_f64().unwrap();
    assert_eq!(intended, 200.0);
}
