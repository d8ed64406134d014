//! The [`Step`] trait and the [`StepKind`] factory the runner's registry holds.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::StepContext;
use crate::describe::StepDescription;
use crate::error::{ConfigError, StepError};
use crate::outcome::Outcome;
use crate::process::StopSignal;

/// One unit of work.
///
/// # Contract
///
/// * `run` returns `Ok(outcome)` when the step ran: passed, failed (it found
///   problems) or skipped (nothing to do). It returns `Err` when it could not
///   run or judge: a tool is missing, the config is wrong, a file could not
///   be read, or it was cancelled.
/// * Every child process is started through [`crate::process::Cmd`], so its
///   output reaches the event stream masked and cancellation reaches it.
/// * When `cx.cancel()` fires, `run` returns promptly (the process helper
///   does this for children); it returns [`StepError::Cancelled`].
/// * A step never prints to stdout/stderr itself: it emits events.
/// * A step does not change the process's environment or working directory;
///   it reports environment changes in [`Outcome::env`].
#[async_trait::async_trait]
pub trait Step: Send + Sync {
    /// Runs the step.
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError>;

    /// What undoes this step, if anything (terraform-apply → terraform-destroy,
    /// a script's `teardown:`): a [`Teardown`] built from the undoing step's
    /// own type and configuration ([`Teardown::of`]). The runner records it
    /// durably **before** the step starts and runs it when the enclosing
    /// group ends, so it must be safe to run even if the step was
    /// interrupted halfway.
    fn teardown(&self) -> Option<Teardown> {
        None
    }

    /// The commands this step would run, as a person would type them, for
    /// a dry run (`runner plan`): one entry per program it starts, in
    /// order. Nothing is started and nothing is read; values that only
    /// exist at run time (generated files) are named, not shown. The
    /// default, for a step that starts no program, is empty.
    fn commands(&self) -> Vec<String> {
        Vec::new()
    }

    /// How this step is stopped when it is cancelled: the signal its
    /// children get and how long they may take to clean up before they are
    /// killed. The runner waits that long (and a little more) for the step
    /// to return; a second interrupt kills at once. The default is
    /// [`StopPolicy::default`]: SIGTERM and 10 s.
    fn stop_policy(&self) -> StopPolicy {
        StopPolicy::default()
    }
}

/// How a cancelled step is stopped: [`StopPolicy::signal`] to its
/// children's process groups, then SIGKILL after [`StopPolicy::grace`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StopPolicy {
    /// The signal that starts a graceful stop.
    pub signal: StopSignal,
    /// How long the step's children get after it before they are killed.
    pub grace: Duration,
}

impl StopPolicy {
    /// The grace period of a step that declares none.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

    /// A policy with this signal and grace period.
    pub fn new(signal: StopSignal, grace: Duration) -> Self {
        StopPolicy { signal, grace }
    }
}

impl Default for StopPolicy {
    fn default() -> Self {
        StopPolicy::new(StopSignal::Term, StopPolicy::DEFAULT_GRACE)
    }
}

// A boxed, shared or borrowed step is a step: wrappers such as
// `policy::Timeout` take any of them.
macro_rules! forward_step {
    ($($ty:ty),*) => {$(
        #[async_trait::async_trait]
        impl<S: Step + ?Sized> Step for $ty {
            async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
                (**self).run(cx).await
            }

            fn teardown(&self) -> Option<Teardown> {
                (**self).teardown()
            }

            fn commands(&self) -> Vec<String> {
                (**self).commands()
            }

            fn stop_policy(&self) -> StopPolicy {
                (**self).stop_policy()
            }
        }
    )*};
}

forward_step!(Box<S>, std::sync::Arc<S>, &S);

/// A program and its arguments as one line for a person to read, each
/// word quoted for a POSIX shell when it needs quoting. For display only:
/// children always get argv, never this text.
pub fn command_line<S: AsRef<str>>(program: &str, args: &[S]) -> String {
    std::iter::once(program)
        .chain(args.iter().map(AsRef::as_ref))
        .map(|word| {
            let plain = !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
            if plain {
                word.to_string()
            } else {
                format!("'{}'", word.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A step that can be written down and built again: the kind its
/// registry entry builds it from, and its configuration as that kind's
/// properties. What a [`Teardown`] is made of, so that `runner cleanup`
/// can run it after the runner died.
pub trait Recorded: Step + 'static {
    /// The kind that builds it (`terraform-destroy`, `script`).
    const KIND: &'static str;

    /// Its configuration, as the properties that kind's build reads back
    /// to this same step. Secret values must not be in it — only the
    /// names of the variables that hold them.
    fn properties(&self) -> Value;
}

/// What undoes a step: the undoing step itself, which the runner runs when
/// the step's scope ends, and its [`StepSpec`] record, which the runner
/// stores in the state file first, so that `runner cleanup` can build and
/// run it again after a crash.
pub struct Teardown {
    step: Box<dyn Step>,
    record: StepSpec,
}

impl Teardown {
    /// The teardown that runs `step`.
    pub fn of<S: Recorded>(step: S) -> Self {
        let record = StepSpec {
            kind: S::KIND.to_string(),
            properties: step.properties(),
        };
        Teardown {
            step: Box::new(step),
            record,
        }
    }

    /// The undoing step.
    pub fn step(&self) -> &dyn Step {
        self.step.as_ref()
    }

    /// Its record for the state file.
    pub fn record(&self) -> &StepSpec {
        &self.record
    }

    /// The step and the record.
    pub fn into_parts(self) -> (Box<dyn Step>, StepSpec) {
        (self.step, self.record)
    }
}

impl std::fmt::Debug for Teardown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Teardown")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// A serializable step: a kind and its properties. What a teardown manifest
/// stores to run a teardown again later.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepSpec {
    /// The step kind (`terraform-destroy`, `script`).
    pub kind: String,
    /// Its properties.
    pub properties: Value,
}

/// A kind of step the runner can build from properties.
pub trait StepKind: Send + Sync {
    /// The kind's description (name, aliases, properties, outputs).
    fn description(&self) -> StepDescription;

    /// The kind's name and aliases, when the kind knows them without
    /// building its description: a registry then describes only the kinds
    /// a pipeline uses. They must be the description's `kind` and
    /// `aliases`. The default, `None`, makes the registry call
    /// [`StepKind::description`] when the kind is registered.
    fn names(&self) -> Option<(&str, &[&str])> {
        None
    }

    /// Builds a step from its properties (already expanded: `$VAR` and
    /// `${{ … }}` are resolved by the runner before this is called).
    fn build(&self, properties: Value) -> Result<Box<dyn Step>, ConfigError>;
}

/// The build half of a [`FnKind`]: properties in, a step out.
type BuildFn = dyn Fn(Value) -> Result<Box<dyn Step>, ConfigError> + Send + Sync;

/// The description half of a [`FnKind`].
type DescribeFn = dyn Fn() -> StepDescription + Send + Sync;

/// A [`StepKind`] made of a description function and a build function.
/// Both may be plain functions or closures (a closure can capture the
/// embedder's own state, such as a client or a configuration).
///
/// ```
/// use step_core::step::FnKind;
/// use step_core::{ConfigError, Step, StepDescription, StepKind};
///
/// let prefix = String::from("my-");
/// let kind = FnKind::new(
///     move || StepDescription::new(&format!("{prefix}step"), "does my thing"),
///     |_properties| Err(ConfigError::new("not built in this example")),
/// );
/// assert_eq!(kind.description().kind, "my-step");
/// assert!(kind.build(serde_json::json!({})).is_err());
/// ```
pub struct FnKind {
    describe: Box<DescribeFn>,
    build: Box<BuildFn>,
    names: Option<(&'static str, &'static [&'static str])>,
}

impl FnKind {
    /// A kind from two functions or closures.
    pub fn new<D, B>(describe: D, build: B) -> Self
    where
        D: Fn() -> StepDescription + Send + Sync + 'static,
        B: Fn(Value) -> Result<Box<dyn Step>, ConfigError> + Send + Sync + 'static,
    {
        FnKind {
            describe: Box::new(describe),
            build: Box::new(build),
            names: None,
        }
    }

    /// A kind whose name and aliases are given, so that its description is
    /// built only when it is used (see [`StepKind::names`]). They must be
    /// the ones the description function gives.
    pub fn named<D, B>(
        kind: &'static str,
        aliases: &'static [&'static str],
        describe: D,
        build: B,
    ) -> Self
    where
        D: Fn() -> StepDescription + Send + Sync + 'static,
        B: Fn(Value) -> Result<Box<dyn Step>, ConfigError> + Send + Sync + 'static,
    {
        FnKind {
            names: Some((kind, aliases)),
            ..FnKind::new(describe, build)
        }
    }

    /// Boxed, for a crate's `kinds()` list.
    pub fn boxed<D, B>(describe: D, build: B) -> Box<dyn StepKind>
    where
        D: Fn() -> StepDescription + Send + Sync + 'static,
        B: Fn(Value) -> Result<Box<dyn Step>, ConfigError> + Send + Sync + 'static,
    {
        Box::new(FnKind::new(describe, build))
    }
}

impl StepKind for FnKind {
    fn description(&self) -> StepDescription {
        (self.describe)()
    }

    fn names(&self) -> Option<(&str, &[&str])> {
        self.names
    }

    fn build(&self, properties: Value) -> Result<Box<dyn Step>, ConfigError> {
        (self.build)(properties)
    }
}

#[cfg(test)]
mod tests {
    use super::command_line;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(
            command_line("terraform", &["apply", "-var-file=a b.tfvars", "it's", ""]),
            "terraform apply '-var-file=a b.tfvars' 'it'\\''s' ''"
        );
    }
}
