//! The Python target starts from a fresh checkout (venv created on demand) and answers IAMAT.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};

use test_kit::python_target::{PythonServer, PythonServerSpec};

#[test]
fn the_python_target_starts_and_answers() {
    let dir = std::env::temp_dir().join(format!("py-target-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (herd, address) = test_kit::herd_file::one_server(&dir, "Solo");
    let server = PythonServer::start(&PythonServerSpec {
        name: "Solo",
        herd_file: &herd,
        port: address.port(),
        places_url: "http://127.0.0.1:9",
        faults: &[],
        log_dir: &dir,
    })
    .unwrap();
    let mut stream = std::net::TcpStream::connect(server.address).unwrap();
    stream.write_all(b"IAMAT py +1+1 1\n").unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("AT Solo +") && reply.ends_with(" py +1+1 1\n"),
        "{reply:?}"
    );
}
