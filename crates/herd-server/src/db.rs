//! `Db`: the client locations one server knows, each as the AT line that announced it.
//!
//! An update is stored only when it supersedes what is there ([`AtLine::supersedes`]: newer
//! client time, ties broken on the line's bytes), which is what ends a flood. The table holds
//! at most `max_clients` clients: at the limit a new client is refused (never an old one
//! evicted, which would let anyone flush genuine clients out by inventing new ones).
//!
//! A server may hold a million clients, so an entry is only the line's bytes, its client time and
//! where the client ID lies in the line: the ID is held once (as part of the line) and the table
//! hashes it in place (a `hashbrown::HashTable` with std's randomly keyed SipHash, so client IDs
//! chosen to collide cannot slow the table down, and an update hashes its ID once). A WHATSAT, which is rare next to updates and waits on Places anyway,
//! parses the stored line again.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use herd_wire::{AtLine, ClientTime};

/// One client's newest update.
#[derive(Debug)]
struct Location {
    line: Box<[u8]>,
    time: ClientTime,
    /// The client ID is `line[client_start..client_end]`.
    client_start: u32,
    client_end: u32,
}

impl Location {
    fn new(at: &AtLine) -> Option<Location> {
        let line = at.as_bytes();
        let client = at.client();
        // AtLine keeps the ID as part of its line (checked; else found as the fourth field).
        let offset = (client.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize);
        let start = if line.get(offset..offset.wrapping_add(client.len())) == Some(client) {
            offset
        } else {
            let ([_, _, _, field], _) = herd_wire::fields::split_array::<4>(line);
            (field.as_ptr() as usize).checked_sub(line.as_ptr() as usize)?
        };
        Some(Location {
            client_start: u32::try_from(start).ok()?,
            client_end: u32::try_from(start + client.len()).ok()?,
            line: line.into(),
            time: at.time(),
        })
    }

    fn client(&self) -> &[u8] {
        &self.line[self.client_start as usize..self.client_end as usize]
    }

    /// The same rule as [`AtLine::supersedes`], against what is stored.
    fn superseded_by(&self, at: &AtLine) -> bool {
        (at.time(), at.as_bytes()) > (self.time, &*self.line)
    }
}

/// The clients, keyed by ID.
#[derive(Debug, Default)]
struct Table {
    entries: HashTable<Location>,
    hasher: RandomState,
}

impl Table {
    fn hash(&self, client: &[u8]) -> u64 {
        self.hasher.hash_one(client)
    }

    fn find(&self, client: &[u8]) -> Option<&Location> {
        self.entries
            .find(self.hash(client), |stored| stored.client() == client)
    }

    /// The slot for `client`: its location, or room for one.
    fn entry(&mut self, client: &[u8]) -> Entry<'_, Location> {
        let hash = self.hash(client);
        let hasher = &self.hasher;
        self.entries.entry(
            hash,
            |stored| stored.client() == client,
            |stored| hasher.hash_one(stored.client()),
        )
    }
}

/// Shared location table; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    locations: Arc<Mutex<Table>>,
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
        let full = locations.entries.len() >= self.max_clients;
        match locations.entry(at.client()) {
            Entry::Occupied(mut stored) if stored.get().superseded_by(at) => {
                match Location::new(at) {
                    Some(entry) => {
                        *stored.get_mut() = entry;
                        Stored::Newer
                    }
                    None => Stored::NotNewer,
                }
            }
            Entry::Occupied(_) => Stored::NotNewer,
            Entry::Vacant(_) if full => Stored::Full,
            Entry::Vacant(room) => match Location::new(at) {
                Some(entry) => {
                    room.insert(entry);
                    Stored::Newer
                }
                None => Stored::NotNewer,
            },
        }
    }

    /// Stores `at` whatever is there (only [`crate::faults::Fault::StaleAccepted`] does this);
    /// true when it superseded the stored line.
    pub fn put(&self, at: &Arc<AtLine>) -> bool {
        let mut locations = self
            .locations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = Location::new(at);
        match locations.entry(at.client()) {
            Entry::Occupied(mut stored) => {
                let newer = stored.get().superseded_by(at);
                if let Some(entry) = entry {
                    *stored.get_mut() = entry;
                }
                newer
            }
            Entry::Vacant(room) => {
                if let Some(entry) = entry {
                    room.insert(entry);
                }
                true
            }
        }
    }

    /// The stored AT line for `client`.
    pub fn get(&self, client: &[u8]) -> Option<Arc<AtLine>> {
        let line = {
            let locations = self
                .locations
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            locations.find(client)?.line.clone()
        };
        // It parsed when it was stored.
        AtLine::parse(&line).ok().map(Arc::new)
    }

    /// How many clients are stored.
    pub fn len(&self) -> usize {
        self.locations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }

    /// True when no client is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: &str) -> Arc<AtLine> {
        Arc::new(AtLine::parse(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}")))
    }

    #[test]
    fn keeps_the_newest_line_per_client() {
        let db = Db::default();
        assert_eq!(db.update(&at("AT A +0.1 kiwi +1+1 10")), Stored::Newer);
        assert_eq!(db.update(&at("AT A +0.1 lime +1+1 5")), Stored::Newer);
        assert_eq!(db.update(&at("AT B +0.1 kiwi +2+2 9")), Stored::NotNewer);
        assert_eq!(db.update(&at("AT B +0.1 kiwi +2+2 11")), Stored::Newer);
        let stored = db.get(b"kiwi").unwrap();
        assert_eq!(stored.as_bytes(), b"AT B +0.1 kiwi +2+2 11");
        assert_eq!(
            db.get(b"lime").unwrap().time(),
            at("AT A +0.1 lime +1+1 5").time()
        );
        assert!(db.get(b"fig").is_none());
        assert_eq!(db.len(), 2);
    }

    #[test]
    fn equal_times_break_on_the_line_and_put_overwrites() {
        let db = Db::default();
        assert_eq!(db.update(&at("AT B +0.1 c +2+2 10")), Stored::Newer);
        assert_eq!(db.update(&at("AT A +0.1 c +1+1 10")), Stored::NotNewer);
        assert!(!db.put(&at("AT A +0.1 c +1+1 9")));
        assert_eq!(db.get(b"c").unwrap().as_bytes(), b"AT A +0.1 c +1+1 9");
    }

    #[test]
    fn a_full_table_refuses_new_clients_but_updates_known_ones() {
        let db = Db::new(1);
        assert_eq!(db.update(&at("AT A +0.1 a +1+1 1")), Stored::Newer);
        assert_eq!(db.update(&at("AT A +0.1 b +1+1 1")), Stored::Full);
        assert_eq!(db.update(&at("AT A +0.1 a +1+1 2")), Stored::Newer);
    }
}
