//! The two client requests, parsed: `IAMAT client position time` and `WHATSAT client radius
//! bound`. The command parser makes them from a line; an AT line is made from an IAMAT.

use crate::client_time::ClientTime;
use crate::position::Position;
use crate::whatsat_args::{Bound, Radius};

/// `IAMAT client position time`.
#[derive(Clone, Debug, PartialEq)]
pub struct Iamat {
    client: Vec<u8>,
    position: Position,
    time: ClientTime,
    time_text: Vec<u8>,
}

impl Iamat {
    /// An IAMAT from its checked operands (`time_text`: the time as sent).
    pub(crate) fn new(
        client: Vec<u8>,
        position: Position,
        time: ClientTime,
        time_text: Vec<u8>,
    ) -> Iamat {
        Iamat {
            client,
            position,
            time,
            time_text,
        }
    }

    /// The client ID, byte for byte.
    pub fn client(&self) -> &[u8] {
        &self.client
    }
    /// The reported position.
    pub fn position(&self) -> &Position {
        &self.position
    }
    /// The client's time.
    pub fn time(&self) -> ClientTime {
        self.time
    }
    /// The client's time exactly as sent.
    pub fn time_text(&self) -> &[u8] {
        &self.time_text
    }
}

/// `WHATSAT client radius bound`.
#[derive(Clone, Debug, PartialEq)]
pub struct Whatsat {
    client: Vec<u8>,
    radius: Radius,
    bound: Bound,
}

impl Whatsat {
    /// A WHATSAT from its checked operands.
    pub(crate) fn new(client: Vec<u8>, radius: Radius, bound: Bound) -> Whatsat {
        Whatsat {
            client,
            radius,
            bound,
        }
    }

    /// The client asked about, byte for byte.
    pub fn client(&self) -> &[u8] {
        &self.client
    }
    /// The radius in kilometres.
    pub fn radius(&self) -> &Radius {
        &self.radius
    }
    /// The most places to return.
    pub fn bound(&self) -> Bound {
        self.bound
    }
}
