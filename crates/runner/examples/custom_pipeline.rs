//! A pipeline written in Rust: a step type of its own, a `for_each` over
//! two targets, a `finally` step, and a cancellation after one second —
//! the targets' steps stop, and the `finally` step still runs.
//!
//! `cargo run -p runner --example custom_pipeline`

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use runner::builder::{PipelineBuilder, for_each, typed};
use runner::exec::{Executor, RunOptions};
use runner::registry::Registry;
use step_core::{
    Cancel, CancelReason, EventSink, Outcome, RunResult, Status, Step, StepContext, StepError,
    async_trait,
};

/// Deploys to the target in `$CLOUD`: takes a while, and stops when
/// cancelled.
struct Deploy {
    takes: Duration,
}

#[async_trait]
impl Step for Deploy {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let cloud = cx.env().get("CLOUD").unwrap_or("nowhere").to_string();
        cx.info(format!("deploying to {cloud}"));
        tokio::select! {
            _ = tokio::time::sleep(self.takes) => {
                Ok(Outcome::passed().with_output("cloud", cloud))
            }
            _ = cx.cancel().cancelled() => Err(StepError::Cancelled),
        }
    }
}

/// Notes that cleanup ran.
struct Report {
    ran: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait]
impl Step for Report {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        cx.info("cleaning up");
        self.ran.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(Outcome::passed())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let file = PipelineBuilder::new("deploy")
        .step(
            for_each("CLOUD", &["aws", "gcp"]).step(
                typed(Deploy {
                    takes: Duration::from_secs(30),
                })
                .name("deploy")
                .timeout(Duration::from_secs(60)),
            ),
        )
        .finally(typed(Report { ran: ran.clone() }).name("report"))
        .into_file();
    let Ok(dir) = tempfile::tempdir() else {
        eprintln!("custom_pipeline: no temporary directory");
        return ExitCode::FAILURE;
    };
    let executor = Executor::new(
        Arc::new(Registry::builtin()),
        Arc::new(file),
        RunOptions::new(dir.path().to_path_buf()),
        EventSink::new(),
    );
    // Cancel after one second, as Ctrl-C would.
    let cancel = Cancel::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.cancel(CancelReason::Interrupted);
    });
    let report = executor.run_until("deploy", cancel).await;
    for step in &report.steps {
        let target = step.target.as_deref().unwrap_or("-");
        println!("{target:5} {:8} {}", step.name, step.status.as_str());
    }
    println!("result: {}", report.result.as_str());
    let deploys_cancelled = report
        .steps
        .iter()
        .filter(|s| s.name == "deploy")
        .all(|s| s.status == Status::Cancelled);
    let finally_ran = ran.load(std::sync::atomic::Ordering::SeqCst);
    if report.result == RunResult::Cancelled && deploys_cancelled && finally_ran {
        println!("example ok");
        ExitCode::SUCCESS
    } else {
        eprintln!("custom_pipeline: expected a cancelled run whose finally step ran");
        ExitCode::FAILURE
    }
}
