//! The native engine against real rspec + serverspec, on the same machine
//! in the same test: every example of the corpus (`tests/fixtures/corpus`,
//! 60+ spec files in serverspec's dialect) must get the same
//! `full_description` and the same status from both.

use std::process::Command;

use step_core::{Status, Step};
use step_serverspec::serverspec_native::EngineChoice;
use step_serverspec::{Serverspec, ServerspecConfig};

use crate::support::*;

fn rspec_verdicts(dir: &std::path::Path) -> Vec<(String, String)> {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let report = out_dir.path().join("rspec.json");
    let status = Command::new("rspec")
        .args(["--no-color", "--format", "json", "--out"])
        .arg(&report)
        .current_dir(dir)
        .output()
        .expect("rspec starts");
    let text = std::fs::read_to_string(&report).expect("rspec wrote its report");
    let v: serde_json::Value = serde_json::from_str(&text).expect("rspec's report is JSON");
    assert_eq!(
        v.pointer("/summary/errors_outside_of_examples_count")
            .and_then(|n| n.as_u64()),
        Some(0),
        "rspec could not load the corpus: {}",
        String::from_utf8_lossy(&status.stdout)
    );
    v["examples"]
        .as_array()
        .expect("examples")
        .iter()
        .map(|e| {
            (
                e["full_description"].as_str().unwrap_or("").to_string(),
                e["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn native_verdicts_match_rspec_on_every_example_of_the_corpus() {
    if !stepwise_tests::tool_available("rspec") {
        return;
    }
    let dir = fixtures().join("corpus");
    let files = step_serverspec::serverspec_native::spec_files(&dir.join("spec"));
    assert!(files.len() >= 60, "the corpus has {} files", files.len());

    let expected = rspec_verdicts(&dir);
    let mut cfg = ServerspecConfig::new(&dir);
    cfg.engine = EngineChoice::Native;
    let outcome = Serverspec::new(cfg)
        .run(&cx(&dir))
        .await
        .expect("the native engine runs");
    let got: Vec<(String, String)> = outcome
        .checks
        .iter()
        .map(|c| {
            let st = match c.status {
                Status::Passed => "passed",
                Status::Skipped => "pending",
                _ => "failed",
            };
            (c.name.clone(), st.to_string())
        })
        .collect();
    let unsupported: Vec<&str> = outcome
        .checks
        .iter()
        .filter_map(|c| c.message.as_deref())
        .filter(|m| m.contains("unsupported:"))
        .collect();
    assert!(unsupported.is_empty(), "{unsupported:#?}");
    assert!(expected.len() >= 200, "{} examples", expected.len());
    // Same examples, same verdicts, in rspec's order.
    for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(e, g, "example {i} differs");
    }
    assert_eq!(expected.len(), got.len());
    let failed = got.iter().filter(|(_, s)| s == "failed").count();
    let pending = got.iter().filter(|(_, s)| s == "pending").count();
    assert!(
        failed > 0 && pending > 0,
        "the corpus exercises all verdicts"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn engine_auto_runs_an_unsupported_file_through_rspec_and_says_why() {
    if !stepwise_tests::tool_available("rspec") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("spec");
    std::fs::create_dir_all(&spec).expect("mkdir");
    std::fs::write(
        spec.join("spec_helper.rb"),
        "require 'serverspec'\nset :backend, :exec\n",
    )
    .expect("write");
    std::fs::write(
        spec.join("native_spec.rb"),
        "require 'spec_helper'\ndescribe file('/etc/passwd') do\n  it { should be_file }\nend\n",
    )
    .expect("write");
    std::fs::write(
        spec.join("ruby_spec.rb"),
        "require 'spec_helper'\ndef helper_path\n  '/etc/group'\nend\ndescribe file(helper_path) do\n  it { should be_file }\nend\n",
    )
    .expect("write");

    let auto = Serverspec::new(ServerspecConfig::new(dir.path()));
    let events = step_core::event::EventSink::new();
    let memory = step_core::event::MemoryListener::new();
    events.add_listener(Box::new(memory.clone()));
    let cx = cx(dir.path()).with_events(events);
    let outcome = auto.run(&cx).await.expect("auto runs");
    assert!(!outcome.is_failed(), "{:?}", outcome.message);
    let names: Vec<&str> = outcome.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "File \"/etc/passwd\" is expected to be file",
            "File \"/etc/group\" is expected to be file"
        ]
    );
    let log = memory.lines().join("\n");
    assert!(
        log.contains("./spec/ruby_spec.rb: runs through rspec: unsupported `def` (method definitions) at ./spec/ruby_spec.rb:2"),
        "{log}"
    );

    let mut cfg = ServerspecConfig::new(dir.path());
    cfg.engine = EngineChoice::Native;
    let outcome = Serverspec::new(cfg).run(&cx).await.expect("native runs");
    assert!(outcome.is_failed());
    let msg = check(&outcome, "./spec/ruby_spec.rb:2")
        .message
        .clone()
        .unwrap_or_default();
    assert!(
        msg.starts_with("unsupported: `def` (method definitions) at ./spec/ruby_spec.rb:2"),
        "{msg}"
    );
}
