//! The machine a spec observes, as the native engine asks it: shell command
//! lines (what specinfra would run, cached per run so that one command is
//! run once however many examples ask), plus in-process reads on this
//! machine for the hottest checks (files, accounts, packages). Remote
//! targets (ssh, docker exec) go through step-core's backends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use step_core::StepContext;
use step_core::backend::Backend;
use step_core::sync::lock;

/// What a command printed and how it ended.
#[derive(Clone, Debug, Default)]
pub struct CmdOut {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit status (`-1` when it could not run or was killed).
    pub exit_status: i64,
}

impl CmdOut {
    /// Whether it exited with 0.
    pub fn success(&self) -> bool {
        self.exit_status == 0
    }
}

/// The OS as specinfra's `os` helper reports it.
#[derive(Clone, Debug, Default)]
pub struct OsInfo {
    /// `debian`, `ubuntu`, `redhat`, `alpine`, …
    pub family: String,
    /// The release, when known.
    pub release: Option<String>,
    /// `uname -m`.
    pub arch: String,
}

/// A target: where commands run, with a per-run cache.
pub struct Host {
    backend: Backend,
    name: String,
    cx: StepContext,
    handle: tokio::runtime::Handle,
    cache: Mutex<HashMap<String, Arc<CmdOut>>>,
    os: Mutex<Option<OsInfo>>,
    /// The `:path` setting, prepended to PATH for commands.
    path_prefix: Mutex<Option<String>>,
    local: super::local::LocalFacts,
}

impl Host {
    /// A target on `backend`/`name`; commands run on `handle` (call from a
    /// blocking thread).
    pub fn new(
        backend: Backend,
        name: String,
        cx: StepContext,
        handle: tokio::runtime::Handle,
    ) -> Self {
        Host {
            backend,
            name,
            cx,
            handle,
            cache: Mutex::new(HashMap::new()),
            os: Mutex::new(None),
            path_prefix: Mutex::new(None),
            local: super::local::LocalFacts::default(),
        }
    }

    /// Whether this is the machine we run on (in-process reads allowed).
    pub fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local)
    }

    /// This machine's tables, for in-process answers (local targets only).
    pub fn local_facts(&self) -> Option<&super::local::LocalFacts> {
        self.is_local().then_some(&self.local)
    }

    /// The target's name (host, container, or `localhost`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets specinfra's `:path` (prepended to PATH).
    pub fn set_path(&self, path: String) {
        *lock(&self.path_prefix) = Some(path);
    }

    /// Runs a shell command line (cached by its text).
    pub fn run(&self, line: &str) -> Arc<CmdOut> {
        if let Some(hit) = lock(&self.cache).get(line) {
            return hit.clone();
        }
        let full = match lock(&self.path_prefix).as_deref() {
            Some(p) => format!(
                "env PATH=\"{p}:$PATH\" sh -c {}",
                step_core::backend::shell_quote(line)
            ),
            None => line.to_string(),
        };
        // A line of plain words runs without a shell: same result, one process less.
        let argv = crate::check::CommandLine::Shell(full).argv();
        let cmd = self
            .backend
            .command(&self.name, &argv)
            .capture(16 * 1024 * 1024)
            .quiet()
            .timeout(Duration::from_secs(120));
        let out = match self.handle.block_on(cmd.run(&self.cx)) {
            Ok(o) => CmdOut {
                stdout: o.stdout.clone(),
                stderr: o.stderr.clone(),
                exit_status: o.code().map_or(-1, i64::from),
            },
            Err(e) => CmdOut {
                stdout: String::new(),
                stderr: e.to_string(),
                exit_status: -1,
            },
        };
        let out = Arc::new(out);
        lock(&self.cache).insert(line.to_string(), out.clone());
        out
    }

    /// Whether a command line exits with 0.
    pub fn check(&self, line: &str) -> bool {
        self.run(line).success()
    }

    /// specinfra's OS detection (Debian, Red Hat, Alpine families).
    pub fn os(&self) -> OsInfo {
        if let Some(os) = lock(&self.os).clone() {
            return os;
        }
        let os = self.detect_os();
        *lock(&self.os) = Some(os.clone());
        os
    }

    fn detect_os(&self) -> OsInfo {
        let arch = self.run("uname -m").stdout.trim().to_string();
        let debian = self.run("cat /etc/debian_version");
        if debian.success() {
            let (mut distro, mut release) = (None, None);
            let lsb = self.run("lsb_release -ir");
            let lsb_file = || self.run("cat /etc/lsb-release");
            if lsb.success() {
                for line in lsb.stdout.lines() {
                    let last = line.rsplit(':').next().unwrap_or("").trim().to_string();
                    if line.starts_with("Distributor ID:") {
                        distro = Some(last);
                    } else if line.starts_with("Release:") {
                        release = Some(last);
                    }
                }
            } else if let lsb_file = lsb_file()
                && lsb_file.success()
            {
                for line in lsb_file.stdout.lines() {
                    let last = line.rsplit('=').next().unwrap_or("").trim().to_string();
                    if line.starts_with("DISTRIB_ID=") {
                        distro = Some(last);
                    } else if line.starts_with("DISTRIB_RELEASE=") {
                        release = Some(last);
                    }
                }
            } else {
                let v = debian.stdout.trim_end_matches('\n');
                let numeric = v.split_once('.').is_some_and(|(a, b)| {
                    !a.is_empty()
                        && !b.is_empty()
                        && a.bytes().all(|c| c.is_ascii_digit())
                        && b.bytes().all(|c| c.is_ascii_digit())
                });
                if numeric {
                    release = Some(v.to_string());
                }
            }
            let distro = distro.unwrap_or_else(|| "debian".into());
            let family: String = distro
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
                .to_lowercase();
            return OsInfo {
                family,
                release,
                arch,
            };
        }
        let alpine = self.run("cat /etc/alpine-release");
        if alpine.success() {
            return OsInfo {
                family: "alpine".into(),
                release: Some(alpine.stdout.trim().to_string()),
                arch,
            };
        }
        let redhat = self.run("cat /etc/redhat-release");
        if redhat.success() {
            let release = redhat
                .stdout
                .split_whitespace()
                .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
                .map(String::from);
            return OsInfo {
                family: "redhat".into(),
                release,
                arch,
            };
        }
        OsInfo {
            family: "linux".into(),
            release: None,
            arch,
        }
    }

    /// The major release number, when numeric.
    pub fn major_release(&self) -> Option<u32> {
        let os = self.os();
        os.release
            .as_deref()
            .and_then(|r| r.split('.').next())
            .and_then(|m| m.parse().ok())
    }
}
