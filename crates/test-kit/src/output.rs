//! A finished process's output as text, for assertions and failure messages.
//!
//! Lossy on purpose: a test that prints what a binary wrote must not fail on a stray byte.

use std::process::Output;

/// Bytes as text (invalid UTF-8 replaced).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the process wrote to its standard output.
pub fn stdout(output: &Output) -> String {
    text(&output.stdout)
}

/// What the process wrote to its standard error.
pub fn stderr(output: &Output) -> String {
    text(&output.stderr)
}
