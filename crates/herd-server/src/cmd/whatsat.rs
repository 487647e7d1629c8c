//! WHATSAT: the stored AT line, then the Places answer for that client's position.

use herd_wire::Whatsat;

use crate::cmd::faulty;
use crate::state::ServerState;

/// The reply to a valid WHATSAT, or `None` when no server has heard of the client (a `?`).
pub async fn run(whatsat: &Whatsat, state: &ServerState) -> Option<Vec<u8>> {
    let at = state.db.get(whatsat.client())?;
    let position = at.position();
    if state.faults.refuses_position(position.as_str().as_bytes()) {
        return None;
    }
    let bound = state.faults.bound(whatsat.bound());
    let json = state
        .places
        .nearby(&position, whatsat.radius(), bound, &state.log)
        .await;
    if let Some(reply) = faulty::whatsat_reply(&at, &json, state) {
        return Some(reply);
    }
    Some(reply(at.as_bytes(), &json, b"\n\n"))
}

/// The stored line, a newline, the JSON, then `ending` (a blank line, by protocol.md).
pub(super) fn reply(line: &[u8], json: &str, ending: &[u8]) -> Vec<u8> {
    let mut reply = Vec::with_capacity(line.len() + json.len() + 1 + ending.len());
    reply.extend_from_slice(line);
    reply.push(b'\n');
    reply.extend_from_slice(json.as_bytes());
    reply.extend_from_slice(ending);
    reply
}
