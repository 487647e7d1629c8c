//! IAMAT: answer with a freshly made AT line; store and flood it if it is the newest.
//!
//! Beyond the grammar, the server's own bounds make an IAMAT invalid: a client ID longer than
//! `--max-client-id`, a time further ahead than `--max-future` (a far-future time would pin the
//! client for good, since no later genuine update is newer), and a new client when the table is
//! at `--max-clients`.

use std::sync::Arc;

use herd_wire::{AtLine, ClientTime, Iamat};

use crate::cmd::faulty;
use crate::db::Stored;
use crate::limits::Limits;
use crate::state::ServerState;

/// The reply (with newline) to a valid IAMAT received at `received`, or why it is refused.
pub fn run(iamat: &Iamat, received: ClientTime, state: &ServerState) -> Result<Vec<u8>, String> {
    check_bounds(iamat.client(), iamat.time(), received, &state.limits)?;
    let at = Arc::new(AtLine::answer(&state.name, received, iamat));
    let stored = faulty::store(&at, state);
    if stored == Stored::Full {
        return Err(format!(
            "this server holds its limit of {} clients (--max-clients)",
            state.limits.max_clients
        ));
    }
    pass_on(&at, None, stored, state);
    let mut reply = Vec::with_capacity(at.as_bytes().len() + 1);
    reply.extend_from_slice(at.as_bytes());
    state.faults.rewrite_at_reply(&mut reply);
    reply.push(b'\n');
    Ok(reply)
}

/// Floods `at` to the neighbours (all but `from`, the one it came from) if it was news here.
pub fn pass_on(at: &Arc<AtLine>, from: Option<&str>, stored: Stored, state: &ServerState) {
    if faulty::floods_instead(at, from, state) {
        return;
    }
    if stored == Stored::Newer {
        state.flooder.forward(at, from);
    }
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
