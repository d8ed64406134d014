//! Live terminal output: what a person watching the run sees.
//!
//! Every event becomes whole lines, each prefixed with the step (and the
//! target, for a `for_each` run) it belongs to:
//!
//! ```text
//! ==> [aws] deploy (terraform-apply)
//! [aws] deploy | Apply complete! Resources: 3 added, 0 changed, 0 destroyed.
//! [gcp] deploy | warning: provider is deprecated
//! [gcp] verify | nginx.conf:12:5: high [tls-version] TLS 1.0 enabled
//! [gcp] verify | check failed: port 443 is listening: expected listening, got closed
//! <-- [aws] deploy passed in 1.2s
//! <-- [gcp] verify failed in 0.4s: 1 of 1 checks failed
//! ```
//!
//! and the run ends with the summary table of [`Summary::table`] and its
//! result line. Lines are only ever written whole, while the event sink
//! holds its lock, so lines of parallel targets never mix inside a line.
//!
//! Child output is batched: it is written once [`BATCH`] bytes are waiting,
//! or when the sink's flush timer fires (at most
//! [`step_core::event::FLUSH_EVERY`] later), so a step printing a gigabyte
//! costs a write per batch, not per line, and a quiet step's last line still
//! shows at once. Every other event (a step starting or ending, a warning)
//! is written immediately, behind the output before it.
//!
//! Two modes: [`TerminalMode::Fancy`] for a person at a terminal — colors
//! and a spinner line (on stderr) listing the running steps with their
//! elapsed time, cleared while lines are printed above it — and
//! [`TerminalMode::Plain`] for logs: plain lines, no escape codes.
//! [`TerminalReporter::auto`] picks plain output when `CI` is set or stdout
//! is not a terminal.

use std::io::{self, IsTerminal, Write};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use step_core::event::{Event, EventKind, EventListener, Level, OutputBlock};
use step_core::outcome::{Severity, Status};

use super::progress::{DrawTarget, Progress, RunningStep};
use super::summary::Summary;
use super::{format_duration, label};

/// How much child output is buffered before it is written.
pub const BATCH: usize = 64 * 1024;

/// How the terminal reporter draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TerminalMode {
    /// For a terminal: colors and a spinner line with the running steps.
    Fancy,
    /// For logs and CI: plain lines only, no escape codes.
    Plain,
}

impl TerminalMode {
    /// [`TerminalMode::Plain`] when the environment variable `CI` is set
    /// (to anything but `false` or `0`) or stdout is not a terminal,
    /// [`TerminalMode::Fancy`] otherwise.
    pub fn detect() -> Self {
        let ci = std::env::var_os("CI").is_some_and(|v| v != "false" && v != "0");
        if ci || !io::stdout().is_terminal() {
            TerminalMode::Plain
        } else {
            TerminalMode::Fancy
        }
    }
}

/// ANSI styles of the fancy mode.
mod style {
    pub const BOLD: &str = "\x1b[1m";
    pub const DIM: &str = "\x1b[2m";
    pub const RED: &str = "\x1b[31m";
    pub const GREEN: &str = "\x1b[32m";
    pub const YELLOW: &str = "\x1b[33m";
    pub const RESET: &str = "\x1b[0m";
}

/// Prints a run's events as lines to a terminal (or any writer).
pub struct TerminalReporter {
    out: Box<dyn Write + Send>,
    color: bool,
    show_debug: bool,
    summary: Summary,
    summary_printed: bool,
    progress: Option<Progress>,
    /// The lines of the event being handled; reused to spare an allocation
    /// per output line.
    buf: String,
    error: Option<io::Error>,
}

impl std::fmt::Debug for TerminalReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalReporter")
            .field("color", &self.color)
            .field("show_debug", &self.show_debug)
            .field("fancy", &self.progress.is_some())
            .finish_non_exhaustive()
    }
}

impl TerminalReporter {
    /// A reporter writing lines to `out`. In [`TerminalMode::Fancy`] the
    /// spinner line is drawn on stderr (and not at all when stderr is not a
    /// terminal), and colors are on unless `NO_COLOR` is set.
    pub fn new(out: Box<dyn Write + Send>, mode: TerminalMode) -> Self {
        let progress = match mode {
            TerminalMode::Fancy => Some(DrawTarget::Stderr),
            TerminalMode::Plain => None,
        };
        Self::build(out, progress)
    }

    /// A reporter writing to stdout in `mode`.
    pub fn stdout(mode: TerminalMode) -> Self {
        Self::new(Box::new(io::stdout()), mode)
    }

    /// A reporter writing to stdout in the mode [`TerminalMode::detect`] picks.
    pub fn auto() -> Self {
        Self::stdout(TerminalMode::detect())
    }

    fn build(out: Box<dyn Write + Send>, progress: Option<DrawTarget>) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        TerminalReporter {
            out,
            color: progress.is_some() && !no_color,
            show_debug: false,
            summary: Summary::new(),
            summary_printed: false,
            progress: progress.map(Progress::start),
            buf: String::new(),
            error: None,
        }
    }

    /// Turns colors on or off (they are on by default in fancy mode only).
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    /// Also prints debug log messages (hidden by default).
    pub fn with_debug(mut self, show: bool) -> Self {
        self.show_debug = show;
        self
    }

    /// The results collected so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The first error writing the output, if any (a closed pipe). Writing
    /// goes on failing quietly after it: the run matters more than its log.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Appends one line per line of `text`, each with `prefix | ` in front
    /// (no prefix when `prefix` is empty), wrapped in `color` when colors
    /// are on.
    fn push_lines(&mut self, prefix: &str, text: &str, color: Option<&str>) {
        let color = color.filter(|_| self.color);
        // `lines` of an empty text yields nothing, yet an empty output line
        // is still a line the child printed.
        let lines = text.lines().chain(text.is_empty().then_some(""));
        for line in lines {
            if let Some(c) = color {
                self.buf.push_str(c);
            }
            if !prefix.is_empty() {
                self.buf.push_str(prefix);
                self.buf.push_str(" | ");
            }
            self.buf.push_str(line);
            if color.is_some() {
                self.buf.push_str(style::RESET);
            }
            self.buf.push('\n');
        }
    }

    /// Appends a block of output lines, each with `prefix | ` in front.
    fn push_block(&mut self, prefix: &str, block: &OutputBlock<'_>) {
        self.buf.reserve(block.text.len());
        for line in block.lines() {
            if !prefix.is_empty() {
                self.buf.push_str(prefix);
                self.buf.push_str(" | ");
            }
            self.buf.push_str(line);
            self.buf.push('\n');
        }
    }

    /// Writes the buffered output once a batch is full.
    fn flush_full(&mut self) {
        if self.buf.len() >= BATCH {
            self.flush_buf();
        }
    }

    /// Appends a line of the reporter's own (headers, results).
    fn push_own_line(&mut self, line: &str, color: Option<&str>) {
        self.push_lines("", line, color);
    }

    /// Writes the buffered lines with one call, above the spinner line.
    fn flush_buf(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let out = &mut self.out;
        let bytes = self.buf.as_bytes();
        let mut write = || out.write_all(bytes).and_then(|()| out.flush());
        let result = match &self.progress {
            Some(progress) => progress.suspend(write),
            None => write(),
        };
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
        self.buf.clear();
    }

    fn print_summary(&mut self) {
        if self.summary_printed {
            return;
        }
        self.summary_printed = true;
        // The spinner has nothing left to show, and the table must not be
        // drawn over.
        if let Some(progress) = self.progress.take() {
            progress.stop();
        }
        let table = self.summary.table();
        let result_line = format!("=== {}", self.summary.result_line());
        let color = match self.summary.result() {
            Some(step_core::outcome::RunResult::Passed) => style::GREEN,
            _ => style::RED,
        };
        self.buf.push('\n');
        self.push_own_line(&table, None);
        self.push_own_line(&result_line, Some(color));
        self.flush_buf();
    }

    /// `==> [target] step (kind)`, and the step joins the spinner line.
    fn step_started(&mut self, target: Option<&str>, step: Option<&str>, kind: &str) {
        let name = label(target, Some(step.unwrap_or(kind)));
        let line = format!("==> {name} ({kind})");
        self.push_own_line(&line, Some(style::BOLD));
        if let Some(mut running) = self.progress_running() {
            running.push(RunningStep {
                label: name,
                since: Instant::now(),
            });
        }
    }

    /// `<-- [target] step passed in 1.2s: message`, colored by the result;
    /// the step leaves the spinner line.
    fn step_finished(
        &mut self,
        prefix: &str,
        status: Status,
        duration_ms: u64,
        message: Option<&str>,
    ) {
        if let Some(mut running) = self.progress_running()
            && let Some(i) = running.iter().position(|r| r.label == prefix)
        {
            running.remove(i);
        }
        let mut line = format!("<-- {prefix} {status}");
        if status != Status::Skipped {
            line.push_str(" in ");
            line.push_str(&format_duration(Duration::from_millis(duration_ms)));
        }
        if let Some(message) = message {
            line.push_str(": ");
            line.push_str(message);
        }
        let color = match status {
            Status::Passed => style::GREEN,
            Status::Warned | Status::Skipped => style::YELLOW,
            _ => style::RED,
        };
        self.push_own_line(&line, Some(color));
    }

    fn progress_running(&self) -> Option<MutexGuard<'_, Vec<RunningStep>>> {
        self.progress.as_ref().map(Progress::running)
    }
}

impl EventListener for TerminalReporter {
    fn event(&mut self, event: &Event) {
        self.summary.record(event);
        let target = event.target.as_deref();
        let step = event.step.as_deref();
        let prefix = label(target, step);
        match &event.kind {
            EventKind::RunStarted { run_id, pipeline } => {
                let line = format!("=== {pipeline} (run {run_id})");
                self.push_own_line(&line, Some(style::BOLD));
            }
            EventKind::StepStarted { kind, .. } => self.step_started(target, step, kind),
            EventKind::Output { line, .. } => {
                self.push_lines(&prefix, line, None);
                self.flush_full();
                return;
            }
            EventKind::Log { level, message } => {
                let Some((marker, color)) = log_style(*level, self.show_debug) else {
                    return;
                };
                self.push_lines(&prefix, &format!("{marker}{message}"), color);
            }
            EventKind::Finding { finding } => {
                let ignored = if finding.ignored { " (ignored)" } else { "" };
                let color = severity_color(finding.severity);
                self.push_lines(&prefix, &format!("{finding}{ignored}"), color);
            }
            // Passing checks are counted in the step's result; only the
            // ones a person must read are printed.
            EventKind::Check { check } if check.status.is_failure() => {
                let mut line = format!("check {}: {}", check.status, check.name);
                if let Some(message) = &check.message {
                    line.push_str(": ");
                    line.push_str(message);
                }
                self.push_lines(&prefix, &line, Some(style::RED));
            }
            EventKind::StepFinished {
                status,
                duration_ms,
                message,
            } => self.step_finished(&prefix, *status, *duration_ms, message.as_deref()),
            EventKind::RunFinished { .. } => self.print_summary(),
            // Kinds of event added later: nothing to show.
            _ => {}
        }
        self.flush_buf();
    }

    fn output_block(&mut self, block: &OutputBlock<'_>) {
        self.summary.record_output(block);
        let prefix = label(block.target, block.step);
        self.push_block(&prefix, block);
        self.flush_full();
    }

    fn flush(&mut self) {
        self.flush_buf();
    }

    fn finish(&mut self) {
        self.print_summary();
    }
}

impl Drop for TerminalReporter {
    fn drop(&mut self) {
        self.flush_buf();
        if let Some(progress) = self.progress.take() {
            progress.stop();
        }
    }
}

/// The marker and color of a log line; `None` hides it (debug messages
/// unless asked for).
fn log_style(level: Level, show_debug: bool) -> Option<(&'static str, Option<&'static str>)> {
    match level {
        Level::Debug if !show_debug => None,
        Level::Debug => Some(("debug: ", Some(style::DIM))),
        Level::Info => Some(("", None)),
        Level::Warn => Some(("warning: ", Some(style::YELLOW))),
        Level::Error => Some(("error: ", Some(style::RED))),
    }
}

/// The color of a finding's line.
fn severity_color(severity: Severity) -> Option<&'static str> {
    match severity {
        Severity::Info => None,
        Severity::Low | Severity::Medium => Some(style::YELLOW),
        Severity::High | Severity::Error => Some(style::RED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::*;
    use std::sync::{Arc, Mutex};
    use step_core::sync::lock;

    /// A writer the test can read back after the reporter took it.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(lock(&self.0).clone()).expect("utf-8 output")
        }
    }

    fn plain_output(events: &[Event]) -> String {
        let captured = Captured::default();
        let mut reporter = TerminalReporter::new(Box::new(captured.clone()), TerminalMode::Plain);
        for e in events {
            reporter.event(e);
        }
        reporter.finish();
        captured.text()
    }

    #[test]
    fn plain_output_of_two_interleaved_targets() {
        let text = plain_output(&two_target_run());
        assert!(!text.contains('\x1b'), "plain output has escape codes");
        insta::assert_snapshot!(text, @r"
        === deploy (run run-1)
        ==> setup (script)
        setup | preparing
        <-- setup passed in 0.1s
        ==> [aws] deploy (terraform-apply)
        ==> [gcp] deploy (terraform-apply)
        [aws] deploy | aws line 1
        [gcp] deploy | gcp line 1
        [aws] deploy | aws warning on stderr
        [gcp] deploy | gcp line 2
        [gcp] deploy | warning: provider is deprecated
        <-- [aws] deploy passed in 1.2s
        ==> [aws] verify (host-check)
        [gcp] deploy | gcp line 3
        <-- [gcp] deploy passed in 2.5s
        ==> [gcp] verify (host-check)
        [gcp] verify | check failed: port 443 is listening: expected listening, got closed
        [gcp] verify | nginx.conf:12:5: high [tls-version] TLS 1.0 enabled
        <-- [aws] verify passed in 0.3s
        <-- [gcp] verify failed in 0.5s: 1 of 1 checks failed
        <-- [aws] smoke skipped: --skip smoke
        <-- [gcp] smoke skipped: --skip smoke
        ==> notify (script)
        notify | error: webhook unreachable
        <-- notify warning in 0.1s: exit status 7

        step          result   duration
        setup         passed       0.1s
        [aws] deploy  passed       1.2s
        [aws] verify  passed       0.3s
        [aws] smoke   skipped         -  --skip smoke
        [gcp] deploy  passed       2.5s
        [gcp] verify  failed       0.5s  1 of 1 checks failed
        [gcp] smoke   skipped         -  --skip smoke
        notify        warning      0.1s  exit status 7
        === deploy failed in 3.1s: 4 passed, 1 warning, 1 failed, 2 skipped
        ");
    }

    /// Many targets printing concurrently through one sink: every line comes
    /// out whole, with its own target's prefix.
    #[test]
    fn concurrent_targets_never_mix_inside_a_line() {
        use step_core::event::{EventSink, Stream};
        let captured = Captured::default();
        let sink = EventSink::new();
        sink.add_listener(Box::new(TerminalReporter::new(
            Box::new(captured.clone()),
            TerminalMode::Plain,
        )));
        let targets = ["aws", "gcp", "azure", "hetzner"];
        std::thread::scope(|scope| {
            for target in targets {
                let sink = sink.with_target(Some(target.to_owned())).scoped("deploy");
                scope.spawn(move || {
                    for i in 0..500 {
                        sink.output(
                            Stream::Stdout,
                            format!("{target} line {i} {}", "x".repeat(200)),
                        );
                    }
                });
            }
        });
        sink.finish();
        let text = captured.text();
        let output_lines: Vec<&str> = text.lines().filter(|l| l.contains(" | ")).collect();
        assert_eq!(output_lines.len(), targets.len() * 500);
        for line in output_lines {
            let (prefix, rest) = line.split_once(" | ").expect("prefixed line");
            let target = prefix
                .strip_prefix('[')
                .and_then(|p| p.strip_suffix("] deploy"))
                .expect("target prefix");
            let (n, tail) = rest
                .strip_prefix(&format!("{target} line "))
                .and_then(|r| r.split_once(' '))
                .unwrap_or_else(|| panic!("line of another target: {line}"));
            assert!(n.parse::<u32>().is_ok(), "{line}");
            assert_eq!(tail, "x".repeat(200), "{line}");
        }
    }

    #[test]
    fn lines_without_target_or_step_are_not_prefixed() {
        let text = plain_output(&[
            log(None, None, Level::Warn, "no pipeline file in /tmp"),
            log(Some("aws"), None, Level::Info, "target starts"),
            log(None, None, Level::Debug, "hidden by default"),
        ]);
        let lines: Vec<&str> = text.lines().take(2).collect();
        assert_eq!(
            lines,
            vec!["warning: no pipeline file in /tmp", "[aws] | target starts"]
        );
        assert!(!text.contains("hidden by default"));
    }

    #[test]
    fn multi_line_messages_get_a_prefix_on_every_line() {
        let text = plain_output(&[log(
            Some("aws"),
            Some("deploy"),
            Level::Error,
            "could not apply\ncaused by: timeout",
        )]);
        assert!(text.starts_with(
            "[aws] deploy | error: could not apply\n[aws] deploy | caused by: timeout\n"
        ));
    }

    #[test]
    fn finish_without_run_finished_still_prints_the_summary() {
        let text = plain_output(&[run_started("build"), started(None, "deploy", "script")]);
        assert!(text.contains("deploy  unfinished"), "{text}");
        assert!(
            text.ends_with("=== build did not finish: 1 unfinished\n"),
            "{text}"
        );
        // Printed once even when finish follows RunFinished.
        let text = plain_output(&two_target_run());
        assert_eq!(text.matches("=== deploy failed").count(), 1);
    }

    #[test]
    fn fancy_mode_colors_lines_and_keeps_them_whole() {
        let captured = Captured::default();
        let mut reporter =
            TerminalReporter::build(Box::new(captured.clone()), Some(DrawTarget::Hidden))
                .with_color(true);
        for e in two_target_run() {
            reporter.event(&e);
        }
        reporter.finish();
        drop(reporter);
        let text = captured.text();
        assert!(text.contains("\x1b[32m<-- [aws] deploy passed in 1.2s\x1b[0m\n"));
        assert!(text.contains("\n[gcp] deploy | gcp line 2\n"));
    }

    #[test]
    fn a_closed_output_is_recorded_not_a_panic() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut reporter = TerminalReporter::new(Box::new(Closed), TerminalMode::Plain);
        for e in two_target_run() {
            reporter.event(&e);
        }
        reporter.finish();
        assert_eq!(
            reporter.error().map(io::Error::kind),
            Some(io::ErrorKind::BrokenPipe)
        );
    }
}
