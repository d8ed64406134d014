//! The machine a spec observes, as the native engine asks it: shell command
//! lines (what specinfra would run, cached per run so that one command is
//! run once however many examples ask), plus in-process reads on this
//! machine for the hottest checks (files, accounts, packages). Remote
//! targets (ssh, docker exec) go through step-core's backends.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
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

/// One command line's result: empty while it runs, then filled once.
#[derive(Default)]
struct Slot {
    out: Mutex<Option<Arc<CmdOut>>>,
    done: Condvar,
}

impl Slot {
    fn fill(&self, out: CmdOut) {
        *lock(&self.out) = Some(Arc::new(out));
        self.done.notify_all();
    }

    fn wait(&self) -> Arc<CmdOut> {
        let mut out = lock(&self.out);
        loop {
            if let Some(o) = out.as_ref() {
                return o.clone();
            }
            out = self.done.wait(out).unwrap_or_else(|p| p.into_inner());
        }
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
    cache: Mutex<HashMap<String, Arc<Slot>>>,
    os: Mutex<Option<OsInfo>>,
    /// The `:path` setting, prepended to PATH for commands.
    path_prefix: Mutex<Option<String>>,
    local: super::local::LocalFacts,
    /// The engine's API socket, when the CLI would use it (local only).
    docker_api: OnceLock<Option<crate::docker_api::DockerApi>>,
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
            docker_api: OnceLock::new(),
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

    /// Runs a shell command line (cached by its text: one run per line per
    /// run, however many threads ask at once).
    pub fn run(&self, line: &str) -> Arc<CmdOut> {
        let (slot, fresh) = self.slot(line);
        if fresh {
            let out = self.handle.block_on(self.command(line));
            slot.fill(out);
        }
        slot.wait()
    }

    /// Starts a command line in the background, so that a later
    /// [`Host::run`] of the same line finds it running or done.
    pub fn prefetch(&self, line: &str) {
        let (slot, fresh) = self.slot(line);
        if fresh {
            let cmd = self.command(line);
            self.handle.spawn(async move { slot.fill(cmd.await) });
        }
    }

    /// specinfra's `docker inspect NAME`: on this machine asked of the
    /// engine's API socket when the CLI would use it ([`crate::docker_api`]),
    /// else run as that line. Cached per run like [`Host::run`].
    pub fn docker_inspect(&self, name: &str) -> Arc<CmdOut> {
        let Some((key, job)) = self.docker_inspect_job(name) else {
            return self.run(&format!("docker inspect {name}"));
        };
        let (slot, fresh) = self.slot(&key);
        if fresh {
            slot.fill(self.handle.block_on(job));
        }
        slot.wait()
    }

    /// Starts [`Host::docker_inspect`] in the background.
    pub fn prefetch_docker_inspect(&self, name: &str) {
        let Some((key, job)) = self.docker_inspect_job(name) else {
            return self.prefetch(&format!("docker inspect {name}"));
        };
        let (slot, fresh) = self.slot(&key);
        if fresh {
            self.handle.spawn(async move { slot.fill(job.await) });
        }
    }

    /// The cache key and the work of an API-answered `docker inspect NAME`
    /// (the CLI line when the API is not certain), or `None` to run the
    /// line. The key is not the line's: its stdout is the API's JSON, not
    /// the CLI's indented text, so `command('docker inspect …')` keeps the CLI.
    fn docker_inspect_job(
        &self,
        name: &str,
    ) -> Option<(
        String,
        impl std::future::Future<Output = CmdOut> + Send + 'static + use<>,
    )> {
        use crate::docker_api::{Answer, DockerApi, Kind};
        if !self.is_local() || !crate::docker_api::plain_ref(name) {
            return None;
        }
        let api = self
            .docker_api
            .get_or_init(|| DockerApi::from_env(|k| self.cx.env().get(k).map(str::to_string)))
            .clone()?;
        if !self.has_program("docker") {
            return None;
        }
        let line = format!("docker inspect {name}");
        let cli = self.command(&line);
        let name = name.to_string();
        let job = async move {
            match api
                .inspect(Kind::Any, &name, Duration::from_secs(120))
                .await
            {
                Answer::Found(json) => CmdOut {
                    stdout: format!("{json}\n"),
                    stderr: String::new(),
                    exit_status: 0,
                },
                Answer::Missing => CmdOut {
                    stdout: "[]\n".into(),
                    stderr: format!("Error: No such object: {name}\n"),
                    exit_status: 1,
                },
                Answer::AskCli => cli.await,
            }
        };
        Some((format!("\0api {line}"), job))
    }

    /// The cache slot of a line, and whether the caller must fill it.
    fn slot(&self, line: &str) -> (Arc<Slot>, bool) {
        let mut cache = lock(&self.cache);
        if let Some(hit) = cache.get(line) {
            return (hit.clone(), false);
        }
        let slot = Arc::new(Slot::default());
        cache.insert(line.to_string(), slot.clone());
        (slot, true)
    }

    /// The run of a line, as a future that owns what it needs.
    fn command(
        &self,
        line: &str,
    ) -> impl std::future::Future<Output = CmdOut> + Send + 'static + use<> {
        let prefix = lock(&self.path_prefix).clone();
        // Locally, specinfra's `env PATH="<:path>" sh -c LINE` is LINE run
        // with that PATH: no `env` process, and no shell for plain words.
        let local_path = prefix
            .as_deref()
            .filter(|_| self.is_local())
            .and_then(|p| expand_path(p, &self.base_path()));
        let full = match prefix.as_deref() {
            Some(p) if local_path.is_none() => format!(
                "env PATH=\"{p}:$PATH\" sh -c {}",
                step_core::backend::shell_quote(line)
            ),
            _ => line.to_string(),
        };
        // A line of plain words runs without a shell: same result, one process less.
        let argv = crate::check::CommandLine::Shell(full).argv();
        let mut cmd = self
            .backend
            .command(&self.name, &argv)
            .capture(16 * 1024 * 1024)
            .quiet()
            .timeout(Duration::from_secs(120));
        if let Some(path) = local_path {
            cmd = cmd.env("PATH", path);
        }
        let cx = self.cx.clone();
        async move {
            match cmd.run(&cx).await {
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
            }
        }
    }

    /// Whether `program` is an executable file on the PATH commands run
    /// with (the `:path` setting first), as the shell would find it.
    pub fn has_program(&self, program: &str) -> bool {
        let base = self.base_path();
        let path = match lock(&self.path_prefix).as_deref() {
            Some(p) => expand_path(p, &base).unwrap_or_else(|| format!("{p}:{base}")),
            None => base,
        };
        path.split(':').any(|dir| {
            let dir = if dir.is_empty() { "." } else { dir };
            let file = self.cx.resolve(std::path::Path::new(dir)).join(program);
            std::fs::metadata(file).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
    }

    /// The context's PATH.
    fn base_path(&self) -> String {
        self.cx.env().get("PATH").unwrap_or_default().to_string()
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
        let arch = self.machine();
        let debian = self.cat("/etc/debian_version");
        if debian.success() {
            let (mut distro, mut release) = (None, None);
            let lsb = self.lsb_release_ir();
            let lsb_file = || self.cat("/etc/lsb-release");
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
        let alpine = self.cat("/etc/alpine-release");
        if alpine.success() {
            return OsInfo {
                family: "alpine".into(),
                release: Some(alpine.stdout.trim().to_string()),
                arch,
            };
        }
        let redhat = self.cat("/etc/redhat-release");
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

    /// Starts what OS detection runs, without waiting for it: on this
    /// machine only `lsb_release -ir` is a process (the rest are reads),
    /// and the first check that needs the OS finds it running or done.
    /// Remote targets detect at once.
    pub fn start_os_detection(&self) {
        if !self.is_local() {
            let _ = self.os();
        } else if self.cat("/etc/debian_version").success() && self.lsb_in_process().is_none() {
            self.prefetch("lsb_release -ir");
        }
    }

    /// `lsb_release -ir`, answered in-process on this machine when its
    /// meaning is certain ([`super::lsb`]), else run.
    fn lsb_release_ir(&self) -> Arc<CmdOut> {
        match self.lsb_in_process() {
            Some(stdout) => Arc::new(CmdOut {
                stdout,
                stderr: String::new(),
                exit_status: 0,
            }),
            None => self.run("lsb_release -ir"),
        }
    }

    fn lsb_in_process(&self) -> Option<String> {
        if !self.is_local() {
            return None;
        }
        // The PATH the command would run with (see `command`).
        let path = match lock(&self.path_prefix).as_deref() {
            Some(prefix) => expand_path(prefix, &self.base_path())?,
            None => self.base_path(),
        };
        super::lsb::lsb_release_ir(&path)
    }

    /// `uname -m` (in-process on this machine).
    fn machine(&self) -> String {
        if self.is_local() {
            let uname = rustix::system::uname();
            return uname.machine().to_string_lossy().trim().to_string();
        }
        self.run("uname -m").stdout.trim().to_string()
    }

    /// `cat FILE` (a read on this machine: it succeeds when cat would).
    fn cat(&self, path: &str) -> Arc<CmdOut> {
        if !self.is_local() {
            return self.run(&format!("cat {path}"));
        }
        Arc::new(match std::fs::read(path) {
            Ok(b) => CmdOut {
                stdout: String::from_utf8_lossy(&b).into_owned(),
                stderr: String::new(),
                exit_status: 0,
            },
            Err(e) => CmdOut {
                stdout: String::new(),
                stderr: format!("cat: {path}: {e}"),
                exit_status: 1,
            },
        })
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

/// `:path` as the shell expands it in specinfra's `env PATH="<:path>"`:
/// `$PATH` (or `${PATH}`) becomes the current PATH. `None` when it holds
/// any other expansion or quoting, which only a shell can read.
fn expand_path(path: &str, base: &str) -> Option<String> {
    let longer_name = path
        .match_indices("$PATH")
        .any(|(i, _)| path[i + 5..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'));
    let rest = path.replace("${PATH}", "").replace("$PATH", "");
    if longer_name || rest.contains(['$', '`', '\\', '"']) {
        return None;
    }
    Some(path.replace("${PATH}", base).replace("$PATH", base))
}

#[cfg(test)]
mod tests {
    use super::expand_path;

    #[test]
    fn path_setting_expands_like_the_shell() {
        assert_eq!(
            expand_path("/sbin:/usr/sbin:$PATH", "/bin").as_deref(),
            Some("/sbin:/usr/sbin:/bin")
        );
        assert_eq!(
            expand_path("${PATH}:/opt", "/bin").as_deref(),
            Some("/bin:/opt")
        );
        assert_eq!(expand_path("/only", "/bin").as_deref(), Some("/only"));
        assert_eq!(expand_path("$HOME/bin:$PATH", "/bin"), None);
        assert_eq!(expand_path("$PATHS", "/bin"), None);
    }
}
