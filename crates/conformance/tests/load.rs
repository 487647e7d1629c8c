//! Verdicts do not depend on the machine's mood: the same broken Python target, judged once on
//! an idle machine and once with two CPU hogs per core spinning beside it, gets the same outcome
//! for every test. The target is broken in ways that need waiting to judge (a silent reply, a
//! dropped connection, a missing newline), where fixed timeouts used to flip verdicts.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{conformance, json_report, python_spawn, stderr, stdout};

/// Outcome by test ID for one run of the suite against `template`.
fn verdicts(template: &str) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("r.json");
    let out = conformance(&[
        "--spawn",
        template,
        "--skip",
        "resilience/*",
        "--json",
        json.to_str().expect("path"),
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let report = json_report(&json);
    report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or_default().to_owned(),
                r["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Spinning threads that keep every core busy until dropped (bounded: at most `limit`).
struct Hogs {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Hogs {
    fn start(per_core: usize, limit: Duration) -> Hogs {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..cores * per_core)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let until = Instant::now() + limit;
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Hogs { stop, threads }
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[test]
fn verdicts_are_the_same_on_a_busy_machine() {
    let template = python_spawn(&["silent-invalid", "crash-float-radius", "single-newline"]);
    let idle = verdicts(&template);
    let busy = {
        let _hogs = Hogs::start(2, Duration::from_secs(300));
        verdicts(&template)
    };
    assert!(
        idle.values().any(|o| o == "fail") && idle.values().any(|o| o == "pass"),
        "the target should pass some tests and fail others: {idle:?}"
    );
    let changed: Vec<String> = idle
        .iter()
        .filter(|(id, o)| busy.get(*id) != Some(o))
        .map(|(id, o)| format!("{id}: idle {o}, busy {:?}", busy.get(id)))
        .collect();
    assert!(
        changed.is_empty() && idle.len() == busy.len(),
        "verdicts changed under load:\n{}",
        changed.join("\n")
    );
}
