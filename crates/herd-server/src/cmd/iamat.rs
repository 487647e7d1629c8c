//! IAMAT: answer with a freshly made AT line; store and flood it if it is the newest.
//!
//! Beyond the grammar, the server's own bounds make an IAMAT invalid: a client ID longer than
//! `--max-client-id`, a time further ahead than `--max-future` (a far-future time would pin the
//! client for good, since no later genuine update is newer), and a new client when the table is
//! at `--max-clients`.

use std::sync::Arc;

use herd_wire::{AtLine, ClientTime, Iamat};

use crate::db::Stored;
use crate::faults::Fault;
use crate::limits::Limits;
use crate::state::ServerState;

/// The reply (with newline) to a valid IAMAT received at `received`, or why it is refused.
pub fn run(iamat: &Iamat, received: ClientTime, state: &ServerState) -> Result<Vec<u8>, String> {
    check_bounds(iamat.client(), iamat.time(), received, &state.limits)?;
    let at = Arc::new(AtLine::answer(&state.name, received, iamat));
    match store(&at, state) {
        Stored::Newer if !state.faults.has(Fault::NoFlood) => state.flooder.forward(&at, None),
        Stored::Full => {
            return Err(format!(
                "this server holds its limit of {} clients (--max-clients)",
                state.limits.max_clients
            ));
        }
        _ => {}
    }
    let mut reply = if state.faults.is_empty() {
        at.as_bytes().to_vec()
    } else {
        state.faults.rewrite_at_reply(at.as_bytes())
    };
    reply.push(b'\n');
    Ok(reply)
}

/// Why an update about `client` at `time` is outside this server's bounds, if it is.
pub fn check_bounds(
    client: &[u8],
    time: ClientTime,
    now: ClientTime,
    limits: &Limits,
) -> Result<(), String> {
    if client.len() > limits.max_client_id {
        return Err(format!(
            "client ID of {} bytes, longer than {} (--max-client-id)",
            client.len(),
            limits.max_client_id
        ));
    }
    if time.as_nanos() - now.as_nanos() > limits.max_future.as_nanos() as i128 {
        return Err(format!(
            "client time more than {} s ahead of this server's clock (--max-future)",
            limits.max_future.as_secs()
        ));
    }
    Ok(())
}

/// Stores `at` if it is the newest (or always, under `stale-accepted`).
pub fn store(at: &Arc<AtLine>, state: &ServerState) -> Stored {
    if state.faults.has(Fault::StaleAccepted) {
        if state.db.put(at) {
            Stored::Newer
        } else {
            Stored::NotNewer
        }
    } else {
        state.db.update(at)
    }
}
