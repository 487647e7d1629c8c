//! Where the workspace is, for tests that read its files or run binaries from its root.

use std::path::{Path, PathBuf};

/// The workspace root (this crate lives in `crates/test-kit`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
