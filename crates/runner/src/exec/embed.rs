//! What embedders use besides [`Executor::new`] and [`Executor::run`]:
//! passing their own cancellation, and the records a run hands back in
//! its [`super::RunReport`] (steps with their outputs, findings and checks,
//! and teardowns), masked like every other output.

use std::sync::Arc;

use serde_json::Value;
use step_core::{Cancel, EventKind, Masker};

use super::support::millis;
use super::{Executor, Scope, StepRecord, lock};
use crate::state::{TeardownEntry, TeardownStatus};

/// One teardown a run ran (or kept up on purpose).
#[derive(Clone, Debug, PartialEq)]
pub struct TeardownRecord {
    /// The target of the step it undoes.
    pub target: Option<String>,
    /// The display name of the step it undoes.
    pub step: String,
    /// The teardown's kind (`terraform-destroy`, `script`).
    pub kind: String,
    /// How it ended: [`TeardownStatus::Done`], [`TeardownStatus::Failed`]
    /// or [`TeardownStatus::Kept`].
    pub status: TeardownStatus,
    /// What it said (or why it was kept), masked.
    pub message: Option<String>,
}

impl Executor {
    /// Runs under the caller's `cancel` instead of a fresh one: cancelling
    /// it stops the running steps gracefully, as a first interrupt does
    /// (`finally` steps, teardowns and after-steps still run, and the run
    /// ends `Cancelled` when the reason is [`step_core::CancelReason::Interrupted`]);
    /// [`Cancel::kill_now`] on it kills the running steps at once.
    ///
    /// Call it before [`Executor::interrupter`]: interrupters cancel the
    /// run's cancellation as it is when they are made.
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
    ///     .into_file();
    /// let cancel = Cancel::new();
    /// let executor = Executor::new(
    ///     Arc::new(Registry::builtin()),
    ///     Arc::new(file),
    ///     RunOptions::new(dir.path().to_path_buf()),
    ///     EventSink::new(),
    /// )
    /// .with_cancel(cancel.clone());
    /// cancel.cancel(CancelReason::Interrupted);
    /// let report = tokio::runtime::Runtime::new().unwrap().block_on(executor.run("p"));
    /// assert_eq!(report.result, RunResult::Cancelled);
    /// ```
    pub fn with_cancel(mut self, cancel: Cancel) -> Self {
        // An `Executor` is not `Clone` and `run` takes it by value, so
        // before a run this is the only handle to its state.
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.run_cancel = cancel;
        }
        self
    }

    /// Another handle to the same run, for the executor's own tasks.
    pub(super) fn handle(&self) -> Executor {
        Executor {
            inner: self.inner.clone(),
        }
    }
}

impl Executor {
    /// Ends a step: emits `StepFinished`, notes a failure for the
    /// after-steps, and keeps its record with every text masked.
    pub(super) fn finish_record(&self, scope: &Scope, mut record: StepRecord) {
        let sink = self
            .inner
            .events
            .with_target(scope.target.clone())
            .scoped(&record.name);
        sink.emit(EventKind::StepFinished {
            status: record.status,
            duration_ms: millis(record.duration),
            message: record.message.clone(),
        });
        let masker = sink.masker();
        mask_record(&masker, &mut record);
        if record.status.is_failure() {
            let label = match &scope.target {
                Some(t) => format!("[{t}] {}", record.name),
                None => record.name.clone(),
            };
            let label = masker.mask(&label).into_owned();
            let message = record.message.as_deref();
            self.note_failure(&label, message.unwrap_or(record.status.as_str()));
        }
        lock(&self.inner.records).push(record);
    }

    /// Keeps what became of a recorded teardown for the run's report.
    pub(super) fn note_teardown(
        &self,
        entry: &TeardownEntry,
        status: TeardownStatus,
        message: Option<&str>,
    ) {
        let masker = self.inner.events.masker();
        lock(&self.inner.teardowns).push(TeardownRecord {
            target: entry.target.as_deref().map(|t| masker.mask(t).into_owned()),
            step: masker.mask(&entry.step).into_owned(),
            kind: entry.spec.kind.clone(),
            status,
            message: message.map(|m| masker.mask(m).into_owned()),
        });
    }
}

/// Masks the secret values in every text of a step's record.
fn mask_record(masker: &Masker, record: &mut StepRecord) {
    // A for_each value (the target) or a name built from one can hold a
    // secret.
    if let Some(t) = &mut record.target {
        masker.mask_in_place(t);
    }
    masker.mask_in_place(&mut record.name);
    if let Some(m) = &mut record.message {
        masker.mask_in_place(m);
    }
    for v in record.outputs.values_mut() {
        mask_value(masker, v);
    }
    for f in &mut record.findings {
        masker.mask_in_place(&mut f.message);
        if let Some(d) = &mut f.detail {
            masker.mask_in_place(d);
        }
    }
    for c in &mut record.checks {
        masker.mask_in_place(&mut c.name);
        if let Some(m) = &mut c.message {
            masker.mask_in_place(m);
        }
    }
}

/// Masks the secret values in every string of a JSON value.
fn mask_value(masker: &Masker, value: &mut Value) {
    match value {
        Value::String(s) => masker.mask_in_place(s),
        Value::Array(items) => items.iter_mut().for_each(|v| mask_value(masker, v)),
        Value::Object(map) => map.values_mut().for_each(|v| mask_value(masker, v)),
        _ => {}
    }
}
