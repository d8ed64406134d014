//! Paths in events, relative to the repository root.
//!
//! Tools name files relative to the step's working directory (or
//! absolutely). CI annotations, SARIF and Code Quality need them relative
//! to the repository root, so the executor rebases every finding's and
//! check's location before emitting it, and records each step's `cwd`
//! (relative to the root) in its `StepStarted` event.

use std::path::{Component, Path, PathBuf};

use step_core::outcome::Location;

/// `path` relative to `root` (`.` for the root itself), or `path` itself
/// when it lies outside `root`. Both are cleaned lexically first (`.` and
/// `..` resolved), so `infra/../a.yml` reads `a.yml`.
pub(crate) fn relative_to(root: &Path, path: &Path) -> String {
    let root = clean(root);
    let path = clean(path);
    match path.strip_prefix(&root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => path.to_string_lossy().into_owned(),
    }
}

/// Rebases a location a tool reported relative to `workdir` (or
/// absolutely) onto `root`.
pub(crate) fn rebase(location: &mut Location, root: &Path, workdir: &Path) {
    if location.file.is_empty() {
        return;
    }
    let file = workdir.join(&location.file);
    location.file = relative_to(root, &file);
}

/// The location of a step entry in the pipeline file, relative to `root`.
pub(crate) fn entry_location(root: &Path, file: &Path, line: u64, column: u64) -> Location {
    let absolute = if file.is_absolute() {
        file.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(file))
            .unwrap_or_else(|_| file.to_path_buf())
    };
    let path = relative_to(root, &absolute);
    let line = u32::try_from(line).ok().filter(|&l| l > 0);
    let column = u32::try_from(column).ok().filter(|&c| c > 0);
    Location {
        file: path,
        line,
        column: line.and(column),
    }
}

/// Appends a step's outputs to a CI output file (GitHub's
/// `$GITHUB_OUTPUT`) as `<target>_<prefix>_<name>` (no target outside a
/// `for_each`), names reduced to letters, digits, `_` and `-`; strings as
/// they are, other values as JSON; secrets masked.
pub(crate) fn export_outputs(
    file: &Path,
    target: Option<&str>,
    prefix: &str,
    outputs: &serde_json::Map<String, serde_json::Value>,
    masker: &step_core::Masker,
) -> std::io::Result<()> {
    let mut text = String::new();
    for (name, value) in outputs {
        let full = match target {
            Some(t) => format!("{t}_{prefix}_{name}"),
            None => format!("{prefix}_{name}"),
        };
        let full: String = full
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut value = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        masker.mask_in_place(&mut value);
        text.push_str(&crate::report::github::output_lines(&full, &value));
    }
    crate::report::github::append(file, &text)
}

/// Resolves `.` and `..` without touching the file system (the file may
/// not exist, and symlinks are the tool's business).
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdir_relative_paths_become_root_relative() {
        let mut l = Location::at("main.tf", 3, Some(1));
        rebase(&mut l, Path::new("/repo"), Path::new("/repo/infra/tf"));
        assert_eq!(l.file, "infra/tf/main.tf");
        assert_eq!((l.line, l.column), (Some(3), Some(1)));
    }

    #[test]
    fn absolute_and_dotted_paths_are_cleaned() {
        let mut l = Location::file("/repo/ansible/../site.yml");
        rebase(&mut l, Path::new("/repo"), Path::new("/repo/infra"));
        assert_eq!(l.file, "site.yml");
        let mut l = Location::file("../roles/a.yml");
        rebase(&mut l, Path::new("/repo/"), Path::new("/repo/./ansible"));
        assert_eq!(l.file, "roles/a.yml");
    }

    #[test]
    fn paths_outside_the_root_stay_absolute() {
        let mut l = Location::file("/tmp/bench.log");
        rebase(&mut l, Path::new("/repo"), Path::new("/repo"));
        assert_eq!(l.file, "/tmp/bench.log");
        assert_eq!(relative_to(Path::new("/repo"), Path::new("/repo")), ".");
    }

    #[test]
    fn entry_locations_carry_line_and_column() {
        let l = entry_location(Path::new("/repo"), Path::new("/repo/stepwise.yml"), 12, 7);
        assert_eq!(l, Location::at("stepwise.yml", 12, Some(7)));
        let l = entry_location(Path::new("/repo"), Path::new("/repo/stepwise.yml"), 0, 0);
        assert_eq!(l, Location::file("stepwise.yml"));
    }
}
