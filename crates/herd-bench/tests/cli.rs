//! The command line as a user meets it: help, bad options, an unreachable herd, a herd that
//! answers nothing.

mod support;

use support::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

#[tokio::test]
async fn help_explains_the_herds_and_gives_examples() {
    let run = bench(&["--help"]).await;
    assert_eq!(run.code, 0);
    for needle in [
        "--spawn-reference",
        "--compare",
        "spawn:",
        "{places_url}",
        "coordinated omission",
        "Examples:",
        "500ms",
    ] {
        assert!(
            run.stdout.contains(needle),
            "`{needle}` missing from --help"
        );
    }
}

#[tokio::test]
async fn bad_options_say_what_is_wrong() {
    let run = bench(&["--duration", "soon"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("`soon` is not a duration"),
        "{}",
        run.stderr
    );
    let run = bench(&["--whatsat-ratio", "2"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("between 0 and 1"), "{}", run.stderr);
    let run = bench(&["--herd", "winter99"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown herd `winter99`"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn an_unreachable_herd_exits_2_with_what_to_do() {
    // Ports that were just free, so nothing listens there.
    let ports = test_kit::ports::free_ports(5);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gone.toml");
    std::fs::write(
        &file,
        herd_wire::Preset::Winter21
            .herd()
            .on_ports(&ports)
            .to_toml(),
    )
    .unwrap();
    let run = bench(&["--herd", file.to_str().unwrap(), "--duration", "1s"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("nothing listens at Riley 127.0.0.1:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("herd-server --all"), "{}", run.stderr);
    assert!(run.stderr.contains("--spawn-reference"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
}

#[tokio::test]
async fn a_server_that_answers_nothing_exits_1() {
    // Accepts, reads the request, closes without a reply.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 256];
                let _ = stream.read(&mut buf).await;
            });
        }
    });
    let run = bench(&[
        "--target",
        &address,
        "--duration",
        "500ms",
        "--warmup",
        "0",
        "--clients",
        "4",
    ])
    .await;
    server.abort();
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("every one of the"), "{}", run.stderr);
    assert!(
        run.stdout.contains("closed"),
        "errors by kind: {}",
        run.stdout
    );
}

/// Values clap can check (ranges, counts) are refused before anything starts, in one line.
#[tokio::test]
async fn bad_values_give_one_line_and_exit_2() {
    for (args, needle) in [
        (&["--clients", "0"][..], "'--clients <N>': 0 is not in 1.."),
        (&["--rounds", "0"][..], "'--rounds <N>': 0 is not in 1.."),
        (
            &["--max-probes", "0"][..],
            "'--max-probes <N>': 0 is not in 1..",
        ),
        (&["--duration", "0"][..], "`0` is no time at all"),
        (
            &["--preload", "many"][..],
            "invalid value 'many' for '--preload <N>'",
        ),
        (
            &["--compare", "reference"][..],
            "2 values required by '--compare",
        ),
        (&["--sink", "--spawn-reference"][..], "cannot be used with"),
    ] {
        let run = bench(args).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
        assert!(run.stderr.starts_with("herd-bench: "), "{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
}
