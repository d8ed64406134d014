//! Running child processes: the one way every step starts a tool.
//!
//! * Arguments are argv, never a shell string built from config.
//! * The child runs in its own process group, so cancelling reaches its
//!   children too (`bash -c 'sleep 30 & sleep 30'` leaves nothing behind).
//! * stdout and stderr are read on the async runtime (no thread per child)
//!   in blocks of up to [`READ_SIZE`] bytes. Each read's whole lines go to
//!   the sink as one [`OutputBlock`](crate::event::OutputBlock), masked
//!   whole; a partial line waits for its newline, for the child to go quiet,
//!   or for the line to grow past [`MAX_LINE`] (cut outside any secret).
//!   Lines are split one by one only for a [`LineFilter`]. Output is
//!   optionally captured up to a bound.
//! * Cancellation ladder: on a graceful stop or a timeout the group gets the
//!   stop signal (SIGTERM, or SIGINT for tools that clean up on it), then
//!   after a grace period SIGKILL; on a hard stop SIGKILL at once.
//!
//! The child is started with `std`'s spawn (posix_spawn where it can) through
//! tokio, which also waits for it without a blocking thread. A dropped
//! future kills the child's whole group.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe::Receiver;

use crate::context::StepContext;
use crate::event::{EventKind, EventSink, Stream};
use crate::output::Splitter;
use crate::sync::lock;

/// Longest partial line held before it is emitted in pieces.
pub const MAX_LINE: usize = 256 * 1024;
/// How much is read from a pipe at once, at most.
pub const READ_SIZE: usize = 256 * 1024;
/// How much is read from a pipe at first; doubled while reads fill it.
const FIRST_READ: usize = 64 * 1024;
/// The capacity asked for a child's stdout pipe (Linux gives 64 KiB): a
/// child printing fast then fills it while the runner masks and writes
/// the previous block, and each read takes more at once. Kept modest so
/// that many parallel children stay under the per-user pipe memory limit.
const PIPE_SIZE: usize = 256 * 1024;
/// A read this large means the child prints fast: its pipe is enlarged.
const PIPE_GROW_AT: usize = 32 * 1024;
/// How long a child may be quiet before its partial last line is shown.
const IDLE: Duration = Duration::from_millis(100);
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
    /// `None`: the step's stop policy ([`StepContext::stop_policy`]).
    stop: Option<StopSignal>,
    /// `None`: the step's stop policy.
    grace: Option<Duration>,
    timeout: Option<Duration>,
    filter: Option<LineFilter>,
    inherit: Vec<Arc<OwnedFd>>,
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
            stop: None,
            grace: None,
            timeout: None,
            filter: None,
            inherit: Vec::new(),
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

    /// The signal that starts a graceful stop (default: the step's
    /// [`StopPolicy`](crate::step::StopPolicy), SIGTERM unless it says otherwise).
    pub fn stop_signal(mut self, signal: StopSignal) -> Self {
        self.stop = Some(signal);
        self
    }

    /// How long to wait after the stop signal before SIGKILL (default: the
    /// step's [`StopPolicy`](crate::step::StopPolicy), 10 s unless it says otherwise).
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
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

    /// Keeps `fd` open in the child under the same number (its
    /// `as_raw_fd()`), for the child to read or write as `/dev/fd/N`: how a
    /// script receives its code and hands back its environment without
    /// temporary files. Every other descriptor of the runner stays closed
    /// in the child. The number must not be 0, 1 or 2.
    pub fn inherit_fd(mut self, fd: OwnedFd) -> Self {
        self.inherit.push(Arc::new(fd));
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
        // Cancelled already (a fail-fast sibling failed first): start
        // nothing. A stop signal sent while a shell starts up may be held
        // by it until its first command ends.
        if cx.cancel().is_cancelled() {
            return Err(ProcessError::Cancelled { program });
        }
        let spawn_error = |source| ProcessError::Spawn {
            program: program.clone(),
            source,
        };
        let (out_r, out_w) = io::pipe().map_err(spawn_error)?;
        let (err_r, err_w) = io::pipe().map_err(spawn_error)?;
        let mut command = self.command(cx, out_w, err_w);
        let started = Instant::now();
        let mut child = spawn(&mut command, &self.inherit).map_err(spawn_error)?;
        // The command holds the write ends of the pipes: drop it so the
        // readers see EOF when the child (and its children) exit.
        drop(command);
        let pgid = child.id();
        if let Some(pgid) = pgid {
            cx.note_spawned(pgid, self.outlives_runner);
        }
        // If this future is dropped before the child ends (a runner that
        // gives up on a step, a fail-fast sibling), the group is killed.
        let mut guard = GroupGuard { pgid };
        if let (Some(bytes), Some(mut stdin)) = (self.stdin.clone(), child.stdin.take()) {
            tokio::spawn(async move {
                // A child that does not read its input is not an error.
                let _ = stdin.write_all(&bytes).await;
            });
        }
        let captured = Arc::new(Mutex::new(Captured::default()));
        let [out, err] =
            [(out_r, Stream::Stdout), (err_r, Stream::Stderr)].map(|(pipe, stream)| {
                StreamReader {
                    stream,
                    capture: (self.capture > 0).then(|| (self.capture, captured.clone())),
                    events: self.stream.then(|| cx.events().clone()),
                    filter: self.filter.clone(),
                }
                .read(pipe)
            });
        // Read in this task, beside the wait: no task per stream and no
        // wake-up of another worker for a child that prints little.
        let mut readers = Readers {
            both: Box::pin(async move {
                tokio::join!(out, err);
            }),
            done: false,
        };

        let cancel = cx.cancel().clone();
        let (status, stopped) = {
            let waiter = child.wait();
            tokio::pin!(waiter);
            let sleep = async {
                match self.timeout {
                    Some(t) => tokio::time::sleep(t).await,
                    None => std::future::pending().await,
                }
            };
            let stopped: Result<io::Result<ExitStatus>, Stop> = readers
                .beside(async {
                    tokio::select! {
                        res = &mut waiter => Ok(res),
                        _ = cancel.cancelled() => Err(Stop::Cancelled),
                        _ = sleep => Err(Stop::TimedOut),
                    }
                })
                .await;
            match stopped {
                Ok(res) => (res, None),
                Err(stop) => {
                    let res = match pgid {
                        Some(pgid) => {
                            let policy = cx.stop_policy();
                            let signal = self.stop.unwrap_or(policy.signal);
                            let grace = self.grace.unwrap_or(policy.grace);
                            readers
                                .beside(stop_group(pgid, signal, grace, &cancel, &mut waiter))
                                .await
                        }
                        None => readers.beside(&mut waiter).await,
                    };
                    (res, Some(stop))
                }
            }
        };
        let status = status.map_err(|source| ProcessError::Wait {
            program: program.clone(),
            source,
        })?;
        if let Some(pgid) = pgid
            && stopped.is_some()
        {
            // Whatever is left of the group goes too.
            kill_group(pgid, Signal::KILL);
        }
        // The child ended on its own: background processes it started on
        // purpose (a service for later steps) are left alone.
        guard.pgid = None;
        // A grandchild may hold a pipe open: wait for the readers only so
        // long, then leave them to finish on their own.
        if !readers.done
            && tokio::time::timeout(PIPE_DRAIN, &mut readers.both)
                .await
                .is_err()
        {
            tokio::spawn(readers.both);
        }
        let (stdout, stderr, truncated) = lock(&captured).take();
        match stopped {
            Some(Stop::Cancelled) => Err(ProcessError::Cancelled { program }),
            Some(Stop::TimedOut) => Err(ProcessError::TimedOut {
                program,
                after: self.timeout.unwrap_or_default(),
            }),
            None => Ok(ProcessOutput {
                status,
                stdout,
                stderr,
                truncated,
                duration: started.elapsed(),
            }),
        }
    }

    /// The tokio command: resolved program, argv, cwd, the context's
    /// environment with this command's changes, pipes, own process group.
    fn command(
        &self,
        cx: &StepContext,
        out: io::PipeWriter,
        err: io::PipeWriter,
    ) -> tokio::process::Command {
        let cwd = match &self.cwd {
            Some(d) => cx.resolve(d),
            None => cx.workdir().to_path_buf(),
        };
        let mut env: Vec<(&str, &str)> = cx
            .env()
            .iter()
            .filter(|(k, _)| !self.env_remove.iter().any(|r| r == k))
            .filter(|(k, _)| !self.env.iter().any(|(e, _)| e == k))
            .collect();
        env.extend(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        // Resolve the program on the context's PATH (not the runner's own).
        let path = env.iter().find(|(k, _)| *k == "PATH").map(|(_, v)| *v);
        let resolved = resolve_program(&self.program, path.unwrap_or_default(), &cwd);
        let mut command = tokio::process::Command::new(resolved);
        command
            .args(&self.args)
            .current_dir(&cwd)
            .env_clear()
            .envs(env)
            .stdin(match self.stdin {
                Some(_) => Stdio::piped(),
                None => Stdio::null(),
            })
            .stdout(Stdio::from(OwnedFd::from(out)))
            .stderr(Stdio::from(OwnedFd::from(err)))
            .process_group(0);
        command
    }
}

/// The readers of a child's two streams, polled beside whatever the run
/// waits for.
struct Readers {
    both: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    done: bool,
}

impl Readers {
    /// Runs `fut` to completion while the streams are read.
    async fn beside<F: std::future::Future>(&mut self, fut: F) -> F::Output {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return out,
                () = &mut self.both, if !self.done => self.done = true,
            }
        }
    }
}

/// Why a process was stopped before it ended on its own.
enum Stop {
    Cancelled,
    TimedOut,
}

/// Serializes spawns, so that a descriptor made inheritable for one child
/// is not inherited by another one started at the same moment.
static SPAWN: Mutex<()> = Mutex::new(());

/// Spawns `command` with the `inherit` descriptors kept open in the child.
fn spawn(
    command: &mut tokio::process::Command,
    inherit: &[Arc<OwnedFd>],
) -> io::Result<tokio::process::Child> {
    use rustix::io::{FdFlags, fcntl_getfd, fcntl_setfd};
    let _serial = lock(&SPAWN);
    for fd in inherit {
        let flags = fcntl_getfd(fd.as_fd())?;
        fcntl_setfd(fd.as_fd(), flags - FdFlags::CLOEXEC)?;
    }
    let child = command.spawn();
    for fd in inherit {
        // Back to close-on-exec: only this child gets it.
        if let Ok(flags) = fcntl_getfd(fd.as_fd()) {
            let _ = fcntl_setfd(fd.as_fd(), flags | FdFlags::CLOEXEC);
        }
    }
    child
}

type WaitResult = io::Result<ExitStatus>;

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

/// The executable `program` names, searched on `path` (a `PATH` value)
/// as a shell searches it; one with a `/` is taken relative to `cwd`.
pub fn find_program(
    program: impl AsRef<OsStr>,
    path: &str,
    cwd: &std::path::Path,
) -> Option<PathBuf> {
    which::which_in(program, Some(path), cwd).ok()
}

fn resolve_program(program: &OsStr, path: &str, cwd: &std::path::Path) -> OsString {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    // Every script step resolves `bash` on the same PATH: remember the
    // answer (per program and PATH) instead of searching PATH each time.
    static CACHE: OnceLock<Mutex<HashMap<(OsString, String), OsString>>> = OnceLock::new();
    let as_path = std::path::Path::new(program);
    if as_path.components().count() > 1 {
        return program.to_os_string();
    }
    if path.split(':').any(|d| !d.starts_with('/')) {
        // A relative PATH entry depends on the working directory: no cache.
        return find_program(program, path, cwd)
            .map_or_else(|| program.to_os_string(), PathBuf::into_os_string);
    }
    let key = (program.to_os_string(), path.to_owned());
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(found) = lock(cache).get(&key)
        && std::path::Path::new(found).is_file()
    {
        return found.clone();
    }
    match find_program(program, path, cwd) {
        Some(p) => {
            let found = p.into_os_string();
            lock(cache).insert(key, found.clone());
            found
        }
        None => program.to_os_string(),
    }
}

/// Output kept for the caller, up to the capture bound.
#[derive(Default)]
struct Captured {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    truncated: bool,
}

impl Captured {
    fn keep(&mut self, stream: Stream, bytes: &[u8], limit: usize) {
        let text = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        let room = limit.saturating_sub(text.len());
        if room < bytes.len() {
            self.truncated = true;
        }
        text.extend_from_slice(&bytes[..room.min(bytes.len())]);
    }

    fn take(&mut self) -> (String, String, bool) {
        let text = |b: Vec<u8>| {
            String::from_utf8(b)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        };
        (
            text(std::mem::take(&mut self.stdout)),
            text(std::mem::take(&mut self.stderr)),
            self.truncated,
        )
    }
}

/// Reads one output stream of a child on the runtime.
struct StreamReader {
    stream: Stream,
    capture: Option<(usize, Arc<Mutex<Captured>>)>,
    events: Option<EventSink>,
    filter: Option<LineFilter>,
}

impl StreamReader {
    /// Reads the pipe to its end, emitting blocks of lines as they come.
    async fn read(self, pipe: io::PipeReader) {
        let Ok(mut pipe) = receiver(pipe) else {
            return;
        };
        let mut splitter = Splitter::new(MAX_LINE);
        let mut quiet = false;
        let mut want = FIRST_READ;
        let mut enlarged = false;
        loop {
            let buf = splitter.buffer();
            let from = buf.len();
            // Small at first (most steps print little, and a large block
            // would come from and go back to the system on every step);
            // doubled while reads fill it, up to READ_SIZE.
            buf.reserve(want);
            // While a partial line is held, wait only so long for more.
            let read = if self.events.is_some() && from > 0 && !quiet {
                match tokio::time::timeout(IDLE, pipe.read_buf(buf)).await {
                    Ok(read) => read,
                    Err(_) => {
                        quiet = true;
                        let masker = self.masker();
                        splitter.idle(&masker, &mut |b: &[u8]| self.emit(b));
                        continue;
                    }
                }
            } else {
                pipe.read_buf(buf).await
            };
            match read {
                Ok(0) => break,
                Ok(n) => {
                    quiet = false;
                    if n >= want {
                        want = (want * 2).min(READ_SIZE);
                    }
                    if !enlarged && self.stream == Stream::Stdout && n >= PIPE_GROW_AT {
                        // A child that prints fast: a larger pipe lets it
                        // run ahead while a block is masked and written.
                        // Best effort (a smaller pipe only costs speed);
                        // not done at spawn, where it costs every step.
                        enlarged = true;
                        let _ = rustix::pipe::fcntl_setpipe_size(&pipe, PIPE_SIZE);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
            let buf = splitter.buffer();
            if let Some((limit, captured)) = &self.capture {
                lock(captured).keep(self.stream, &buf[from..], *limit);
            }
            if self.events.is_none() {
                buf.clear();
                continue;
            }
            splitter.split(from, || self.masker(), &mut |b: &[u8]| self.emit(b));
        }
        splitter.finish(&mut |b: &[u8]| self.emit(b));
    }

    fn masker(&self) -> crate::mask::Masker {
        self.events
            .as_ref()
            .map(EventSink::masker)
            .unwrap_or_default()
    }

    /// Sends whole lines (or a cut piece of one) to the sink: as one block,
    /// or line by line through the filter.
    fn emit(&self, bytes: &[u8]) {
        let Some(events) = &self.events else { return };
        // Valid UTF-8 (nearly always) is checked fast and not copied.
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(bytes),
        };
        let Some(filter) = &self.filter else {
            events.output_block(self.stream, &text);
            return;
        };
        let text = text.strip_suffix('\n').unwrap_or(&text);
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if let Some(shown) = filter(self.stream, line) {
                events.emit(EventKind::Output {
                    stream: self.stream,
                    line: shown,
                });
            }
        }
    }
}

/// The read end of a pipe, registered with the runtime.
fn receiver(pipe: io::PipeReader) -> io::Result<Receiver> {
    let fd = OwnedFd::from(pipe);
    rustix::io::ioctl_fionbio(&fd, true)?;
    Receiver::from_owned_fd_unchecked(fd)
}
