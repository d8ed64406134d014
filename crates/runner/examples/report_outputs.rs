//! Reading a run's results from its `RunReport`: each step's status,
//! outputs (secret values masked), findings and checks, and the teardowns
//! the run ran.
//!
//! `cargo run -p runner --example report_outputs`

use std::process::ExitCode;
use std::sync::Arc;

use runner::builder::{PipelineBuilder, step, typed};
use runner::exec::{Executor, RunOptions};
use runner::registry::Registry;
use step_core::{
    CheckResult, EventSink, Finding, Outcome, RunResult, Severity, Status, Step, StepContext,
    StepError, async_trait,
};

/// Looks at a build and reports what it found.
struct Inspect;

#[async_trait]
impl Step for Inspect {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let token = cx.env().get("DEPLOY_TOKEN").unwrap_or_default().to_string();
        Ok(Outcome::passed()
            .with_output("image", "registry.example/app:1.2.3")
            .with_output("size_mb", 87)
            .with_output("auth", format!("Bearer {token}"))
            .with_findings([Finding::new("IMG1", Severity::Low, "runs as root")])
            .with_checks([CheckResult::new("port 22 is closed", Status::Passed)]))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let Ok(dir) = tempfile::tempdir() else {
        eprintln!("report_outputs: no temporary directory");
        return ExitCode::FAILURE;
    };
    let file = PipelineBuilder::new("build")
        .step(
            step("script")
                .name("provision")
                .prop("code", "echo provisioned")
                .prop("teardown", "echo removed"),
        )
        .step(typed(Inspect).name("inspect").id("inspect"))
        .step(
            step("script")
                .name("use it")
                .prop("code", "echo deploying ${{ outputs.inspect.image }}"),
        )
        .into_file();
    let mut opts = RunOptions::new(dir.path().to_path_buf());
    opts.env.insert("DEPLOY_TOKEN", "s3cr3t-token-value", true);
    let executor = Executor::new(
        Arc::new(Registry::builtin()),
        Arc::new(file),
        opts,
        EventSink::new(),
    );
    let report = executor.run("build").await;

    println!("run {}: {}", report.run_id, report.result.as_str());
    for record in &report.steps {
        println!(
            "step {} ({}): {}",
            record.name,
            record.kind,
            record.status.as_str()
        );
        for (name, value) in &record.outputs {
            println!("  output {name} = {value}");
        }
        for finding in &record.findings {
            println!("  finding {}: {}", finding.id, finding.message);
        }
        for check in &record.checks {
            println!("  check {}: {}", check.name, check.status.as_str());
        }
    }
    for teardown in &report.teardowns {
        println!("teardown of {}: {:?}", teardown.step, teardown.status);
    }

    let inspect = report.steps.iter().find(|r| r.name == "inspect");
    let image = inspect.and_then(|r| r.outputs.get("image")?.as_str());
    let auth = inspect.and_then(|r| r.outputs.get("auth")?.as_str());
    let masked = auth.is_some_and(|a| !a.contains("s3cr3t-token-value"));
    if report.result == RunResult::Passed
        && image == Some("registry.example/app:1.2.3")
        && masked
        && report.teardowns.len() == 1
    {
        println!("example ok");
        ExitCode::SUCCESS
    } else {
        eprintln!("report_outputs: the report is not what the pipeline produced");
        ExitCode::FAILURE
    }
}
