//! Stopping a server process: the stop signals (Ctrl-C, SIGTERM) and the run of bound servers
//! until one of them arrives, shared by `herd-server` and `conformance reference-server`.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::setup::{Launch, Running, drain, launch};

/// Ctrl-C and SIGTERM, registered before anything starts: a signal that arrives while the herd
/// is still starting must stop it cleanly rather than kill the process outright.
pub struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    pub fn register() -> std::io::Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(StopSignals {})
    }

    /// Waits for the next stop signal and names it.
    pub async fn wait(&mut self) -> &'static str {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => "interrupted",
            _ = self.terminate.recv() => "terminated",
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "interrupted"
        }
    }
}

/// Runs the named servers on the listeners the caller bound until a stop signal, calling
/// `started` for each once it serves. Then WHATSATs waiting on Places get their answer (up to
/// `grace`) and the log writers a moment to drain.
pub async fn serve_until_stopped(
    shared: &Launch,
    listeners: Vec<(String, TcpListener)>,
    stop: &mut StopSignals,
    grace: Duration,
    mut started: impl FnMut(&Running),
) -> anyhow::Result<&'static str> {
    let shutdown = CancellationToken::new();
    let mut states = Vec::new();
    for (name, listener) in listeners {
        let running = launch(shared, &name, listener, &shutdown).await?;
        started(&running);
        states.push(Arc::clone(&running.state));
    }
    let signal = stop.wait().await;
    shutdown.cancel();
    drain(&states, grace).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(signal)
}
