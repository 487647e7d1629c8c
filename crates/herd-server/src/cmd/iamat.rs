//! IAMAT: answer with a freshly made AT line; store and flood it if it is the newest.

use std::sync::Arc;

use herd_wire::{AtLine, ClientTime, Iamat};

use crate::faults::Fault;
use crate::server::ServerState;

/// The reply (with newline) to a valid IAMAT received at `received`.
pub fn run(iamat: &Iamat, received: ClientTime, state: &ServerState) -> Vec<u8> {
    let at = Arc::new(AtLine::answer(&state.name, received, iamat));
    if store(&at, state) && !state.faults.has(Fault::NoFlood) {
        state.flooder.forward(&at, None);
    }
    let mut reply = if state.faults.is_empty() {
        at.as_bytes().to_vec()
    } else {
        state.faults.rewrite_at_reply(at.as_bytes())
    };
    reply.push(b'\n');
    reply
}

/// Stores `at` if it is the newest (or always, under `stale-accepted`); true when it was newer.
pub fn store(at: &Arc<AtLine>, state: &ServerState) -> bool {
    if state.faults.has(Fault::StaleAccepted) {
        state.db.put(at)
    } else {
        state.db.update(at)
    }
}
