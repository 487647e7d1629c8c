//! What the storing faults do with lines a correct server refuses: kept apart so the real
//! commands read as if faults did not exist.

use std::sync::Arc;

use herd_wire::AtLine;

use crate::faults::Fault;
use crate::state::ServerState;

/// A client time later than any real one: what a stored `nan` amounts to under
/// [`Fault::NanTimeBlocks`] (every later update compares as older).
const BLOCKING_TIME: &str = "99999999999999999999";

/// Under [`Fault::NanTimeBlocks`], stores `IAMAT client position nan` for a new client so that it
/// blocks every later update of that client.
pub fn store_nonfinite(line: &[u8], state: &ServerState) {
    if !state.faults.has(Fault::NanTimeBlocks) {
        return;
    }
    let fields: Vec<&[u8]> = herd_wire::fields::split(line).collect();
    let [_, client, position, _] = fields.as_slice() else {
        return;
    };
    if state.db.get(client).is_some() {
        return;
    }
    let text = [
        format!("AT {} +0.000000000", state.name).as_bytes(),
        client,
        position,
        BLOCKING_TIME.as_bytes(),
    ]
    .join(&b' ');
    if let Ok(at) = AtLine::parse(&text) {
        state.db.put(&Arc::new(at));
    }
}

/// Under [`Fault::RejectedOverwrites`], writes the position of an IAMAT refused for its time into
/// the line stored for that client.
pub fn overwrite_position(line: &[u8], state: &ServerState) {
    let fields: Vec<&[u8]> = herd_wire::fields::split(line).collect();
    let [b"IAMAT", client, position, _] = fields.as_slice() else {
        return;
    };
    let Some(stored) = state.db.get(client) else {
        return;
    };
    if herd_wire::Position::parse(position).is_err() {
        return;
    }
    let mut parts: Vec<&[u8]> = stored.as_bytes().split(|b| *b == b' ').collect();
    if parts.len() != 6 {
        return;
    }
    parts[4] = position;
    if let Ok(at) = AtLine::parse(&parts.join(&b' ')) {
        state.db.put(&Arc::new(at));
    }
}
