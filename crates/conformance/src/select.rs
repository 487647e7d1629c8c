//! Choosing tests: `--run` / `--skip` ID globs (a bare section name means the whole section;
//! `section/N` aliases work too) and the `--known-failing` file.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context as _, bail};
use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::runner::{TestCase, aliases};

/// Compiles ID patterns; `iamat` alone means `iamat/*`.
pub fn patterns(list: &[String]) -> anyhow::Result<Option<GlobSet>> {
    if list.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in list {
        let pattern = if pattern.contains('/') || pattern.contains('*') {
            pattern.clone()
        } else {
            format!("{pattern}/*")
        };
        builder.add(Glob::new(&pattern).with_context(|| format!("bad test pattern `{pattern}`"))?);
    }
    Ok(Some(builder.build()?))
}

/// The tests (with their `section/N` aliases) that `run` selects and `skip` leaves in.
pub fn select(
    all: &[&'static TestCase],
    run: &[String],
    skip: &[String],
) -> anyhow::Result<Vec<(&'static TestCase, String)>> {
    let run_set = patterns(run)?;
    let skip_set = patterns(skip)?;
    let matches = |set: &Option<GlobSet>, case: &TestCase, alias: &str| {
        set.as_ref()
            .is_some_and(|s| s.is_match(case.id) || s.is_match(alias))
    };
    let chosen: Vec<(&'static TestCase, String)> = all
        .iter()
        .zip(aliases(all))
        .filter(|(case, alias)| run_set.is_none() || matches(&run_set, case, alias))
        .filter(|(case, alias)| !matches(&skip_set, case, alias))
        .map(|(case, alias)| (*case, alias))
        .collect();
    if chosen.is_empty() {
        bail!(
            "no test matches --run {} (see --list for the IDs)",
            run.join(" ")
        );
    }
    Ok(chosen)
}

/// Reads a known-failing file: one test ID (or `section/N`) per line, `#` starts a comment.
/// Every entry must name a test, so a renamed test cannot silently leave the list.
pub fn known_failing(path: &Path, all: &[&'static TestCase]) -> anyhow::Result<HashSet<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the known-failing file {}", path.display()))?;
    let ids: HashSet<String> = all
        .iter()
        .map(|t| t.id.to_owned())
        .chain(aliases(all))
        .collect();
    let mut known = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        if !ids.contains(entry) {
            bail!(
                "{}:{}: `{entry}` is not a test ID (see --list)",
                path.display(),
                n + 1
            );
        }
        known.insert(entry.to_owned());
    }
    Ok(known)
}
