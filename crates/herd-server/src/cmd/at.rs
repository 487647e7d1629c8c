//! AT from a peer link: store the update if it is the newest, and pass it on.

use std::sync::Arc;

use herd_wire::{AtLine, ClientTime};

use crate::cmd::iamat::{check_bounds, store};
use crate::db::Stored;
use crate::faults::{Fault, Faults};
use crate::state::ServerState;

/// Takes an update that arrived from neighbour `from`: what became of it, for the log. An update
/// outside this server's bounds (see [`check_bounds`]) is dropped like an old one: peers get no
/// replies, and storing it would let one server's lax bound spread through the herd.
pub fn run(at: AtLine, from: &str, state: &ServerState) -> Result<Stored, String> {
    check_bounds(at.client(), at.time(), ClientTime::now(), &state.limits)?;
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
    } else if stored == Stored::Newer && !faults.has(Fault::NoFlood) && !faults.has(Fault::OneHop) {
        state.flooder.forward(&at, Some(from));
    }
    Ok(stored)
}
