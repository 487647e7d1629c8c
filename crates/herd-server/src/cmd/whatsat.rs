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
    let line = at.as_bytes();
    let mut reply = Vec::with_capacity(line.len() + json.len() + 3);
    reply.extend_from_slice(line);
    reply.push(b'\n');
    reply.extend_from_slice(json.as_bytes());
    reply.extend_from_slice(b"\n\n");
    Some(reply)
}
