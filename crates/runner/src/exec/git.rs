//! The git facts wercker scripts read (branch, commit, repository name),
//! read from the `.git` directory's files instead of by starting `git`:
//! three `git rev-parse` processes cost more than the rest of a run's
//! start-up.
//!
//! Handled: a `.git` directory or a `.git` file (`gitdir: …`, as in linked
//! worktrees and submodules), a `commondir` (where a worktree's branches
//! live), loose refs and `packed-refs`, a detached `HEAD`. Anything else
//! (the reftable format, a symbolic ref chain) gives `None`, and the caller
//! asks git itself.

use std::fs;
use std::path::{Path, PathBuf};

/// Branch and commit of the checkout containing `dir`, and the name of its
/// top-level directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct GitFacts {
    /// `HEAD` for a detached checkout, as `git rev-parse --abbrev-ref HEAD`.
    pub branch: String,
    /// The full commit id; `None` on a branch without commits yet.
    pub commit: Option<String>,
    /// The checkout's top-level directory.
    pub top: PathBuf,
}

/// Reads the facts of the checkout containing `dir`; `None` when there is no
/// checkout or its files are in a form this reader does not know.
pub(super) fn read(dir: &Path) -> Option<GitFacts> {
    let (top, git_dir) = find(dir)?;
    let common = match fs::read_to_string(git_dir.join("commondir")) {
        Ok(rel) => git_dir.join(rel.trim()),
        Err(_) => git_dir.clone(),
    };
    let head = fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    if let Some(reference) = head.strip_prefix("ref: ") {
        let branch = reference
            .strip_prefix("refs/heads/")
            .unwrap_or(reference)
            .to_owned();
        // A worktree's HEAD is its own; its branches are shared.
        let commit = resolve(&git_dir, reference).or_else(|| resolve(&common, reference));
        if commit.is_none() && !unborn(&common, reference) {
            return None;
        }
        return Some(GitFacts {
            branch,
            commit,
            top,
        });
    }
    is_object_id(head).then(|| GitFacts {
        branch: "HEAD".into(),
        commit: Some(head.to_owned()),
        top,
    })
}

/// Whether `dir` or a directory above it has a `.git` (a checkout, in a
/// form the reader may or may not know).
pub(super) fn in_checkout(dir: &Path) -> bool {
    dir.ancestors()
        .any(|candidate| fs::symlink_metadata(candidate.join(".git")).is_ok())
}

/// The top-level directory and the git directory, looking up from `dir`.
fn find(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    for candidate in dir.ancestors() {
        let dot_git = candidate.join(".git");
        let Ok(meta) = fs::metadata(&dot_git) else {
            continue;
        };
        if meta.is_dir() {
            return Some((candidate.to_path_buf(), dot_git));
        }
        let text = fs::read_to_string(&dot_git).ok()?;
        let target = text.trim().strip_prefix("gitdir:")?.trim();
        return Some((candidate.to_path_buf(), candidate.join(target)));
    }
    None
}

/// The commit a full ref name points to: a loose ref file or a line of
/// `packed-refs`.
fn resolve(git_dir: &Path, reference: &str) -> Option<String> {
    if let Ok(text) = fs::read_to_string(git_dir.join(reference)) {
        let id = text.trim();
        return is_object_id(id).then(|| id.to_owned());
    }
    let packed = fs::read_to_string(git_dir.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (id, name) = line.split_once(' ')?;
        (name == reference && is_object_id(id)).then(|| id.to_owned())
    })
}

/// Whether `reference` is a branch with no commit yet (a fresh `git init`),
/// as opposed to a ref stored where this reader does not look.
fn unborn(common: &Path, reference: &str) -> bool {
    let reftable = common.join("reftable").exists();
    !reftable && !common.join(reference).exists()
}

/// 40 (SHA-1) or 64 (SHA-256) hex digits.
fn is_object_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `git` with its output, in `dir`; panics when it fails (a test tool).
    fn git(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn commit(dir: &Path) {
        git(
            dir,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.invalid",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "c",
            ],
        );
    }

    /// What `git rev-parse` says, for comparison.
    fn expected(dir: &Path) -> GitFacts {
        GitFacts {
            branch: git(dir, &["rev-parse", "--abbrev-ref", "HEAD"]),
            commit: Some(git(dir, &["rev-parse", "HEAD"])),
            top: PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])),
        }
    }

    #[test]
    fn facts_match_git_on_a_branch_packed_detached_and_in_a_linked_checkout() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let repo = tmp.path().canonicalize().expect("path").join("repo");
        fs::create_dir(&repo).expect("mkdir");
        git(&repo, &["init", "-q", "-b", "main"]);
        assert_eq!(
            read(&repo).map(|f| (f.branch, f.commit)),
            Some(("main".into(), None)),
            "an unborn branch"
        );
        commit(&repo);
        let sub = repo.join("a/b");
        fs::create_dir_all(&sub).expect("mkdir");
        assert_eq!(
            read(&sub),
            Some(expected(&repo)),
            "loose ref, from a subdir"
        );

        git(&repo, &["pack-refs", "--all"]);
        assert_eq!(read(&repo), Some(expected(&repo)), "packed ref");

        // A linked worktree's layout, made by hand: its own HEAD in
        // `.git/worktrees/side`, the branches in the common dir.
        git(&repo, &["branch", "side"]);
        let wt_git = repo.join(".git/worktrees/side");
        fs::create_dir_all(&wt_git).expect("mkdir");
        fs::write(wt_git.join("HEAD"), "ref: refs/heads/side\n").expect("write");
        fs::write(wt_git.join("commondir"), "../..\n").expect("write");
        let wt = tmp.path().canonicalize().expect("path").join("wt");
        fs::create_dir(&wt).expect("mkdir");
        fs::write(wt.join(".git"), format!("gitdir: {}\n", wt_git.display())).expect("write");
        let facts = read(&wt).expect("worktree facts");
        assert_eq!(facts.branch, "side");
        assert_eq!(facts.commit, Some(git(&repo, &["rev-parse", "side"])));
        assert_eq!(facts.top, wt);

        let id = git(&repo, &["rev-parse", "HEAD"]);
        git(&repo, &["checkout", "-q", "--detach", &id]);
        assert_eq!(read(&repo), Some(expected(&repo)), "detached HEAD");
    }

    #[test]
    fn no_checkout_is_none() {
        let tmp = tempfile::tempdir().expect("temp dir");
        fs::write(tmp.path().join(".git"), "not a gitdir line").expect("write");
        assert_eq!(read(tmp.path()), None);
    }
}
