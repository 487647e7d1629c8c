//! The runner: what a test is ([`case`]), what it gets ([`context`], with the herd primitives of
//! [`herd`]), what comes of it ([`outcome`]), and running a selection ([`run`]) — including the
//! herd's warm-up and restore ([`herd_control`]), which belong to the runner, not to any test.

pub mod case;
pub mod context;
pub mod herd;
pub mod herd_control;
pub mod outcome;
pub mod run;

pub use case::{Attr, Level, TestCase};
pub use context::{Ctx, Env, Framing, Shape, Target, no_reply_problem};
pub use herd::{
    Answer, addr, ask, busy_now, first_line, iamat_at, names, same_update,
    same_update_and_position_bytes,
};
pub use herd_control::{POLL, set_down, warm_up};
pub use outcome::{Failure, Outcome, Problem, Summary, TestResult, Verdicts, fail};
pub use run::{aliases, run};
