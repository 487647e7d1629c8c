//! Who is on the other end of a connection: a client, a neighbour proving the herd's secret, or
//! an established peer link. A `PEER` handshake moves a connection from one to the next.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::log::{Who, printable};
use crate::peer_auth::LiveLink;

/// Who is on the other end of a connection.
pub enum Party {
    Client(SocketAddr),
    /// Said `PEER name` in a herd with a secret, and was sent `CHALLENGE nonce`.
    Challenged {
        address: SocketAddr,
        name: String,
        nonce: String,
    },
    Peer {
        name: Arc<str>,
        /// The name as the log shows it, escaped once when the link opens.
        shown: Arc<str>,
        link: LiveLink,
    },
}

impl Party {
    /// An established link from neighbour `name`.
    pub fn peer(name: &str, link: LiveLink) -> Party {
        Party::Peer {
            name: Arc::from(name),
            shown: Arc::from(printable(name.as_bytes())),
            link,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Party::Client(address) => format!("client {address}"),
            Party::Challenged { address, name, .. } => {
                format!("client {address} (linking as {name})")
            }
            Party::Peer { name, .. } => format!("peer {name}"),
        }
    }

    /// How the log names the other end.
    pub fn who(&self) -> Who {
        match self {
            Party::Client(address) | Party::Challenged { address, .. } => Who::Client(*address),
            Party::Peer { shown, .. } => Who::Peer(Arc::clone(shown)),
        }
    }
}
