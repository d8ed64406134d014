//! Reports of a run: what a person sees live, and the files CI reads after.
//!
//! Every reporter is a [`step_core::EventListener`]. The executor emits one
//! event stream (already masked, serialized under one lock, with the events
//! of parallel targets interleaved and stamped with their target); each
//! reporter turns it into one view:
//!
//! - [`terminal::TerminalReporter`]: live output — a header per step, child
//!   output prefixed with `[target] step | `, a spinner line on a TTY, and a
//!   summary table grouped by target at the end;
//! - [`jsonl::JsonLinesReporter`]: the events themselves, one JSON object per
//!   line (`--events FILE`);
//! - [`junit::JunitReporter`]: JUnit XML, one test suite per target, one test
//!   case per step and per check (`--junit FILE`);
//! - [`summary::Summary`]: the per-step results collected from the events,
//!   which the terminal and JUnit reporters build on and the CLI can read.
//!
//! A reporter handed to [`step_core::EventSink::add_listener`] is boxed and
//! out of the caller's reach; wrap it in [`Shared`] to read it after the run
//! (the summary for the exit code, a reporter's I/O error):
//!
//! ```
//! use runner::report::{Shared, summary::Summary};
//! use step_core::event::{EventKind, EventSink};
//! use step_core::outcome::Status;
//!
//! let sink = EventSink::new();
//! let summary = Shared::new(Summary::new());
//! sink.add_listener(Box::new(summary.clone()));
//! sink.scoped("build").emit(EventKind::StepStarted { kind: "script".into(), cwd: None });
//! sink.scoped("build").emit(EventKind::StepFinished {
//!     status: Status::Passed,
//!     duration_ms: 1200,
//!     message: None,
//! });
//! sink.finish();
//! assert_eq!(summary.lock().rows()[0].status, Some(Status::Passed));
//! ```

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use step_core::event::{Event, EventListener};

pub mod ci;
pub mod codequality;
pub mod files;
pub mod github;
pub mod gitlab;
pub mod html;
pub mod jsonl;
pub mod junit;
mod progress;
pub mod sarif;
pub mod summary;
pub mod terminal;

pub use jsonl::JsonLinesReporter;
pub use junit::JunitReporter;
pub use summary::{StepRow, Summary};
pub use terminal::{TerminalMode, TerminalReporter};

/// A listener shared between the event sink and its creator, so the creator
/// can still read it (or its error) once the run is over.
///
/// Cloning is cheap; every clone refers to the same listener. Forwarding an
/// event takes the inner lock, which is uncontended: the sink already
/// serializes events.
pub struct Shared<L> {
    inner: Arc<Mutex<L>>,
}

impl<L> Clone for Shared<L> {
    fn clone(&self) -> Self {
        Shared {
            inner: self.inner.clone(),
        }
    }
}

impl<L> std::fmt::Debug for Shared<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl<L: EventListener> Shared<L> {
    /// Wraps a listener.
    pub fn new(listener: L) -> Self {
        Shared {
            inner: Arc::new(Mutex::new(listener)),
        }
    }

    /// Locks the listener to read it (or change its settings).
    ///
    /// A listener that panicked while holding the lock is still returned:
    /// reports are best effort and must not turn one panic into two.
    pub fn lock(&self) -> MutexGuard<'_, L> {
        step_core::sync::lock(&self.inner)
    }
}

impl<L: EventListener> EventListener for Shared<L> {
    fn event(&mut self, event: &Event) {
        self.lock().event(event);
    }

    fn output_block(&mut self, block: &step_core::event::OutputBlock<'_>) {
        self.lock().output_block(block);
    }

    fn flush(&mut self) {
        self.lock().flush();
    }

    fn finish(&mut self) {
        self.lock().finish();
    }
}

/// Formats a duration for people: `0.4s`, `12.3s`, `2m05s`, `1h03m`.
///
/// Tenths of a second below a minute (steps are often short), whole
/// seconds and minutes above (the tenths no longer matter).
pub fn format_duration(duration: Duration) -> String {
    // Round at each precision, then pick the unit from the rounded value so
    // 59.96s reads `1m00s`, never `60.0s`.
    let millis = duration.as_millis();
    let tenths = (millis + 50) / 100;
    if tenths < 600 {
        return format!("{}.{}s", tenths / 10, tenths % 10);
    }
    let secs = (millis + 500) / 1000;
    if secs < 3600 {
        return format!("{}m{:02}s", secs / 60, secs % 60);
    }
    let minutes = (secs + 30) / 60;
    format!("{}h{:02}m", minutes / 60, minutes % 60)
}

/// The tool a step kind reports for, as SARIF runs, Code Quality check
/// names and the HTML report group findings: `packer`, `terraform`,
/// `ansible-lint`, `host-checks`, `dockerbench`, or `stepwise` for the rest.
pub fn tool_of(kind: Option<&str>) -> &'static str {
    match kind.unwrap_or("") {
        k if k.starts_with("packer") => "packer",
        k if k.starts_with("terraform") => "terraform",
        k if k.starts_with("ansible") || k.ends_with("/ansible-lint") => "ansible-lint",
        "host-checks" | "serverspec" => "host-checks",
        "dockerbench" => "dockerbench",
        _ => "stepwise",
    }
}

/// Whether a step name is one of a recorded teardown (`teardown: <step>`).
pub fn is_teardown(step: &str) -> bool {
    step.starts_with("teardown: ")
}

/// The label of a step in live output: `[aws] deploy`, or `deploy` when the
/// event has no target, or `[aws]` when it has no step.
pub(crate) fn label(target: Option<&str>, step: Option<&str>) -> String {
    match (target, step) {
        (Some(t), Some(s)) => format!("[{t}] {s}"),
        (Some(t), None) => format!("[{t}]"),
        (None, Some(s)) => s.to_owned(),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod ci_golden;

#[cfg(test)]
pub(crate) mod testing {
    //! Builders of synthetic events for the reporters' unit tests.

    use step_core::event::{Event, EventKind, Stream};
    use step_core::outcome::{CheckResult, Finding, RunResult, Status};

    /// A fixed timestamp: reports must not depend on it.
    const TIME: &str = "2025-01-01T00:00:00.000Z";

    fn event(target: Option<&str>, step: Option<&str>, kind: EventKind) -> Event {
        Event {
            time: TIME.to_owned(),
            target: target.map(str::to_owned),
            step: step.map(str::to_owned),
            kind,
        }
    }

    pub fn run_started(pipeline: &str) -> Event {
        event(
            None,
            None,
            EventKind::RunStarted {
                run_id: "run-1".into(),
                pipeline: pipeline.into(),
            },
        )
    }

    pub fn started(target: Option<&str>, step: &str, kind: &str) -> Event {
        event(
            target,
            Some(step),
            EventKind::StepStarted {
                kind: kind.into(),
                cwd: None,
            },
        )
    }

    pub fn output(target: Option<&str>, step: &str, line: &str) -> Event {
        event(
            target,
            Some(step),
            EventKind::Output {
                stream: Stream::Stdout,
                line: line.into(),
            },
        )
    }

    pub fn stderr(target: Option<&str>, step: &str, line: &str) -> Event {
        event(
            target,
            Some(step),
            EventKind::Output {
                stream: Stream::Stderr,
                line: line.into(),
            },
        )
    }

    pub fn log(
        target: Option<&str>,
        step: Option<&str>,
        level: step_core::event::Level,
        message: &str,
    ) -> Event {
        event(
            target,
            step,
            EventKind::Log {
                level,
                message: message.into(),
            },
        )
    }

    pub fn finding(target: Option<&str>, step: &str, finding: Finding) -> Event {
        event(target, Some(step), EventKind::Finding { finding })
    }

    pub fn check(target: Option<&str>, step: &str, check: CheckResult) -> Event {
        event(target, Some(step), EventKind::Check { check })
    }

    pub fn finished(
        target: Option<&str>,
        step: &str,
        status: Status,
        duration_ms: u64,
        message: Option<&str>,
    ) -> Event {
        event(
            target,
            Some(step),
            EventKind::StepFinished {
                status,
                duration_ms,
                message: message.map(str::to_owned),
            },
        )
    }

    pub fn run_finished(result: RunResult, duration_ms: u64) -> Event {
        event(
            None,
            None,
            EventKind::RunFinished {
                result,
                duration_ms,
            },
        )
    }

    /// A two-target run (`aws`, `gcp`) with interleaved events: a setup step
    /// without target, then per target a `deploy` (output lines) and a
    /// `verify` with checks (one fails on `gcp`), a skipped step, and an
    /// after-step.
    pub fn two_target_run() -> Vec<Event> {
        use step_core::event::Level;
        let aws = Some("aws");
        let gcp = Some("gcp");
        vec![
            run_started("deploy"),
            started(None, "setup", "script"),
            output(None, "setup", "preparing"),
            finished(None, "setup", Status::Passed, 120, None),
            started(aws, "deploy", "terraform-apply"),
            started(gcp, "deploy", "terraform-apply"),
            output(aws, "deploy", "aws line 1"),
            output(gcp, "deploy", "gcp line 1"),
            stderr(aws, "deploy", "aws warning on stderr"),
            output(gcp, "deploy", "gcp line 2"),
            log(gcp, Some("deploy"), Level::Warn, "provider is deprecated"),
            finished(aws, "deploy", Status::Passed, 1234, None),
            started(aws, "verify", "host-check"),
            output(gcp, "deploy", "gcp line 3"),
            finished(gcp, "deploy", Status::Passed, 2500, None),
            started(gcp, "verify", "host-check"),
            check(
                aws,
                "verify",
                CheckResult::new("port 443 is listening", Status::Passed),
            ),
            check(
                gcp,
                "verify",
                CheckResult::new("port 443 is listening", Status::Failed)
                    .with_message("expected listening, got closed"),
            ),
            finding(
                gcp,
                "verify",
                Finding::new(
                    "tls-version",
                    step_core::outcome::Severity::High,
                    "TLS 1.0 enabled",
                )
                .at(step_core::outcome::Location::at("nginx.conf", 12, Some(5))),
            ),
            finished(aws, "verify", Status::Passed, 300, None),
            finished(
                gcp,
                "verify",
                Status::Failed,
                450,
                Some("1 of 1 checks failed"),
            ),
            finished(aws, "smoke", Status::Skipped, 0, Some("--skip smoke")),
            finished(gcp, "smoke", Status::Skipped, 0, Some("--skip smoke")),
            started(None, "notify", "script"),
            log(None, Some("notify"), Level::Error, "webhook unreachable"),
            finished(None, "notify", Status::Warned, 80, Some("exit status 7")),
            run_finished(RunResult::Failed, 3100),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(0)), "0.0s");
        assert_eq!(format_duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(format_duration(Duration::from_millis(1250)), "1.3s");
        assert_eq!(format_duration(Duration::from_millis(59_940)), "59.9s");
        assert_eq!(format_duration(Duration::from_millis(59_960)), "1m00s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2m05s");
        assert_eq!(format_duration(Duration::from_secs(3780)), "1h03m");
    }

    #[test]
    fn labels_carry_the_target_only_when_there_is_one() {
        assert_eq!(label(Some("aws"), Some("deploy")), "[aws] deploy");
        assert_eq!(label(None, Some("deploy")), "deploy");
        assert_eq!(label(Some("aws"), None), "[aws]");
    }
}
