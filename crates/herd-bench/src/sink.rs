//! The built-in sink: a "perfect herd" in the bench process that answers every line at once, so
//! a run against it measures the bench itself (the loopback floor is measured by `floor.rs`).
//!
//! Each server of the topology gets a listener on a free port; all share one table of AT lines,
//! so an update is at every server the moment it is stored and probes converge at once. Replies
//! are plausible, not computed: IAMAT gets `AT sink +0.000000000 ID POS TIME`, WHATSAT the stored
//! AT line and an empty Places answer, anything else `? LINE`. No parsing beyond splitting the
//! fields, no clock, no Places call: what is left is the cost of the sockets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use herd_wire::Herd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The Places answer every WHATSAT gets: valid JSON, no results.
const EMPTY_PLACES: &[u8] = b"{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}\n\n";

/// The stored AT line (with its `\n`) of every client the sink has heard of.
type Table = Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>>;

/// A running sink; its listeners stop when it is dropped.
#[derive(Debug)]
pub struct Sink {
    /// The topology on the sink's ports (for probes and the header).
    pub herd: Herd,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Sink {
    /// One listener per server of `topology`, on free ports of 127.0.0.1.
    pub async fn start(topology: &Herd) -> std::io::Result<Sink> {
        let table: Table = Arc::default();
        let mut ports = Vec::new();
        let mut tasks = Vec::new();
        for _ in topology.servers() {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            ports.push(listener.local_addr()?.port());
            tasks.push(tokio::spawn(serve(listener, Arc::clone(&table))));
        }
        Ok(Sink {
            herd: topology.on_ports(&ports),
            tasks,
        })
    }

    /// The sink's servers as (name, address).
    pub fn servers(&self) -> Vec<(String, String)> {
        self.herd
            .servers()
            .iter()
            .map(|s| (s.name.clone(), s.address.clone()))
            .collect()
    }
}

async fn serve(listener: TcpListener, table: Table) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, Arc::clone(&table)));
    }
}

/// Answers every line of one connection; after the client's EOF, its last unterminated line,
/// then closes. All replies to one read go out in one write.
async fn connection(mut stream: TcpStream, table: Table) {
    let mut input = Vec::with_capacity(4096);
    let mut output = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        input.extend_from_slice(&chunk[..n]);
        let mut start = 0;
        while let Some(end) = input[start..].iter().position(|b| *b == b'\n') {
            answer(&input[start..start + end], &table, &mut output);
            start += end + 1;
        }
        input.drain(..start);
        if !output.is_empty() {
            if stream.write_all(&output).await.is_err() {
                return;
            }
            output.clear();
        }
    }
    if !input.is_empty() {
        answer(&input, &table, &mut output);
        let _ = stream.write_all(&output).await;
    }
    let _ = stream.shutdown().await;
}

/// Appends the reply to one line (without its `\n`) to `out`.
fn answer(line: &[u8], table: &Table, out: &mut Vec<u8>) {
    let fields: Vec<&[u8]> = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
        .collect();
    match fields[..] {
        [] => {}
        [b"IAMAT", id, position, time] => {
            let start = out.len();
            out.extend_from_slice(b"AT sink +0.000000000 ");
            for (i, f) in [id, position, time].iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(f);
            }
            out.push(b'\n');
            let at = out[start..].to_vec();
            table
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id.to_vec(), at);
        }
        [b"WHATSAT", id, _, _] => {
            let stored = table
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(id)
                .cloned();
            match stored {
                Some(at) => {
                    out.extend_from_slice(&at);
                    out.extend_from_slice(EMPTY_PLACES);
                }
                None => invalid(line, out),
            }
        }
        _ => invalid(line, out),
    }
}

fn invalid(line: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"? ");
    out.extend_from_slice(line.trim_ascii());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(table: &Table, line: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        answer(line, table, &mut out);
        out
    }

    #[test]
    fn iamat_is_echoed_as_an_at_line_and_whatsat_finds_it() {
        let table = Table::default();
        let at = reply(&table, b"IAMAT kiwi +34-118 5.5");
        assert_eq!(at, b"AT sink +0.000000000 kiwi +34-118 5.5\n");
        assert!(herd_wire::AtLine::parse(&at[..at.len() - 1]).is_ok());
        let w = reply(&table, b" WHATSAT  kiwi 10 5\r");
        assert!(w.starts_with(&at), "{}", String::from_utf8_lossy(&w));
        assert!(w.ends_with(b"}\n\n"));
        assert_eq!(
            reply(&table, b"WHATSAT nobody 10 5"),
            b"? WHATSAT nobody 10 5\n"
        );
        assert_eq!(reply(&table, b"  hello "), b"? hello\n");
        assert!(reply(&table, b" \t ").is_empty());
    }
}
