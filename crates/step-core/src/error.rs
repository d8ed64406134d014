//! Why a step could not run. A step that ran and found problems returns a
//! failed [`Outcome`](crate::Outcome) instead; an error means "could not
//! judge": tool missing, bad config, I/O, timeout, cancellation.

use std::time::Duration;

use crate::process::ProcessError;
use crate::template::TemplateError;
use crate::tool::ToolError;

/// A configuration problem: a property with a wrong value, a missing file
/// named by a property, a combination that makes no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", property.as_ref().map(|p| format!("property `{p}`: ")).unwrap_or_default())]
pub struct ConfigError {
    /// The property at fault (a dotted path such as `vars.region`), when known.
    pub property: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ConfigError {
    /// An error about one property.
    pub fn property(property: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            property: Some(property.into()),
            message: message.into(),
        }
    }

    /// An error about the step's configuration as a whole.
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            property: None,
            message: message.into(),
        }
    }
}

/// Why a step could not run.
///
/// More reasons may come: a `match` outside this crate needs a `_` arm.
///
/// ```compile_fail
/// use step_core::StepError;
/// fn retry(e: &StepError) -> bool {
///     match e {
///         StepError::Process(_) | StepError::Io { .. } | StepError::TimedOut { .. } => true,
///         StepError::Config(_) | StepError::Tool(_) | StepError::Template(_) => false,
///         StepError::Cancelled | StepError::Other(_) => false,
///     }
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// The step's configuration is wrong.
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    /// A tool is missing or has the wrong version.
    #[error(transparent)]
    Tool(Box<ToolError>),
    /// A child process could not be started or waited for.
    #[error(transparent)]
    Process(ProcessError),
    /// A template could not be rendered.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The step was cancelled (interrupt, fail-fast, or its timeout; the
    /// runner tells which from the cancellation reason).
    #[error("cancelled")]
    Cancelled,
    /// An inner operation of the step timed out.
    #[error("{what} timed out after {}", humantime::format_duration(*after))]
    TimedOut {
        /// What timed out.
        what: String,
        /// The limit.
        after: Duration,
    },
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A tool ran but could not judge: it stopped in a way that means
    /// "could not run" (a crash, an exit code for bad usage, an unreachable
    /// daemon), so there is no result to read.
    #[error("{message}")]
    ToolFailed {
        /// The tool (`ansible-lint`, `docker-bench-security`).
        tool: String,
        /// What happened, with the tool's last words.
        message: String,
    },
    /// A tool's output could not be read: too large, or not in the format
    /// it promised.
    #[error("{message}")]
    ToolOutput {
        /// The tool.
        tool: String,
        /// What was wrong with the output.
        message: String,
    },
    /// A task the step spawned panicked or was aborted.
    #[error("{what} failed: {source}")]
    Task {
        /// Which task (`a packer validate task`).
        what: String,
        /// How it ended.
        #[source]
        source: tokio::task::JoinError,
    },
    /// Anything else, with a message a person can act on.
    #[error("{0}")]
    Other(String),
}

impl StepError {
    /// An I/O error with context naming the file.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StepError::Io {
            context: context.into(),
            source,
        }
    }

    /// A tool that could not judge ([`StepError::ToolFailed`]).
    pub fn tool_failed(tool: impl Into<String>, message: impl Into<String>) -> Self {
        StepError::ToolFailed {
            tool: tool.into(),
            message: message.into(),
        }
    }

    /// A tool's unreadable output ([`StepError::ToolOutput`]).
    pub fn tool_output(tool: impl Into<String>, message: impl Into<String>) -> Self {
        StepError::ToolOutput {
            tool: tool.into(),
            message: message.into(),
        }
    }

    /// A plain error message.
    pub fn other(message: impl Into<String>) -> Self {
        StepError::Other(message.into())
    }

    /// Whether this is a configuration error (the runner exits 2 for those
    /// when they are found before anything ran).
    pub fn is_config(&self) -> bool {
        matches!(self, StepError::Config(_))
    }
}

impl From<ToolError> for StepError {
    fn from(e: ToolError) -> Self {
        StepError::Tool(Box::new(e))
    }
}

impl From<ProcessError> for StepError {
    fn from(e: ProcessError) -> Self {
        match e {
            ProcessError::Cancelled { .. } => StepError::Cancelled,
            ProcessError::TimedOut { program, after } => StepError::TimedOut {
                what: program,
                after,
            },
            other => StepError::Process(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tool_and_task_errors_keep_their_message_and_say_which() {
        let e = StepError::tool_failed("ansible-lint", "ansible-lint could not lint (exit 3)");
        assert_eq!(e.to_string(), "ansible-lint could not lint (exit 3)");
        assert!(matches!(&e, StepError::ToolFailed { tool, .. } if tool == "ansible-lint"));
        let e = StepError::tool_output("terraform", "unreadable");
        assert!(matches!(&e, StepError::ToolOutput { tool, .. } if tool == "terraform"));
        let join = tokio::spawn(async { panic!("boom") }).await.unwrap_err();
        let e = StepError::Task {
            what: "a packer validate task".into(),
            source: join,
        };
        assert!(
            e.to_string().starts_with("a packer validate task failed: "),
            "{e}"
        );
        assert!(std::error::Error::source(&e).is_some());
    }
}
