//! What embedders use besides [`Executor::new`] and [`Executor::run`]:
//! passing their own cancellation, and the executor's internal handles.

use std::sync::Arc;

use step_core::Cancel;

use super::Executor;

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
