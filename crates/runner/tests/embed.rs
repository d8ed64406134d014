//! The runner as a library: pipelines built with the builder API, custom
//! step types registered through closures, and what a run hands back.

// Test set-up that cannot work (no temp dir) should panic loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use runner::builder::{PipelineBuilder, for_each, group, parallel, step, typed};
use runner::exec::{Executor, RunOptions, RunReport, StepRecord};
use runner::model::PipelineFile;
use runner::registry::Registry;
use runner::state::TeardownStatus;
use step_core::step::FnKind;
use step_core::{
    Cancel, CancelReason, CheckResult, ConfigError, EventKind, EventSink, Finding, MemoryListener,
    Outcome, RunResult, Severity, Status, Step, StepContext, StepDescription, StepError, Value,
    async_trait,
};

const SECRET: &str = "tok-9f8e7d6c5b4a";

/// A step that panics while it runs, after yielding once.
struct Panicky;

#[async_trait]
impl Step for Panicky {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        tokio::task::yield_now().await;
        let target = cx.env().get("RUNNER_TARGET").unwrap_or("none").to_string();
        panic!("boom in {target}");
    }
}

/// A step that reports: outputs (one holding the secret `API_TOKEN`), a
/// finding and a check.
struct Reporter;

#[async_trait]
impl Step for Reporter {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let token = cx.env().get("API_TOKEN").unwrap_or_default().to_string();
        Ok(Outcome::passed()
            .with_output("greeting", "hello")
            .with_output("count", 3)
            .with_output("auth", format!("Bearer {token}"))
            .with_findings([Finding::new("R1", Severity::Low, "a finding")])
            .with_checks([CheckResult::new("port 22 is closed", Status::Passed)]))
    }
}

/// The registry of the built-ins, `reporter`, and `panicky` (panics when it runs, or
/// when it is built if its `at` property is `build`).
fn registry() -> Arc<Registry> {
    let mut r = Registry::builtin();
    let word = String::from("boom");
    r.register(FnKind::boxed(
        || StepDescription::new("panicky", "panics"),
        move |props: Value| -> Result<Box<dyn Step>, ConfigError> {
            if props.get("at").and_then(Value::as_str) == Some("build") {
                panic!("{word} while building");
            }
            Ok(Box::new(Panicky))
        },
    ));
    r.register(FnKind::boxed(
        || StepDescription::new("reporter", "reports"),
        |_props: Value| -> Result<Box<dyn Step>, ConfigError> { Ok(Box::new(Reporter)) },
    ));
    Arc::new(r)
}

fn options(dir: &Path) -> RunOptions {
    let mut opts = RunOptions::new(dir.to_path_buf());
    opts.cleanup_timeout = std::time::Duration::from_secs(60);
    opts.env.insert("API_TOKEN", SECRET, true);
    opts
}

async fn run(dir: &Path, file: PipelineFile, name: &str) -> RunReport {
    Executor::new(registry(), Arc::new(file), options(dir), EventSink::new())
        .run(name)
        .await
}

/// A script step that creates `file` in the run's root.
fn touch(file: &str) -> runner::builder::StepBuilder {
    step("script").prop("code", format!("touch {file}"))
}

/// A script step whose teardown creates `file`.
fn with_teardown(file: &str) -> runner::builder::StepBuilder {
    step("script")
        .prop("code", "true")
        .prop("teardown", format!("touch {file}"))
}

fn records<'a>(report: &'a RunReport, kind: &str) -> Vec<&'a StepRecord> {
    report.steps.iter().filter(|r| r.kind == kind).collect()
}

fn assert_panic_recorded(record: &StepRecord, text: &str) {
    assert_eq!(record.status, Status::Failed, "{record:?}");
    let message = record.message.as_deref().unwrap_or_default();
    assert!(
        message.contains("panicked") && message.contains(text),
        "{message}"
    );
}

#[tokio::test]
async fn a_panic_in_a_sequence_fails_the_step_and_cleanup_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = PipelineBuilder::new("p")
        .step(
            group()
                .step(with_teardown("torn-down"))
                .step(step("panicky"))
                .step(touch("not-reached"))
                .finally(touch("finally-ran")),
        )
        .into_file();
    let report = run(dir.path(), file, "p").await;
    assert_eq!(report.result, RunResult::Failed);
    let panicky = records(&report, "panicky");
    assert_eq!(panicky.len(), 1);
    assert_panic_recorded(panicky[0], "boom in none");
    assert!(dir.path().join("finally-ran").exists());
    assert!(dir.path().join("torn-down").exists());
    assert!(!dir.path().join("not-reached").exists());
}

#[tokio::test]
async fn a_panic_while_building_a_step_fails_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = PipelineBuilder::new("p")
        .step(step("panicky").prop("at", "build"))
        .finally(touch("finally-ran"))
        .into_file();
    let report = run(dir.path(), file, "p").await;
    assert_eq!(report.result, RunResult::Failed);
    assert!(!report.config_error, "a panic is no configuration error");
    assert_panic_recorded(records(&report, "panicky")[0], "boom while building");
    assert!(dir.path().join("finally-ran").exists());
}

#[tokio::test]
async fn a_panic_in_parallel_fails_the_run_and_its_finally_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = PipelineBuilder::new("p")
        .step(
            parallel()
                .step(with_teardown("torn-down"))
                .step(step("panicky"))
                .step(touch("sibling-ran"))
                .finally(touch("finally-ran")),
        )
        .into_file();
    let report = run(dir.path(), file, "p").await;
    assert_eq!(report.result, RunResult::Failed);
    assert_panic_recorded(records(&report, "panicky")[0], "boom");
    assert!(dir.path().join("sibling-ran").exists());
    assert!(dir.path().join("finally-ran").exists());
    assert!(dir.path().join("torn-down").exists());
}

#[tokio::test]
async fn a_panic_in_for_each_is_recorded_per_target_with_its_finally() {
    let dir = tempfile::tempdir().unwrap();
    let file = PipelineBuilder::new("p")
        .step(
            for_each("CLOUD", &["aws", "gcp"])
                .step(with_teardown("torn-down-$CLOUD"))
                .step(step("panicky"))
                .finally(touch("finally-$CLOUD")),
        )
        .into_file();
    let report = run(dir.path(), file, "p").await;
    assert_eq!(report.result, RunResult::Failed);
    let panicky = records(&report, "panicky");
    assert_eq!(panicky.len(), 2, "{:?}", report.steps);
    for cloud in ["aws", "gcp"] {
        let record = panicky
            .iter()
            .find(|r| r.target.as_deref() == Some(cloud))
            .expect("a record per target");
        assert_panic_recorded(record, &format!("boom in {cloud}"));
        assert!(dir.path().join(format!("finally-{cloud}")).exists());
        assert!(dir.path().join(format!("torn-down-{cloud}")).exists());
    }
}

#[tokio::test]
async fn a_panicking_after_step_is_recorded_and_the_next_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = PipelineBuilder::new("p")
        .step(step("panicky"))
        .after_step(step("panicky"))
        .after_step(touch("after-ran"))
        .into_file();
    let report = run(dir.path(), file, "p").await;
    assert_eq!(report.result, RunResult::Failed);
    let panicky = records(&report, "panicky");
    assert_eq!(panicky.len(), 2, "the step and the after-step");
    for record in panicky {
        assert_panic_recorded(record, "boom");
    }
    assert!(dir.path().join("after-ran").exists());
}

fn executor(dir: &Path, file: PipelineFile) -> Executor {
    Executor::new(registry(), Arc::new(file), options(dir), EventSink::new())
}

#[test]
fn interrupters_share_one_counter_so_the_second_handle_escalates() {
    let dir = tempfile::tempdir().unwrap();
    let file = PipelineBuilder::new("p").step(touch("x")).into_file();
    let cancel = Cancel::new();
    let executor = executor(dir.path(), file).with_cancel(cancel.clone());
    let (first, second) = (executor.interrupter(), executor.interrupter());
    assert_eq!(first.interrupt(), 1);
    assert!(cancel.is_cancelled(), "the caller's cancel is the run's");
    assert!(!cancel.is_killed());
    assert_eq!(second.interrupt(), 2);
    assert!(cancel.is_killed(), "a second interrupt kills at once");
}

#[tokio::test]
async fn the_callers_cancel_stops_the_run_and_cleanup_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = PipelineBuilder::new("p")
        .step(step("script").prop("code", "touch started; sleep 30; touch finished"))
        .finally(touch("finally-ran"))
        .into_file();
    let cancel = Cancel::new();
    let executor = executor(dir.path(), file).with_cancel(cancel.clone());
    let started = dir.path().join("started");
    let canceller = tokio::spawn(async move {
        while !started.exists() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        cancel.cancel(CancelReason::Interrupted);
    });
    let report = executor.run("p").await;
    canceller.await.unwrap();
    assert_eq!(report.result, RunResult::Cancelled);
    assert_eq!(report.steps[0].status, Status::Cancelled);
    assert!(!dir.path().join("finished").exists());
    assert!(dir.path().join("finally-ran").exists());
}

#[tokio::test]
async fn a_run_report_carries_outputs_findings_checks_and_teardowns() {
    let dir = tempfile::tempdir().unwrap();
    let file = PipelineBuilder::new("p")
        .step(with_teardown("torn-down").name("provision"))
        .step(step("reporter").id("report").name("report it"))
        .into_file();
    let report = run(dir.path(), file, "p").await;
    assert_eq!(report.result, RunResult::Passed);
    let record = report
        .steps
        .iter()
        .find(|r| r.name == "report it")
        .expect("the reporter's record");
    assert_eq!(record.outputs["greeting"], "hello");
    assert_eq!(record.outputs["count"], 3);
    let auth = record.outputs["auth"].as_str().unwrap();
    assert!(
        auth.starts_with("Bearer ") && !auth.contains(SECRET),
        "{auth}"
    );
    assert_eq!(record.findings.len(), 1);
    assert_eq!(record.findings[0].id, "R1");
    assert!(
        record.findings[0].location.is_some(),
        "located at its entry"
    );
    assert_eq!(record.checks.len(), 1);
    assert_eq!(record.checks[0].name, "port 22 is closed");
    assert_eq!(report.teardowns.len(), 1, "{:?}", report.teardowns);
    assert_eq!(report.teardowns[0].step, "provision");
    assert_eq!(report.teardowns[0].kind, "script");
    assert_eq!(report.teardowns[0].status, TeardownStatus::Done);
    assert!(dir.path().join("torn-down").exists());
}

#[tokio::test]
async fn kept_teardowns_are_reported_as_kept() {
    let dir = tempfile::tempdir().unwrap();
    let file = PipelineBuilder::new("p")
        .step(with_teardown("torn-down"))
        .into_file();
    let mut opts = options(dir.path());
    opts.keep = true;
    let executor = Executor::new(registry(), Arc::new(file), opts, EventSink::new());
    let report = executor.run("p").await;
    assert_eq!(report.teardowns.len(), 1);
    assert_eq!(report.teardowns[0].status, TeardownStatus::Kept);
    assert!(report.outstanding_teardowns);
    assert!(!dir.path().join("torn-down").exists());
}

/// A typed step: says hello with its own greeting, as an output.
struct Hello {
    greeting: &'static str,
    runs: Arc<std::sync::atomic::AtomicU32>,
}

#[async_trait]
impl Step for Hello {
    async fn run(&self, _cx: &StepContext) -> Result<Outcome, StepError> {
        let n = self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n == 0 {
            return Ok(Outcome::failed("the first try fails"));
        }
        Ok(Outcome::passed().with_output("greeting", self.greeting))
    }
}

#[tokio::test]
async fn typed_steps_run_under_the_common_properties_set_on_the_builder() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let hello = Hello {
        greeting: "hi",
        runs: runs.clone(),
    };
    let skipped = Hello {
        greeting: "never",
        runs: Arc::new(0.into()),
    };
    let file = PipelineBuilder::new("p")
        .step(
            typed(hello)
                .name("greet")
                .id("hello")
                .retries(1)
                .timeout(std::time::Duration::from_secs(30))
                .when("!SKIP_HELLO"),
        )
        .step(typed(skipped).name("skipped").when("SKIP_HELLO"))
        .step(step("script").prop("code", "echo ${{ outputs.hello.greeting }} > said"))
        .into_file();
    let report = run(dir.path(), file, "p").await;
    assert_eq!(report.result, RunResult::Passed, "{:?}", report.steps);
    assert_eq!(
        runs.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "retried once"
    );
    let greet = &report.steps[0];
    assert_eq!(
        (greet.name.as_str(), greet.kind.as_str()),
        ("greet", "Hello")
    );
    assert_eq!(greet.outputs["greeting"], "hi");
    assert_eq!(report.steps[1].status, Status::Skipped);
    let said = std::fs::read_to_string(dir.path().join("said")).unwrap();
    assert_eq!(said.trim(), "hi");
}

#[tokio::test]
async fn a_step_value_is_a_pipeline_entry_and_a_bad_when_fails_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let file = PipelineBuilder::new("p")
        .step(Reporter)
        .step(typed(Reporter).name("odd").when("A &&"))
        .into_file();
    let report = run(dir.path(), file, "p").await;
    assert_eq!(report.steps[0].kind, "Reporter");
    assert_eq!(report.steps[0].status, Status::Passed);
    let odd = &report.steps[1];
    assert_eq!(odd.status, Status::Errored);
    let message = odd.message.as_deref().unwrap_or_default();
    assert!(
        message.contains("`when`") && message.contains("A &&"),
        "{message}"
    );
    assert!(
        report.config_error,
        "a bad condition is a configuration error"
    );
}

#[tokio::test]
async fn dropping_the_run_future_cancels_it_and_cleanup_still_completes() {
    let dir = tempfile::tempdir().unwrap();
    let file = PipelineBuilder::new("p")
        .step(with_teardown("torn-down"))
        .step(step("script").prop("code", "touch started; sleep 30; touch finished"))
        .finally(touch("finally-ran"))
        .into_file();
    let executor = executor(dir.path(), file);
    let started = dir.path().join("started");
    tokio::select! {
        _ = executor.run("p") => panic!("the run ended on its own"),
        _ = async {
            while !started.exists() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        } => {}
    }
    // The run future is dropped: the run goes on in the background,
    // cancelled, and cleans up.
    let state_dir = dir.path().join(".stepwise").join("state");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let done = || {
        dir.path().join("finally-ran").exists()
            && dir.path().join("torn-down").exists()
            && runner::state::list_runs(&state_dir).is_empty()
    };
    while !done() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(dir.path().join("finally-ran").exists(), "finally ran");
    assert!(dir.path().join("torn-down").exists(), "the teardown ran");
    assert!(
        runner::state::list_runs(&state_dir).is_empty(),
        "the state file was finished"
    );
    assert!(
        !dir.path().join("finished").exists(),
        "the step was stopped"
    );
}

/// Counts the finding and check events.
fn count(memory: &MemoryListener) -> (usize, usize) {
    let events = memory.events();
    let findings = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Finding { .. }))
        .count();
    let checks = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Check { .. }))
        .count();
    (findings, checks)
}

#[tokio::test]
async fn findings_and_checks_are_emitted_once_embedded_or_in_a_run() {
    // Embedded alone: the context emits them.
    let dir = tempfile::tempdir().unwrap();
    let cx = StepContext::for_dir(dir.path());
    let memory = MemoryListener::new();
    cx.events().add_listener(Box::new(memory.clone()));
    let outcome = cx.run_step(&Reporter).await.unwrap();
    assert_eq!(outcome.findings.len(), 1);
    assert_eq!(count(&memory), (1, 1));

    // In a run: once each, not again by the runner.
    let file = PipelineBuilder::new("p").step(step("reporter")).into_file();
    let events = EventSink::new();
    let memory = MemoryListener::new();
    events.add_listener(Box::new(memory.clone()));
    let report = Executor::new(registry(), Arc::new(file), options(dir.path()), events)
        .run("p")
        .await;
    assert_eq!(report.result, RunResult::Passed);
    assert_eq!(count(&memory), (1, 1));
    assert!(report.steps[0].findings[0].location.is_some());
}
