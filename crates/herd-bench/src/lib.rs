//! `herd-bench`: a load generator for proxy herds that measures round-trip latency of IAMAT and
//! WHATSAT and propagation latency across the herd, on any implementation of protocol.md.
//!
//! [`app`] runs the command: [`herds`] starts or names the herd, [`load`] drives the simulated
//! clients ([`conn`] speaks to one server, [`request`] builds and checks the lines), [`probe`]
//! follows updates across the herd, [`stats`] records, and [`report`], [`hgrm`] and [`plot`]
//! turn the figures into a summary, JSON, `.hgrm` files and an SVG chart. [`compare`] puts two
//! or more herds side by side; [`floor`] measures the loopback floor against the built-in
//! [`sink`]; [`preload`] fills a herd with clients before it is measured.

pub mod app;
pub mod args;
pub mod compare;
pub mod conn;
pub mod floor;
pub mod herds;
pub mod hgrm;
pub mod load;
pub mod plot;
pub mod preload;
pub mod probe;
pub mod progress;
pub mod report;
pub mod request;
pub mod sink;
pub mod stats;
pub mod sys;
