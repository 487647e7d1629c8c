//! `conformance`: checks any implementation of the proxy-herd protocol (`shared/spec/protocol.md`)
//! and tells a grader exactly what deviates, in the tradition of h2spec and Autobahn|Testsuite.
//!
//! - [`catalogue`]: the tests, one module per section, each with a stable ID, a requirement
//!   sentence, a level (MUST / SHOULD) and what it needs;
//! - [`runner`]: what a test is and gets, and running a selection (concurrently, `--jobs`);
//! - [`expect`]: the suite's own, spec-derived expectations (independent of `herd_wire`);
//! - [`at_judge`]: the AT reply judged aspect by aspect;
//! - [`herd_watch`]: sending an update and watching every server learn it;
//! - [`fixtures`]: fresh positions and client times;
//! - [`places_call`]: the Places request a WHATSAT made (legacy or New) and the JSON to relay;
//! - [`wire`]: a client for both framings that records a transcript;
//! - [`patience`]: when a read is judged quiet, from each server's own round trips;
//! - [`setup`]: the servers under test (a `herd_spawn::HerdSource`, started) and the run's header;
//! - [`probe`]: the primary server's first IAMAT: does it answer, in which framing, as whom;
//! - [`topology`]: the herd's links and which servers an update can reach;
//! - [`propagation`]: per update and server, when it was learned (for the reports);
//! - [`sniffer`]: a listener in place of a stopped server, to count what neighbours send;
//! - [`reference`]: the hidden `reference-server` mode that runs one reference server;
//! - [`report`]: terminal, JUnit and JSON reports;
//! - [`shown`]: wire bytes as a report shows them;
//! - [`cli`]: the command line;
//! - [`grade`]: `conformance grade`, the suite over a batch of submissions with one summary.

mod at_judge;
mod catalogue;
pub mod cli;
pub mod expect;
mod fixtures;
pub mod grade;
mod herd_watch;
mod patience;
pub mod places_call;
mod probe;
mod propagation;
pub mod reference;
mod report;
mod runner;
mod select;
mod setup;
mod shown;
mod sniffer;
mod topology;
mod wire;
