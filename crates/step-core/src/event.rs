//! The one event stream of a run: step starts and ends, every line a child
//! prints, log messages, findings and check results.
//!
//! Events are dispatched synchronously to the [`EventListener`]s of an
//! [`EventSink`] under one lock, so a line is never interleaved with another
//! and a slow listener applies back-pressure instead of buffering without
//! bound. Secrets are masked in [`EventSink::emit`] and
//! [`EventSink::output_block`] themselves, before any listener sees the event.
//!
//! A child's output arrives as blocks of whole lines ([`OutputBlock`]), one
//! per read of its pipe: a listener that writes text handles a block at a
//! time, and one that wants events gets one [`EventKind::Output`] per line
//! (the default of [`EventListener::output_block`]). Listeners may buffer
//! what they write; the sink calls [`EventListener::flush`] at least every
//! [`FLUSH_EVERY`] while events arrive, so a quiet step's last line still
//! shows promptly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::mask::Masker;
use crate::outcome::{CheckResult, Finding, RunResult, Status};
use crate::sync::lock;

/// Which output stream of a child a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Level of a log message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Detail for debugging.
    Debug,
    /// Normal progress.
    Info,
    /// Something a person should look at.
    Warn,
    /// Something went wrong.
    Error,
}

/// What happened.
///
/// More kinds of event may come: a `match` outside this crate needs a `_` arm.
///
/// ```compile_fail
/// use step_core::EventKind;
/// fn is_step(kind: &EventKind) -> bool {
///     match kind {
///         EventKind::StepStarted { .. } | EventKind::StepFinished { .. } => true,
///         EventKind::RunStarted { .. } | EventKind::RunFinished { .. } => false,
///         EventKind::Output { .. } | EventKind::Log { .. } => false,
///         EventKind::Finding { .. } | EventKind::Check { .. } => false,
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A run began.
    RunStarted {
        /// The run's id.
        run_id: String,
        /// The pipeline's name.
        pipeline: String,
    },
    /// A step began.
    StepStarted {
        /// The step's kind.
        kind: String,
        /// The step's working directory: relative to the repository root
        /// (`.` for the root itself), or absolute when it lies outside.
        /// Findings' paths are relative to the root, not to this.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<String>,
    },
    /// A line a child process printed (without its newline).
    Output {
        /// Which stream.
        stream: Stream,
        /// The text.
        line: String,
    },
    /// A message from a step or the runner.
    Log {
        /// Its level.
        level: Level,
        /// The text.
        message: String,
    },
    /// A structured finding.
    Finding {
        /// The finding.
        finding: Finding,
    },
    /// One check's result.
    Check {
        /// The result.
        check: CheckResult,
    },
    /// A step ended.
    StepFinished {
        /// How it ended.
        status: Status,
        /// How long it took, in milliseconds.
        duration_ms: u64,
        /// What happened, for a person.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// The run ended.
    RunFinished {
        /// The result.
        result: RunResult,
        /// How long it took, in milliseconds.
        duration_ms: u64,
    },
}

/// An event, stamped with time, target and step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened (RFC 3339, UTC, milliseconds).
    pub time: String,
    /// The parallel target (a `for_each` value) it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The step's display name, if it belongs to a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// Masks every text field.
    fn mask(&mut self, masker: &Masker) {
        if masker.is_empty() {
            return;
        }
        if let Some(s) = &mut self.step {
            masker.mask_in_place(s);
        }
        if let Some(t) = &mut self.target {
            masker.mask_in_place(t);
        }
        match &mut self.kind {
            EventKind::Output { line, .. } => masker.mask_in_place(line),
            EventKind::Log { message, .. } => masker.mask_in_place(message),
            EventKind::Finding { finding } => {
                masker.mask_in_place(&mut finding.message);
                masker.mask_in_place(&mut finding.id);
                if let Some(d) = &mut finding.detail {
                    masker.mask_in_place(d);
                }
                if let Some(l) = &mut finding.location {
                    masker.mask_in_place(&mut l.file);
                }
            }
            EventKind::Check { check } => {
                masker.mask_in_place(&mut check.name);
                if let Some(m) = &mut check.message {
                    masker.mask_in_place(m);
                }
                if let Some(l) = &mut check.location {
                    masker.mask_in_place(&mut l.file);
                }
            }
            EventKind::StepFinished { message, .. } => {
                if let Some(m) = message {
                    masker.mask_in_place(m);
                }
            }
            EventKind::RunStarted { pipeline, .. } => masker.mask_in_place(pipeline),
            EventKind::StepStarted { cwd, .. } => {
                if let Some(c) = cwd {
                    masker.mask_in_place(c);
                }
            }
            EventKind::RunFinished { .. } => {}
        }
    }
}

/// How often, at most, buffered listener output waits for a flush.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Lines a child printed on one stream, read together: the unit in which
/// output reaches listeners. Already masked.
#[derive(Clone, Copy, Debug)]
pub struct OutputBlock<'a> {
    /// When it was read (RFC 3339, UTC, milliseconds).
    pub time: &'a str,
    /// The parallel target it belongs to, if any.
    pub target: Option<&'a str>,
    /// The step's display name, if any.
    pub step: Option<&'a str>,
    /// Which stream.
    pub stream: Stream,
    /// The lines, each ended by `\n` (the last one's is optional).
    pub text: &'a str,
}

impl<'a> OutputBlock<'a> {
    /// The lines, without their `\n` (nor a `\r` before it): what each
    /// [`EventKind::Output`] event carries.
    pub fn lines(&self) -> BlockLines<'a> {
        BlockLines { rest: self.text }
    }

    /// One [`EventKind::Output`] event per line.
    pub fn events(&self) -> impl Iterator<Item = Event> + 'a {
        let (time, target, step, stream) = (self.time, self.target, self.step, self.stream);
        self.lines().map(move |line| Event {
            time: time.to_owned(),
            target: target.map(str::to_owned),
            step: step.map(str::to_owned),
            kind: EventKind::Output {
                stream,
                line: line.to_owned(),
            },
        })
    }
}

/// The lines of an [`OutputBlock`] (see [`OutputBlock::lines`]).
#[derive(Clone, Debug)]
pub struct BlockLines<'a> {
    rest: &'a str,
}

impl<'a> Iterator for BlockLines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match memchr::memchr(b'\n', self.rest.as_bytes()) {
            // `\n` is one byte: both sides are on character boundaries.
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, ""),
        };
        self.rest = rest;
        Some(line.strip_suffix('\r').unwrap_or(line))
    }
}

/// Receives every event of a run, already masked.
pub trait EventListener: Send {
    /// Called for each event, in order, under the sink's lock.
    fn event(&mut self, event: &Event);

    /// Called for each block of output lines, in order with the events,
    /// under the sink's lock. The default hands [`EventListener::event`] one
    /// [`EventKind::Output`] per line; a listener that writes text can take
    /// the block whole.
    fn output_block(&mut self, block: &OutputBlock<'_>) {
        for event in block.events() {
            self.event(&event);
        }
    }

    /// Writes out whatever the listener buffered. Called at least every
    /// [`FLUSH_EVERY`] while events arrive (from a timer thread, under the
    /// sink's lock); the default does nothing.
    fn flush(&mut self) {}

    /// Called once at the end of the run (flush files, print summaries).
    fn finish(&mut self) {}
}

/// A closure is a listener: `sink.add_listener(Box::new(|e: &Event| …))`.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use step_core::{Event, EventSink, Level};
///
/// let seen = Arc::new(Mutex::new(0));
/// let counter = Arc::clone(&seen);
/// let sink = EventSink::new();
/// sink.add_listener(Box::new(move |_e: &Event| {
///     if let Ok(mut n) = counter.lock() {
///         *n += 1;
///     }
/// }));
/// sink.log(Level::Info, "hello");
/// assert_eq!(*seen.lock().unwrap(), 1);
/// ```
impl<F> EventListener for F
where
    F: FnMut(&Event) + Send,
{
    fn event(&mut self, event: &Event) {
        self(event)
    }
}

struct Shared {
    masker: RwLock<Masker>,
    secrets: Mutex<Vec<String>>,
    listeners: Mutex<Vec<Box<dyn EventListener>>>,
    /// Events arrived since the last flush.
    dirty: AtomicBool,
    /// Set once the flush timer thread runs.
    flusher: OnceLock<()>,
}

/// Where events go. Cheap to clone; a clone can carry a different target and
/// step scope ([`EventSink::scoped`]) while sharing listeners and masking.
#[derive(Clone)]
pub struct EventSink {
    shared: Arc<Shared>,
    target: Option<String>,
    step: Option<String>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink")
            .field("target", &self.target)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl Default for EventSink {
    fn default() -> Self {
        EventSink::new()
    }
}

impl EventSink {
    /// A sink with no listeners and no secrets.
    pub fn new() -> Self {
        EventSink {
            shared: Arc::new(Shared {
                masker: RwLock::new(Masker::default()),
                secrets: Mutex::new(Vec::new()),
                listeners: Mutex::new(Vec::new()),
                dirty: AtomicBool::new(false),
                flusher: OnceLock::new(),
            }),
            target: None,
            step: None,
        }
    }

    /// Adds a listener.
    pub fn add_listener(&self, listener: Box<dyn EventListener>) {
        lock(&self.shared.listeners).push(listener);
    }

    /// Registers secret values: from now on they are masked in every event.
    pub fn add_secrets<I, S>(&self, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut secrets = lock(&self.shared.secrets);
        let before = secrets.len();
        for v in values {
            let v = v.into();
            if !v.is_empty() && !secrets.contains(&v) {
                secrets.push(v);
            }
        }
        if secrets.len() != before {
            let masker = Masker::new(secrets.iter());
            *crate::sync::write(&self.shared.masker) = masker;
        }
    }

    /// The current masker.
    pub fn masker(&self) -> Masker {
        crate::sync::read(&self.shared.masker).clone()
    }

    /// A sink for the same listeners that stamps events with this target.
    pub fn with_target(&self, target: Option<String>) -> EventSink {
        EventSink {
            shared: self.shared.clone(),
            target,
            step: self.step.clone(),
        }
    }

    /// A sink for the same listeners that stamps events with this step name.
    pub fn scoped(&self, step: impl Into<String>) -> EventSink {
        EventSink {
            shared: self.shared.clone(),
            target: self.target.clone(),
            step: Some(step.into()),
        }
    }

    /// The target this sink stamps.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The step this sink stamps.
    pub fn step(&self) -> Option<&str> {
        self.step.as_deref()
    }

    /// Masks and dispatches an event of this sink's scope.
    pub fn emit(&self, kind: EventKind) {
        let mut event = Event {
            time: now(),
            target: self.target.clone(),
            step: self.step.clone(),
            kind,
        };
        event.mask(&self.read_masker());
        for listener in lock(&self.shared.listeners).iter_mut() {
            listener.event(&event);
        }
        self.touched();
    }

    /// Masks and dispatches lines a child printed on `stream`: `text` holds
    /// whole lines, each ended by `\n` (the last one's is optional). The
    /// whole block is masked in one pass, so the caller must not cut a
    /// secret between two blocks (see [`Masker::safe_split`]).
    pub fn output_block(&self, stream: Stream, text: &str) {
        if text.is_empty() {
            return;
        }
        let masked = self.read_masker().mask(text);
        // A target or step name can hold a secret (a for_each value): the
        // same masking as every other event's.
        let target = self.target.as_deref().map(|t| self.read_masker().mask(t));
        let step = self.step.as_deref().map(|s| self.read_masker().mask(s));
        let time = now();
        let block = OutputBlock {
            time: &time,
            target: target.as_deref(),
            step: step.as_deref(),
            stream,
            text: &masked,
        };
        for listener in lock(&self.shared.listeners).iter_mut() {
            listener.output_block(&block);
        }
        self.touched();
    }

    fn read_masker(&self) -> std::sync::RwLockReadGuard<'_, Masker> {
        crate::sync::read(&self.shared.masker)
    }

    /// Marks the listeners as having something to flush, and makes sure the
    /// flush timer runs.
    fn touched(&self) {
        self.shared.dirty.store(true, Ordering::Release);
        self.shared.flusher.get_or_init(|| {
            let weak = Arc::downgrade(&self.shared);
            // Without the thread, output still goes out when buffers fill
            // and at the end of the run; only promptness is lost.
            let _ = std::thread::Builder::new()
                .name("stepwise-flush".into())
                .spawn(move || flush_loop(&weak));
        });
    }

    /// Flushes every listener now.
    pub fn flush(&self) {
        self.shared.dirty.store(false, Ordering::Release);
        for listener in lock(&self.shared.listeners).iter_mut() {
            listener.flush();
        }
    }

    /// Emits a log message.
    pub fn log(&self, level: Level, message: impl Into<String>) {
        self.emit(EventKind::Log {
            level,
            message: message.into(),
        });
    }

    /// Emits an output line.
    pub fn output(&self, stream: Stream, line: impl Into<String>) {
        self.emit(EventKind::Output {
            stream,
            line: line.into(),
        });
    }

    /// Calls `finish` on every listener (end of run).
    pub fn finish(&self) {
        for listener in lock(&self.shared.listeners).iter_mut() {
            listener.finish();
        }
    }
}

/// The flush timer: flushes the listeners every [`FLUSH_EVERY`] while events
/// arrive; ends when the sink is gone.
fn flush_loop(shared: &Weak<Shared>) {
    loop {
        std::thread::sleep(FLUSH_EVERY);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.dirty.swap(false, Ordering::AcqRel) {
            for listener in lock(&shared.listeners).iter_mut() {
                listener.flush();
            }
        }
    }
}

/// The current time as events carry it.
fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// A listener that keeps every event in memory; for tests and for callers
/// that embed a step and want to inspect what it did.
#[derive(Clone, Default)]
pub struct MemoryListener {
    events: Arc<Mutex<Vec<Event>>>,
}

impl MemoryListener {
    /// A new, empty listener.
    pub fn new() -> Self {
        MemoryListener::default()
    }

    /// A snapshot of the events so far.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.events).clone()
    }

    /// The output lines so far.
    pub fn lines(&self) -> Vec<String> {
        lock(&self.events)
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Output { line, .. } => Some(line.clone()),
                EventKind::Log { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }
}

impl EventListener for MemoryListener {
    fn event(&mut self, event: &Event) {
        lock(&self.events).push(event.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_before_listeners_see_them() {
        let sink = EventSink::new();
        let mem = MemoryListener::new();
        sink.add_listener(Box::new(mem.clone()));
        sink.add_secrets(["hunter22"]);
        sink.scoped("s").output(Stream::Stdout, "pw=hunter22");
        sink.log(Level::Warn, "hunter22!");
        assert_eq!(mem.lines(), vec!["pw=***", "***!"]);
        assert_eq!(mem.events()[0].step.as_deref(), Some("s"));
    }
}
