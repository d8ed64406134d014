//! # stepwise-tests
//!
//! Helpers shared by stepwise's tests: where the `runner` binary is, and
//! the `STEPWISE_REQUIRE_TOOLS` rule — a test that needs a real tool (packer,
//! ansible, terraform, sshd, dockerd, rspec) **fails** when the tool is
//! missing and `STEPWISE_REQUIRE_TOOLS=1` (as `.ci/run` sets), and elsewhere
//! skips with a loud message on stderr.
//!
//! ```
//! // `sh` is on every machine this project runs on.
//! assert!(stepwise_tests::tool_available("sh"));
//! ```

use std::path::{Path, PathBuf};

/// Whether tests must fail (not skip) when a real tool is missing.
pub fn require_tools() -> bool {
    std::env::var("STEPWISE_REQUIRE_TOOLS").is_ok_and(|v| v == "1" || v == "true")
}

/// Whether `tool` is on `PATH`. When it is not: panics if tools are
/// required, else prints a loud skip notice and returns `false` (the caller
/// returns early).
pub fn tool_available(tool: &str) -> bool {
    if which(tool).is_some() {
        return true;
    }
    skip_or_fail(&format!(
        "`{tool}` is not on PATH (install it with scripts/install-tools.sh)"
    ))
}

/// Panics with `why` when tools are required; otherwise prints a loud skip
/// notice and returns `false`.
pub fn skip_or_fail(why: &str) -> bool {
    if require_tools() {
        panic!("STEPWISE_REQUIRE_TOOLS=1 and {why}");
    }
    eprintln!("\n!!!!!!!! SKIPPED: {why} !!!!!!!!\n");
    false
}

/// Finds a program on `PATH`.
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The `runner` binary built for this test run (`target/<profile>/runner`).
/// `scripts/test.sh` builds it before the tests run.
pub fn runner_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("STEPWISE_RUNNER_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/<test-exe> → target/<profile>/runner
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target/debug"));
    profile_dir.join("runner")
}

/// Whether a process is alive; a zombie (exited, not yet reaped) counts as
/// dead. Tests use it to prove that no process a step started survives.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

/// The pids written (whitespace-separated) to a file; none if it is missing.
pub fn pids_in(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// A file of the project's shared schemas: `../shared/schemas/<name>`
/// relative to the repository root, as CI lays it out (shared/ beside the
/// clone). A checkout deeper down (a worktree in `wt/<name>`) finds the
/// same directory beside an ancestor. `None` when there is none.
pub fn shared_schema(name: &str) -> Option<PathBuf> {
    workspace_root()
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("shared").join("schemas").join(name))
        .find(|p| p.is_file())
}

/// Watches every process's command line (`/proc/*/cmdline`) while a tool
/// runs, looking for a secret: anyone on the machine can read them (`ps`).
pub struct CmdlineWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(Vec<String>, usize)>,
}

impl CmdlineWatch {
    /// Starts scanning, every few milliseconds, for `needle`.
    pub fn start(needle: &str) -> CmdlineWatch {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let needle = needle.as_bytes().to_vec();
        let thread = std::thread::spawn(move || {
            let mut hits = Vec::new();
            let mut scans = 0;
            while !flag.load(Ordering::Relaxed) {
                scans += 1;
                for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                        continue;
                    };
                    if cmdline
                        .windows(needle.len())
                        .any(|w| w == needle.as_slice())
                    {
                        let shown = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                        if !hits.contains(&shown) {
                            hits.push(shown);
                        }
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
            (hits, scans)
        });
        CmdlineWatch { stop, thread }
    }

    /// Stops scanning; returns the command lines that held the secret and
    /// how many scans ran.
    pub fn finish(self) -> (Vec<String>, usize) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// Copies the example tree `from` into `to`, leaving out what a local run
/// of the example may have left in the source tree (`.run`, `.stepwise`,
/// terraform's data and state). The end-to-end tests each work on a copy.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()))
    {
        let entry = entry.expect("dir entry");
        let name = entry.file_name();
        if [
            ".run",
            ".stepwise",
            ".terraform",
            "terraform.tfstate.d",
            "terraform.tfstate",
            ".terraform.lock.hcl",
        ]
        .iter()
        .any(|skip| name == *skip)
        {
            continue;
        }
        let path = entry.path();
        let dest = to.join(&name);
        let ty = entry.file_type().expect("file type");
        if ty.is_dir() {
            copy_tree(&path, &dest);
        } else if ty.is_file() {
            std::fs::copy(&path, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", path.display()));
        }
    }
}
