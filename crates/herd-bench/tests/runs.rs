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

/// The built-in sink answers at once and converges every probe; the report carries the loopback
/// floor (printed and in the JSON) and states each p50 as a multiple of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_runs_and_the_report_carries_the_loopback_floor() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("sink.json");
    let mut args = vec!["--sink", "--whatsat-ratio", "0.2", "--probe-ratio", "0.05"];
    args.extend(SHORT);
    args.extend([
        "--floor-requests",
        "200",
        "--json",
        json_path.to_str().unwrap(),
    ]);
    let run = bench(&args).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Herd: built-in sink winter21"),
        "{}",
        run.stdout
    );
    let report = json(&json_path);
    assert_counts_add_up(&report);
    assert_probes_converged(&report, &run);
    assert_eq!(
        u(&report["requests"]["sent"]),
        u(&report["requests"]["replied"])
    );
    assert!(u(&report["whatsat"]["all"]["replied"]) > 0);

    let floor = &report["floor"];
    assert_eq!(u(&floor["latency"]["count"]), 200, "{floor}");
    assert_eq!(u(&floor["errors"]), 0);
    assert_eq!(floor["framing"], "line");
    let line = format!(
        "Loopback floor: p50 {} ms, p99 {} ms (200 sequential round trips",
        ms(u(&floor["latency"]["p50_us"])),
        ms(u(&floor["latency"]["p99_us"]))
    );
    assert!(run.stdout.contains(&line), "{line}\n{}", run.stdout);
    // Each p50 over the floor's, as printed.
    let base = u(&floor["latency"]["p50_us"]).max(1) as f64;
    let times = &report["p50_over_floor"];
    for (key, lat, label) in [
        ("iamat", &report["iamat"]["all"]["latency"], "IAMAT"),
        ("whatsat", &report["whatsat"]["all"]["latency"], "WHATSAT"),
        (
            "convergence",
            &report["propagation"]["convergence"],
            "convergence",
        ),
    ] {
        let expect = (u(&lat["p50_us"]) as f64 / base * 10.0).round() / 10.0;
        assert_eq!(times[key].as_f64(), Some(expect), "{key}: {times}");
        assert!(
            run.stdout.contains(&format!("{label} {expect:.1}×")),
            "{label}: {}",
            run.stdout
        );
    }
    let cpu = &report["cpu"];
    assert_eq!(cpu["includes_herd"], true);
    assert!(run.stdout.contains("Bench CPU: "), "{}", run.stdout);
}

/// A preload that fills a herd's client table makes it refuse the run's new clients: the bench
/// says that is the likely cause and what to do, not only that the herd failed every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preload_that_fills_the_client_table_is_named_as_the_cause() {
    let herd = TestHerd::start_limited(&Limits {
        max_clients: 200,
        ..Limits::default()
    })
    .await;
    let mut args = vec!["--herd", herd.herd_file.to_str().unwrap()];
    args.extend(SHORT);
    args.extend(["--preload", "200", "--floor-requests", "0"]);
    let run = bench(&args).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("requests to herd")
            && run.stderr.contains("failed (rejected ")
            && run.stderr.contains(
                "after --preload 200 its client table may be full (herd-server --max-clients, \
                 default 1000000)"
            ),
        "{}",
        run.stderr
    );
}

/// `--preload N` stores N distinct clients before the measurement: the reference herd then
/// answers WHATSAT for one of them, and the report says how many were stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preload_stores_distinct_clients_before_measuring() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let herd = TestHerd::start().await;
    let json_path = herd.dir.path().join("pre.json");
    let mut args = vec!["--herd", herd.herd_file.to_str().unwrap()];
    args.extend(SHORT);
    args.extend([
        "--preload",
        "3000",
        "--preload-timeout",
        "40s",
        "--floor-requests",
        "0",
    ]);
    args.extend(["--json", json_path.to_str().unwrap()]);
    let run = bench(&args).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = json(&json_path);
    assert_eq!(
        u(&report["preload"]["clients"]),
        3000,
        "{}",
        report["preload"]
    );
    assert_eq!(u(&report["preload"]["rejected"]), 0);
    assert_eq!(report["preload"]["settled"], true);
    assert!(report["floor"].is_null());
    assert!(
        run.stdout.contains("Preload: 3000 clients stored"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("preloaded 3000 clients into herd"),
        "{}",
        run.stderr
    );
    // The last preloaded client (2999) is known to a server it was not sent to.
    let run_id = report["parameters"]["run_id"].as_str().unwrap();
    let address = &herd.herd.herd.servers()[4].address;
    let mut found = false;
    for _ in 0..50 {
        let mut s = tokio::net::TcpStream::connect(address.as_str())
            .await
            .unwrap();
        s.write_all(format!("WHATSAT bench-{run_id}0-pre2999 1 0\n").as_bytes())
            .await
            .unwrap();
        s.shutdown().await.unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).await.unwrap();
        if reply.starts_with("AT ") {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(found, "a preloaded client is unknown to the herd");
}

/// `--compare` with three herds: one section, one column and one ratio column per herd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_takes_three_herds() {
    let herd = TestHerd::start().await;
    let json_path = herd.dir.path().join("three.json");
    let plot = herd.dir.path().join("three.svg");
    let file = herd.herd_file.to_str().unwrap().to_owned();
    let mut args = vec!["--compare", "reference", "sink", &file];
    args.extend([
        "--duration",
        "700ms",
        "--warmup",
        "200ms",
        "--clients",
        "10",
    ]);
    args.extend(["--probe-ratio", "0.05", "--floor-requests", "100"]);
    args.extend([
        "--json",
        json_path.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    let run = bench(&args).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for section in ["== A: reference herd", "== B: built-in sink", "== C: herd "] {
        assert!(run.stdout.contains(section), "{section}\n{}", run.stdout);
    }
    assert!(
        run.stdout.contains("Comparison: each herd / A"),
        "{}",
        run.stdout
    );
    let header = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Comparison:"))
        .nth(1)
        .unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["A", "B", "C", "B/A", "C/A"]
    );
    let report = json(&json_path);
    assert_eq!(report["herds"].as_array().unwrap().len(), 3);
    for side in ["a", "b", "c"] {
        assert_counts_add_up(&report[side]);
        assert_probes_converged(&report[side], &run);
    }
    let t = &report["ratios"]["throughput"];
    let row = run
        .stdout
        .lines()
        .find(|l| l.starts_with("throughput (replies/s)"))
        .unwrap();
    let cols: Vec<&str> = row["throughput (replies/s)".len()..]
        .split_whitespace()
        .collect();
    assert_eq!(cols.len(), 5, "{row}");
    for (i, side) in ["b", "c"].iter().enumerate() {
        let expect = t[*side].as_f64().unwrap() / t["a"].as_f64().unwrap();
        assert!((t[format!("{side}_over_a")].as_f64().unwrap() - expect).abs() < 1e-9);
        assert_eq!(cols[3 + i], format!("{expect:.3}"), "{row}");
    }
    let svg = std::fs::read_to_string(&plot).unwrap();
    for label in ["A vs B vs C", "A-iamat-all", "C-iamat-all"] {
        assert!(svg.contains(label), "{label} missing from the plot");
    }
}
