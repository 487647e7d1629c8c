//! Free ports on 127.0.0.1 for tests: bound, read and released at once, so that no test ever
//! depends on a fixed port being free.
//!
//! The finding itself is `herd_spawn::free_ports` (the spawner's own); these wrappers only panic
//! with a message, as a test wants. A port chosen this way may be taken by another program before
//! the test binds it: a test that starts a server checks that its own process listens there.

/// One port nobody listened on a moment ago.
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// `n` distinct ports nobody listened on a moment ago (all bound at once, so none repeats).
pub fn free_ports(n: usize) -> Vec<u16> {
    herd_spawn::free_ports(n).expect("free ports on 127.0.0.1")
}
