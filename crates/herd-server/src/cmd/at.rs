//! AT from a peer link: store the update if it is the newest, and pass it on.

use std::sync::Arc;

use herd_wire::{AtLine, ClientTime};

use crate::cmd::faulty;
use crate::cmd::iamat::{check_bounds, pass_on};
use crate::db::Stored;
use crate::state::ServerState;

/// Takes an update that arrived from neighbour `from`: what became of it, for the log. An update
/// outside this server's bounds (see [`check_bounds`]) is dropped like an old one: peers get no
/// replies, and storing it would let one server's lax bound spread through the herd.
pub fn run(at: AtLine, from: &str, state: &ServerState) -> Result<Stored, String> {
    check_bounds(at.client(), at.time(), ClientTime::now(), &state.limits)?;
    let at = Arc::new(state.faults.relayed(at, &state.name));
    let stored = faulty::store(&at, state);
    pass_on(&at, Some(from), stored, state);
    Ok(stored)
}
