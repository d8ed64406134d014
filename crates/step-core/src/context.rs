//! [`StepContext`]: everything a step may read while it runs — working
//! directory, environment, earlier outputs, the event sink, cancellation and
//! run metadata — and nothing it could use to reach into the runner.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::cancel::Cancel;
use crate::env::Env;
use crate::event::{EventKind, EventSink, Level};
use crate::outcome::{CheckResult, Finding, Outcome, RunResult};
use crate::step::StopPolicy;

/// Facts about the run a step is part of (what after-steps need).
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    /// The run's id.
    pub run_id: String,
    /// The pipeline's name.
    pub pipeline: String,
    /// The result so far (after-steps see the final result).
    pub result: Option<RunResult>,
    /// The name of the step that failed, if one did.
    pub failed_step: Option<String>,
    /// What it said.
    pub failed_message: Option<String>,
    /// The parallel target this step runs for, if any.
    pub target: Option<String>,
    /// Seconds since the run started.
    pub elapsed_secs: u64,
}

/// Told the process group id of every child a step starts, and whether it
/// must be left to finish if the runner dies (the runner records them in
/// its journal, so `runner cleanup` can end — or wait for — the groups of
/// a run that died).
#[derive(Clone)]
pub struct SpawnObserver(std::sync::Arc<dyn Fn(u32, bool) + Send + Sync>);

impl SpawnObserver {
    /// An observer calling `f` with each new process group id and its
    /// outlives-the-runner mark.
    pub fn new(f: impl Fn(u32, bool) + Send + Sync + 'static) -> Self {
        SpawnObserver(std::sync::Arc::new(f))
    }
}

impl std::fmt::Debug for SpawnObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpawnObserver")
    }
}

/// Places a step's findings and checks before they are emitted (the
/// runner makes their paths relative to the repository root, and gives a
/// finding without a place the step's own line).
pub trait Locate: Send + Sync {
    /// Places a finding.
    fn finding(&self, finding: &mut Finding);
    /// Places a check result.
    fn check(&self, check: &mut CheckResult);
}

/// The [`Locate`] of a context.
#[derive(Clone)]
struct Locator(std::sync::Arc<dyn Locate>);

impl std::fmt::Debug for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Locator")
    }
}

/// The context a step runs in. Built by the runner, or by hand when a step
/// is embedded in another program ([`StepContext::for_dir`]).
#[derive(Clone, Debug)]
pub struct StepContext {
    workdir: PathBuf,
    env: Env,
    outputs: Map<String, Value>,
    events: EventSink,
    cancel: Cancel,
    run: RunInfo,
    spawned: Option<SpawnObserver>,
    stop: StopPolicy,
    locate: Option<Locator>,
}

impl StepContext {
    /// A context with this working directory, an environment, an event sink
    /// and a cancellation handle.
    pub fn new(workdir: PathBuf, env: Env, events: EventSink, cancel: Cancel) -> Self {
        StepContext {
            workdir,
            env,
            outputs: Map::new(),
            events,
            cancel,
            run: RunInfo::default(),
            spawned: None,
            stop: StopPolicy::default(),
            locate: None,
        }
    }

    /// A context for embedding: the process's environment, a sink with no
    /// listeners, never cancelled.
    pub fn for_dir(workdir: impl Into<PathBuf>) -> Self {
        StepContext::new(
            workdir.into(),
            Env::from_process(),
            EventSink::new(),
            Cancel::new(),
        )
    }

    /// Replaces the outputs of earlier steps.
    pub fn with_outputs(mut self, outputs: Map<String, Value>) -> Self {
        self.outputs = outputs;
        self
    }

    /// Replaces the run info.
    pub fn with_run(mut self, run: RunInfo) -> Self {
        self.run = run;
        self
    }

    /// Replaces the environment.
    pub fn with_env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }

    /// Replaces the event sink.
    pub fn with_events(mut self, events: EventSink) -> Self {
        self.events = events;
        self
    }

    /// Replaces the cancellation handle.
    pub fn with_cancel(mut self, cancel: Cancel) -> Self {
        self.cancel = cancel;
        self
    }

    /// Replaces the working directory.
    pub fn with_workdir(mut self, workdir: PathBuf) -> Self {
        self.workdir = workdir;
        self
    }

    /// Sets how [`StepContext::run_step`] places findings and checks.
    pub fn with_locate(mut self, locate: impl Locate + 'static) -> Self {
        self.locate = Some(Locator(std::sync::Arc::new(locate)));
        self
    }

    /// Runs a step in this context, then emits the findings and checks of
    /// its outcome as [`EventKind::Finding`] and [`EventKind::Check`]
    /// events (placed by the context's [`Locate`], if it has one; the
    /// returned outcome holds them as emitted). This is how a step embedded
    /// alone reports them, and how the runner runs every step, so each is
    /// emitted once. A step's `run` called directly emits nothing itself.
    ///
    /// ```
    /// use step_core::{Finding, MemoryListener, Outcome, Severity, Step, StepContext, StepError};
    ///
    /// struct Lint;
    ///
    /// #[step_core::async_trait]
    /// impl Step for Lint {
    ///     async fn run(&self, _cx: &StepContext) -> Result<Outcome, StepError> {
    ///         Ok(Outcome::passed().with_findings([Finding::new("L1", Severity::Low, "tabs")]))
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let cx = StepContext::for_dir(".");
    /// let memory = MemoryListener::new();
    /// cx.events().add_listener(Box::new(memory.clone()));
    /// let outcome = cx.run_step(&Lint).await.unwrap();
    /// assert_eq!(outcome.findings.len(), 1);
    /// let emitted = memory.events().into_iter().filter(|e| {
    ///     matches!(&e.kind, step_core::EventKind::Finding { finding } if finding.id == "L1")
    /// });
    /// assert_eq!(emitted.count(), 1);
    /// # });
    /// ```
    pub async fn run_step<S: crate::Step + ?Sized>(
        &self,
        step: &S,
    ) -> Result<Outcome, crate::StepError> {
        let mut result = step.run(self).await;
        if let Ok(outcome) = &mut result {
            for finding in &mut outcome.findings {
                if let Some(l) = &self.locate {
                    l.0.finding(finding);
                }
                self.finding(finding.clone());
            }
            for check in &mut outcome.checks {
                if let Some(l) = &self.locate {
                    l.0.check(check);
                }
                self.check(check.clone());
            }
        }
        result
    }

    /// Sets how the step's children are stopped when it is cancelled (the
    /// runner passes the step's own [`crate::Step::stop_policy`]).
    pub fn with_stop_policy(mut self, policy: StopPolicy) -> Self {
        self.stop = policy;
        self
    }

    /// How the step's children are stopped when it is cancelled: the
    /// default of every [`crate::process::Cmd`] that sets none itself.
    pub fn stop_policy(&self) -> StopPolicy {
        self.stop
    }

    /// Sets the observer of the process groups this step starts.
    pub fn with_spawn_observer(mut self, observer: SpawnObserver) -> Self {
        self.spawned = Some(observer);
        self
    }

    /// Reports a process group this step started (called by the process
    /// helper right after the spawn); `outlives_runner` marks one that
    /// `runner cleanup` waits for rather than ends.
    pub fn note_spawned(&self, pgid: u32, outlives_runner: bool) {
        if let Some(o) = &self.spawned {
            (o.0)(pgid, outlives_runner);
        }
    }

    /// Where a step puts temporary files that may hold secrets (var files,
    /// extra-vars files): `STEPWISE_TMPDIR` of the environment — the runner
    /// points it at a private per-run directory it removes, even after a
    /// crash, via `runner cleanup` — else the system's temp directory.
    /// Create a private (0700) directory inside it per use.
    pub fn temp_base(&self) -> PathBuf {
        self.env
            .get("STEPWISE_TMPDIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
    }

    /// The working directory; relative paths in properties resolve against it.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// Resolves a path against the working directory.
    pub fn resolve(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.workdir.join(path)
        }
    }

    /// The environment.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// Outputs of earlier steps, keyed by step id.
    pub fn outputs(&self) -> &Map<String, Value> {
        &self.outputs
    }

    /// The event sink (already scoped to this step).
    pub fn events(&self) -> &EventSink {
        &self.events
    }

    /// The cancellation handle.
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    /// Run metadata.
    pub fn run(&self) -> &RunInfo {
        &self.run
    }

    /// Logs a message at info level.
    pub fn info(&self, message: impl Into<String>) {
        self.events.log(Level::Info, message);
    }

    /// Logs a warning.
    pub fn warn(&self, message: impl Into<String>) {
        self.events.log(Level::Warn, message);
    }

    /// Reports a finding as it is found.
    pub fn finding(&self, finding: Finding) {
        self.events.emit(EventKind::Finding { finding });
    }

    /// Reports a check result as it is known.
    pub fn check(&self, check: CheckResult) {
        self.events.emit(EventKind::Check { check });
    }

    /// The values templates see: `env` (the environment, secrets included —
    /// output is masked), `outputs`, and `run` (pipeline, result, target).
    pub fn template_context(&self) -> Value {
        let env: Map<String, Value> = self
            .env
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        let mut run = Map::new();
        run.insert("id".into(), self.run.run_id.clone().into());
        run.insert("pipeline".into(), self.run.pipeline.clone().into());
        run.insert(
            "result".into(),
            self.run
                .result
                .map(|r| Value::String(r.as_str().into()))
                .unwrap_or(Value::Null),
        );
        run.insert(
            "target".into(),
            self.run
                .target
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        run.insert(
            "failed_step".into(),
            self.run
                .failed_step
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        run.insert(
            "failed_message".into(),
            self.run
                .failed_message
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        let mut root = Map::new();
        root.insert("env".into(), Value::Object(env));
        root.insert("outputs".into(), Value::Object(self.outputs.clone()));
        root.insert("run".into(), Value::Object(run));
        Value::Object(root)
    }
}
