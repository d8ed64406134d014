//! Runs a native host-checks spec through the Rust API, without the runner:
//!
//! ```text
//! run_spec SPEC [--vars JSON] [--backend local|ssh|docker] [--host H]... [--user U] [--port P] [--identity FILE] [--quiet]
//! ```
//!
//! Prints each failed check and a summary; exits 0 when every check
//! passed, 1 when one failed, 2 when the spec could not run. The benchmark
//! (`bench/host-checks.sh`) times it with hyperfine.

use std::process::ExitCode;
use std::time::Instant;

use serde_json::{Value, json};
use step_core::{Status, Step, StepContext};
use step_serverspec::{HostChecks, HostChecksConfig};

fn usage() -> ExitCode {
    eprintln!(
        "usage: run_spec SPEC [--vars JSON] [--backend local|ssh|docker] [--host H]... [--user U] [--port P] [--identity FILE] [--quiet]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut props = serde_json::Map::new();
    let mut hosts: Vec<Value> = Vec::new();
    let mut quiet = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| match args.next() {
            Some(v) => Ok(v),
            None => Err(format!("{name} needs a value")),
        };
        let set = match arg.as_str() {
            "--vars" => value("--vars").and_then(|v| {
                serde_json::from_str::<Value>(&v)
                    .map(|vars| props.insert("vars".into(), vars))
                    .map_err(|e| format!("--vars: {e}"))
            }),
            "--backend" => value("--backend").map(|v| props.insert("backend".into(), json!(v))),
            "--host" => value("--host").map(|v| {
                hosts.push(json!(v));
                None
            }),
            "--user" => value("--user").map(|v| props.insert("user".into(), json!(v))),
            "--port" => value("--port").map(|v| props.insert("port".into(), json!(v))),
            "--identity" => {
                value("--identity").map(|v| props.insert("identity_file".into(), json!(v)))
            }
            "--quiet" => {
                quiet = true;
                Ok(None)
            }
            s if s.starts_with("--") => Err(format!("unknown option {s}")),
            spec => Ok(props.insert("spec".into(), json!(spec))),
        };
        if let Err(e) = set {
            eprintln!("run_spec: {e}");
            return usage();
        }
    }
    if !props.contains_key("spec") {
        return usage();
    }
    if !hosts.is_empty() {
        props.insert("hosts".into(), Value::Array(hosts));
    }
    let step = match step_core::parse_config::<HostChecksConfig>(Value::Object(props))
        .and_then(HostChecks::new)
    {
        Ok(step) => step,
        Err(e) => {
            eprintln!("run_spec: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("run_spec: {e}");
            return ExitCode::from(2);
        }
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let cx = StepContext::for_dir(cwd);
    let started = Instant::now();
    let outcome = match runtime.block_on(step.run(&cx)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("run_spec: {e}");
            return ExitCode::from(2);
        }
    };
    let took = started.elapsed();
    if !quiet {
        for c in outcome.checks.iter().filter(|c| c.status != Status::Passed) {
            println!(
                "FAIL {}\n  {}",
                c.name,
                c.message.as_deref().unwrap_or("").replace('\n', "\n  ")
            );
        }
    }
    println!(
        "{} ({} checks in {:.1} ms)",
        outcome.message.as_deref().unwrap_or(""),
        outcome.checks.len(),
        took.as_secs_f64() * 1000.0
    );
    if outcome.is_failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
