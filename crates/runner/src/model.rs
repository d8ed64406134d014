//! The pipeline model: what a pipeline file (or the Rust builder) describes,
//! independent of YAML. Positions are kept so that errors found while
//! running can still point at the file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::diag::{Diagnostic, Pos};

/// A loaded pipeline file.
#[derive(Clone, Debug, Default)]
pub struct PipelineFile {
    /// The file (for messages); `<code>` for pipelines built in Rust.
    pub path: PathBuf,
    /// Pipelines by name, in file order.
    pub pipelines: IndexMap<String, Pipeline>,
    /// Names of variables whose values are secret (`secrets:`).
    pub secrets: Vec<String>,
    /// Variables set for every pipeline (`env:`), unexpanded.
    pub env: IndexMap<String, String>,
    /// Notices found while loading (keys accepted but ignored).
    pub notices: Vec<Diagnostic>,
    /// wercker's `workflows:`: a name → the pipelines it runs, in order.
    pub workflows: IndexMap<String, Vec<String>>,
}

/// One pipeline (`build`, `deploy`, …).
#[derive(Clone, Debug, Default)]
pub struct Pipeline {
    /// Its name.
    pub name: String,
    /// Where it is defined.
    pub pos: Pos,
    /// Variables for this pipeline (`env:`), unexpanded.
    pub env: IndexMap<String, String>,
    /// The steps.
    pub steps: Vec<Entry>,
    /// Steps that always run after the result is known (wercker's after-steps).
    pub after_steps: Vec<Entry>,
    /// Steps that always run when the pipeline's steps end (before after-steps).
    pub finally: Vec<Entry>,
    /// Whether recorded teardowns run when the pipeline ends.
    pub teardown: TeardownPolicy,
    /// wercker's deploy targets: any other key holding a list of steps
    /// (`production:`), run instead of `steps` with `--target NAME`.
    pub targets: IndexMap<String, Vec<Entry>>,
}

/// An entry of a step list: a step, or a group of steps.
#[derive(Clone, Debug)]
pub enum Entry {
    /// One step.
    Step(StepEntry),
    /// A group.
    Group(Group),
}

impl Entry {
    /// The display name of the entry.
    pub fn display_name(&self) -> String {
        match self {
            Entry::Step(s) => s.display_name(),
            Entry::Group(g) => g.display_name(),
        }
    }

    /// Where the entry is.
    pub fn pos(&self) -> Pos {
        match self {
            Entry::Step(s) => s.pos,
            Entry::Group(g) => g.pos,
        }
    }
}

/// Properties every step accepts.
#[derive(Clone, Debug, Default)]
pub struct Common {
    /// The step's id: its outputs are published as `outputs.<id>`.
    pub id: Option<String>,
    /// A display name.
    pub name: Option<String>,
    /// Working directory, relative to the pipeline's root.
    pub cwd: Option<String>,
    /// Stop the step after this long.
    pub timeout: Option<Duration>,
    /// Run again this many times when it fails.
    pub retries: u32,
    /// Turn a failure into a warning.
    pub continue_on_error: bool,
    /// Run only when this condition holds (an env toggle).
    pub when: Option<When>,
    /// Hand the step's outputs to the CI (GitHub: `$GITHUB_OUTPUT`).
    pub export_output: bool,
    /// Paths the step creates (`creates:`), so later steps may read them.
    pub creates: Vec<String>,
}

/// A `when:` condition (the grammar is in [`crate::when`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum When {
    /// A literal `true` / `false`.
    Always(bool),
    /// A condition over variables: `NAME`, `!NAME`, `NAME == value`,
    /// `NAME != value`, joined with `&&`, `||` and parentheses.
    Cond(crate::when::Cond),
}

impl std::str::FromStr for When {
    type Err = crate::when::ConditionError;

    /// The same as [`When::parse`]: `"CI && !SKIP".parse::<When>()`.
    fn from_str(text: &str) -> Result<When, Self::Err> {
        When::parse(text)
    }
}

impl When {
    /// Parses the text form.
    pub fn parse(text: &str) -> Result<When, crate::when::ConditionError> {
        When::parse_at(text).map_err(|source| crate::when::ConditionError {
            text: text.to_string(),
            source,
        })
    }

    /// Parses the text form; an error carries the character offset.
    pub fn parse_at(text: &str) -> Result<When, crate::when::WhenError> {
        crate::when::parse(text).map(When::Cond)
    }

    /// Evaluates the condition against a variable lookup.
    pub fn holds(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        match self {
            When::Always(b) => *b,
            When::Cond(c) => c.holds(&get),
        }
    }

    /// The text form, for messages.
    pub fn describe(&self) -> String {
        match self {
            When::Always(b) => b.to_string(),
            When::Cond(c) => c.to_string(),
        }
    }
}

/// A step entry.
#[derive(Clone, Debug)]
pub struct StepEntry {
    /// The kind as written (maybe an alias).
    pub kind: String,
    /// The properties, unexpanded.
    pub properties: Map<String, Value>,
    /// Where each property is (for run-time errors).
    pub property_pos: BTreeMap<String, Pos>,
    /// Common properties.
    pub common: Common,
    /// Where the step is.
    pub pos: Pos,
    /// The version written after `@` in a wercker step id (`owner/name@1.2.3`).
    pub version: Option<String>,
    /// A step given as a value in Rust code ([`crate::builder::typed`]):
    /// it runs as it is, and `kind` only names it.
    pub typed: Option<TypedStep>,
    /// A problem found while the entry was built in code (a `when` that
    /// does not parse); the step then fails with it as a configuration
    /// error when it would run.
    pub invalid: Option<String>,
}

/// A step value shared by the entries that hold it.
#[derive(Clone)]
pub struct TypedStep(pub std::sync::Arc<dyn step_core::Step>);

impl std::fmt::Debug for TypedStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TypedStep(..)")
    }
}

impl StepEntry {
    /// A step of this kind with these properties.
    pub fn new(kind: impl Into<String>, properties: Map<String, Value>) -> Self {
        StepEntry {
            kind: kind.into(),
            properties,
            property_pos: BTreeMap::new(),
            common: Common::default(),
            pos: Pos::default(),
            version: None,
            typed: None,
            invalid: None,
        }
    }

    /// The name shown in output and reports: `name`, else the kind.
    pub fn display_name(&self) -> String {
        self.common
            .name
            .clone()
            .unwrap_or_else(|| self.kind.clone())
    }
}

/// What kind of group.
#[derive(Clone, Debug)]
pub enum GroupKind {
    /// Steps in order (a scope for `finally` and teardowns).
    Sequence,
    /// Steps concurrently.
    Parallel,
    /// The steps once per value, concurrently.
    ForEach(ForEach),
}

/// A `for_each` group's settings.
#[derive(Clone, Debug)]
pub struct ForEach {
    /// The variable that holds the value.
    pub var: String,
    /// The values.
    pub values: Values,
    /// At most this many targets at once (0 = all).
    pub max_parallel: usize,
    /// Cancel the other targets when one fails.
    pub fail_fast: bool,
    /// Zero values is not an error (`allow_empty: true`).
    pub allow_empty: bool,
    /// Where `values:` is written (for messages).
    pub values_pos: Pos,
}

/// The values of a `for_each`.
#[derive(Clone, Debug)]
pub enum Values {
    /// A list.
    List(Vec<String>),
    /// A string (`$CLOUDS`) expanded, then split on commas and whitespace.
    Expr(String),
}

/// When recorded teardowns run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TeardownPolicy {
    /// Whatever the outcome (the default).
    #[default]
    Always,
    /// Only when the group passed (keep failed environments for debugging).
    OnSuccess,
    /// Never (they stay recorded for `runner cleanup`).
    Never,
}

impl TeardownPolicy {
    /// Parses `always` / `on_success` / `never`.
    pub fn parse(text: &str) -> Option<TeardownPolicy> {
        match text {
            "always" => Some(TeardownPolicy::Always),
            "on_success" | "on-success" => Some(TeardownPolicy::OnSuccess),
            "never" => Some(TeardownPolicy::Never),
            _ => None,
        }
    }
}

/// A text that is not a [`TeardownPolicy`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a teardown policy; expected always, on_success or never")]
pub struct ParseTeardownPolicyError {
    /// The text that was given.
    pub text: String,
}

impl std::str::FromStr for TeardownPolicy {
    type Err = ParseTeardownPolicyError;

    /// Parses `always` / `on_success` (or `on-success`) / `never`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        TeardownPolicy::parse(text).ok_or_else(|| ParseTeardownPolicyError {
            text: text.to_string(),
        })
    }
}

#[cfg(test)]
mod teardown_policy_tests {
    use super::{ParseTeardownPolicyError, TeardownPolicy};

    #[test]
    fn teardown_policies_parse_with_from_str() {
        assert_eq!("never".parse(), Ok(TeardownPolicy::Never));
        assert_eq!("on-success".parse(), Ok(TeardownPolicy::OnSuccess));
        let err = "sometimes".parse::<TeardownPolicy>().unwrap_err();
        assert_eq!(
            err,
            ParseTeardownPolicyError {
                text: "sometimes".into()
            }
        );
        assert!(
            err.to_string()
                .contains("expected always, on_success or never")
        );
    }
}

/// A group of entries.
#[derive(Clone, Debug)]
pub struct Group {
    /// What kind.
    pub kind: GroupKind,
    /// A display name.
    pub name: Option<String>,
    /// The entries.
    pub steps: Vec<Entry>,
    /// Entries that always run when the group's steps end.
    pub finally: Vec<Entry>,
    /// When the group's recorded teardowns run.
    pub teardown: TeardownPolicy,
    /// Where the group is.
    pub pos: Pos,
}

impl Group {
    /// The display name: `name`, else the group kind.
    pub fn display_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        match &self.kind {
            GroupKind::Sequence => "group".into(),
            GroupKind::Parallel => "parallel".into(),
            GroupKind::ForEach(f) => format!("for_each {}", f.var),
        }
    }
}
