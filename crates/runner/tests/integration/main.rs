//! End-to-end tests of the `runner` binary: pipelines run for real with
//! bash, signals sent for real, processes checked by pid.

// Test set-up that cannot work (no temp dir, no binary) should panic loudly.
#![allow(clippy::unwrap_used)]

mod ci;
mod corpus;
mod crash;
mod help;
mod interrupts;
mod leaks;
mod legacy;
mod masking;
mod mistakes;
mod output;
mod parallel;
mod plan;
mod precedence;
mod scripts;
mod seed;
mod signals;
mod stepadd;
mod teardown;
mod wercker;
mod wercker_corpus;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A temp workspace with a pipeline file.
pub(crate) struct Work {
    pub(crate) dir: tempfile::TempDir,
}

impl Work {
    pub(crate) fn new(yaml: &str) -> Work {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stepwise.yml"), yaml).unwrap();
        Work { dir }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap_or_default()
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_runner"));
        c.args(args);
        self.quiet(&mut c);
        c
    }

    /// Runs `c` in this directory as a plain CI job: no CI system's
    /// variables, no backtraces, no input.
    pub(crate) fn quiet(&self, c: &mut Command) {
        c.current_dir(self.path())
            .env("CI", "true")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITLAB_CI")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null());
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub(crate) fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub(crate) use stepwise_tests::{alive, pids_in};

/// Waits until `cond` holds or `limit` passes.
pub(crate) fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Waits for the processes to go (the kernel may take a moment to reap).
pub(crate) fn all_dead(pids: &[i32]) -> bool {
    wait_for(Duration::from_secs(3), || pids.iter().all(|p| !alive(*p)))
}

pub(crate) fn signal(child: &Child, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, sig).unwrap();
}
