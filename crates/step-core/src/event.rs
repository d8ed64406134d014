//! The one event stream of a run: step starts and ends, every line a child
//! prints, log messages, findings and check results.
//!
//! Events are dispatched synchronously to the [`EventListener`]s of an
//! [`EventSink`] under one lock, so a line is never interleaved with another
//! and a slow listener applies back-pressure instead of buffering without
//! bound. Secrets are masked in [`EventSink::emit`] itself, before any
//! listener sees the event.

use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::mask::Masker;
use crate::outcome::{CheckResult, Finding, RunResult, Status};

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
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
            }
            EventKind::StepFinished { message, .. } => {
                if let Some(m) = message {
                    masker.mask_in_place(m);
                }
            }
            EventKind::RunStarted { pipeline, .. } => masker.mask_in_place(pipeline),
            EventKind::StepStarted { .. } | EventKind::RunFinished { .. } => {}
        }
    }
}

/// Receives every event of a run, already masked.
pub trait EventListener: Send {
    /// Called for each event, in order, under the sink's lock.
    fn event(&mut self, event: &Event);

    /// Called once at the end of the run (flush files, print summaries).
    fn finish(&mut self) {}
}

struct Shared {
    masker: RwLock<Masker>,
    secrets: Mutex<Vec<String>>,
    listeners: Mutex<Vec<Box<dyn EventListener>>>,
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
            match self.shared.masker.write() {
                Ok(mut m) => *m = masker,
                Err(poisoned) => *poisoned.into_inner() = masker,
            }
        }
    }

    /// The current masker.
    pub fn masker(&self) -> Masker {
        match self.shared.masker.read() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
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
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            target: self.target.clone(),
            step: self.step.clone(),
            kind,
        };
        {
            let masker = match self.shared.masker.read() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            event.mask(&masker);
        }
        for listener in lock(&self.shared.listeners).iter_mut() {
            listener.event(&event);
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
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
