//! What a step reports when it ran: its [`Status`], a message, structured
//! [`Finding`]s, per-check results, outputs for later steps and changes to
//! the environment of the steps that follow.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The result of one step (or of a group of steps).
///
/// More statuses may come: a `match` outside this crate needs a `_` arm.
///
/// ```compile_fail
/// use step_core::Status;
/// fn word(s: Status) -> &'static str {
///     match s {
///         Status::Passed | Status::Warned | Status::Skipped => "ok",
///         Status::Failed | Status::Errored | Status::Cancelled | Status::TimedOut => "bad",
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// The step ran and found nothing wrong.
    Passed,
    /// The step ran and found a problem (lint findings over a threshold,
    /// a failed check, a non-zero exit).
    Failed,
    /// The step failed, but `continue_on_error` turned the failure into a
    /// warning; the pipeline goes on and can still pass.
    Warned,
    /// The step could not run (tool missing, bad config, I/O error).
    Errored,
    /// The step was stopped by an interrupt (Ctrl-C, SIGTERM) or fail-fast.
    Cancelled,
    /// The step ran past its `timeout` and was stopped.
    TimedOut,
    /// The step did not run (`when` was false, `--skip`, an earlier failure,
    /// or the step itself decided there was nothing to do).
    Skipped,
}

impl Status {
    /// Whether this status makes the enclosing pipeline fail.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Status::Failed | Status::Errored | Status::Cancelled | Status::TimedOut
        )
    }

    /// The lower-case name used in reports (`timed out` for [`Status::TimedOut`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Warned => "warning",
            Status::Errored => "errored",
            Status::Cancelled => "cancelled",
            Status::TimedOut => "timed out",
            Status::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of a whole run, as after-steps see it (`RUNNER_RESULT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunResult {
    /// Every step passed (or warned, or was skipped).
    Passed,
    /// A step failed, errored or timed out.
    Failed,
    /// The run was interrupted.
    Cancelled,
}

impl RunResult {
    /// `passed`, `failed` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Passed => "passed",
            RunResult::Failed => "failed",
            RunResult::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for RunResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious a [`Finding`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Informational; never fails anything by itself.
    Info,
    /// Worth a look (lint "minor", docker-bench NOTE).
    Low,
    /// Should be fixed (lint "major", docker-bench WARN).
    Medium,
    /// Must be fixed.
    High,
    /// Blocks the step (syntax errors, failed checks).
    Error,
}

impl Severity {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a finding points: a file and, when known, a line and column (1-based).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The file, as the tool named it (relative to the step's working directory when possible).
    pub file: String,
    /// 1-based line, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl Location {
    /// A location in `file` without a line.
    pub fn file(file: impl Into<String>) -> Self {
        Location {
            file: file.into(),
            line: None,
            column: None,
        }
    }

    /// A location at `file:line[:column]`.
    pub fn at(file: impl Into<String>, line: u32, column: Option<u32>) -> Self {
        Location {
            file: file.into(),
            line: Some(line),
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        Ok(())
    }
}

/// One structured problem a step found: a lint violation, a WARN of a
/// benchmark, a diagnostic of a validator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule or check id (`yaml[truthy]`, `5.4`, `packer-validate`).
    pub id: String,
    /// How serious it is.
    pub severity: Severity,
    /// Where it is, when the tool says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// What is wrong, for a person.
    pub message: String,
    /// More text: details, remediation, a link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// True when the finding is listed but does not count against a threshold
    /// (an ignored id, with the reason in `detail`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignored: bool,
}

impl Finding {
    /// A finding with an id, severity and message.
    pub fn new(id: impl Into<String>, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            id: id.into(),
            severity,
            location: None,
            message: message.into(),
            detail: None,
            ignored: false,
        }
    }

    /// Sets the location.
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// Sets the detail text.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        write!(f, "{} [{}] {}", self.severity, self.id, self.message)
    }
}

/// The result of one check inside a step (a host check, a docker-bench
/// check, a serverspec example). Reports list each one (one JUnit test case
/// per check).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// A readable description: "Port 8080 should be listening".
    pub name: String,
    /// Passed, failed, errored or skipped.
    pub status: Status,
    /// Why it failed: expected vs actual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How long it took, in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
    /// A grouping (host, section, spec file) for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Where the check is defined (a spec file and line), when known. The
    /// runner makes it relative to the repository root, and points a check
    /// without one at its step in the pipeline file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl CheckResult {
    /// A check result with a name and status.
    pub fn new(name: impl Into<String>, status: Status) -> Self {
        CheckResult {
            name: name.into(),
            status,
            message: None,
            duration_ms: 0,
            group: None,
            location: None,
        }
    }

    /// Sets where the check is defined.
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// Sets the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Sets the duration.
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Sets the group.
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }
}

/// A change a step makes to the environment of the steps after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum EnvChange {
    /// Set a variable. `secret` values are masked in every output from now on.
    Set {
        /// Variable name.
        name: String,
        /// New value.
        value: String,
        /// Whether the value is a secret.
        #[serde(default)]
        secret: bool,
    },
    /// Remove a variable.
    Unset {
        /// Variable name.
        name: String,
    },
    /// Put a directory first on `PATH` (a tool a step installed).
    PrependPath {
        /// The directory.
        dir: String,
    },
}

/// What a step that ran reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Passed, failed, or skipped (a step that decides it has nothing to do).
    pub status: OutcomeStatus,
    /// One line for a person: what happened or what failed and why.
    pub message: Option<String>,
    /// Structured findings.
    pub findings: Vec<Finding>,
    /// Per-check results (one JUnit test case each).
    pub checks: Vec<CheckResult>,
    /// Outputs for later steps (`${{ outputs.<id>.<name> }}`).
    pub outputs: Map<String, Value>,
    /// Changes to the environment of the following steps.
    pub env: Vec<EnvChange>,
    /// Warnings that do not change the status.
    pub warnings: Vec<String>,
}

/// The status a step itself can report. The runner adds the others
/// (errored, cancelled, timed out, warned) from how the step ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// Nothing wrong.
    #[default]
    Passed,
    /// A problem was found.
    Failed,
    /// Nothing to do.
    Skipped,
    /// It failed, and is allowed to: a step wrapped in
    /// [`crate::policy::ContinueOnError`] reports its failure as a warning.
    Warned,
}

impl From<OutcomeStatus> for Status {
    fn from(s: OutcomeStatus) -> Status {
        match s {
            OutcomeStatus::Passed => Status::Passed,
            OutcomeStatus::Failed => Status::Failed,
            OutcomeStatus::Skipped => Status::Skipped,
            OutcomeStatus::Warned => Status::Warned,
        }
    }
}

impl Outcome {
    /// A passing outcome.
    pub fn passed() -> Self {
        Outcome::default()
    }

    /// A failing outcome with a message saying what failed.
    pub fn failed(message: impl Into<String>) -> Self {
        Outcome {
            status: OutcomeStatus::Failed,
            message: Some(message.into()),
            ..Outcome::default()
        }
    }

    /// A skipped outcome with the reason.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Outcome {
            status: OutcomeStatus::Skipped,
            message: Some(reason.into()),
            ..Outcome::default()
        }
    }

    /// Whether the outcome is a failure.
    pub fn is_failed(&self) -> bool {
        self.status == OutcomeStatus::Failed
    }

    /// Sets the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Adds an output.
    pub fn with_output(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.outputs.insert(name.into(), value.into());
        self
    }

    /// Adds findings.
    pub fn with_findings(mut self, findings: impl IntoIterator<Item = Finding>) -> Self {
        self.findings.extend(findings);
        self
    }

    /// Adds check results.
    pub fn with_checks(mut self, checks: impl IntoIterator<Item = CheckResult>) -> Self {
        self.checks.extend(checks);
        self
    }

    /// Adds an environment change.
    pub fn with_env(mut self, change: EnvChange) -> Self {
        self.env.push(change);
        self
    }

    /// Adds a warning.
    pub fn with_warning(mut self, warning: impl Into<String>) -> Self {
        self.warnings.push(warning.into());
        self
    }
}
