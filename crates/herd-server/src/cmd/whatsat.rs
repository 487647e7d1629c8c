//! WHATSAT: the stored AT line, then the Places answer for that client's position.

use herd_wire::Whatsat;

use crate::server::ServerState;

/// The reply to a valid WHATSAT, or `None` when no server has heard of the client (a `?`).
pub async fn run(whatsat: &Whatsat, state: &ServerState) -> Option<Vec<u8>> {
    let at = state.db.get(whatsat.client())?;
    let json = state
        .places
        .nearby(at.position(), whatsat.radius(), whatsat.bound(), &state.log)
        .await;
    let mut reply = Vec::with_capacity(at.as_bytes().len() + json.len() + 3);
    reply.extend_from_slice(at.as_bytes());
    reply.push(b'\n');
    reply.extend_from_slice(json.as_bytes());
    reply.extend_from_slice(b"\n\n");
    Some(reply)
}
