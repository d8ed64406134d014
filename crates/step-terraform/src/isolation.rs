//! Keeping parallel runs of the same configuration apart.
//!
//! Two targets that apply one configuration directory at the same time must
//! not share anything terraform writes:
//!
//! * **state**: each target gets its own workspace (the target's name), so
//!   the local backend keeps its state in `terraform.tfstate.d/<target>/`
//!   and remote backends in a workspace-specific key. A workspace is a
//!   backend-agnostic notion, so this works for S3 as well as local state.
//! * **`TF_DATA_DIR`** (backend settings, modules, provider links): one per
//!   target and configuration under `.stepwise/terraform/<target>/`.
//! * **the plugin cache** (shared on purpose, to download providers once):
//!   terraform does not make it safe for concurrent writers, so every `init`
//!   holds an exclusive file lock on it (or, without a cache, on the
//!   configuration directory, whose `.terraform.lock.hcl` init rewrites).
//!
//! Everything here is derived from the properties and the run's target, so
//! a teardown run later, from another process, finds the same places.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use step_core::{StepContext, StepError};

use crate::options::TerraformOptions;

/// Where one run keeps its terraform data, and under which workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Isolation {
    /// The isolation key: the target's (or `isolation_key`'s) sanitized
    /// name, `default` when there is neither.
    pub key: String,
    /// `TF_DATA_DIR`.
    pub data_dir: PathBuf,
    /// The workspace to select with `TF_WORKSPACE`; `None` keeps terraform's
    /// own choice (`default`, or an inherited `TF_WORKSPACE`).
    pub workspace: Option<String>,
    /// The plugin cache directory, when one is used.
    pub plugin_cache: Option<PathBuf>,
    /// The file locked while `init` runs.
    pub init_lock: PathBuf,
}

impl Isolation {
    /// The isolation of a run of `opts` against the configuration in
    /// `config_dir` (absolute), in context `cx`.
    pub fn for_run(cx: &StepContext, opts: &TerraformOptions, config_dir: &Path) -> Isolation {
        let explicit_key = opts
            .isolation_key
            .clone()
            .or_else(|| cx.run().target.clone())
            .filter(|k| !k.trim().is_empty());
        let key = explicit_key
            .as_deref()
            .map(sanitize)
            .unwrap_or_else(|| "default".to_string());
        let root = cx.workdir().join(".stepwise").join("terraform");
        let slug = dir_slug(config_dir);
        let data_dir = match &opts.data_dir {
            Some(d) => cx.resolve(d),
            None => root.join(&key).join(&slug),
        };
        let workspace = opts
            .workspace
            .clone()
            .or_else(|| explicit_key.as_deref().map(sanitize));
        let plugin_cache = match &opts.plugin_cache_dir {
            Some(d) => Some(cx.resolve(d)),
            None => cx
                .env()
                .get("TF_PLUGIN_CACHE_DIR")
                .filter(|v| !v.is_empty())
                .map(|v| cx.resolve(v)),
        };
        let init_lock = match &plugin_cache {
            Some(cache) => cache.join(".stepwise-init.lock"),
            None => root.join("locks").join(format!("{slug}.lock")),
        };
        Isolation {
            key,
            data_dir,
            workspace,
            plugin_cache,
            init_lock,
        }
    }
}

/// A name safe as a path component and a workspace name: letters, digits,
/// `-` and `_` are kept, anything else becomes `-`.
pub fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if cleaned.trim_matches('-').is_empty() {
        "default".to_string()
    } else {
        cleaned
    }
}

/// `<last component>-<12 hex digits of the path's hash>`: readable, and
/// distinct for two configurations with the same directory name.
fn dir_slug(config_dir: &Path) -> String {
    let name = config_dir
        .file_name()
        .map(|n| sanitize(&n.to_string_lossy()))
        .unwrap_or_else(|| "root".to_string());
    let digest = Sha256::digest(config_dir.as_os_str().as_encoded_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{name}-{hex}")
}

/// An exclusive lock on a file, released when dropped (the descriptor
/// closes). `flock` locks are released by the kernel even if the process
/// dies, so a crashed run never leaves a stale lock.
#[derive(Debug)]
pub(crate) struct InitLock {
    _file: File,
}

/// Takes the exclusive lock on `path`, waiting (cancellably) while another
/// run holds it.
pub(crate) async fn lock_for_init(cx: &StepContext, path: &Path) -> Result<InitLock, StepError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| StepError::io(format!("creating {}", parent.display()), e))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| StepError::io(format!("opening lock file {}", path.display()), e))?;
    let mut told = false;
    loop {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(InitLock { _file: file }),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                if !told {
                    cx.info(format!(
                        "waiting for another terraform init to release {}",
                        path.display()
                    ));
                    told = true;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = cx.cancel().cancelled() => return Err(StepError::Cancelled),
                }
            }
            Err(e) => {
                return Err(StepError::io(
                    format!("locking {}", path.display()),
                    std::io::Error::from(e),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use step_core::RunInfo;

    fn cx_for(target: Option<&str>) -> StepContext {
        StepContext::for_dir("/work/project").with_run(RunInfo {
            target: target.map(str::to_string),
            ..RunInfo::default()
        })
    }

    #[test]
    fn targets_get_their_own_data_dir_and_workspace() {
        let opts = TerraformOptions::default();
        let dir = Path::new("/work/project/infra");
        let a = Isolation::for_run(&cx_for(Some("aws eu")), &opts, dir);
        let b = Isolation::for_run(&cx_for(Some("do")), &opts, dir);
        assert_ne!(a.data_dir, b.data_dir);
        assert_eq!(a.workspace.as_deref(), Some("aws-eu"));
        assert_eq!(b.workspace.as_deref(), Some("do"));
        assert!(
            a.data_dir
                .starts_with("/work/project/.stepwise/terraform/aws-eu")
        );
        // Same target, same configuration: the same place (what a later
        // teardown relies on).
        assert_eq!(a, Isolation::for_run(&cx_for(Some("aws eu")), &opts, dir));
    }

    #[test]
    fn without_a_target_the_default_workspace_is_kept() {
        let iso = Isolation::for_run(
            &cx_for(None),
            &TerraformOptions::default(),
            Path::new("/x/net"),
        );
        assert_eq!(iso.workspace, None);
        assert_eq!(iso.key, "default");
    }

    #[test]
    fn explicit_settings_win() {
        let opts = TerraformOptions {
            workspace: Some("prod".into()),
            data_dir: Some("tfdata".into()),
            plugin_cache_dir: Some("/cache".into()),
            ..TerraformOptions::default()
        };
        let iso = Isolation::for_run(&cx_for(Some("aws")), &opts, Path::new("/x/net"));
        assert_eq!(iso.workspace.as_deref(), Some("prod"));
        assert_eq!(iso.data_dir, PathBuf::from("/work/project/tfdata"));
        assert_eq!(iso.init_lock, PathBuf::from("/cache/.stepwise-init.lock"));
    }

    #[test]
    fn configurations_with_the_same_name_do_not_collide() {
        assert_ne!(dir_slug(Path::new("/a/net")), dir_slug(Path::new("/b/net")));
        assert!(dir_slug(Path::new("/a/net")).starts_with("net-"));
        assert_eq!(sanitize("../.."), "default");
        assert_eq!(sanitize("a/b c"), "a-b-c");
    }

    #[tokio::test]
    async fn the_init_lock_is_exclusive_and_released_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let cx = StepContext::for_dir(tmp.path());
        let path = tmp.path().join("locks/x.lock");
        let held = lock_for_init(&cx, &path).await.unwrap();
        let waiting =
            tokio::time::timeout(Duration::from_millis(300), lock_for_init(&cx, &path)).await;
        assert!(
            waiting.is_err(),
            "a second lock must wait while the first is held"
        );
        drop(held);
        tokio::time::timeout(Duration::from_secs(2), lock_for_init(&cx, &path))
            .await
            .expect("lock is free after drop")
            .unwrap();
    }
}
