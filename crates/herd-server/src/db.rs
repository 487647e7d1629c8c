//! `Db`: the client locations one server knows, each as the AT line that announced it.
//!
//! An update is stored only when it supersedes what is there ([`AtLine::supersedes`]: newer
//! client time, ties broken on the line's bytes), which is what ends a flood. The table holds
//! at most `max_clients` clients: at the limit a new client is refused (never an old one
//! evicted, which would let anyone flush genuine clients out by inventing new ones).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use herd_wire::AtLine;

/// Shared location table; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    locations: Arc<Mutex<HashMap<Vec<u8>, Arc<AtLine>>>>,
    max_clients: usize,
}

/// What [`Db::update`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// It superseded what was there (or the client is new): stored.
    Newer,
    /// Not newer than the stored line: dropped.
    NotNewer,
    /// A new client, and the table holds its limit: dropped.
    Full,
}

impl Default for Db {
    fn default() -> Db {
        Db::new(crate::limits::DEFAULT_MAX_CLIENTS)
    }
}

impl Db {
    /// An empty table for at most `max_clients` clients.
    pub fn new(max_clients: usize) -> Db {
        Db {
            locations: Arc::default(),
            max_clients,
        }
    }

    /// Stores `at` if it supersedes the stored line for its client and there is room.
    pub fn update(&self, at: &Arc<AtLine>) -> Stored {
        let mut locations = self
            .locations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let full = locations.len() >= self.max_clients;
        match locations.get_mut(at.client()) {
            Some(stored) if !at.supersedes(stored) => Stored::NotNewer,
            Some(stored) => {
                *stored = Arc::clone(at);
                Stored::Newer
            }
            None if full => Stored::Full,
            None => {
                locations.insert(at.client().to_vec(), Arc::clone(at));
                Stored::Newer
            }
        }
    }

    /// How many clients are stored.
    pub fn len(&self) -> usize {
        self.locations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True when no client is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores `at` whatever is there (only [`crate::faults::Fault::StaleAccepted`] does this);
    /// true when it superseded the stored line.
    pub fn put(&self, at: &Arc<AtLine>) -> bool {
        let mut locations = self
            .locations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let newer = locations
            .get(at.client())
            .is_none_or(|stored| at.supersedes(stored));
        locations.insert(at.client().to_vec(), Arc::clone(at));
        newer
    }

    /// The stored AT line for `client`.
    pub fn get(&self, client: &[u8]) -> Option<Arc<AtLine>> {
        self.locations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(client)
            .cloned()
    }
}
