//! AT from a peer link: store the update if it is the newest, and pass it on.

use std::sync::Arc;

use herd_wire::AtLine;

use crate::cmd::iamat::store;
use crate::faults::{Fault, Faults};
use crate::server::ServerState;

/// Takes an update that arrived from neighbour `from`; true when it was new here.
pub fn run(at: AtLine, from: &str, state: &ServerState) -> bool {
    let faults = &state.faults;
    let at = if faults.has(Fault::RecomputeRelay) {
        AtLine::parse(&Faults::relabelled(&at, &state.name)).unwrap_or(at)
    } else {
        at
    };
    let at = Arc::new(at);
    let stored = store(&at, state);
    if faults.has(Fault::FloodLoop) {
        if faults.loop_again(at.as_bytes()) {
            state.flooder.forward_to(&at, |_| true);
        }
    } else if stored && !faults.has(Fault::NoFlood) && !faults.has(Fault::OneHop) {
        state.flooder.forward(&at, Some(from));
    }
    stored
}
