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
