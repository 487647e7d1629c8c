//! The herd under test for the conformance suite and the bench ([`HerdSource`], [`StartedHerd`]):
//! the reference herd, a running herd or servers, or the servers of a herd implementation — ours
//! or a course submission — started from a shell command template and stopped again, so that
//! both tools choose, start, check and stop the servers they test the same way.
//!
//! Two things make a spawned herd trustworthy when several runs share a machine (a grader running
//! suites in parallel, two benchmarks at once):
//! - a server counts as started only when the socket listening on its port belongs to its own
//!   process group (checked through `/proc`), not merely when something answers on that port;
//! - a free port can be taken by another program between being chosen and being bound; when that
//!   happens the whole herd is started again on new ports (every server must learn its peers'
//!   real addresses from the herd file, so one server cannot move alone).

mod procfs;
mod spawner;
mod template;
mod under_test;

pub use procfs::group_listens;
pub use spawner::{Down, HowDown, PORT_ATTEMPTS, START_TIMEOUT, Spawner, StartError, free_ports};
pub use template::{PLACEHOLDERS, shell_quote};
pub use under_test::{HerdSource, Spawn, StartedHerd};
