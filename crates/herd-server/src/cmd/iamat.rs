//! IAMAT: answer with a freshly made AT line; store and flood it if it is the newest.

use std::sync::Arc;

use herd_wire::{AtLine, ClientTime, Iamat};

use crate::server::ServerState;

/// The reply (with newline) to a valid IAMAT received at `received`.
pub fn run(iamat: &Iamat, received: ClientTime, state: &ServerState) -> Vec<u8> {
    let at = Arc::new(AtLine::answer(&state.name, received, iamat));
    if state.db.update(&at) {
        state.flooder.forward(&at, None);
    }
    let mut reply = Vec::with_capacity(at.as_bytes().len() + 1);
    reply.extend_from_slice(at.as_bytes());
    reply.push(b'\n');
    reply
}
