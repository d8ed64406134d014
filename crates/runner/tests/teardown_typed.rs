//! Typed teardowns: a step's teardown is built from the undoing step's own
//! type and configuration (`Teardown::of`), runs as that step at the end
//! of its scope, and is recorded in the state file so that a crashed run's
//! teardown can still be built and run from the record.

// Test set-up that cannot work (no temp dir) should panic loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use runner::builder::{PipelineBuilder, typed};
use runner::exec::{Executor, RunOptions, run_teardown};
use runner::registry::Registry;
use runner::state::{TeardownStatus, list_runs};
use step_core::step::FnKind;
use step_core::{
    Cancel, ConfigError, Env, EventSink, Outcome, Recorded, RunResult, Status, Step, StepContext,
    StepDescription, StepError, Teardown, Value, async_trait,
};

/// Removes what [`Provision`] made: writes `file`. `typed` is set when
/// this very value runs (a step built again from its record has its own).
struct Unprovision {
    file: PathBuf,
    typed: Arc<AtomicBool>,
}

#[async_trait]
impl Step for Unprovision {
    async fn run(&self, _cx: &StepContext) -> Result<Outcome, StepError> {
        std::fs::write(&self.file, "removed").map_err(|e| StepError::Other(e.to_string()))?;
        self.typed.store(true, Ordering::SeqCst);
        Ok(Outcome::passed())
    }
}

impl Recorded for Unprovision {
    const KIND: &'static str = "unprovision";

    fn properties(&self) -> Value {
        serde_json::json!({ "file": self.file })
    }
}

/// Makes something; undone by an [`Unprovision`] of the same file.
struct Provision {
    file: PathBuf,
    typed: Arc<AtomicBool>,
}

#[async_trait]
impl Step for Provision {
    async fn run(&self, _cx: &StepContext) -> Result<Outcome, StepError> {
        Ok(Outcome::passed())
    }

    fn teardown(&self) -> Option<Teardown> {
        Some(Teardown::of(Unprovision {
            file: self.file.clone(),
            typed: self.typed.clone(),
        }))
    }
}

/// The built-ins and `unprovision`, built from its record.
fn registry() -> Arc<Registry> {
    let mut r = Registry::builtin();
    r.register(FnKind::boxed(
        || StepDescription::new("unprovision", "removes"),
        |props: Value| -> Result<Box<dyn Step>, ConfigError> {
            let file = props
                .get("file")
                .and_then(Value::as_str)
                .ok_or_else(|| ConfigError::property("file", "a path"))?;
            Ok(Box::new(Unprovision {
                file: file.into(),
                typed: Arc::new(AtomicBool::new(false)),
            }))
        },
    ));
    Arc::new(r)
}

#[tokio::test]
async fn a_typed_teardown_runs_as_the_undoing_step_and_is_recorded_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let typed_ran = Arc::new(AtomicBool::new(false));
    let removed = dir.path().join("removed");
    let file = PipelineBuilder::new("p")
        .step(
            typed(Provision {
                file: removed.clone(),
                typed: typed_ran.clone(),
            })
            .name("provision"),
        )
        .into_file();
    let report = Executor::new(
        registry(),
        Arc::new(file),
        RunOptions::new(dir.path().to_path_buf()),
        EventSink::new(),
    )
    .run("p")
    .await;
    assert_eq!(report.result, RunResult::Passed, "{:?}", report.steps);
    assert_eq!(report.teardowns.len(), 1);
    assert_eq!(report.teardowns[0].kind, "unprovision");
    assert_eq!(report.teardowns[0].status, TeardownStatus::Done);
    assert!(removed.exists());
    assert!(
        typed_ran.load(Ordering::SeqCst),
        "the step value itself ran, not one built again from its record"
    );
}

#[tokio::test]
async fn a_kept_typed_teardown_is_run_later_from_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let removed = dir.path().join("removed");
    let file = PipelineBuilder::new("p")
        .step(typed(Provision {
            file: removed.clone(),
            typed: Arc::new(AtomicBool::new(false)),
        }))
        .into_file();
    let mut opts = RunOptions::new(dir.path().to_path_buf());
    opts.keep = true;
    let state_dir = opts.state_dir.clone();
    let report = Executor::new(registry(), Arc::new(file), opts, EventSink::new())
        .run("p")
        .await;
    assert!(report.outstanding_teardowns);
    assert!(!removed.exists());
    // As `runner cleanup` does, from the state file alone.
    let runs = list_runs(&state_dir);
    assert_eq!(runs.len(), 1);
    let state = runs.into_iter().next().unwrap().1.unwrap();
    let entry = &state.teardowns[0];
    assert_eq!(entry.spec.kind, "unprovision");
    let (status, message) = run_teardown(
        &registry(),
        entry,
        &Env::new(),
        &EventSink::new(),
        Cancel::new(),
        Duration::from_secs(30),
        None,
    )
    .await;
    assert_eq!(status, Status::Passed, "{message:?}");
    assert!(removed.exists());
}
