//! The executor: runs a pipeline's entries — steps, sequences, `parallel`
//! and `for_each` groups — with `finally` steps and recorded teardowns that
//! always run, then the after-steps with the run's result.
//!
//! Cancellation has two levels. The first interrupt cancels the running
//! steps gracefully (their process groups get the stop signal, then
//! SIGKILL after the grace period of the step's
//! [`step_core::Step::stop_policy`]); `finally` steps, teardowns and
//! after-steps still run, under their own cancellation that only the
//! second interrupt fires ("kill everything now").

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use step_core::sync::lock;
use step_core::{Cancel, CancelReason, Env, EventKind, EventSink, Level, RunResult, Status};

use crate::expand::{ExpandError, expand_vars};
use crate::model::{
    Entry, ForEach, Group, GroupKind, Pipeline, PipelineFile, StepEntry, TeardownPolicy, Values,
};
use crate::registry::Registry;
use crate::state::RunManifest;

mod after;
mod embed;
mod git;
mod panic;
mod paths;
mod step;
mod support;
mod teardown;

pub use embed::TeardownRecord;
pub use teardown::run_teardown;

use support::{combine, git_facts, location, merge_scope, millis};

type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Options of one run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The pipeline's root directory (the file's directory); `cwd` is relative to it.
    pub root: PathBuf,
    /// The environment the run starts with (process, file `env`, `--var`),
    /// with secret variables marked.
    pub env: Env,
    /// Steps to skip, by name or kind.
    pub skip: Vec<String>,
    /// Keep environments up: teardowns are recorded but not run.
    pub keep: bool,
    /// Run only the for_each values of partition K of N (1-based).
    pub partition: Option<(usize, usize)>,
    /// Run only these for_each values (`NAME=VALUE`).
    pub only: Vec<(String, String)>,
    /// Where teardown manifests live (`.stepwise/state`).
    pub state_dir: PathBuf,
    /// Timeout for `finally` steps, teardowns and after-steps without their own.
    pub cleanup_timeout: Duration,
    /// The run's id.
    pub run_id: String,
    /// The repository root that findings' paths are made relative to
    /// (`--root`; default: [`RunOptions::root`]).
    pub paths_root: Option<PathBuf>,
    /// Where steps with `export_output: true` append their outputs
    /// (GitHub's `$GITHUB_OUTPUT`); `None`: nowhere.
    pub output_file: Option<PathBuf>,
}

impl RunOptions {
    /// Options for a pipeline rooted at `root`, with the process environment.
    pub fn new(root: PathBuf) -> Self {
        let state_dir = root.join(".stepwise").join("state");
        RunOptions {
            root,
            env: Env::from_process(),
            skip: Vec::new(),
            keep: false,
            partition: None,
            only: Vec::new(),
            state_dir,
            cleanup_timeout: Duration::from_secs(30 * 60),
            run_id: new_run_id(),
            paths_root: None,
            output_file: None,
        }
    }
}

/// A new run id: time plus pid, sortable and unique on a machine.
pub fn new_run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}-{}", now.as_millis(), std::process::id())
}

/// What one step did.
#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    /// The target it ran for.
    pub target: Option<String>,
    /// Its display name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// How it ended.
    pub status: Status,
    /// How long it took.
    pub duration: Duration,
    /// What it said.
    pub message: Option<String>,
    /// Its outputs (secret values masked), whatever its status.
    pub outputs: Map<String, Value>,
    /// Its findings, with locations as the events show them.
    pub findings: Vec<step_core::Finding>,
    /// Its checks.
    pub checks: Vec<step_core::CheckResult>,
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The run's id.
    pub run_id: String,
    /// The result.
    pub result: RunResult,
    /// Every step, in the order they finished.
    pub steps: Vec<StepRecord>,
    /// Whether a step could not run because of its configuration.
    pub config_error: bool,
    /// Whether teardowns are left for `runner cleanup`.
    pub outstanding_teardowns: bool,
    /// Every teardown this run ran or kept, in the order they ended.
    pub teardowns: Vec<TeardownRecord>,
}

impl RunReport {
    /// The exit code: 0 passed, 1 failed, 130 cancelled.
    pub fn exit_code(&self) -> i32 {
        match self.result {
            RunResult::Passed => 0,
            RunResult::Failed => 1,
            RunResult::Cancelled => 130,
        }
    }
}

/// Cancels a run from outside (signal handlers).
#[derive(Clone, Debug)]
pub struct Interrupter {
    run: Cancel,
    cleanup: Cancel,
    after: Arc<Mutex<Cancel>>,
    in_after: Arc<std::sync::atomic::AtomicBool>,
    count: Arc<Mutex<u32>>,
}

impl Interrupter {
    /// First call: cancel running steps gracefully (`finally`, teardowns and
    /// after-steps still run). Second call: kill everything now.
    pub fn interrupt(&self) -> u32 {
        let mut n = lock(&self.count);
        *n += 1;
        if *n == 1 {
            self.run.cancel(CancelReason::Interrupted);
            // A signal that lands while after-steps run cancels them too,
            // through the same ladder (stop signal, grace, SIGKILL).
            if self.in_after.load(std::sync::atomic::Ordering::SeqCst) {
                lock(&self.after).cancel(CancelReason::Interrupted);
            }
        } else {
            self.run.kill_now();
            self.cleanup.kill_now();
        }
        *n
    }
}

/// The scope of one for_each target: `var` set to `value`, and the target
/// named after it (under the parent's target).
fn target_scope(scope: &Scope, var: &str, value: &str) -> Scope {
    let mut sc = scope.clone();
    let target = match &scope.target {
        Some(parent) => format!("{parent}/{value}"),
        None => value.to_string(),
    };
    sc.env.set(var.to_string(), value.to_string());
    sc.env.set("RUNNER_TARGET", target.clone());
    sc.vars
        .insert(var.to_string(), Value::String(value.to_string()));
    sc.target = Some(target);
    sc
}

/// Cancels a run (as a first interrupt) when dropped armed: the guard of
/// [`Executor::run`]'s future.
struct CancelOnDrop(Option<Cancel>);

impl CancelOnDrop {
    /// The run ended: nothing to cancel.
    fn disarm(mut self) -> Self {
        self.0 = None;
        self
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(cancel) = self.0.take() {
            cancel.cancel(CancelReason::Interrupted);
        }
    }
}

/// Whether a step runs as part of cleanup (`finally`, teardown, after-step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Normal,
    Cleanup,
}

/// The variables, outputs and target a step sees.
#[derive(Clone, Debug)]
struct Scope {
    env: Env,
    outputs: Map<String, Value>,
    target: Option<String>,
    vars: Map<String, Value>,
}

/// Teardowns registered in one target, group or pipeline.
#[derive(Clone, Debug, Default)]
struct Frame {
    seqs: Arc<Mutex<Vec<u64>>>,
}

impl Frame {
    fn push(&self, seq: u64) {
        lock(&self.seqs).push(seq);
    }

    fn take(&self) -> Vec<u64> {
        std::mem::take(&mut *lock(&self.seqs))
    }
}

struct Inner {
    registry: Arc<Registry>,
    file: Arc<PipelineFile>,
    opts: RunOptions,
    events: EventSink,
    run_cancel: Cancel,
    cleanup_cancel: Cancel,
    /// The running after-step's cancellation: fired by the first interrupt
    /// that lands while it runs (`in_after`), or with `cleanup_cancel`.
    /// Each after-step gets its own: the ones after it still run.
    after_cancel: Arc<Mutex<Cancel>>,
    in_after: Arc<std::sync::atomic::AtomicBool>,
    /// Interrupts so far, shared by every [`Interrupter`].
    interrupts: Arc<Mutex<u32>>,
    manifest: Mutex<Option<Arc<RunManifest>>>,
    /// The typed steps of the teardowns recorded so far, by sequence number.
    undo: Mutex<BTreeMap<u64, Box<dyn step_core::Step>>>,
    records: Mutex<Vec<StepRecord>>,
    teardowns: Mutex<Vec<TeardownRecord>>,
    first_failure: Mutex<Option<(String, String)>>,
    config_error: Mutex<bool>,
    pipeline: Mutex<String>,
    started: Instant,
    /// The runner's own environment, to store only what a run added.
    process_env: BTreeMap<String, String>,
}

/// Runs pipelines of one file.
pub struct Executor {
    inner: Arc<Inner>,
}

impl Executor {
    /// An executor for a loaded file.
    pub fn new(
        registry: Arc<Registry>,
        file: Arc<PipelineFile>,
        opts: RunOptions,
        events: EventSink,
    ) -> Self {
        let secrets = opts.env.secret_values();
        events.add_secrets(secrets);
        let cleanup_cancel = Cancel::new();
        Executor {
            inner: Arc::new(Inner {
                registry,
                file,
                opts,
                events,
                run_cancel: Cancel::new(),
                after_cancel: Arc::new(Mutex::new(cleanup_cancel.child())),
                cleanup_cancel,
                in_after: Arc::new(std::sync::atomic::AtomicBool::new(false)),
                interrupts: Arc::new(Mutex::new(0)),
                manifest: Mutex::new(None),
                undo: Mutex::new(BTreeMap::new()),
                records: Mutex::new(Vec::new()),
                teardowns: Mutex::new(Vec::new()),
                first_failure: Mutex::new(None),
                config_error: Mutex::new(false),
                pipeline: Mutex::new(String::new()),
                started: Instant::now(),
                process_env: std::env::vars().collect(),
            }),
        }
    }

    /// A handle that cancels this executor's run.
    pub fn interrupter(&self) -> Interrupter {
        Interrupter {
            run: self.inner.run_cancel.clone(),
            cleanup: self.inner.cleanup_cancel.clone(),
            after: self.inner.after_cancel.clone(),
            in_after: self.inner.in_after.clone(),
            count: self.inner.interrupts.clone(),
        }
    }

    /// The run's id.
    pub fn run_id(&self) -> &str {
        &self.inner.opts.run_id
    }

    /// Runs one pipeline: its steps, its `finally` steps, its teardowns,
    /// then its after-steps with the result.
    ///
    /// The run is a task of its own on the current tokio runtime, so
    /// dropping the returned future does not drop the run: it cancels it,
    /// as a first interrupt does, and the run's `finally` steps, teardowns
    /// and after-steps still complete, and its state file is finished, in
    /// the background. The runtime must stay alive until they have (a
    /// runtime shut down drops the task, and with it whatever was left to
    /// do). An embedder who wants the run on its own task, under its own
    /// cancellation, uses [`Executor::run_until`].
    ///
    /// An executor runs once: `run` takes it by value (its records,
    /// teardown manifest and cancellation belong to that one run), so a
    /// second call does not compile:
    ///
    /// ```compile_fail
    /// # async fn twice(executor: runner::exec::Executor) {
    /// let first = executor.run("build").await;
    /// let second = executor.run("build").await; // `executor` was moved
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// Called outside a tokio runtime.
    pub async fn run(self, pipeline_name: &str) -> RunReport {
        let handle = self.handle();
        let cancel = CancelOnDrop(Some(self.inner.run_cancel.clone()));
        let name = pipeline_name.to_string();
        let task = tokio::spawn(async move { self.run_here(&name).await });
        let report = match task.await {
            Ok(report) => report,
            // The run panicked outside any step (steps' panics are caught).
            Err(e) => {
                handle.lost_task(&handle.empty_scope(), e);
                handle.report(RunResult::Failed)
            }
        };
        drop(cancel.disarm());
        report
    }

    /// Runs one pipeline on the caller's task, under `cancel`: cancelling
    /// it with [`step_core::CancelReason::Interrupted`] stops the running
    /// steps gracefully (the run's `finally` steps, teardowns and
    /// after-steps still run, and the run ends `Cancelled`), and
    /// [`Cancel::kill_now`] kills them at once. The run is the returned
    /// future itself: dropping it before it ends drops the run there —
    /// children are killed, and `finally` steps and teardowns do not run
    /// (`runner cleanup` runs the recorded teardowns later). Use it when
    /// the caller owns the run's lifetime; [`Executor::run`] protects a run
    /// from being dropped.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use runner::builder::{PipelineBuilder, step};
    /// use runner::exec::{Executor, RunOptions};
    /// use runner::registry::Registry;
    /// use step_core::{Cancel, CancelReason, EventSink, RunResult};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let file = PipelineBuilder::new("p")
    ///     .step(step("script").prop("code", "sleep 30"))
    ///     .finally(step("script").prop("code", "touch cleaned"))
    ///     .into_file();
    /// let executor = Executor::new(
    ///     Arc::new(Registry::builtin()),
    ///     Arc::new(file),
    ///     RunOptions::new(dir.path().to_path_buf()),
    ///     EventSink::new(),
    /// );
    /// let cancel = Cancel::new();
    /// let runtime = tokio::runtime::Runtime::new().unwrap();
    /// let report = runtime.block_on(async {
    ///     let stop = cancel.clone();
    ///     tokio::spawn(async move {
    ///         tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    ///         stop.cancel(CancelReason::Interrupted);
    ///     });
    ///     executor.run_until("p", cancel).await
    /// });
    /// assert_eq!(report.result, RunResult::Cancelled);
    /// assert!(dir.path().join("cleaned").exists());
    /// ```
    pub async fn run_until(self, pipeline_name: &str, cancel: Cancel) -> RunReport {
        self.with_cancel(cancel).run_here(pipeline_name).await
    }

    /// A scope with nothing in it, for messages outside any step.
    fn empty_scope(&self) -> Scope {
        Scope {
            env: Env::new(),
            outputs: Map::new(),
            target: None,
            vars: Map::new(),
        }
    }

    /// The run itself, on the caller's task.
    async fn run_here(self, pipeline_name: &str) -> RunReport {
        let inner = &self.inner;
        *lock(&inner.pipeline) = pipeline_name.to_string();
        let Some(pipeline) = inner.file.pipelines.get(pipeline_name).cloned() else {
            inner
                .events
                .log(Level::Error, format!("no pipeline `{pipeline_name}`"));
            return self.report(RunResult::Failed);
        };
        inner.events.emit(EventKind::RunStarted {
            run_id: inner.opts.run_id.clone(),
            pipeline: pipeline_name.to_string(),
        });
        let facts = git_facts(&inner.opts.root, &inner.run_cancel).await;
        let scope = self.initial_scope(&pipeline, facts);
        let scope = match scope {
            Ok(s) => Ok(self.private_tmp(s)),
            Err(e) => Err(e),
        };
        let scope = match scope {
            Ok(s) => s,
            Err(message) => {
                inner.events.log(Level::Error, message);
                self.note_config_error();
                let report = self.report(RunResult::Failed);
                self.emit_finished(report.result);
                return report;
            }
        };
        let frame = Frame::default();
        let (status, scope) = self
            .run_seq(
                pipeline.steps.clone(),
                scope,
                inner.run_cancel.clone(),
                frame.clone(),
                Mode::Normal,
            )
            .await;
        let status = self
            .close(
                status,
                pipeline.finally.clone(),
                &scope,
                &frame,
                pipeline.teardown,
            )
            .await;
        let result = if inner.run_cancel.reason() == Some(CancelReason::Interrupted) {
            RunResult::Cancelled
        } else if status.is_failure() {
            RunResult::Failed
        } else {
            RunResult::Passed
        };
        self.run_after_steps(&pipeline, scope, result).await;
        // An interrupt during the after-steps still makes the run cancelled
        // (exit 130), whatever they did.
        let result = if inner.run_cancel.reason() == Some(CancelReason::Interrupted) {
            RunResult::Cancelled
        } else {
            result
        };
        let report = self.report(result);
        self.emit_finished(result);
        report
    }

    fn emit_finished(&self, result: RunResult) {
        self.inner.events.emit(EventKind::RunFinished {
            result,
            duration_ms: millis(self.inner.started.elapsed()),
        });
    }

    fn report(&self, result: RunResult) -> RunReport {
        let inner = &self.inner;
        let manifest = lock(&inner.manifest).take();
        let outstanding = match manifest.and_then(|m| Arc::try_unwrap(m).ok()) {
            Some(m) => match m.close() {
                Ok(o) => o,
                Err(e) => {
                    inner.events.log(Level::Error, e.to_string());
                    true
                }
            },
            None => false,
        };
        if outstanding {
            inner.events.log(
                Level::Warn,
                format!(
                    "teardowns of run {} are left in {} — `runner state` lists them, `runner cleanup` runs them",
                    inner.opts.run_id,
                    inner.opts.state_dir.display()
                ),
            );
        }
        RunReport {
            run_id: inner.opts.run_id.clone(),
            result,
            steps: lock(&inner.records).clone(),
            config_error: *lock(&inner.config_error),
            outstanding_teardowns: outstanding,
            teardowns: lock(&inner.teardowns).clone(),
        }
    }

    fn initial_scope(
        &self,
        pipeline: &Pipeline,
        git: Vec<(&'static str, String)>,
    ) -> Result<Scope, String> {
        let inner = &self.inner;
        let mut env = inner.opts.env.clone();
        for name in &inner.file.secrets {
            env.mark_secret(name.clone());
        }
        // Precedence: --var > the process environment > the pipeline's
        // `env:` > the file's `env:` (a variable set outside the file wins).
        for (k, v) in inner.file.env.iter().chain(pipeline.env.iter()) {
            if inner.opts.env.get(k).is_some() {
                continue;
            }
            let value = expand_vars(v, &|n| env.get(n).map(str::to_string))
                .map_err(|e| format!("{}: env `{k}`: {e}", inner.file.path.display()))?;
            env.set(k.clone(), value);
        }
        let root = inner.opts.root.display().to_string();
        let run_id = inner.opts.run_id.clone();
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            .to_string();
        for (k, v) in [
            ("RUNNER_PIPELINE", pipeline.name.clone()),
            ("RUNNER_RUN_ID", run_id.clone()),
            ("RUNNER_ROOT", root.clone()),
            ("WERCKER", "true".into()),
            ("WERCKER_ROOT", root.clone()),
            ("WERCKER_SOURCE_DIR", root.clone()),
            ("WERCKER_PIPELINE", pipeline.name.clone()),
            ("WERCKER_RUN_ID", run_id),
            ("WERCKER_MAIN_PIPELINE_STARTED", started),
            ("WERCKER_CACHE_DIR", format!("{root}/.stepwise/cache")),
            ("WERCKER_OUTPUT_DIR", format!("{root}/.stepwise/output")),
            (
                "WERCKER_REPORT_ARTIFACTS_DIR",
                format!("{root}/.stepwise/reports"),
            ),
        ] {
            env.set(k, v);
        }
        for (k, v) in git {
            if env.get(k).is_none() {
                env.set(k, v);
            }
        }
        inner.events.add_secrets(env.secret_values());
        Ok(Scope {
            env,
            outputs: Map::new(),
            target: None,
            vars: Map::new(),
        })
    }

    /// Runs entries in order; after a failure or cancellation the rest are skipped.
    fn run_seq(
        &self,
        entries: Vec<Entry>,
        mut scope: Scope,
        cancel: Cancel,
        frame: Frame,
        mode: Mode,
    ) -> BoxFut<(Status, Scope)> {
        let this = self.handle();
        Box::pin(async move {
            let mut status = Status::Passed;
            for entry in entries {
                if status.is_failure() || (mode == Mode::Normal && cancel.is_cancelled()) {
                    let why = if cancel.is_cancelled() {
                        "not run: the run was cancelled"
                    } else {
                        "not run: an earlier step failed"
                    };
                    this.skip_entry(&entry, &scope, why);
                    continue;
                }
                let (s, new_scope) = this
                    .run_entry(entry, scope, cancel.clone(), frame.clone(), mode)
                    .await;
                scope = new_scope;
                status = combine(status, s);
            }
            (status, scope)
        })
    }

    fn run_entry(
        &self,
        entry: Entry,
        scope: Scope,
        cancel: Cancel,
        frame: Frame,
        mode: Mode,
    ) -> BoxFut<(Status, Scope)> {
        let this = self.handle();
        Box::pin(async move {
            match entry {
                Entry::Step(step) => {
                    let mut scope = scope;
                    let status = this
                        .run_step(&step, &mut scope, &cancel, &frame, mode)
                        .await;
                    (status, scope)
                }
                Entry::Group(group) => this.run_group(group, scope, cancel, mode).await,
            }
        })
    }

    fn skip_entry(&self, entry: &Entry, scope: &Scope, why: &str) {
        match entry {
            Entry::Step(s) => self.finish_step(
                scope,
                &s.display_name(),
                &s.kind,
                Status::Skipped,
                Duration::ZERO,
                Some(why.to_string()),
            ),
            Entry::Group(g) => {
                for e in g.steps.iter() {
                    self.skip_entry(e, scope, why);
                }
            }
        }
    }

    async fn run_group(
        &self,
        group: Group,
        scope: Scope,
        cancel: Cancel,
        mode: Mode,
    ) -> (Status, Scope) {
        match &group.kind {
            GroupKind::Sequence => {
                let frame = Frame::default();
                let (s, scope) = self
                    .run_seq(group.steps.clone(), scope, cancel, frame.clone(), mode)
                    .await;
                let status = self
                    .close(s, group.finally.clone(), &scope, &frame, group.teardown)
                    .await;
                (status, scope)
            }
            GroupKind::Parallel => {
                let frame = Frame::default();
                let mut set = tokio::task::JoinSet::new();
                for (i, e) in group.steps.iter().cloned().enumerate() {
                    let this = self.handle();
                    let sc = scope.clone();
                    let c = cancel.clone();
                    let f = frame.clone();
                    set.spawn(async move { (i, this.run_entry(e, sc, c, f, mode).await) });
                }
                let mut results = Vec::new();
                let mut status = Status::Passed;
                while let Some(r) = set.join_next().await {
                    match r {
                        Ok(r) => results.push(r),
                        Err(e) => status = self.lost_task(&scope, e),
                    }
                }
                results.sort_by_key(|(i, _)| *i);
                let mut merged = scope.clone();
                for (_, (s, child)) in results {
                    status = combine(status, s);
                    merge_scope(&mut merged, &scope, &child);
                }
                let status = self
                    .close(
                        status,
                        group.finally.clone(),
                        &merged,
                        &frame,
                        group.teardown,
                    )
                    .await;
                (status, merged)
            }
            GroupKind::ForEach(fe) => {
                let status = self.run_for_each(&group, fe, &scope, cancel, mode).await;
                (status, scope)
            }
        }
    }

    fn for_each_values(&self, fe: &ForEach, scope: &Scope) -> Result<Vec<String>, ExpandError> {
        let lookup = |n: &str| scope.env.get(n).map(str::to_string);
        let mut values: Vec<String> = match &fe.values {
            Values::List(items) => items
                .iter()
                .map(|v| expand_vars(v, &lookup))
                .collect::<Result<_, _>>()?,
            Values::Expr(text) => expand_vars(text, &lookup)?
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        };
        if values.is_empty() && !fe.allow_empty {
            return Err(ExpandError::Template(format!(
                "`{}` has no values, so no target would run; give values, or write `allow_empty: true`",
                fe.var
            )));
        }
        let only: Vec<&str> = self
            .inner
            .opts
            .only
            .iter()
            .filter(|(k, _)| *k == fe.var)
            .map(|(_, v)| v.as_str())
            .collect();
        if !only.is_empty() {
            values.retain(|v| only.contains(&v.as_str()));
        }
        if let Some((k, n)) = self.inner.opts.partition {
            values = values
                .into_iter()
                .enumerate()
                .filter(|(i, _)| i % n == k - 1)
                .map(|(_, v)| v)
                .collect();
        }
        Ok(values)
    }

    async fn run_for_each(
        &self,
        group: &Group,
        fe: &ForEach,
        scope: &Scope,
        cancel: Cancel,
        mode: Mode,
    ) -> Status {
        let values = match self.for_each_values(fe, scope) {
            Ok(v) => v,
            Err(e) => return self.for_each_failed(group, fe, scope, e),
        };
        self.inner.events.with_target(scope.target.clone()).log(
            Level::Info,
            format!(
                "{}: {} target(s): {}",
                group.display_name(),
                values.len(),
                values.join(", ")
            ),
        );
        let group_cancel = cancel.child();
        let limit = if fe.max_parallel == 0 {
            values.len().max(1)
        } else {
            fe.max_parallel
        };
        let sem = Arc::new(tokio::sync::Semaphore::new(limit));
        let mut set = tokio::task::JoinSet::new();
        for value in values {
            let sc = target_scope(scope, &fe.var, &value);
            let run = self.run_target(group, fe.fail_fast, sc, group_cancel.clone(), mode);
            let sem = sem.clone();
            set.spawn(async move {
                let _permit = sem.acquire_owned().await.ok();
                run.await
            });
        }
        let mut status = Status::Passed;
        while let Some(r) = set.join_next().await {
            match r {
                Ok(s) => status = combine(status, s),
                Err(e) => status = combine(status, self.lost_task(scope, e)),
            }
        }
        status
    }

    /// A for_each whose values cannot be had: a configuration error.
    fn for_each_failed(
        &self,
        group: &Group,
        fe: &ForEach,
        scope: &Scope,
        e: ExpandError,
    ) -> Status {
        let pos = if fe.values_pos.is_known() {
            fe.values_pos
        } else {
            group.pos
        };
        let msg = format!(
            "{}:{}:{}: for_each `values`: {e}",
            self.inner.file.path.display(),
            pos.line,
            pos.column
        );
        self.inner
            .events
            .with_target(scope.target.clone())
            .log(Level::Error, msg.clone());
        self.note_failure(&group.display_name(), &msg);
        self.note_config_error();
        Status::Errored
    }

    /// One target of a for_each: its steps (unless the group was
    /// cancelled first), then its `finally` and teardowns.
    fn run_target(
        &self,
        group: &Group,
        fail_fast: bool,
        sc: Scope,
        gc: Cancel,
        mode: Mode,
    ) -> BoxFut<Status> {
        let this = self.handle();
        let steps = group.steps.clone();
        let finally = group.finally.clone();
        let policy = group.teardown;
        Box::pin(async move {
            let frame = Frame::default();
            let (s, sc) = if gc.is_cancelled() && mode == Mode::Normal {
                for e in &steps {
                    this.skip_entry(e, &sc, "not run: the group was cancelled");
                }
                (Status::Cancelled, sc)
            } else {
                this.run_seq(steps, sc, gc.child(), frame.clone(), mode)
                    .await
            };
            if fail_fast && s.is_failure() {
                gc.cancel(CancelReason::FailFast);
            }
            this.close(s, finally, &sc, &frame, policy).await
        })
    }

    /// Ends a target, group or pipeline whose steps ended with `status`:
    /// its `finally` steps, then its recorded teardowns (per `policy`);
    /// returns the combined status.
    async fn close(
        &self,
        status: Status,
        finally: Vec<Entry>,
        scope: &Scope,
        frame: &Frame,
        policy: TeardownPolicy,
    ) -> Status {
        let status = combine(status, self.run_finally(finally, scope.clone()).await);
        combine(
            status,
            self.run_teardowns(frame, policy, status, scope).await,
        )
    }

    /// Runs `finally` entries (or after-steps): every one of them, whatever
    /// happened, under the cleanup cancellation.
    async fn run_finally(&self, entries: Vec<Entry>, scope: Scope) -> Status {
        self.run_cleanup_entries(entries, scope, &self.inner.cleanup_cancel)
            .await
    }

    /// Runs entries in cleanup mode under children of `cancel`.
    async fn run_cleanup_entries(
        &self,
        entries: Vec<Entry>,
        scope: Scope,
        cancel: &Cancel,
    ) -> Status {
        let mut status = Status::Passed;
        let mut scope = scope;
        for entry in entries {
            let (s, sc) = self
                .run_entry(
                    entry,
                    scope,
                    cancel.child(),
                    Frame::default(),
                    Mode::Cleanup,
                )
                .await;
            scope = sc;
            status = combine(status, s);
        }
        status
    }

    async fn run_after_steps(&self, pipeline: &Pipeline, mut scope: Scope, result: RunResult) {
        if pipeline.after_steps.is_empty() {
            return;
        }
        let failure = lock(&self.inner.first_failure).clone();
        for (k, v) in [
            ("RUNNER_RESULT", result.as_str()),
            ("WERCKER_RESULT", result.as_str()),
        ] {
            scope.env.set(k, v);
        }
        if let Some((step, message)) = &failure {
            for (k, v) in [
                ("RUNNER_FAILED_STEP", step.as_str()),
                ("WERCKER_FAILED_STEP_DISPLAY_NAME", step.as_str()),
                ("WERCKER_FAILED_STEP_NAME", step.as_str()),
                ("RUNNER_FAILED_MESSAGE", message.as_str()),
            ] {
                scope.env.set(k, v);
            }
        }
        let prepared = after::prepare(&pipeline.after_steps, &mut scope.env, &self.inner.registry);
        for w in prepared.warnings {
            self.inner.events.log(Level::Warn, w);
        }
        for n in prepared.notices {
            self.inner.events.log(Level::Info, n);
        }
        // Like `finally`: each runs whatever happened; a failing after-step
        // is reported but never changes the run's result. An interrupt that
        // lands now cancels the after-step that is running
        // (`Interrupter::interrupt`); the ones after it still run.
        let inner = &self.inner;
        inner
            .in_after
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // An interrupt that came between the result and the after-steps
        // lands on the first one.
        let mut pending = inner.run_cancel.is_cancelled() && result != RunResult::Cancelled;
        let mut scope = scope;
        for entry in prepared.entries {
            let cancel = inner.cleanup_cancel.child();
            *lock(&inner.after_cancel) = cancel.clone();
            if std::mem::take(&mut pending) {
                cancel.cancel(CancelReason::Interrupted);
            }
            let (_, next) = self
                .run_entry(entry, scope, cancel, Frame::default(), Mode::Cleanup)
                .await;
            scope = next;
        }
    }

    /// A configuration problem found while running makes the exit code 2 —
    /// unless something had already failed (then the run failed for that).
    fn note_config_error(&self) {
        if lock(&self.inner.first_failure).is_none() {
            *lock(&self.inner.config_error) = true;
        }
    }

    fn note_failure(&self, step: &str, message: &str) {
        let mut f = lock(&self.inner.first_failure);
        if f.is_none() {
            *f = Some((step.to_string(), message.to_string()));
        }
    }

    fn finish_step(
        &self,
        scope: &Scope,
        name: &str,
        kind: &str,
        status: Status,
        duration: Duration,
        message: Option<String>,
    ) {
        self.finish_record(
            scope,
            StepRecord {
                target: scope.target.clone(),
                name: name.to_string(),
                kind: kind.to_string(),
                status,
                duration,
                message,
                outputs: Map::new(),
                findings: Vec::new(),
                checks: Vec::new(),
            },
        );
    }

    fn pos_of(&self, entry: &StepEntry, property: Option<&str>) -> String {
        let pos = property
            .and_then(|p| entry.property_pos.get(p).copied())
            .unwrap_or(entry.pos);
        location(&self.inner.file.path, pos)
    }
}
