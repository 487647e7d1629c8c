//! A submission's server logs in its grade folder: copied (hard-linked where the file system
//! allows) from the suite run's temporary logs folder, and listed for `index.html`.

use std::path::{Path, PathBuf};

/// The folder, inside a submission's grade folder, that holds its servers' logs.
pub const LOGS: &str = "logs";

/// Copies every file of `from` (not recursively) into `to`, which is created; a hard link
/// where possible, so large logs cost no second copy.
pub fn copy_folder(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let target = to.join(entry.file_name());
        let _ = std::fs::remove_file(&target);
        if std::fs::hard_link(entry.path(), &target).is_err() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The log files in a grade folder's `logs/`, by name (none when it has no such folder).
pub fn listed(grade_folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(grade_folder.join(LOGS))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| PathBuf::from(LOGS).join(e.file_name()))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_files_and_lists_them() {
        let from = tempfile::tempdir().expect("tempdir");
        let grade = tempfile::tempdir().expect("tempdir");
        std::fs::write(from.path().join("Clark.log"), "one\n").expect("write");
        std::fs::write(from.path().join("Bailey.out"), "two\n").expect("write");
        std::fs::create_dir(from.path().join("sub")).expect("mkdir");
        copy_folder(from.path(), &grade.path().join(LOGS)).expect("copy");
        copy_folder(from.path(), &grade.path().join(LOGS)).expect("a second copy replaces");
        assert_eq!(
            listed(grade.path()),
            vec![
                PathBuf::from("logs/Bailey.out"),
                PathBuf::from("logs/Clark.log")
            ]
        );
        let text = std::fs::read_to_string(grade.path().join("logs/Clark.log")).expect("read");
        assert_eq!(text, "one\n");
        assert!(listed(from.path()).is_empty());
    }
}
