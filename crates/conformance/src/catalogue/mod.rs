//! The catalogue: every test, by section, in report order. Each section is a module with its
//! `TESTS` rows; what several sections share lives outside (`at_judge`, `herd_watch`,
//! `fixtures`, and the runner's exchanges).

pub mod errors;
pub mod flood;
pub mod framing;
pub mod iamat;
pub mod places;
pub mod resilience;
pub mod security;
pub mod whatsat;

use crate::runner::TestCase;

/// Every test, in report order.
pub fn all() -> Vec<&'static TestCase> {
    [
        iamat::TESTS,
        whatsat::TESTS,
        places::TESTS,
        errors::TESTS,
        framing::TESTS,
        flood::TESTS,
        resilience::TESTS,
        security::TESTS,
    ]
    .iter()
    .flat_map(|section| section.iter())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_ids_are_unique_and_sectioned() {
        let tests = all();
        let mut ids: Vec<&str> = tests.iter().map(|t| t.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate test IDs");
        for t in &tests {
            assert!(t.id.contains('/'), "{}", t.id);
            assert!(t.requirement.ends_with('.'), "{}", t.id);
        }
    }
}
