//! AT from a peer link: store the update if it is the newest, and pass it on.

use std::sync::Arc;

use herd_wire::AtLine;

use crate::server::ServerState;

/// Takes an update that arrived from neighbour `from`; true when it was new here.
pub fn run(at: AtLine, from: &str, state: &ServerState) -> bool {
    let at = Arc::new(at);
    let stored = state.db.update(&at);
    if stored {
        state.flooder.forward(&at, Some(from));
    }
    stored
}
