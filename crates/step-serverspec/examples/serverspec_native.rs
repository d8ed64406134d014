//! Runs a serverspec suite through the `serverspec` step, without the runner:
//!
//! ```text
//! serverspec_native DIR [--engine auto|native|rspec] [--json]
//! serverspec_native DIR --census
//! ```
//!
//! `--census` prints the README's coverage table instead: for each
//! construct, how many of the suite's `*_spec.rb` files use it.
//!
//! Prints one line per example (`status<TAB>full_description`) with
//! `--json`, else a summary; exits 0 when every example passed, 1 when one
//! failed, 2 when the suite could not run. `bench/serverspec-native.sh`
//! times it against rspec.

use std::process::ExitCode;

use step_core::{Status, Step, StepContext};
use step_serverspec::{Serverspec, ServerspecConfig};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: serverspec_native DIR [--engine auto|native|rspec] [--json]");
        return ExitCode::from(2);
    };
    if std::env::args().any(|a| a == "--census") {
        census(std::path::Path::new(&dir));
        return ExitCode::SUCCESS;
    }
    let mut props = serde_json::json!({ "dir": dir, "engine": "native" });
    let mut lines = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--engine" => props["engine"] = args.next().unwrap_or_default().into(),
            "--json" => lines = true,
            other => {
                eprintln!("unknown argument {other}");
                return ExitCode::from(2);
            }
        }
    }
    let step = match Serverspec::from_properties(props) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let _ = ServerspecConfig::new(".");
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let cx = StepContext::for_dir(cwd);
    let Ok(rt) = tokio::runtime::Runtime::new() else {
        return ExitCode::from(2);
    };
    match rt.block_on(step.run(&cx)) {
        Ok(outcome) => {
            for c in &outcome.checks {
                let st = match c.status {
                    Status::Passed => "passed",
                    Status::Skipped => "pending",
                    _ => "failed",
                };
                if lines {
                    println!("{st}\t{}", c.name);
                }
            }
            eprintln!("{}", outcome.message.clone().unwrap_or_default());
            if outcome.is_failed() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// Prints the coverage table of the suite in `dir`.
fn census(dir: &std::path::Path) {
    use step_serverspec::ruby::census::{FAMILIES, constructs};
    let files: Vec<_> = step_serverspec::serverspec_native::spec_files(&dir.join("spec"))
        .into_iter()
        .filter(|f| f.to_string_lossy().ends_with(".rb"))
        .collect();
    let used: Vec<_> = files
        .iter()
        .map(|f| constructs(&std::fs::read_to_string(f).unwrap_or_default()))
        .collect();
    println!("| family | construct | files | share |");
    println!("|---|---|---:|---:|");
    for (family, labels) in FAMILIES {
        for label in *labels {
            let n = used.iter().filter(|u| u.contains(label)).count();
            let share = 100.0 * n as f64 / files.len().max(1) as f64;
            println!("| {family} | `{label}` | {n} | {share:.0} % |");
        }
    }
    println!("\n{} files", files.len());
}
