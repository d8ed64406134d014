//! Pipelines in Rust code: a small builder that produces the same model the
//! YAML loader does, so both run through the same executor.
//!
//! ```
//! use runner::builder::{PipelineBuilder, step};
//! let file = PipelineBuilder::new("build")
//!     .step(step("script").prop("code", "echo hello").name("greet"))
//!     .after_step(step("script").prop("code", "echo $RUNNER_RESULT"))
//!     .into_file();
//! assert_eq!(file.pipelines["build"].steps.len(), 1);
//! ```
//!
//! An [`Executor`](crate::exec::Executor) runs one pipeline of the file,
//! once (`run` takes it by value), and hands back a
//! [`RunReport`](crate::exec::RunReport):
//!
//! ```
//! use std::sync::Arc;
//! use runner::builder::{PipelineBuilder, step};
//! use runner::exec::{Executor, RunOptions};
//! use runner::registry::Registry;
//! use step_core::{EventSink, RunResult};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let file = PipelineBuilder::new("build")
//!     .step(step("script").prop("code", "echo hello").name("greet"))
//!     .into_file();
//! let executor = Executor::new(
//!     Arc::new(Registry::builtin()),
//!     Arc::new(file),
//!     RunOptions::new(dir.path().to_path_buf()),
//!     EventSink::new(),
//! );
//! let runtime = tokio::runtime::Runtime::new().unwrap();
//! let report = runtime.block_on(executor.run("build"));
//! assert_eq!(report.result, RunResult::Passed);
//! assert_eq!(report.steps[0].name, "greet");
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::model::{
    Entry, ForEach, Group, GroupKind, Pipeline, PipelineFile, StepEntry, TeardownPolicy, Values,
    When,
};

/// A step under construction.
#[derive(Clone, Debug)]
pub struct StepBuilder {
    entry: StepEntry,
}

/// Starts a step of `kind`.
pub fn step(kind: &str) -> StepBuilder {
    StepBuilder {
        entry: StepEntry::new(kind, Map::new()),
    }
}

impl StepBuilder {
    /// Sets a property.
    pub fn prop(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.entry.properties.insert(name.into(), value.into());
        self
    }

    /// Sets the display name.
    pub fn name(mut self, name: &str) -> Self {
        self.entry.common.name = Some(name.into());
        self
    }

    /// Sets the id (outputs are published as `outputs.<id>`).
    pub fn id(mut self, id: &str) -> Self {
        self.entry.common.id = Some(id.into());
        self
    }

    /// Sets the working directory (relative to the root).
    pub fn cwd(mut self, cwd: &str) -> Self {
        self.entry.common.cwd = Some(cwd.into());
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.entry.common.timeout = Some(timeout);
        self
    }

    /// Sets the number of retries.
    pub fn retries(mut self, retries: u32) -> Self {
        self.entry.common.retries = retries;
        self
    }

    /// Turns failures into warnings.
    pub fn continue_on_error(mut self) -> Self {
        self.entry.common.continue_on_error = true;
        self
    }

    /// Runs only when the condition (`NAME`, `!NAME`, `NAME == v`) holds.
    pub fn when(mut self, condition: &str) -> Result<Self, String> {
        self.entry.common.when = Some(When::parse(condition).map_err(|e| e.to_string())?);
        Ok(self)
    }

    /// The finished entry.
    pub fn build(self) -> Entry {
        Entry::Step(self.entry)
    }
}

impl From<StepBuilder> for Entry {
    fn from(b: StepBuilder) -> Entry {
        b.build()
    }
}

/// A group under construction.
#[derive(Clone, Debug)]
pub struct GroupBuilder {
    group: Group,
}

impl GroupBuilder {
    fn new(kind: GroupKind) -> Self {
        GroupBuilder {
            group: Group {
                kind,
                name: None,
                steps: Vec::new(),
                finally: Vec::new(),
                teardown: TeardownPolicy::Always,
                pos: Default::default(),
            },
        }
    }

    /// Adds a step or group.
    pub fn step(mut self, entry: impl Into<Entry>) -> Self {
        self.group.steps.push(entry.into());
        self
    }

    /// Adds a `finally` step.
    pub fn finally(mut self, entry: impl Into<Entry>) -> Self {
        self.group.finally.push(entry.into());
        self
    }

    /// Sets the display name.
    pub fn name(mut self, name: &str) -> Self {
        self.group.name = Some(name.into());
        self
    }

    /// Sets the teardown policy.
    pub fn teardown(mut self, policy: TeardownPolicy) -> Self {
        self.group.teardown = policy;
        self
    }

    /// The finished entry.
    pub fn build(self) -> Entry {
        Entry::Group(self.group)
    }
}

impl From<GroupBuilder> for Entry {
    fn from(b: GroupBuilder) -> Entry {
        b.build()
    }
}

/// A `parallel` group.
pub fn parallel() -> GroupBuilder {
    GroupBuilder::new(GroupKind::Parallel)
}

/// A plain group (a scope for `finally` and teardowns).
pub fn group() -> GroupBuilder {
    GroupBuilder::new(GroupKind::Sequence)
}

/// A `for_each` group over a list of values.
pub fn for_each(var: &str, values: &[&str]) -> GroupBuilder {
    GroupBuilder::new(GroupKind::ForEach(ForEach {
        var: var.into(),
        values: Values::List(values.iter().map(|v| v.to_string()).collect()),
        max_parallel: 0,
        fail_fast: false,
        allow_empty: false,
        values_pos: crate::diag::Pos::default(),
    }))
}

/// A `for_each` group over a string expanded at run time (`"$CLOUDS"`).
pub fn for_each_expr(
    var: &str,
    values: &str,
    max_parallel: usize,
    fail_fast: bool,
) -> GroupBuilder {
    GroupBuilder::new(GroupKind::ForEach(ForEach {
        var: var.into(),
        values: Values::Expr(values.into()),
        max_parallel,
        fail_fast,
        allow_empty: false,
        values_pos: crate::diag::Pos::default(),
    }))
}

/// A pipeline under construction.
#[derive(Clone, Debug)]
pub struct PipelineBuilder {
    pipeline: Pipeline,
}

impl PipelineBuilder {
    /// A pipeline with a name.
    pub fn new(name: &str) -> Self {
        PipelineBuilder {
            pipeline: Pipeline {
                name: name.into(),
                ..Pipeline::default()
            },
        }
    }

    /// Adds a step or group.
    pub fn step(mut self, entry: impl Into<Entry>) -> Self {
        self.pipeline.steps.push(entry.into());
        self
    }

    /// Adds a `finally` step.
    pub fn finally(mut self, entry: impl Into<Entry>) -> Self {
        self.pipeline.finally.push(entry.into());
        self
    }

    /// Adds an after-step.
    pub fn after_step(mut self, entry: impl Into<Entry>) -> Self {
        self.pipeline.after_steps.push(entry.into());
        self
    }

    /// Sets a pipeline variable.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.pipeline.env.insert(name.into(), value.into());
        self
    }

    /// The pipeline.
    pub fn build(self) -> Pipeline {
        self.pipeline
    }

    /// A file holding just this pipeline.
    pub fn into_file(self) -> PipelineFile {
        let mut file = PipelineFile {
            path: PathBuf::from("<code>"),
            ..PipelineFile::default()
        };
        file.pipelines
            .insert(self.pipeline.name.clone(), self.pipeline);
        file
    }
}
