//! One step, in three parts: prepare (skip checks, expansion, building,
//! working directory, environment, the teardown record), run (the step
//! wrapped in step-core's policies — [`Timeout`], [`Retry`],
//! [`ContinueOnError`] — around the executor's own guard) and publish
//! (findings, checks, environment, outputs, the record).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use step_core::policy::{ContinueOnError, Retry, Timeout};
use step_core::{
    Cancel, Env, EventKind, EventSink, Level, Outcome, RunInfo, RunResult, Status, Step,
    StepContext, StepError,
};

use super::support::{Guarded, classify, template_context};
use super::{Executor, Frame, Mode, Scope, StepRecord, lock, panic, paths};
use crate::expand::{TemplateContext, expand_properties, expand_vars};
use crate::model::StepEntry;

/// A step ready to run.
struct Prepared {
    step: Box<dyn Step>,
    name: String,
    workdir: PathBuf,
    env: Env,
    sink: EventSink,
    started: Instant,
}

/// Why a step did not get to run.
enum NotRun {
    /// Skipped (`--skip`, `when`), with the reason.
    Skipped(String),
    /// Its configuration is wrong (exit 2).
    Errored(String),
    /// Building it panicked.
    Failed(String),
}

/// How a step's run ended.
struct Ran {
    status: Status,
    outcome: Option<Outcome>,
    message: Option<String>,
}

impl Executor {
    /// Runs one step entry: prepare, run, publish.
    pub(super) async fn run_step(
        &self,
        entry: &StepEntry,
        scope: &mut Scope,
        cancel: &Cancel,
        frame: &Frame,
        mode: Mode,
    ) -> Status {
        let started = Instant::now();
        let prepared = match self.prepare(entry, scope, frame) {
            Ok(p) => p,
            Err(not_run) => return self.not_run(entry, scope, not_run, started),
        };
        let ran = self.execute(entry, &prepared, scope, cancel, mode).await;
        self.publish(entry, prepared, scope, ran)
    }

    /// Records a step that did not run.
    fn not_run(&self, entry: &StepEntry, scope: &Scope, why: NotRun, started: Instant) -> Status {
        let (status, took, message) = match why {
            NotRun::Skipped(m) => (Status::Skipped, Duration::ZERO, m),
            NotRun::Errored(m) => {
                self.note_config_error();
                (Status::Errored, started.elapsed(), m)
            }
            NotRun::Failed(m) => (Status::Failed, started.elapsed(), m),
        };
        let name = entry.display_name();
        self.finish_step(scope, &name, &entry.kind, status, took, Some(message));
        status
    }

    /// Everything before the step runs; records its teardown.
    fn prepare(&self, entry: &StepEntry, scope: &Scope, frame: &Frame) -> Result<Prepared, NotRun> {
        let inner = &self.inner;
        let name = entry.display_name();
        if let Some(why) = self.skip_reason(entry, scope, &name) {
            return Err(NotRun::Skipped(why));
        }
        let started = Instant::now();
        let step = self.build_step(entry, scope)?;
        let workdir = self.workdir(entry, scope).map_err(NotRun::Errored)?;
        let mut env = scope.env.clone();
        env.set("WERCKER_STEP_NAME", name.clone());
        env.set("RUNNER_STEP_NAME", name.clone());
        if let Some(id) = &entry.common.id {
            env.set("WERCKER_STEP_ID", id.clone());
        }
        if let Some(teardown) = step.teardown() {
            let (undo, record) = teardown.into_parts();
            let seq = self
                .record_teardown(record, &name, &workdir, scope)
                .map_err(NotRun::Errored)?;
            // Run as it is at the end of the scope; the record is for
            // `runner cleanup` after a crash.
            lock(&self.inner.undo).insert(seq, undo);
            frame.push(seq);
        }
        let sink = inner.events.with_target(scope.target.clone()).scoped(&name);
        Ok(Prepared {
            step,
            name,
            workdir,
            env,
            sink,
            started,
        })
    }

    /// Why the step is skipped (`--skip`, a `when` that does not hold).
    fn skip_reason(&self, entry: &StepEntry, scope: &Scope, name: &str) -> Option<String> {
        let skip = &self.inner.opts.skip;
        if skip.iter().any(|s| s == name || *s == entry.kind) {
            return Some("skipped by --skip".into());
        }
        let when = entry.common.when.as_ref()?;
        (!when.holds(|v| scope.env.get(v).map(str::to_string)))
            .then(|| format!("`when: {}` does not hold", when.describe()))
    }

    /// Expands the properties and builds the step from its kind.
    fn build_step(&self, entry: &StepEntry, scope: &Scope) -> Result<Box<dyn Step>, NotRun> {
        if let Some(problem) = &entry.invalid {
            return Err(NotRun::Errored(format!(
                "{}: {problem}",
                self.pos_of(entry, None)
            )));
        }
        if let Some(step) = &entry.typed {
            return Ok(Box::new(step.0.clone()));
        }
        let Some((kind, _)) = self.inner.registry.get(&entry.kind) else {
            return Err(NotRun::Errored(format!(
                "{}: unknown step kind `{}`",
                self.pos_of(entry, None),
                entry.kind
            )));
        };
        let make = || template_context(scope);
        let context = TemplateContext::new(&make);
        let raw: &[&str] = if entry.kind == "script" {
            &["code", "teardown"]
        } else {
            &[]
        };
        let env_lookup = |n: &str| scope.env.get(n).map(str::to_string);
        let props =
            expand_properties(&entry.properties, raw, &env_lookup, &context).map_err(|e| {
                NotRun::Errored(format!(
                    "{}: property `{}`: {}",
                    self.pos_of(entry, Some(&e.property)),
                    e.property,
                    e.error
                ))
            })?;
        let built =
            panic::catch_panic_sync(|| kind.build(Value::Object(props))).map_err(NotRun::Failed)?;
        built.map_err(|e| {
            let top = e
                .property
                .as_deref()
                .map(|p| p.split(['.', '[']).next().unwrap_or(p).to_string());
            NotRun::Errored(format!("{}: {e}", self.pos_of(entry, top.as_deref())))
        })
    }

    /// The step's working directory: `cwd` expanded, under the root; it must exist.
    fn workdir(&self, entry: &StepEntry, scope: &Scope) -> Result<PathBuf, String> {
        let root = &self.inner.opts.root;
        let workdir = match &entry.common.cwd {
            Some(cwd) => match expand_vars(cwd, &|n| scope.env.get(n).map(str::to_string)) {
                Ok(c) => root.join(c),
                Err(e) => {
                    return Err(format!(
                        "{}: property `cwd`: {e}",
                        self.pos_of(entry, Some("cwd"))
                    ));
                }
            },
            None => root.clone(),
        };
        if !workdir.is_dir() {
            return Err(format!(
                "{}: working directory {} does not exist",
                self.pos_of(entry, Some("cwd")),
                workdir.display()
            ));
        }
        Ok(workdir)
    }

    /// The run facts a step sees (after-steps see the run's result).
    fn run_info(&self, scope: &Scope, env: &Env) -> RunInfo {
        let inner = &self.inner;
        let failure = lock(&inner.first_failure).clone();
        let result = match env.get("RUNNER_RESULT") {
            Some("passed") => Some(RunResult::Passed),
            Some("failed") => Some(RunResult::Failed),
            Some("cancelled") => Some(RunResult::Cancelled),
            _ => None,
        };
        RunInfo {
            run_id: inner.opts.run_id.clone(),
            pipeline: lock(&inner.pipeline).clone(),
            result,
            failed_step: failure.as_ref().map(|f| f.0.clone()),
            failed_message: failure.map(|f| f.1),
            target: scope.target.clone(),
            elapsed_secs: inner.started.elapsed().as_secs(),
        }
    }

    /// Runs the prepared step under its policies: the executor's guard
    /// (panics, the stop policy) inside `Timeout`, inside `Retry`, inside
    /// `ContinueOnError`.
    async fn execute(
        &self,
        entry: &StepEntry,
        prepared: &Prepared,
        scope: &Scope,
        cancel: &Cancel,
        mode: Mode,
    ) -> Ran {
        let inner = &self.inner;
        let paths_root = inner.opts.paths_root.as_ref().unwrap_or(&inner.opts.root);
        prepared.sink.emit(EventKind::StepStarted {
            kind: entry.kind.clone(),
            cwd: Some(paths::relative_to(paths_root, &prepared.workdir)),
        });
        let timeout = entry.common.timeout.or(match mode {
            Mode::Cleanup => Some(inner.opts.cleanup_timeout),
            Mode::Normal => None,
        });
        let step = policies(&*prepared.step, timeout, entry);
        let step_cancel = cancel.child();
        let cx = StepContext::new(
            prepared.workdir.clone(),
            prepared.env.clone(),
            prepared.sink.clone(),
            step_cancel.clone(),
        )
        .with_outputs(scope.outputs.clone())
        .with_run(self.run_info(scope, &prepared.env))
        .with_stop_policy(prepared.step.stop_policy())
        .with_locate(self.locator(entry, &prepared.workdir));
        let cx = match self.spawn_observer() {
            Some(o) => cx.with_spawn_observer(o),
            None => cx,
        };
        // The context emits the findings and checks, placed.
        let result = cx.run_step(&*step).await;
        if matches!(result, Err(StepError::Config(_))) {
            // A property the step found wrong while running (a file it
            // names does not exist): a configuration error, exit 2.
            self.note_config_error();
        }
        let (status, outcome, message) = classify(result, &step_cancel, timeout);
        Ran {
            status,
            outcome,
            message,
        }
    }

    /// After the step: its findings and checks, its environment and
    /// outputs (when it did not fail), and its record.
    fn publish(
        &self,
        entry: &StepEntry,
        prepared: Prepared,
        scope: &mut Scope,
        ran: Ran,
    ) -> Status {
        let Ran {
            status,
            outcome,
            message,
        } = ran;
        if let Some(outcome) = &outcome {
            for w in &outcome.warnings {
                prepared.sink.log(Level::Warn, w.clone());
            }
            if !status.is_failure() {
                self.apply_outcome(entry, &prepared, scope, outcome);
            }
        }
        let record = StepRecord {
            target: scope.target.clone(),
            name: prepared.name,
            kind: entry.kind.clone(),
            status,
            duration: prepared.started.elapsed(),
            message,
            outputs: Default::default(),
            findings: Vec::new(),
            checks: Vec::new(),
        };
        let record = match outcome {
            Some(o) => StepRecord {
                outputs: o.outputs,
                findings: o.findings,
                checks: o.checks,
                ..record
            },
            None => record,
        };
        self.finish_record(scope, record);
        status
    }

    /// Places the step's findings and checks: paths relative to the
    /// paths root, and a finding (or failed check) without a place at the
    /// step's entry.
    fn locator(&self, entry: &StepEntry, workdir: &std::path::Path) -> Placer {
        let inner = &self.inner;
        let root = inner.opts.paths_root.as_ref().unwrap_or(&inner.opts.root);
        let here = paths::entry_location(root, &inner.file.path, entry.pos.line, entry.pos.column);
        Placer {
            root: root.clone(),
            workdir: workdir.to_path_buf(),
            here,
        }
    }

    /// Applies a step's environment changes and publishes its outputs (to
    /// later steps, and to the output file with `export_output`).
    fn apply_outcome(
        &self,
        entry: &StepEntry,
        prepared: &Prepared,
        scope: &mut Scope,
        outcome: &Outcome,
    ) {
        let inner = &self.inner;
        for change in &outcome.env {
            if let step_core::EnvChange::Set {
                value,
                secret: true,
                ..
            } = change
            {
                inner.events.add_secrets([value.clone()]);
            }
            scope.env.apply(change);
        }
        if let Some(id) = &entry.common.id {
            scope
                .outputs
                .insert(id.clone(), Value::Object(outcome.outputs.clone()));
        }
        if entry.common.export_output
            && let Some(file) = &inner.opts.output_file
        {
            let prefix = entry.common.id.as_deref().unwrap_or(&prepared.name);
            let masker = inner.events.masker();
            let target = scope.target.as_deref();
            if let Err(e) = paths::export_outputs(file, target, prefix, &outcome.outputs, &masker) {
                prepared.sink.log(
                    Level::Warn,
                    format!("cannot write the outputs to {}: {e}", file.display()),
                );
            }
        }
    }
}

/// The step under the entry's policies, innermost first: the executor's
/// guard, `timeout`, `retries`, `continue_on_error`.
fn policies<'a>(
    step: &'a dyn Step,
    timeout: Option<Duration>,
    entry: &StepEntry,
) -> Box<dyn Step + 'a> {
    let mut step: Box<dyn Step + 'a> = Box::new(Guarded::new(step));
    if let Some(t) = timeout {
        step = Box::new(Timeout::new(step, t));
    }
    if entry.common.retries > 0 {
        step = Box::new(Retry::new(step, entry.common.retries));
    }
    if entry.common.continue_on_error {
        step = Box::new(ContinueOnError::new(step));
    }
    step
}

/// The runner's [`Locate`](step_core::context::Locate).
struct Placer {
    root: PathBuf,
    workdir: PathBuf,
    here: step_core::Location,
}

impl step_core::context::Locate for Placer {
    fn finding(&self, finding: &mut step_core::Finding) {
        match &mut finding.location {
            Some(l) => paths::rebase(l, &self.root, &self.workdir),
            None => finding.location = Some(self.here.clone()),
        }
    }

    fn check(&self, check: &mut step_core::CheckResult) {
        match &mut check.location {
            Some(l) => paths::rebase(l, &self.root, &self.workdir),
            None if check.status.is_failure() => check.location = Some(self.here.clone()),
            None => {}
        }
    }
}
