//! Grace periods: a cancelled step gets the grace period its own
//! [`StopPolicy`] asks for — its children get the stop signal, then
//! SIGKILL after that long — and the runner has no abandon timer of its
//! own; a second interrupt kills at once.

// Test set-up that cannot work (no temp dir) should panic loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runner::builder::{PipelineBuilder, step};
use runner::exec::{Executor, RunOptions, RunReport};
use runner::registry::Registry;
use step_core::process::{Cmd, StopSignal};
use step_core::step::FnKind;
use step_core::{
    ConfigError, EventSink, Outcome, RunResult, Status, Step, StepContext, StepDescription,
    StepError, StopPolicy, Value, async_trait,
};

/// Runs a shell script through the process helper, with the grace period
/// of its `grace_ms` property as its stop policy (the command itself sets
/// none, so the policy is what it gets).
struct Graceful {
    script: String,
    grace: Duration,
}

#[async_trait]
impl Step for Graceful {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let out = Cmd::new("sh").args(["-c", &self.script]).run(cx).await?;
        Ok(if out.success() {
            Outcome::passed()
        } else {
            Outcome::failed(out.describe_status())
        })
    }

    fn stop_policy(&self) -> StopPolicy {
        StopPolicy::new(StopSignal::Term, self.grace)
    }
}

/// Notes it started (`started` in its working directory), then ignores
/// cancellation: sleeps two minutes whatever happens.
struct Stubborn {
    grace: Duration,
}

#[async_trait]
impl Step for Stubborn {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        std::fs::write(cx.workdir().join("started"), "").unwrap();
        tokio::time::sleep(Duration::from_secs(120)).await;
        Ok(Outcome::passed())
    }

    fn stop_policy(&self) -> StopPolicy {
        StopPolicy::new(StopSignal::Term, self.grace)
    }
}

fn grace_of(props: &Value) -> Duration {
    Duration::from_millis(props.get("grace_ms").and_then(Value::as_u64).unwrap_or(0))
}

fn registry() -> Arc<Registry> {
    let mut r = Registry::builtin();
    r.register(FnKind::boxed(
        || StepDescription::new("graceful", "a script with a grace period"),
        |props: Value| -> Result<Box<dyn Step>, ConfigError> {
            let script = props
                .get("script")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let grace = grace_of(&props);
            Ok(Box::new(Graceful { script, grace }))
        },
    ));
    r.register(FnKind::boxed(
        || StepDescription::new("stubborn", "ignores cancellation"),
        |props: Value| -> Result<Box<dyn Step>, ConfigError> {
            let grace = grace_of(&props);
            Ok(Box::new(Stubborn { grace }))
        },
    ));
    Arc::new(r)
}

/// A script that notes it started, and on SIGTERM takes 2 s to clean up
/// (writing `cleaned`) before it exits.
fn slow_cleanup(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "trap 'sleep 2; touch {d}/cleaned; exit 0' TERM; touch {d}/started; \
         sleep 60 & wait; sleep 60 & wait"
    )
}

async fn wait_for(file: PathBuf) {
    while !file.exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `file`'s pipeline `p`; interrupts once `started` exists, and a
/// second time `second` later if given. Returns the report and how long
/// the run took after the first interrupt.
async fn interrupted(
    dir: &Path,
    file: runner::model::PipelineFile,
    second: Option<Duration>,
) -> (RunReport, Duration) {
    let executor = Executor::new(
        registry(),
        Arc::new(file),
        RunOptions::new(dir.to_path_buf()),
        EventSink::new(),
    );
    let interrupter = executor.interrupter();
    let started = dir.join("started");
    let interrupts = tokio::spawn(async move {
        wait_for(started).await;
        interrupter.interrupt();
        let first = Instant::now();
        if let Some(after) = second {
            tokio::time::sleep(after).await;
            interrupter.interrupt();
        }
        first
    });
    let report = executor.run("p").await;
    let first = interrupts.await.unwrap();
    (report, first.elapsed())
}

#[tokio::test]
async fn a_step_gets_the_grace_period_it_asks_for_and_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let script = slow_cleanup(dir.path());
    // 3 s of grace: the 2 s cleanup finishes.
    let file = PipelineBuilder::new("p")
        .step(
            step("graceful")
                .prop("script", script.clone())
                .prop("grace_ms", 3000),
        )
        .into_file();
    let (report, _) = interrupted(dir.path(), file, None).await;
    assert_eq!(report.result, RunResult::Cancelled);
    assert!(
        dir.path().join("cleaned").exists(),
        "the step's 3 s grace period let its cleanup finish: {:?}",
        report.steps
    );

    // 500 ms of grace (shorter than the 10 s default): killed halfway.
    let dir = tempfile::tempdir().unwrap();
    let script = slow_cleanup(dir.path());
    let file = PipelineBuilder::new("p")
        .step(
            step("graceful")
                .prop("script", script)
                .prop("grace_ms", 500),
        )
        .into_file();
    let (report, took) = interrupted(dir.path(), file, None).await;
    assert_eq!(report.result, RunResult::Cancelled);
    assert_eq!(report.steps[0].status, Status::Cancelled);
    assert!(took < Duration::from_millis(1900), "{took:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !dir.path().join("cleaned").exists(),
        "killed after its 500 ms, before the cleanup ended"
    );
}

#[tokio::test]
async fn a_step_that_ignores_cancellation_is_abandoned_after_its_own_grace() {
    let dir = tempfile::tempdir().unwrap();
    let file = PipelineBuilder::new("p")
        .step(step("stubborn").prop("grace_ms", 1000))
        .into_file();
    let (report, took) = interrupted(dir.path(), file, None).await;
    assert_eq!(report.result, RunResult::Cancelled);
    assert!(
        took >= Duration::from_secs(1),
        "not before its grace: {took:?}"
    );
    // Its 1 s of grace plus the runner's few seconds for a step to
    // return, not a fixed 30 s.
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[tokio::test]
async fn a_second_interrupt_kills_at_once_whatever_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    // A minute of grace, a child that ignores SIGTERM, and a step that
    // ignores cancellation: the second interrupt still ends them now.
    let d = dir.path().display();
    let file = PipelineBuilder::new("p")
        .step(
            step("graceful")
                .prop(
                    "script",
                    format!("trap '' TERM; touch {d}/started; sleep 60; touch {d}/finished"),
                )
                .prop("grace_ms", 60_000),
        )
        .into_file();
    let (report, took) = interrupted(dir.path(), file, Some(Duration::from_millis(500))).await;
    assert_eq!(report.result, RunResult::Cancelled);
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(!dir.path().join("finished").exists());

    let dir = tempfile::tempdir().unwrap();
    let file = PipelineBuilder::new("p")
        .step(step("stubborn").prop("grace_ms", 60_000))
        .into_file();
    let (report, took) = interrupted(dir.path(), file, Some(Duration::from_millis(1500))).await;
    assert_eq!(report.result, RunResult::Cancelled);
    assert!(took < Duration::from_secs(10), "{took:?}");
}
