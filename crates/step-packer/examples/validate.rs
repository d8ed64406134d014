//! Validates Packer templates through the Rust API, without the runner:
//!
//! ```text
//! cargo run -p step-packer --example validate -- [--jobs N] TEMPLATE_OR_GLOB...
//! ```
//!
//! Runs in the current directory, prints the step's message and findings,
//! and exits 0 (all valid), 1 (a template is invalid) or 2 (could not run).
//! `bench/packer-validate.sh` times it against plain `packer validate`.

use std::process::ExitCode;

use step_core::{Step, StepContext};
use step_packer::{PackerValidate, PackerValidateConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut config = PackerValidateConfig::default();
    while let Some(arg) = args.next() {
        if arg == "--jobs" {
            match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => config.jobs = Some(n),
                None => return usage("--jobs needs a number"),
            }
        } else {
            config.template.push(arg);
        }
    }
    if config.template.is_empty() {
        return usage("name at least one template");
    }
    let step = match PackerValidate::new(config) {
        Ok(step) => step,
        Err(e) => return usage(&e.to_string()),
    };
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => return usage(&format!("no current directory: {e}")),
    };
    match step.run(&StepContext::for_dir(cwd)).await {
        Ok(outcome) => {
            for finding in &outcome.findings {
                println!("{finding}");
            }
            println!("{}", outcome.message.as_deref().unwrap_or_default());
            if outcome.is_failed() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn usage(why: &str) -> ExitCode {
    eprintln!("{why}\nusage: validate [--jobs N] TEMPLATE_OR_GLOB...");
    ExitCode::from(2)
}
