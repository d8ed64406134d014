//! One terraform step embedded alone, without the runner: `terraform-apply`
//! of a tiny configuration (a `terraform_data` resource, which needs no
//! provider download, so it works offline), its outputs read back, then
//! the step's own teardown — a `terraform-destroy` of the same
//! configuration — run the same way.
//!
//! `cargo run -p runner --example terraform_alone` (terraform on `PATH`).

use std::process::ExitCode;

use step_core::{EventSink, MemoryListener, Step, StepContext};
use step_terraform::TerraformApply;

const MAIN_TF: &str = r#"
resource "terraform_data" "greeting" {
  input = "hello from terraform"
}

output "greeting" {
  value = terraform_data.greeting.output
}
"#;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => {
            println!("example ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("terraform_alone: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("main.tf"), MAIN_TF)?;

    // The step's log lines and its findings come as events.
    let events = EventSink::new();
    let memory = MemoryListener::new();
    events.add_listener(Box::new(memory.clone()));
    let cx = StepContext::for_dir(dir.path()).with_events(events);

    let apply = TerraformApply::from_properties(serde_json::json!({ "dir": "." }))?;
    // `run_step` runs it and emits its findings and checks as events.
    let outcome = cx.run_step(&apply).await?;
    if outcome.is_failed() {
        return Err(format!("apply failed: {:?}", outcome.message).into());
    }
    let greeting = outcome
        .outputs
        .get("greeting")
        .and_then(|v| v.as_str())
        .ok_or("no `greeting` output")?;
    println!("apply: {}", outcome.message.as_deref().unwrap_or("done"));
    println!("output greeting = {greeting}");
    if greeting != "hello from terraform" {
        return Err(format!("unexpected output {greeting:?}").into());
    }

    // What undoes it: a terraform-destroy of the same configuration, built
    // by the apply step (and the record a state file would keep of it).
    let teardown = apply
        .teardown()
        .ok_or("terraform-apply registers a teardown")?;
    println!("teardown: {}", teardown.record().kind);
    let outcome = cx.run_step(teardown.step()).await?;
    if outcome.is_failed() {
        return Err(format!("destroy failed: {:?}", outcome.message).into());
    }
    println!("destroy: {}", outcome.message.as_deref().unwrap_or("done"));
    println!("{} event lines", memory.lines().len());
    Ok(())
}
