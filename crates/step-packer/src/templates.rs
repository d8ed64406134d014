//! Turning the `template` property (a path, a glob, or a list of either)
//! into the template files packer is run on.
//!
//! Patterns are relative to the step's working directory, and so is the
//! path handed to packer (packer runs there): packer resolves a JSON
//! template's `scripts` against its own working directory, as the seed's
//! `cd packer && ./packer validate …` did, and names files the same way in
//! its messages.

use std::path::{Path, PathBuf};

use step_core::ConfigError;
use step_core::paths::{PathKind, require_path};

/// One template to run packer on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateFile {
    /// The path given to packer and shown in messages: relative to the
    /// working directory when the file is inside it, else absolute.
    pub arg: String,
    /// The absolute path.
    pub path: PathBuf,
}

/// Whether a pattern has glob syntax in it.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Resolves paths and globs against `workdir`. A glob must match at least
/// one file and a path must exist; a file named twice is used once. Errors
/// name `property`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.json"), "{}").unwrap();
/// std::fs::write(dir.path().join("b.json"), "{}").unwrap();
/// let files = step_packer::templates::resolve(&["*.json".into()], dir.path(), "template").unwrap();
/// let args: Vec<_> = files.iter().map(|t| t.arg.as_str()).collect();
/// assert_eq!(args, ["a.json", "b.json"]);
/// let err = step_packer::templates::resolve(&["*.hcl".into()], dir.path(), "template").unwrap_err();
/// assert!(err.to_string().contains("matches no file"), "{err}");
/// ```
pub fn resolve(
    patterns: &[String],
    workdir: &Path,
    property: &str,
) -> Result<Vec<TemplateFile>, ConfigError> {
    if patterns.is_empty() {
        return Err(ConfigError::property(
            property,
            "name at least one template (a path, a glob, or a list of them)",
        ));
    }
    let mut files: Vec<TemplateFile> = Vec::new();
    for pattern in patterns {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Err(ConfigError::property(property, "a template path is empty"));
        }
        let found = if is_glob(pattern) {
            expand_glob(pattern, workdir, property)?
        } else {
            let path = workdir.join(pattern);
            require_path(property, pattern, &path, PathKind::Any)?;
            vec![TemplateFile {
                arg: display_arg(pattern, &path, workdir),
                path,
            }]
        };
        for file in found {
            if !files.iter().any(|f| same_file(&f.path, &file.path)) {
                files.push(file);
            }
        }
    }
    Ok(files)
}

fn expand_glob(
    pattern: &str,
    workdir: &Path,
    property: &str,
) -> Result<Vec<TemplateFile>, ConfigError> {
    let absolute = if Path::new(pattern).is_absolute() {
        pattern.to_string()
    } else {
        let Some(dir) = workdir.to_str() else {
            return Err(ConfigError::property(
                property,
                format!(
                    "cannot expand `{pattern}`: the working directory {} is not valid UTF-8",
                    workdir.display()
                ),
            ));
        };
        // The directory is literal text, not part of the pattern.
        format!(
            "{}/{pattern}",
            glob::Pattern::escape(dir.trim_end_matches('/'))
        )
    };
    let entries = glob::glob(&absolute).map_err(|e| {
        ConfigError::property(property, format!("`{pattern}` is not a valid glob: {e}"))
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| {
            ConfigError::property(property, format!("cannot expand `{pattern}`: {e}"))
        })?;
        let arg = match path.strip_prefix(workdir) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => path.to_string_lossy().into_owned(),
        };
        files.push(TemplateFile { arg, path });
    }
    if files.is_empty() {
        return Err(ConfigError::property(
            property,
            format!("`{pattern}` matches no file in {}", workdir.display()),
        ));
    }
    Ok(files)
}

/// The user's own spelling for relative paths; absolute paths inside the
/// working directory are shown relative to it.
fn display_arg(pattern: &str, path: &Path, workdir: &Path) -> String {
    if !Path::new(pattern).is_absolute() {
        return pattern.to_string();
    }
    match path.strip_prefix(workdir) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().into_owned(),
        _ => pattern.to_string(),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("packer/hcl")).unwrap();
        for f in [
            "packer/a.json",
            "packer/b.json",
            "packer/hcl/c.pkr.hcl",
            "other.json",
        ] {
            std::fs::write(dir.path().join(f), "{}").unwrap();
        }
        dir
    }

    #[test]
    fn paths_globs_and_lists_resolve_in_order_without_duplicates() {
        let dir = setup();
        let files = resolve(
            &[
                "other.json".into(),
                "packer/*.json".into(),
                "packer/a.json".into(),
                "packer/hcl".into(),
            ],
            dir.path(),
            "template",
        )
        .unwrap();
        let args: Vec<_> = files.iter().map(|t| t.arg.as_str()).collect();
        assert_eq!(
            args,
            ["other.json", "packer/a.json", "packer/b.json", "packer/hcl"]
        );
        assert!(files.iter().all(|f| f.path.is_absolute()));
    }

    #[test]
    fn absolute_paths_inside_the_workdir_are_shown_relative() {
        let dir = setup();
        let abs = dir
            .path()
            .join("packer/a.json")
            .to_string_lossy()
            .into_owned();
        let files = resolve(&[abs], dir.path(), "template").unwrap();
        assert_eq!(files[0].arg, "packer/a.json");
    }

    #[test]
    fn a_workdir_with_glob_characters_is_literal() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("x[1]");
        std::fs::create_dir(&odd).unwrap();
        std::fs::write(odd.join("t.json"), "{}").unwrap();
        let files = resolve(&["*.json".into()], &odd, "template").unwrap();
        assert_eq!(files[0].arg, "t.json");
    }

    #[test]
    fn errors_name_the_property_and_the_pattern() {
        let dir = setup();
        let e = resolve(&["packer/*.hcl".into()], dir.path(), "template").unwrap_err();
        assert_eq!(e.property.as_deref(), Some("template"));
        assert!(e.message.contains("`packer/*.hcl` matches no file"), "{e}");
        let e = resolve(&["missing.json".into()], dir.path(), "template").unwrap_err();
        assert!(e.message.contains("`missing.json` does not exist"), "{e}");
        let e = resolve(&[], dir.path(), "template").unwrap_err();
        assert!(e.message.contains("at least one template"), "{e}");
        let e = resolve(&["packer/[.json".into()], dir.path(), "template").unwrap_err();
        assert!(e.message.contains("not a valid glob"), "{e}");
    }
}
