//! # step-core
//!
//! The small contract every stepwise step is written against: the [`Step`]
//! trait, the [`StepContext`] a step runs in, the [`Outcome`] it returns or
//! the [`StepError`] that says why it could not run, and the helpers every
//! tool step needs — a [process runner](process) that streams child output
//! line by line into [events](event) with secrets masked, and a
//! [tool finder](tool) that checks versions.
//!
//! Why a separate crate: a Rust program that wants to embed one step (say,
//! terraform) depends on `step-core` and that step's crate, nothing else —
//! not on the YAML runner. Every reliability promise (no orphan processes,
//! no secret printed, cancellation that always reaches children) lives here
//! once, so every step gets it for free.
//!
//! A step is built from a typed, serde-deserializable config; the same
//! struct serves the Rust API and the YAML loader.
//!
//! ```
//! use step_core::{async_trait, Outcome, Step, StepContext, StepError};
//! use step_core::process::Cmd;
//!
//! /// Prints a greeting through `echo`.
//! struct Hello;
//!
//! #[async_trait]
//! impl Step for Hello {
//!     async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
//!         let out = Cmd::new("echo").arg("hello").capture(1024).run(cx).await?;
//!         Ok(Outcome::passed().with_message(out.stdout.trim().to_string()))
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let cx = StepContext::for_dir(std::env::temp_dir());
//! let outcome = Hello.run(&cx).await.unwrap();
//! assert_eq!(outcome.message.as_deref(), Some("hello"));
//! # });
//! ```

pub mod ansi;
pub mod backend;
pub mod backoff;
pub mod cancel;
pub mod config;
pub mod context;
pub mod describe;
pub mod env;
pub mod error;
pub mod event;
pub mod mask;
pub mod outcome;
mod output;
pub mod paths;
pub mod policy;
pub mod process;
pub mod scratch;
pub mod step;
pub mod sync;
pub mod template;
pub mod tool;

pub use async_trait::async_trait;
pub use cancel::{Cancel, CancelReason};
pub use config::parse_config;
pub use context::{RunInfo, SpawnObserver, StepContext};
pub use describe::{OutputDoc, PropertyDoc, PropertyType, StepDescription};
pub use env::Env;
pub use error::{ConfigError, StepError};
pub use event::{Event, EventKind, EventListener, EventSink, Level, MemoryListener, Stream};
pub use mask::Masker;
pub use outcome::{
    CheckResult, EnvChange, Finding, Location, Outcome, OutcomeStatus, Severity, Status,
};
// The types the API is made of, so an embedder needs no version-matched
// direct dependency on them: `step_core::Value`, `step_core::serde_json`,
// `step_core::serde::Deserialize`.
pub use serde;
pub use serde_json::{self, Value};
pub use step::{Recorded, Step, StepKind, StepSpec, StopPolicy, Teardown, command_line};
pub use tool::{FoundTool, ToolError, ToolSpec};

/// Values of the run's result, as after-steps see them in `RUNNER_RESULT`.
pub use outcome::RunResult;
