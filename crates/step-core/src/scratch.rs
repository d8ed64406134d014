//! Private scratch files: generated var files and backend settings that may
//! hold secrets, written where only the current user can read them and
//! removed when the step is done.
//!
//! Values go through such files rather than the command line, where any
//! local user could read them with `ps`.

use std::path::{Path, PathBuf};

use crate::context::StepContext;
use crate::error::StepError;

/// A directory only its owner can enter (mode 0700), under the context's
/// temp base ([`StepContext::temp_base`]); it and everything written in it
/// are removed when this is dropped.
#[derive(Debug)]
pub struct PrivateDir {
    dir: tempfile::TempDir,
}

impl PrivateDir {
    /// Creates the directory; its name starts with `prefix`
    /// (`stepwise-terraform-`).
    pub fn new(cx: &StepContext, prefix: &str) -> Result<Self, StepError> {
        use std::os::unix::fs::PermissionsExt as _;
        let base = cx.temp_base();
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&base)
            .map_err(|e| {
                StepError::io(
                    format!("creating a private directory in {}", base.display()),
                    e,
                )
            })?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| StepError::io(format!("making {} private", dir.path().display()), e))?;
        Ok(PrivateDir { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `bytes` to a new file `name` in the directory that only its
    /// owner can read (mode 0600), and returns its path. A file of that name
    /// must not exist yet.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, StepError> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = self.dir.path().join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(bytes))
            .map_err(|e| StepError::io(format!("writing {}", path.display()), e))?;
        Ok(path)
    }

    /// Writes `vars` as a pretty-printed JSON object to a new file `name`
    /// (mode 0600): the var-file format packer and terraform both read.
    pub fn write_var_file(
        &self,
        name: &str,
        vars: &impl serde::Serialize,
    ) -> Result<PathBuf, StepError> {
        let json = serde_json::to_vec_pretty(vars)
            .map_err(|e| StepError::other(format!("could not encode vars: {e}")))?;
        self.write(name, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn var_files_are_owner_only_and_removed_with_the_directory() {
        let base = tempfile::tempdir().expect("a temp dir");
        let mut env = crate::Env::new();
        env.set("STEPWISE_TMPDIR", base.path().to_string_lossy());
        let cx = StepContext::for_dir("/").with_env(env);
        let dir = PrivateDir::new(&cx, "stepwise-test-").expect("private dir");
        assert!(dir.path().starts_with(base.path()));
        let name = dir.path().file_name().expect("a name").to_string_lossy();
        assert!(name.starts_with("stepwise-test-"), "{name}");
        let mut vars = BTreeMap::new();
        vars.insert("region", "eu-west-1; rm -rf /");
        let file = dir.write_var_file("vars.json", &vars).expect("written");
        let text = std::fs::read_to_string(&file).expect("read back");
        let back: BTreeMap<String, String> = serde_json::from_str(&text).expect("JSON");
        assert_eq!(back["region"], "eu-west-1; rm -rf /");
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(dir.path()), 0o700);
        let again = dir.write("vars.json", b"{}").unwrap_err();
        assert!(again.to_string().starts_with("writing "), "{again}");
        let root = dir.path().to_path_buf();
        drop(dir);
        assert!(!file.exists() && !root.exists());
    }
}
