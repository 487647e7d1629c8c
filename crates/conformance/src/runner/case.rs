//! What a test is: a [`TestCase`] row with a stable ID, a level, what it needs to run, whether it
//! may run beside other tests, and the function that checks it. The [`case!`] macro writes one.

use std::future::Future;
use std::pin::Pin;

use super::context::Ctx;
use super::outcome::Problem;

/// How strongly protocol.md asks for something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Level {
    #[serde(rename = "MUST")]
    Must,
    #[serde(rename = "SHOULD")]
    Should,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        }
    }
}

/// What a test needs from the servers under test; it is skipped, saying why, without it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// The whole herd: names, addresses and links of every server.
    pub herd: bool,
    /// The suite owns the server processes (it stops and starts them).
    pub spawn: bool,
}

/// Whether a test may run while others run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Beside any other concurrent test (it touches only its own clients).
    Concurrent,
    /// Alone: it changes something every test sees (the stand-in's failure mode, a stopped
    /// server) or needs a quiet herd to count what is sent.
    Alone,
}

/// How long a test may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// A few exchanges: the per-test timeout.
    Exchanges,
    /// Floods across the herd, restarts and many cases: the timeout plus many settle periods.
    HerdWide,
}

/// One attribute of a [`case!`] row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr {
    /// Needs the whole herd; herd-wide budget.
    Herd,
    /// Needs to stop and start servers; runs alone.
    Spawn,
    /// Runs alone.
    Alone,
}

/// A boxed test future.
pub type TestFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Problem>> + Send + 'a>>;

/// One test of the catalogue.
#[derive(Debug)]
pub struct TestCase {
    /// Stable ID, `section/name`.
    pub id: &'static str,
    pub level: Level,
    pub needs: Needs,
    pub phase: Phase,
    pub budget: Budget,
    /// The requirement checked, one sentence.
    pub requirement: &'static str,
    pub run: for<'a> fn(&'a Ctx) -> TestFuture<'a>,
}

impl TestCase {
    /// A row from its attributes (what [`case!`] expands to).
    pub const fn new(
        id: &'static str,
        level: Level,
        attrs: &[Attr],
        requirement: &'static str,
        run: for<'a> fn(&'a Ctx) -> TestFuture<'a>,
    ) -> TestCase {
        let mut needs = Needs {
            herd: false,
            spawn: false,
        };
        let mut phase = Phase::Concurrent;
        let mut i = 0;
        while i < attrs.len() {
            match attrs[i] {
                Attr::Herd => needs.herd = true,
                Attr::Spawn => {
                    needs.herd = true;
                    needs.spawn = true;
                    phase = Phase::Alone;
                }
                Attr::Alone => phase = Phase::Alone,
            }
            i += 1;
        }
        TestCase {
            id,
            level,
            needs,
            phase,
            budget: if needs.herd {
                Budget::HerdWide
            } else {
                Budget::Exchanges
            },
            requirement,
            run,
        }
    }

    /// The part of the ID before the `/`.
    pub fn section(&self) -> &'static str {
        self.id.split_once('/').map_or(self.id, |(s, _)| s)
    }
}

/// Declares a [`TestCase`]: `case!("iamat/x", Must, [Herd], "Requirement.", function)`.
#[macro_export]
macro_rules! case {
    ($id:literal, $level:ident, [$($attr:ident),*], $req:literal, $f:path) => {
        $crate::runner::TestCase::new(
            $id,
            $crate::runner::Level::$level,
            &[$($crate::runner::Attr::$attr),*],
            $req,
            |ctx| Box::pin($f(ctx)),
        )
    };
}
