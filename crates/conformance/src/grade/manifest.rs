//! Which submissions a grading batch holds: a TOML manifest (one `[[submission]]` per entry,
//! with defaults at the top) or a directory whose every subdirectory is one submission.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// One submission to grade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// Its name in the summary (unique; also its report folder's name).
    pub name: String,
    /// Where its servers are started (the `--spawn` command's working directory).
    pub dir: PathBuf,
    /// The `--spawn` template that starts one of its servers.
    pub spawn: String,
    /// Its herd (preset or TOML file, relative to `dir`), when not the suite's default.
    pub herd: Option<String>,
    /// Its own time limit, when not the batch's.
    pub time_limit: Option<Duration>,
}

impl Submission {
    /// True when its servers listen on ports of their own choosing (the template leaves the
    /// port to the submission): such submissions cannot run side by side.
    pub fn fixed_ports(&self) -> bool {
        !["{port}", "{address}", "{herd}", "{herd_file}"]
            .iter()
            .any(|p| self.spawn.contains(p))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    /// Default start template.
    spawn: Option<String>,
    /// Default herd.
    herd: Option<String>,
    #[serde(default)]
    submission: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: Option<String>,
    dir: PathBuf,
    spawn: Option<String>,
    herd: Option<String>,
    /// Seconds, or a duration such as `90s` or `2m`.
    time_limit: Option<String>,
}

/// Reads a manifest; `spawn` and `herd` from the command line are the defaults an entry and the
/// file's own defaults override. Relative directories are relative to the manifest.
pub fn from_manifest(
    path: &Path,
    spawn: Option<&str>,
    herd: Option<&str>,
) -> anyhow::Result<Vec<Submission>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the manifest {}", path.display()))?;
    let file: ManifestFile = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid grading manifest", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (i, e) in file.submission.into_iter().enumerate() {
        let dir = base.join(&e.dir);
        let name = e.name.unwrap_or_else(|| folder_name(&dir));
        let Some(template) = e
            .spawn
            .or_else(|| file.spawn.clone())
            .or_else(|| spawn.map(str::to_owned))
        else {
            bail!(
                "{}: submission {} ({name}) has no start template: give it `spawn = \"...\"`, \
                 put one at the top of the manifest, or pass --spawn",
                path.display(),
                i + 1
            );
        };
        let time_limit = match &e.time_limit {
            None => None,
            Some(t) => Some(herd_wire::parse_duration(t).map_err(|why| {
                anyhow::anyhow!(
                    "{}: submission {name}: time_limit `{t}`: {why}",
                    path.display()
                )
            })?),
        };
        out.push(Submission {
            name,
            dir,
            spawn: template,
            time_limit,
            herd: e
                .herd
                .or_else(|| file.herd.clone())
                .or_else(|| herd.map(str::to_owned)),
        });
    }
    check(out, &path.display().to_string())
}

/// Every subdirectory of `dir` (sorted by name), each started with `spawn`.
pub fn from_directory(
    dir: &Path,
    spawn: &str,
    herd: Option<&str>,
) -> anyhow::Result<Vec<Submission>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the submissions folder {}", dir.display()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let out = dirs
        .into_iter()
        .map(|d| Submission {
            name: folder_name(&d),
            dir: d,
            spawn: spawn.to_owned(),
            herd: herd.map(str::to_owned),
            time_limit: None,
        })
        .collect();
    check(out, &dir.display().to_string())
}

fn folder_name(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Fails on an empty batch, a missing folder or a repeated name.
fn check(submissions: Vec<Submission>, source: &str) -> anyhow::Result<Vec<Submission>> {
    if submissions.is_empty() {
        bail!("{source} names no submission");
    }
    let mut seen = std::collections::HashSet::new();
    for s in &submissions {
        if !s.dir.is_dir() {
            bail!(
                "{source}: the folder of submission {} does not exist: {}",
                s.name,
                s.dir.display()
            );
        }
        let safe = !s.name.is_empty()
            && s.name
                .chars()
                .all(|c| c.is_alphanumeric() || "-_.".contains(c))
            && !s.name.starts_with('.');
        if !safe {
            bail!(
                "{source}: submission name `{}` must be letters, digits, `-`, `_` or `.` (it names a report folder)",
                s.name
            );
        }
        if !seen.insert(s.name.clone()) {
            bail!(
                "{source}: two submissions are named `{}`: give each a unique `name`",
                s.name
            );
        }
    }
    Ok(submissions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_inherit_and_override_the_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["a", "b"] {
            std::fs::create_dir(dir.path().join(d)).expect("mkdir");
        }
        let manifest = dir.path().join("m.toml");
        std::fs::write(
            &manifest,
            "spawn = \"py s.py {name} --port {port}\"\n\
             [[submission]]\ndir = \"a\"\n\
             [[submission]]\nname = \"bee\"\ndir = \"b\"\nspawn = \"./run {name}\"\nherd = \"h.toml\"\n",
        )
        .expect("write");
        let subs = from_manifest(&manifest, None, Some("spring20")).expect("manifest");
        assert_eq!(subs[0].name, "a");
        assert_eq!(subs[0].herd.as_deref(), Some("spring20"));
        assert!(!subs[0].fixed_ports());
        assert_eq!(subs[1].name, "bee");
        assert_eq!(subs[1].spawn, "./run {name}");
        assert!(subs[1].fixed_ports());
    }

    #[test]
    fn bad_manifests_say_what_is_wrong() {
        let dir = tempfile::tempdir().expect("tempdir");
        let manifest = dir.path().join("m.toml");
        for (text, says) in [
            ("[[submission]]\ndir = \".\"\n", "has no start template"),
            (
                "spawn = \"x\"\n[[submission]]\ndir = \"nope\"\n",
                "does not exist",
            ),
            ("spawn = \"x\"\n", "names no submission"),
            (
                "spawn = \"x\"\n[[submission]]\ndir = \".\"\nname = \"a\"\n[[submission]]\ndir = \".\"\nname = \"a\"\n",
                "two submissions",
            ),
            ("spawn = 3\n", "not a valid grading manifest"),
        ] {
            std::fs::write(&manifest, text).expect("write");
            let err = format!(
                "{:#}",
                from_manifest(&manifest, None, None).expect_err(text)
            );
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
