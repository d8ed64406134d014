//! Output for CI logs: each step's lines together, in the CI's own dialect.
//!
//! A CI log is read after the fact, top to bottom, so lines of parallel
//! targets that alternate line by line are hard to follow. The
//! [`CiReporter`] lets one step at a time (the first that starts while no
//! other is printing) stream live; the lines of steps running beside it
//! are held back and printed together, prefixed, when that step ends.
//! `--stream` turns holding back off (lines come out as they happen).
//!
//! The [`CiDialect`] decides the markers around a step's lines:
//!
//! - [`CiDialect::Plain`]: `==> [aws] deploy (terraform-apply)` headers;
//! - [`CiDialect::Github`]: `::group::`/`::endgroup::` per step, findings,
//!   failed checks and errors as `::error`/`::warning` annotations (see
//!   [`super::github`]), the job summary written at the end;
//! - [`CiDialect::Gitlab`]: `section_start`/`section_end` per step (see
//!   [`super::gitlab`]).
//!
//! Each diagnostic is printed once: in GitHub, an annotation replaces the
//! plain line of the same finding (GitHub shows it in the log).

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use step_core::event::{Event, EventKind, EventListener, Level, OutputBlock};
use step_core::outcome::Status;

use super::github::{self, AnnotationKind, Annotator};
use super::gitlab;
use super::summary::Summary;
use super::terminal::BATCH;
use super::{format_duration, label};

/// Which CI the log is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CiDialect {
    /// Plain lines with `==>` headers.
    Plain,
    /// GitHub Actions workflow commands.
    Github,
    /// GitLab CI collapsible sections.
    Gitlab,
}

impl CiDialect {
    /// The dialect of the environment: GitHub when `GITHUB_ACTIONS=true`,
    /// GitLab when `GITLAB_CI=true`, `None` otherwise.
    pub fn detect(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        if var("GITHUB_ACTIONS").as_deref() == Some("true") {
            Some(CiDialect::Github)
        } else if var("GITLAB_CI").as_deref() == Some("true") {
            Some(CiDialect::Gitlab)
        } else {
            None
        }
    }
}

/// ANSI colors of result lines (when colors are on).
mod color {
    pub const RED: &str = "\x1b[31m";
    pub const GREEN: &str = "\x1b[32m";
    pub const YELLOW: &str = "\x1b[33m";
    pub const RESET: &str = "\x1b[0m";
}

/// A step: its target and name.
type Key = (Option<String>, String);

/// The held-back events of a step that is not the live one.
#[derive(Debug)]
struct Held {
    key: Key,
    events: Vec<Event>,
    finished: bool,
}

/// Prints a run's events for a CI log (see the module docs).
pub struct CiReporter {
    out: Box<dyn Write + Send>,
    dialect: CiDialect,
    stream: bool,
    color: bool,
    summary: Summary,
    live: Option<Key>,
    held: Vec<Held>,
    annotator: Annotator,
    sections: usize,
    /// The section (GitLab: its name) or group (GitHub) that is open.
    open_section: Option<String>,
    step_summary: Option<PathBuf>,
    /// The findings' messages printed per running step, so a check, log or
    /// result line that repeats one is not printed again.
    printed: HashMap<Key, Vec<String>>,
    buf: String,
    done: bool,
    error: Option<io::Error>,
}

impl std::fmt::Debug for CiReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CiReporter")
            .field("dialect", &self.dialect)
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl CiReporter {
    /// A reporter writing `dialect` lines to `out`, holding back the lines
    /// of steps running beside the live one.
    pub fn new(out: Box<dyn Write + Send>, dialect: CiDialect) -> Self {
        CiReporter {
            out,
            dialect,
            stream: false,
            color: false,
            summary: Summary::new(),
            live: None,
            held: Vec::new(),
            annotator: Annotator::default(),
            sections: 0,
            open_section: None,
            step_summary: None,
            printed: HashMap::new(),
            buf: String::new(),
            done: false,
            error: None,
        }
    }

    /// Prints every line as it happens instead (`--stream`).
    pub fn with_stream(mut self, stream: bool) -> Self {
        self.stream = stream;
        self
    }

    /// Colors result lines.
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    /// Appends the Markdown job summary to this file at the end (GitHub's
    /// `$GITHUB_STEP_SUMMARY`).
    pub fn with_step_summary(mut self, path: Option<PathBuf>) -> Self {
        self.step_summary = path;
        self
    }

    /// The results collected so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The first error writing the log or the job summary, if any.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    fn line(&mut self, text: &str) {
        self.buf.push_str(text);
        self.buf.push('\n');
    }

    fn colored(&mut self, text: &str, c: &str) {
        if self.color {
            let line = format!("{c}{text}{}", color::RESET);
            self.line(&line);
        } else {
            self.line(text);
        }
    }

    /// Prefixed lines of a step's text, one per line of `text`.
    fn lines(&mut self, prefix: &str, text: &str) {
        let lines = text.lines().chain(text.is_empty().then_some(""));
        for l in lines {
            if prefix.is_empty() {
                self.buf.push_str(l);
            } else {
                self.buf.push_str(prefix);
                self.buf.push_str(" | ");
                self.buf.push_str(l);
            }
            self.buf.push('\n');
        }
    }

    /// Writes what is buffered with one call.
    fn write_buf(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let result = self
            .out
            .write_all(self.buf.as_bytes())
            .and_then(|()| self.out.flush());
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
        self.buf.clear();
    }

    /// Handles an event of a step: live, held back, or made live.
    fn step_event(&mut self, key: Key, event: &Event) {
        let finished = matches!(event.kind, EventKind::StepFinished { .. });
        if self.stream || self.live.as_ref() == Some(&key) {
            self.render(event);
            if finished && self.live.as_ref() == Some(&key) {
                self.live = None;
                self.release();
            }
            return;
        }
        if let Some(h) = self.held.iter_mut().find(|h| h.key == key && !h.finished) {
            h.events.push(event.clone());
            h.finished = finished;
            if self.live.is_none() {
                self.release();
            }
            return;
        }
        if self.live.is_none() {
            if !finished {
                self.live = Some(key);
            }
            self.render(event);
            return;
        }
        self.held.push(Held {
            key,
            events: vec![event.clone()],
            finished,
        });
    }

    /// Prints held-back steps that finished, then makes the earliest
    /// running one live (its lines so far first).
    fn release(&mut self) {
        while self.live.is_none() {
            if let Some(i) = self.held.iter().position(|h| h.finished) {
                let held = self.held.remove(i);
                held.events.iter().for_each(|e| self.render(e));
                continue;
            }
            if self.held.is_empty() {
                return;
            }
            let held = self.held.remove(0);
            held.events.iter().for_each(|e| self.render(e));
            self.live = Some(held.key);
        }
    }

    /// Prints one event in the dialect.
    fn render(&mut self, event: &Event) {
        let target = event.target.as_deref();
        let step = event.step.as_deref();
        let prefix = label(target, step);
        let key = step.map(|s| (event.target.clone(), s.to_owned()));
        let repeats = |text: &str| {
            key.as_ref()
                .and_then(|k| self.printed.get(k))
                .is_some_and(|seen| seen.iter().any(|m| text.contains(m.as_str())))
        };
        match &event.kind {
            _ if is_repeat(&event.kind, repeats) => {}
            EventKind::RunStarted { run_id, pipeline } => {
                self.line(&format!("=== {pipeline} (run {run_id})"));
            }
            EventKind::StepStarted { kind, .. } => {
                let name = label(target, Some(step.unwrap_or(kind)));
                self.open(&format!("{name} ({kind})"), &event.time);
            }
            EventKind::Output { line, .. } => self.lines(&prefix, line),
            EventKind::Log { level, message } => self.log(&prefix, *level, message),
            EventKind::Finding { finding } => {
                if let Some(k) = key.clone().filter(|_| finding.message.len() >= 8) {
                    self.printed
                        .entry(k)
                        .or_default()
                        .push(finding.message.clone());
                }
                let kind = AnnotationKind::of(finding.severity).filter(|_| !finding.ignored);
                let title = format!("{} [{}]", finding.severity, finding.id);
                if !self.annotate(kind, finding.location.as_ref(), &title, &finding.message) {
                    let ignored = if finding.ignored { " (ignored)" } else { "" };
                    self.lines(&prefix, &format!("{finding}{ignored}"));
                }
            }
            EventKind::Check { check } if check.status.is_failure() => {
                let title = format!("check {}: {}", check.status, check.name);
                let message = check.message.as_deref().unwrap_or(check.status.as_str());
                let kind = Some(AnnotationKind::Error);
                if !self.annotate(kind, check.location.as_ref(), &title, message) {
                    self.lines(&prefix, &format!("{title}: {message}"));
                }
            }
            EventKind::Check { .. } => {}
            EventKind::StepFinished {
                status,
                duration_ms,
                message,
            } => {
                // A message that repeats a finding keeps only its head
                // (`1 of 2 templates failed packer validation`).
                let message = message.as_deref().map(|m| match m.split_once(": ") {
                    Some((head, _)) if repeats(m) => head,
                    _ => m,
                });
                if let Some(k) = &key {
                    self.printed.remove(k);
                }
                self.finished(&prefix, *status, *duration_ms, message, &event.time);
            }
            EventKind::RunFinished { .. } => {}
            // Kinds of event added later: nothing to show.
            _ => {}
        }
    }

    fn log(&mut self, prefix: &str, level: Level, message: &str) {
        // (Repeats of a finding were filtered out by `render`.)
        let kind = match level {
            Level::Debug => return,
            Level::Info => None,
            Level::Warn => Some(AnnotationKind::Warning),
            Level::Error => Some(AnnotationKind::Error),
        };
        if self.annotate(kind, None, prefix, message) {
            return;
        }
        let marker = match level {
            Level::Warn => "warning: ",
            Level::Error => "error: ",
            _ => "",
        };
        self.lines(prefix, &format!("{marker}{message}"));
    }

    /// Prints a GitHub annotation; false when it is not one (another
    /// dialect, info, or over the cap): the caller prints the plain line.
    fn annotate(
        &mut self,
        kind: Option<AnnotationKind>,
        location: Option<&step_core::outcome::Location>,
        title: &str,
        message: &str,
    ) -> bool {
        let Some(kind) = kind.filter(|_| self.dialect == CiDialect::Github) else {
            return false;
        };
        match self.annotator.annotate(kind, location, title, message) {
            Some(line) => {
                self.line(&line);
                true
            }
            None => false,
        }
    }

    fn open(&mut self, header: &str, time: &str) {
        match self.dialect {
            _ if self.stream => self.line(&format!("==> {header}")),
            CiDialect::Plain => self.line(&format!("==> {header}")),
            CiDialect::Github => {
                self.line(&format!("::group::{header}"));
                self.open_section = Some(String::new());
            }
            CiDialect::Gitlab => {
                self.sections += 1;
                let name = gitlab::section_name(self.sections, header);
                let start = gitlab::section_start(
                    gitlab::unix_time(time),
                    &name,
                    false,
                    &format!("==> {header}"),
                );
                self.line(&start);
                self.open_section = Some(name);
            }
        }
    }

    fn finished(
        &mut self,
        prefix: &str,
        status: Status,
        duration_ms: u64,
        message: Option<&str>,
        time: &str,
    ) {
        if !self.stream {
            match self.dialect {
                CiDialect::Plain => {}
                CiDialect::Github => {
                    if self.open_section.take().is_some() {
                        self.line("::endgroup::");
                    }
                }
                CiDialect::Gitlab => {
                    if let Some(name) = self.open_section.take() {
                        let end = gitlab::section_end(gitlab::unix_time(time), &name);
                        self.line(&end);
                    }
                }
            }
        }
        let mut line = format!("<-- {prefix} {status}");
        if status != Status::Skipped {
            line.push_str(" in ");
            line.push_str(&format_duration(Duration::from_millis(duration_ms)));
        }
        let first = message.and_then(|m| m.lines().next());
        if let Some(m) = first {
            line.push_str(": ");
            line.push_str(m);
        }
        let c = match status {
            Status::Passed => color::GREEN,
            Status::Warned | Status::Skipped => color::YELLOW,
            _ => color::RED,
        };
        self.colored(&line, c);
        if status.is_failure() {
            let title = format!("{prefix} {status}");
            let text = message.unwrap_or(status.as_str());
            self.annotate(Some(AnnotationKind::Warning), None, &title, text);
        }
    }

    /// Prints what is still held back, the summary table, and writes the
    /// job summary. Runs once.
    fn close(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        self.live = None;
        let held = std::mem::take(&mut self.held);
        for h in &held {
            h.events.iter().for_each(|e| self.render(e));
        }
        self.line("");
        let table = self.summary.table();
        self.line(&table);
        let result = format!("=== {}", self.summary.result_line());
        let c = match self.summary.result() {
            Some(step_core::outcome::RunResult::Passed) => color::GREEN,
            _ => color::RED,
        };
        self.colored(&result, c);
        if let Some(line) = self.annotator.overflow_line() {
            self.line(&line);
        }
        self.write_buf();
        if let Some(path) = self.step_summary.take() {
            let md = github::step_summary(&self.summary);
            if let Err(e) = github::append(&path, &md) {
                self.error.get_or_insert(e);
            }
        }
    }
}

impl EventListener for CiReporter {
    fn event(&mut self, event: &Event) {
        self.summary.record(event);
        match (&event.step, &event.kind) {
            (_, EventKind::RunFinished { .. }) => self.close(),
            (Some(step), _) => self.step_event((event.target.clone(), step.clone()), event),
            (None, _) => self.render(event),
        }
        self.write_buf();
    }

    /// The lines of the live step (or of any step with `--stream`) are
    /// appended whole and written once [`BATCH`] bytes are held, or by the
    /// sink's flush timer; other steps' lines are held back as events.
    fn output_block(&mut self, block: &OutputBlock<'_>) {
        let live = block.step.is_some_and(|step| {
            self.stream
                || self
                    .live
                    .as_ref()
                    .is_some_and(|(t, s)| t.as_deref() == block.target && s == step)
        });
        if !live {
            for event in block.events() {
                self.event(&event);
            }
            return;
        }
        self.summary.record_output(block);
        let prefix = label(block.target, block.step);
        self.buf.reserve(block.text.len());
        for line in block.lines() {
            self.buf.push_str(&prefix);
            self.buf.push_str(" | ");
            self.buf.push_str(line);
            self.buf.push('\n');
        }
        if self.buf.len() >= BATCH {
            self.write_buf();
        }
    }

    fn flush(&mut self) {
        self.write_buf();
    }

    fn finish(&mut self) {
        self.close();
    }
}

/// Whether a check failure or a log message only repeats a finding already
/// printed for its step (`repeats` tells).
fn is_repeat(kind: &EventKind, repeats: impl Fn(&str) -> bool) -> bool {
    match kind {
        EventKind::Check { check } if check.status.is_failure() => {
            repeats(&check.name) || check.message.as_deref().is_some_and(&repeats)
        }
        EventKind::Log { message, .. } => repeats(message),
        _ => false,
    }
}
