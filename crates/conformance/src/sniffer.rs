//! A listener the suite puts in place of a stopped server, to see what its neighbours send it:
//! the server-to-server messages are each implementation's own design, but every one carries the
//! client ID as text, so counting the lines that hold an ID counts the copies of that update.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Accepts every connection on one address and keeps all bytes received, per connection.
#[derive(Debug)]
pub struct Sniffer {
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    task: JoinHandle<()>,
}

impl Sniffer {
    /// Listens on `addr` (the stopped server's address), retrying for up to 2 s while the
    /// stopped server's sockets still hold the port.
    pub async fn listen(addr: SocketAddr) -> std::io::Result<Sniffer> {
        let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(e)
                    if e.kind() == std::io::ErrorKind::AddrInUse
                        && tokio::time::Instant::now() < give_up =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let received: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let store = Arc::clone(&received);
        let task = tokio::spawn(async move {
            let mut readers = tokio::task::JoinSet::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                let index = match store.lock() {
                    Ok(mut all) => {
                        all.push(Vec::new());
                        all.len() - 1
                    }
                    Err(_) => continue,
                };
                let store = Arc::clone(&store);
                readers.spawn(async move {
                    let mut chunk = [0u8; 8192];
                    while let Ok(n) = stream.read(&mut chunk).await {
                        if n == 0 {
                            break;
                        }
                        if let Ok(mut all) = store.lock() {
                            all[index].extend_from_slice(&chunk[..n]);
                        }
                    }
                });
            }
        });
        Ok(Sniffer { received, task })
    }

    /// How many received lines hold `id` (a client ID) as a white-space separated field, over
    /// all connections.
    pub fn copies(&self, id: &str) -> usize {
        let id = id.as_bytes();
        self.received.lock().map_or(0, |all| {
            all.iter()
                .flat_map(|bytes| bytes.split(|&b| b == b'\n'))
                .filter(|line| {
                    line.split(|b| b.is_ascii_whitespace())
                        .any(|field| field == id)
                })
                .count()
        })
    }

    /// The field starting with `prefix` (the suite's client IDs start with `conf-`) held by the
    /// most received lines, and how many: the most copied update.
    pub fn most_copied(&self, prefix: &str) -> Option<(String, usize)> {
        let prefix = prefix.as_bytes();
        let mut counts: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        if let Ok(all) = self.received.lock() {
            for line in all.iter().flat_map(|bytes| bytes.split(|&b| b == b'\n')) {
                let mut ids: Vec<&[u8]> = line
                    .split(|b| b.is_ascii_whitespace())
                    .filter(|f| f.starts_with(prefix))
                    .collect();
                ids.dedup();
                for id in ids {
                    *counts.entry(id.to_vec()).or_default() += 1;
                }
            }
        }
        counts
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(id, n)| (String::from_utf8_lossy(&id).into_owned(), n))
    }

    /// How many connections the neighbours opened.
    pub fn connections(&self) -> usize {
        self.received.lock().map_or(0, |all| all.len())
    }
}

impl Sniffer {
    /// Stops listening, and returns once the port is free again (a drop frees it only when the
    /// runtime gets round to the aborted task, which may be after a restarted server has tried
    /// to bind it).
    pub async fn close(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        // Dropping the task drops the listener and every connection it holds.
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt as _;

    #[tokio::test]
    async fn counts_lines_with_the_id_over_connections() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = free.local_addr().expect("addr");
        drop(free);
        let sniffer = Sniffer::listen(addr).await.expect("listen");
        for text in [
            "PEER A\nAT A +0.1 kiwi +1+1 1\n",
            "AT B +0.2 kiwi +1+1 1 B\nAT B +0.2 kiwi2 +1+1 1\n",
        ] {
            let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            s.write_all(text.as_bytes()).await.expect("write");
        }
        let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        while sniffer.copies("kiwi") < 2 && tokio::time::Instant::now() < give_up {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(sniffer.copies("kiwi"), 2);
        assert_eq!(sniffer.copies("kiwi2"), 1);
        assert_eq!(sniffer.connections(), 2);
        assert_eq!(sniffer.most_copied("kiwi"), Some(("kiwi".to_owned(), 2)));
    }
}
