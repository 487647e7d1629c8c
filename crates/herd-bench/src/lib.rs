//! `herd-bench`: a load generator for proxy herds that measures round-trip latency of IAMAT and
//! WHATSAT and propagation latency across the herd, on any implementation of protocol.md.
//!
//! [`app`] runs the command: [`herds`] says what each side loads (a herd under test, chosen and
//! started by `herd_spawn` as in the conformance suite, or the built-in [`sink`]), [`load`]
//! drives the simulated clients ([`conn`] speaks to one server, [`request`] builds and checks the
//! lines), [`probe`] follows updates across the herd, [`stats`] records, and [`report`], [`hgrm`]
//! and [`plot`] turn the figures into a summary, JSON, `.hgrm` files and an SVG chart.
//! [`compare`] puts two or more herds side by side; [`floor`] measures the loopback floor against
//! the sink; [`preload`] fills a herd with clients before it is measured.

pub mod app;
pub mod args;
mod compare;
mod conn;
mod floor;
mod herds;
mod hgrm;
mod load;
mod plot;
mod preload;
mod probe;
mod progress;
mod report;
mod request;
mod sink;
mod stats;
mod sys;
