//! Checking that a property names a file or directory that is there, with
//! an error that names the property, the value as written and the path
//! looked at.

use std::path::Path;

use crate::error::ConfigError;

/// What a path property must name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathKind {
    /// Anything that exists (a file, a directory, a socket).
    Any,
    /// A regular file (or a link to one).
    File,
    /// A directory (or a link to one).
    Dir,
}

/// Checks that `path` — the property's `value` resolved against the working
/// directory — exists and is of `kind`.
///
/// The error names the property and says what was expected:
/// `` property `var_files[0]`: `prod.tfvars` does not exist (looked for /repo/prod.tfvars) ``.
///
/// ```
/// use step_core::paths::{PathKind, require_path};
///
/// let dir = std::env::temp_dir();
/// assert!(require_path("dir", "tmp", &dir, PathKind::Dir).is_ok());
/// let err = require_path("playbook", "nope.yml", &dir.join("nope.yml"), PathKind::File)
///     .unwrap_err();
/// assert_eq!(err.property.as_deref(), Some("playbook"));
/// assert!(err.message.starts_with("`nope.yml` does not exist (looked for "));
/// ```
pub fn require_path(
    property: impl Into<String>,
    value: impl AsRef<Path>,
    path: &Path,
    kind: PathKind,
) -> Result<(), ConfigError> {
    let value = value.as_ref().display();
    let Ok(meta) = std::fs::metadata(path) else {
        return Err(ConfigError::property(
            property,
            format!("`{value}` does not exist (looked for {})", path.display()),
        ));
    };
    let wrong = match kind {
        PathKind::Any => None,
        PathKind::File if !meta.is_file() => Some("a file"),
        PathKind::Dir if !meta.is_dir() => Some("a directory"),
        PathKind::File | PathKind::Dir => None,
    };
    match wrong {
        Some(expected) => Err(ConfigError::property(
            property,
            format!("`{value}` is not {expected} ({})", path.display()),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_names_the_property_the_value_and_the_path() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let missing = dir.path().join("site.yml");
        let err = require_path("inventory", "site.yml", &missing, PathKind::Any).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("inventory"));
        assert_eq!(
            err.to_string(),
            format!(
                "property `inventory`: `site.yml` does not exist (looked for {})",
                missing.display()
            )
        );
    }

    #[test]
    fn the_kind_is_checked() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("vars.json");
        std::fs::write(&file, "{}").expect("write");
        assert!(require_path("var_files[0]", "vars.json", &file, PathKind::File).is_ok());
        assert!(require_path("x", "vars.json", &file, PathKind::Any).is_ok());
        assert!(require_path("dir", ".", dir.path(), PathKind::Dir).is_ok());
        let err = require_path("dir", "vars.json", &file, PathKind::Dir).unwrap_err();
        assert_eq!(
            err.message,
            format!("`vars.json` is not a directory ({})", file.display())
        );
        let err = require_path("var_files[1]", ".", dir.path(), PathKind::File).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("var_files[1]"));
        assert!(err.message.starts_with("`.` is not a file ("), "{err}");
    }
}
