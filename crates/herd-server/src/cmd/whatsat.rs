//! WHATSAT: the stored AT line, then the Places answer for that client's position.

use herd_wire::{Bound, Whatsat};
use serde::Serialize;

use crate::faults::{Fault, Faults};
use crate::state::ServerState;

/// The reply to a valid WHATSAT, or `None` when no server has heard of the client (a `?`).
pub async fn run(whatsat: &Whatsat, state: &ServerState) -> Option<Vec<u8>> {
    let at = state.db.get(whatsat.client())?;
    let faults = &state.faults;
    if faults.refuses_position(at.position().as_str().as_bytes()) {
        return None;
    }
    let bound = if faults.has(Fault::Untrimmed) {
        Bound::MAX
    } else {
        whatsat.bound()
    };
    let mut json = state
        .places
        .nearby(at.position(), whatsat.radius(), bound, &state.log)
        .await;
    if faults.has(Fault::Indent4) {
        json = indent4(&json).unwrap_or(json);
    }
    let line = if faults.has(Fault::RecomputeDiff) {
        Faults::relabelled(&at, &state.name)
    } else if faults.is_empty() {
        at.as_bytes().to_vec()
    } else {
        faults.rewrite_whatsat_line(at.as_bytes())
    };
    let mut reply = Vec::with_capacity(line.len() + json.len() + 3);
    reply.extend_from_slice(&line);
    reply.push(b'\n');
    reply.extend_from_slice(json.as_bytes());
    reply.extend_from_slice(if faults.has(Fault::SingleNewline) {
        b"\n"
    } else {
        b"\n\n"
    });
    Some(reply)
}

/// The `indent4` mistake: Python's `json.dumps(indent=4)` layout.
fn indent4(json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    value
        .serialize(&mut serde_json::Serializer::with_formatter(
            &mut out, formatter,
        ))
        .ok()?;
    String::from_utf8(out).ok()
}
