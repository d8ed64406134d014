//! Teardowns: recording what undoes a step in the durable manifest before
//! it starts, and running recorded teardowns — at the end of their target,
//! group or pipeline, or later from `runner cleanup`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Map;
use step_core::{
    Cancel, Env, EventKind, EventSink, Level, RunInfo, SpawnObserver, Status, Step, StepContext,
    StepSpec,
};

use super::support::{Guarded, classify, combine, millis, replace_in_json};
use super::{Executor, Frame, Scope, lock};
use crate::model::TeardownPolicy;
use crate::registry::Registry;
use crate::state::{EnvPart, RunManifest, TeardownEntry, TeardownStatus};

impl Executor {
    /// Runs the teardowns registered in a frame, newest first.
    pub(super) async fn run_teardowns(
        &self,
        frame: &Frame,
        policy: TeardownPolicy,
        status: Status,
        scope: &Scope,
    ) -> Status {
        let seqs = frame.take();
        if seqs.is_empty() {
            return Status::Passed;
        }
        let Some(manifest) = lock(&self.inner.manifest).clone() else {
            return Status::Passed;
        };
        let keep_reason = if self.inner.opts.keep {
            Some("--keep")
        } else if policy == TeardownPolicy::Never {
            Some("teardown: never")
        } else if policy == TeardownPolicy::OnSuccess && status.is_failure() {
            Some("teardown: on_success and the group failed")
        } else {
            None
        };
        let mut result = Status::Passed;
        for seq in seqs.into_iter().rev() {
            let Some(entry) = manifest.entry(seq) else {
                continue;
            };
            if let Some(why) = keep_reason {
                let _ = manifest.mark(seq, TeardownStatus::Kept, Some(why.into()));
                self.note_teardown(&entry, TeardownStatus::Kept, Some(why));
                self.inner.events.with_target(entry.target.clone()).log(
                    Level::Warn,
                    format!(
                        "kept (not torn down, {why}): {} — `runner cleanup` removes it",
                        entry.step
                    ),
                );
                continue;
            }
            let s = run_teardown(
                &self.inner.registry,
                &entry,
                &scope.env,
                &self.inner.events,
                self.inner.cleanup_cancel.child(),
                self.inner.opts.cleanup_timeout,
                Some(self),
            )
            .await;
            let (st, msg) = s;
            let msg = msg.map(|m| self.inner.events.masker().mask(&m).into_owned());
            let ended = if st.is_failure() {
                TeardownStatus::Failed
            } else {
                TeardownStatus::Done
            };
            self.note_teardown(&entry, ended, msg.as_deref());
            let _ = manifest.mark(seq, ended, msg);
            result = combine(result, st);
        }
        result
    }

    pub(super) fn manifest(&self) -> Result<Arc<RunManifest>, String> {
        let mut m = lock(&self.inner.manifest);
        if let Some(m) = m.as_ref() {
            return Ok(m.clone());
        }
        let created = RunManifest::create(
            &self.inner.opts.state_dir,
            &self.inner.opts.run_id,
            &lock(&self.inner.pipeline),
            &self.inner.file.path,
        )
        .map_err(|e| format!("cannot record the teardown: {e}"))?;
        let created = Arc::new(created);
        *m = Some(created.clone());
        Ok(created)
    }

    /// Starts the journal with the run (so the process groups of every step
    /// are recorded) and points `STEPWISE_TMPDIR` at the run's private
    /// temporary directory. A journal that cannot be written is a warning
    /// here; a step that needs a teardown recorded still fails.
    pub(super) fn private_tmp(&self, mut scope: Scope) -> Scope {
        match self.manifest().and_then(|m| m.make_tmp_dir().map_err(|e| e.to_string())) {
            Ok(dir) => scope.env.set("STEPWISE_TMPDIR", dir.display().to_string()),
            Err(e) => self.inner.events.log(
                Level::Warn,
                format!("the run's journal is not written ({e}); `runner cleanup` cannot end what a crash leaves"),
            ),
        }
        scope
    }

    /// Records every process group a step starts in the journal.
    pub(super) fn spawn_observer(&self) -> Option<SpawnObserver> {
        let manifest = Arc::downgrade(lock(&self.inner.manifest).as_ref()?);
        Some(SpawnObserver::new(move |pgid, waits| {
            if let Some(m) = manifest.upgrade() {
                let _ = m.note_group(pgid, waits);
            }
        }))
    }

    pub(super) fn record_teardown(
        &self,
        spec: StepSpec,
        step: &str,
        workdir: &std::path::Path,
        scope: &Scope,
    ) -> Result<u64, String> {
        let manifest = self.manifest()?;
        let masker = self.inner.events.masker();
        let secrets: Vec<(String, String)> = scope
            .env
            .secret_names()
            .filter_map(|n| Some((n.to_string(), scope.env.get(n)?.to_string())))
            .filter(|(_, v)| v.chars().count() >= step_core::mask::MIN_SECRET_LEN)
            .collect();
        let mut secret_vars = Vec::new();
        let mut properties = spec.properties;
        for (name, value) in &secrets {
            if replace_in_json(&mut properties, value, &format!("${{{name}}}")) {
                secret_vars.push(name.clone());
            }
        }
        let mut env = BTreeMap::new();
        let mut secret_env = BTreeMap::new();
        for (k, v) in scope.env.iter() {
            // The run's private temp dir is gone by the time `runner cleanup` runs.
            if scope.env.is_secret(k)
                || k == "STEPWISE_TMPDIR"
                || self.inner.process_env.get(k).map(String::as_str) == Some(v)
            {
                continue;
            }
            if let Some(parts) = crate::state::secret_refs(v, &secrets) {
                secret_env.insert(k.to_string(), parts);
            } else if masker.mask(v) != v {
                // An encoded form of a secret: only a reference to the
                // variable itself is stored; cleanup needs it set.
                secret_env.insert(k.to_string(), vec![EnvPart::Secret(k.to_string())]);
            } else {
                env.insert(k.to_string(), v.to_string());
            }
        }
        manifest
            .note_secret_names(scope.env.secret_names())
            .map_err(|e| format!("cannot record the teardown of `{step}`: {e}"))?;
        let mask = |t: &str| masker.mask(t).into_owned();
        manifest
            .record(TeardownEntry {
                seq: 0,
                target: scope.target.as_deref().map(mask),
                step: mask(step),
                workdir: workdir.to_path_buf(),
                spec: StepSpec {
                    kind: spec.kind,
                    properties,
                },
                env,
                secret_vars,
                secret_env,
                status: TeardownStatus::Pending,
                recorded_at: String::new(),
                message: None,
            })
            .map_err(|e| format!("cannot record the teardown of `{}`: {e}", mask(step)))
    }
}

/// Runs one recorded teardown. `env` supplies the values of its secret
/// variables (the run's env, or `runner cleanup`'s own environment).
pub async fn run_teardown(
    registry: &Registry,
    entry: &TeardownEntry,
    env: &Env,
    events: &EventSink,
    cancel: Cancel,
    timeout: Duration,
    executor: Option<&Executor>,
) -> (Status, Option<String>) {
    let name = format!("teardown: {}", entry.step);
    let sink = events.with_target(entry.target.clone()).scoped(&name);
    let started = Instant::now();
    let finish = |status: Status, message: Option<String>| {
        match executor {
            Some(ex) => {
                let scope = Scope {
                    env: Env::new(),
                    outputs: Map::new(),
                    target: entry.target.clone(),
                    vars: Map::new(),
                };
                ex.finish_step(
                    &scope,
                    &name,
                    &entry.spec.kind,
                    status,
                    started.elapsed(),
                    message.clone(),
                );
            }
            None => sink.emit(EventKind::StepFinished {
                status,
                duration_ms: millis(started.elapsed()),
                message: message.clone(),
            }),
        }
        (status, message)
    };
    let undo = executor.and_then(|ex| lock(&ex.inner.undo).remove(&entry.seq));
    let (step, step_env) = match teardown_step(registry, entry, env, undo) {
        Ok(built) => built,
        Err((status, message)) => return finish(status, Some(message)),
    };
    sink.emit(EventKind::StepStarted {
        kind: entry.spec.kind.clone(),
        cwd: Some(entry.workdir.to_string_lossy().into_owned()),
    });
    let step_cancel = cancel.child();
    let cx = StepContext::new(
        entry.workdir.clone(),
        step_env,
        sink.clone(),
        step_cancel.clone(),
    )
    .with_run(RunInfo {
        target: entry.target.clone(),
        ..RunInfo::default()
    })
    .with_stop_policy(step.stop_policy());
    let cx = match executor.and_then(Executor::spawn_observer) {
        Some(o) => cx.with_spawn_observer(o),
        None => cx,
    };
    let guarded = step_core::policy::Timeout::new(Guarded::new(step), timeout);
    let result = step_core::Step::run(&guarded, &cx).await;
    let (status, _, message) = classify(result, &step_cancel, Some(timeout));
    finish(status, message)
}

/// A recorded teardown's step — `undo`, the step itself, when this run
/// recorded it; else built from its record, with its secrets put back from
/// `env` — and the environment it runs with.
fn teardown_step(
    registry: &Registry,
    entry: &TeardownEntry,
    env: &Env,
    undo: Option<Box<dyn Step>>,
) -> Result<(Box<dyn Step>, Env), (Status, String)> {
    let errored = |m: String| (Status::Errored, m);
    let step = match undo {
        Some(step) => step,
        None => build_recorded(registry, entry, env)?,
    };
    let mut step_env = env.clone();
    for (k, v) in &entry.env {
        if step_env.get(k).is_none() || !env.is_secret(k) {
            step_env.set(k.clone(), v.clone());
        }
    }
    for (k, parts) in &entry.secret_env {
        match crate::state::resolve_refs(parts, |n| env.get(n).map(str::to_string)) {
            Ok(v) => step_env.set_secret(k.clone(), v),
            Err(crate::state::MissingSecret { name }) => {
                return Err(errored(format!(
                    "the secret variable `{name}` this teardown needs (for `{k}`) is not set"
                )));
            }
        }
    }
    Ok((step, step_env))
}

/// Builds a teardown's step from its record (`runner cleanup`, or a step
/// whose teardown this run did not record), its secrets put back from `env`.
fn build_recorded(
    registry: &Registry,
    entry: &TeardownEntry,
    env: &Env,
) -> Result<Box<dyn Step>, (Status, String)> {
    let errored = |m: String| (Status::Errored, m);
    let mut properties = entry.spec.properties.clone();
    for name in &entry.secret_vars {
        let Some(v) = env.get(name) else {
            return Err(errored(format!(
                "the secret variable `{name}` this teardown needs is not set"
            )));
        };
        replace_in_json(&mut properties, &format!("${{{name}}}"), v);
    }
    let Some((kind, _)) = registry.get(&entry.spec.kind) else {
        return Err(errored(format!("unknown step kind `{}`", entry.spec.kind)));
    };
    kind.build(properties).map_err(|e| errored(e.to_string()))
}
