//! Running child processes: the one way every step starts a tool.
//!
//! * Arguments are argv, never a shell string built from config.
//! * The child runs in its own process group, so cancelling reaches its
//!   children too (`bash -c 'sleep 30 & sleep 30'` leaves nothing behind).
//! * stdout and stderr are read line by line into [`EventKind::Output`]
//!   events (masked by the sink), and optionally captured up to a bound.
//! * Cancellation ladder: on a graceful stop or a timeout the group gets the
//!   stop signal (SIGTERM, or SIGINT for tools that clean up on it), then
//!   after a grace period SIGKILL; on a hard stop SIGKILL at once.
//!
//! duct runs the child; its own `kill` reaches only direct children and a
//! dropped handle kills nothing, which is why the group is signalled here.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::context::StepContext;
use crate::event::{EventKind, EventSink, Stream};
use crate::mask::Masker;

/// Longest line held before it is emitted in pieces.
const MAX_LINE: usize = 256 * 1024;
/// How long to wait for output pipes to close after the child exited (a
/// daemonized grandchild may hold them open forever).
const PIPE_DRAIN: Duration = Duration::from_millis(500);

/// Which signal starts a graceful stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM (the default).
    Term,
    /// SIGINT: terraform and packer stop gracefully (and clean up) on it.
    Int,
    /// SIGINT to the child alone, not its group: terraform then lets the
    /// provisioners it is running finish and records them, where a SIGINT
    /// to the whole group would kill them halfway (tainted resources whose
    /// destroy provisioners never run). The group is killed after the grace.
    IntChildOnly,
}

/// A line filter: turns a raw line into the text to show, or `None` to hide
/// it (packer's machine-readable lines, terraform's JSON stream).
pub type LineFilter = Arc<dyn Fn(Stream, &str) -> Option<String> + Send + Sync>;

/// Why a process could not run to completion.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program could not be started.
    #[error("could not start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Waiting for the program failed.
    #[error("waiting for `{program}` failed: {source}")]
    Wait {
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The run was cancelled; the process group was stopped.
    #[error("`{program}` was cancelled")]
    Cancelled {
        /// The program.
        program: String,
    },
    /// The process ran past its own timeout; the process group was stopped.
    #[error("`{program}` timed out after {}", humantime::format_duration(*after))]
    TimedOut {
        /// The program.
        program: String,
        /// The limit.
        after: Duration,
    },
}

/// What a finished process left.
#[derive(Clone, Debug)]
pub struct ProcessOutput {
    /// The exit status.
    pub status: ExitStatus,
    /// Captured stdout (up to the capture limit; empty when not capturing).
    pub stdout: String,
    /// Captured stderr (up to the capture limit).
    pub stderr: String,
    /// Whether a capture hit its limit.
    pub truncated: bool,
    /// How long it ran.
    pub duration: Duration,
}

impl ProcessOutput {
    /// Whether it exited with code 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit code, or `None` when it was killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// "exit code 3" or "killed by signal 9", for messages.
    pub fn describe_status(&self) -> String {
        use std::os::unix::process::ExitStatusExt;
        match (self.status.code(), self.status.signal()) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            _ => "unknown exit status".into(),
        }
    }
}

/// A child process to run. Build it, then [`Cmd::run`] it in a context.
#[derive(Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(String, String)>,
    env_remove: Vec<String>,
    stdin: Option<Vec<u8>>,
    capture: usize,
    stream: bool,
    stop: StopSignal,
    grace: Duration,
    timeout: Option<Duration>,
    filter: Option<LineFilter>,
    outlives_runner: bool,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cmd")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("cwd", &self.cwd)
            .finish_non_exhaustive()
    }
}

impl Cmd {
    /// A command running `program` (a name looked up on the context's `PATH`, or a path).
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Cmd {
            program: program.as_ref().to_os_string(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            env_remove: Vec::new(),
            stdin: None,
            capture: 0,
            stream: true,
            stop: StopSignal::Term,
            grace: Duration::from_secs(10),
            timeout: None,
            filter: None,
            outlives_runner: false,
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Runs in this directory (relative paths resolve against the context's
    /// working directory). Default: the context's working directory.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets an extra environment variable (on top of the context's environment).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Removes a variable from the child's environment.
    pub fn env_remove(mut self, name: impl Into<String>) -> Self {
        self.env_remove.push(name.into());
        self
    }

    /// Feeds these bytes to stdin (default: stdin is `/dev/null`).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Captures up to `limit` bytes of each of stdout and stderr.
    pub fn capture(mut self, limit: usize) -> Self {
        self.capture = limit;
        self
    }

    /// Don't emit output lines as events (capture only).
    pub fn quiet(mut self) -> Self {
        self.stream = false;
        self
    }

    /// Uses SIGINT instead of SIGTERM to start a graceful stop.
    pub fn stop_signal(mut self, signal: StopSignal) -> Self {
        self.stop = signal;
        self
    }

    /// How long to wait after the stop signal before SIGKILL (default 10 s).
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Stops the process after this long.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Transforms or hides lines before they become events.
    pub fn filter(mut self, filter: LineFilter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// The program and arguments, for messages (not a shell string).
    pub fn display(&self) -> String {
        let mut s = self.program.to_string_lossy().into_owned();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    fn program_name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    /// Marks the child as one that must be left to finish if the runner
    /// dies (a tool that would lose state if killed, like terraform): the
    /// journal records it so `runner cleanup` waits for it to exit instead
    /// of ending it. The command itself must not depend on the runner's
    /// pipes to survive (see step-terraform's relay).
    pub fn outlives_runner(mut self) -> Self {
        self.outlives_runner = true;
        self
    }

    /// Runs the command to completion, streaming its output into the
    /// context's events. A non-zero exit is not an error: look at
    /// [`ProcessOutput::status`].
    pub async fn run(self, cx: &StepContext) -> Result<ProcessOutput, ProcessError> {
        let program = self.program_name();
        let cwd = match &self.cwd {
            Some(d) => cx.resolve(d),
            None => cx.workdir().to_path_buf(),
        };
        let mut env: Vec<(String, String)> = cx
            .env()
            .iter()
            .filter(|(k, _)| !self.env_remove.iter().any(|r| r == k))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in &self.env {
            env.retain(|(ek, _)| ek != k);
            env.push((k.clone(), v.clone()));
        }
        // Resolve the program on the context's PATH (not the runner's own).
        let resolved = resolve_program(&self.program, &env, &cwd);

        let (out_r, out_w) = io::pipe().map_err(|source| ProcessError::Spawn {
            program: program.clone(),
            source,
        })?;
        let (err_r, err_w) = io::pipe().map_err(|source| ProcessError::Spawn {
            program: program.clone(),
            source,
        })?;

        let mut expr = duct::cmd(resolved, &self.args)
            .dir(&cwd)
            .full_env(env)
            .stdout_file(out_w)
            .stderr_file(err_w)
            .unchecked()
            .before_spawn(|cmd| {
                cmd.process_group(0);
                Ok(())
            });
        expr = match &self.stdin {
            Some(bytes) => expr.stdin_bytes(bytes.clone()),
            None => expr.stdin_null(),
        };
        let started = Instant::now();
        let handle = expr.start().map_err(|source| ProcessError::Spawn {
            program: program.clone(),
            source,
        });
        // The expression holds the write ends of the pipes: drop it so the
        // readers see EOF when the child (and its children) exit.
        drop(expr);
        let handle = Arc::new(handle?);
        let pgid = handle.pids().first().copied();
        if let Some(pgid) = pgid {
            cx.note_spawned(pgid, self.outlives_runner);
        }
        // If this future is dropped before the child ends (a runner that
        // gives up on a step, a fail-fast sibling), the group is killed.
        let mut guard = GroupGuard { pgid };

        let events = cx.events().clone();
        let masker = events.masker();
        let out_reader = spawn_reader(
            out_r,
            Stream::Stdout,
            self.capture,
            self.stream.then(|| events.clone()),
            self.filter.clone(),
            masker.clone(),
        );
        let err_reader = spawn_reader(
            err_r,
            Stream::Stderr,
            self.capture,
            self.stream.then(|| events.clone()),
            self.filter.clone(),
            masker,
        );

        let waiter = {
            let handle = handle.clone();
            tokio::task::spawn_blocking(move || handle.wait().map(|o| o.status))
        };
        tokio::pin!(waiter);

        let cancel = cx.cancel().clone();
        let timeout = self.timeout;
        let sleep = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);

        enum Stop {
            Cancelled,
            TimedOut,
        }
        let mut stopped: Option<Stop> = None;
        let status = tokio::select! {
            res = &mut waiter => Some(res),
            _ = cancel.cancelled() => { stopped = Some(Stop::Cancelled); None }
            _ = &mut sleep => { stopped = Some(Stop::TimedOut); None }
        };
        let status = match status {
            Some(res) => res,
            None => {
                if let Some(pgid) = pgid {
                    stop_group(pgid, self.stop, self.grace, &cancel, &mut waiter).await
                } else {
                    (&mut waiter).await
                }
            }
        };
        let status = match status {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => {
                return Err(ProcessError::Wait { program, source });
            }
            Err(join) => {
                return Err(ProcessError::Wait {
                    program,
                    source: io::Error::other(join.to_string()),
                });
            }
        };
        if let Some(pgid) = pgid
            && stopped.is_some()
        {
            // Whatever is left of the group goes too.
            kill_group(pgid, Signal::KILL);
        }
        // The child ended on its own: background processes it started on
        // purpose (a service for later steps) are left alone.
        guard.pgid = None;
        let (stdout, t1) = join_reader(out_reader).await;
        let (stderr, t2) = join_reader(err_reader).await;
        match stopped {
            Some(Stop::Cancelled) => Err(ProcessError::Cancelled { program }),
            Some(Stop::TimedOut) => Err(ProcessError::TimedOut {
                program,
                after: timeout.unwrap_or_default(),
            }),
            None => Ok(ProcessOutput {
                status,
                stdout,
                stderr,
                truncated: t1 || t2,
                duration: started.elapsed(),
            }),
        }
    }
}

type WaitResult = Result<io::Result<ExitStatus>, tokio::task::JoinError>;

/// Kills a process group when dropped while still armed.
struct GroupGuard {
    pgid: Option<u32>,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            kill_group(pgid, Signal::KILL);
        }
    }
}

/// The ladder: stop signal to the group, grace period, SIGKILL to the group;
/// a hard cancel skips the grace period.
async fn stop_group<F>(
    pgid: u32,
    signal: StopSignal,
    grace: Duration,
    cancel: &crate::cancel::Cancel,
    waiter: &mut std::pin::Pin<&mut F>,
) -> WaitResult
where
    F: std::future::Future<Output = WaitResult>,
{
    if cancel.is_killed() {
        kill_group(pgid, Signal::KILL);
        return waiter.await;
    }
    match signal {
        StopSignal::Term => kill_group(pgid, Signal::TERM),
        StopSignal::Int => kill_group(pgid, Signal::INT),
        StopSignal::IntChildOnly => {
            if let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) {
                let _ = rustix::process::kill_process(pid, Signal::INT);
            }
        }
    }
    tokio::select! {
        res = &mut *waiter => {
            return res;
        }
        _ = tokio::time::sleep(grace) => {}
        _ = cancel.killed() => {}
    }
    kill_group(pgid, Signal::KILL);
    waiter.await
}

/// Sends a signal to a process group; a group that is gone is fine.
pub fn kill_group(pgid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pgid) else {
        return;
    };
    if let Some(pid) = Pid::from_raw(raw) {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

fn resolve_program(program: &OsStr, env: &[(String, String)], cwd: &std::path::Path) -> OsString {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    // Every script step resolves `bash` on the same PATH: remember the
    // answer (per program and PATH) instead of searching PATH each time.
    static CACHE: OnceLock<Mutex<HashMap<(OsString, String), OsString>>> = OnceLock::new();
    let as_path = std::path::Path::new(program);
    if as_path.components().count() > 1 {
        return program.to_os_string();
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if path.split(':').any(|d| !d.starts_with('/')) {
        // A relative PATH entry depends on the working directory: no cache.
        return which::which_in(program, Some(path), cwd)
            .map(|p| p.into_os_string())
            .unwrap_or_else(|_| program.to_os_string());
    }
    let key = (program.to_os_string(), path.clone());
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(map) = cache.lock()
        && let Some(found) = map.get(&key)
        && std::path::Path::new(found).is_file()
    {
        return found.clone();
    }
    match which::which_in(program, Some(path), cwd) {
        Ok(p) => {
            let found = p.into_os_string();
            if let Ok(mut map) = cache.lock() {
                map.insert(key, found.clone());
            }
            found
        }
        Err(_) => program.to_os_string(),
    }
}

struct Captured {
    text: Vec<u8>,
    truncated: bool,
}

type Reader = (
    std::thread::JoinHandle<()>,
    Arc<Mutex<Captured>>,
    std::sync::mpsc::Receiver<()>,
);

fn spawn_reader(
    pipe: io::PipeReader,
    stream: Stream,
    capture: usize,
    events: Option<EventSink>,
    filter: Option<LineFilter>,
    masker: Masker,
) -> Reader {
    let captured = Arc::new(Mutex::new(Captured {
        text: Vec::new(),
        truncated: false,
    }));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let cap = captured.clone();
    let handle = std::thread::spawn(move || {
        read_lines(pipe, stream, capture, events, filter, masker, &cap);
        let _ = done_tx.send(());
    });
    (handle, captured, done_rx)
}

#[allow(clippy::too_many_arguments)]
fn read_lines(
    mut pipe: io::PipeReader,
    stream: Stream,
    capture: usize,
    events: Option<EventSink>,
    filter: Option<LineFilter>,
    masker: Masker,
    captured: &Mutex<Captured>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let emit = |bytes: &[u8]| {
        let Some(events) = &events else { return };
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let line = String::from_utf8_lossy(bytes);
        let text = match &filter {
            Some(f) => match f(stream, &line) {
                Some(t) => t,
                None => return,
            },
            None => line.into_owned(),
        };
        events.emit(EventKind::Output { stream, line: text });
    };
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let chunk = &buf[..n];
        if capture > 0 {
            let mut c = match captured.lock() {
                Ok(c) => c,
                Err(p) => p.into_inner(),
            };
            let room = capture.saturating_sub(c.text.len());
            if room < chunk.len() {
                c.truncated = true;
            }
            let take = room.min(chunk.len());
            c.text.extend_from_slice(&chunk[..take]);
        }
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', chunk) {
            if pending.is_empty() {
                emit(&chunk[start..nl]);
            } else {
                pending.extend_from_slice(&chunk[start..nl]);
                emit(&pending);
                pending.clear();
            }
            start = nl + 1;
        }
        pending.extend_from_slice(&chunk[start..]);
        while pending.len() > MAX_LINE {
            let split = masker.safe_split(&pending, MAX_LINE - masker.longest().min(MAX_LINE / 2));
            let split = if split == 0 { MAX_LINE } else { split };
            emit(&pending[..split]);
            pending.drain(..split);
        }
    }
    if !pending.is_empty() {
        emit(&pending);
    }
}

async fn join_reader(reader: Reader) -> (String, bool) {
    let (handle, captured, done) = reader;
    let finished = tokio::task::spawn_blocking(move || done.recv_timeout(PIPE_DRAIN).is_ok())
        .await
        .unwrap_or(false);
    if finished {
        let _ = handle.join();
    }
    // Otherwise a grandchild holds the pipe open: leave the reader thread to
    // finish on its own rather than hang the step.
    let c = match captured.lock() {
        Ok(c) => c,
        Err(p) => p.into_inner(),
    };
    (String::from_utf8_lossy(&c.text).into_owned(), c.truncated)
}
