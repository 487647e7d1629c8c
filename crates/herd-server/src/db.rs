//! `Db`: the client locations one server knows, each as the AT line that announced it.
//!
//! An update is stored only when it supersedes what is there ([`AtLine::supersedes`]: newer
//! client time, ties broken on the line's bytes), which is what ends a flood.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use herd_wire::AtLine;

/// Shared location table; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Db {
    locations: Arc<Mutex<HashMap<Vec<u8>, Arc<AtLine>>>>,
}

impl Db {
    /// Stores `at` if it supersedes the stored line for its client; true when stored.
    pub fn update(&self, at: &Arc<AtLine>) -> bool {
        let mut locations = self
            .locations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match locations.get(at.client()) {
            Some(stored) if !at.supersedes(stored) => false,
            _ => {
                locations.insert(at.client().to_vec(), Arc::clone(at));
                true
            }
        }
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
