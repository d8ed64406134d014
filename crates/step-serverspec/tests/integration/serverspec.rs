//! A real serverspec suite run with rspec: each example is reported.

use serde_json::json;
use step_core::{Status, Step};
use step_serverspec::serverspec_native::EngineChoice;
use step_serverspec::{Serverspec, ServerspecConfig};

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn pass_and_fail_examples_are_reported_one_by_one() {
    if !stepwise_tests::tool_available("rspec") {
        return;
    }
    for engine in [EngineChoice::Rspec, EngineChoice::Native] {
        let mut cfg = ServerspecConfig::new(fixtures().join("serverspec"));
        cfg.engine = engine;
        mixed_suite_is_reported(Serverspec::new(cfg)).await;
    }
}

async fn mixed_suite_is_reported(step: Serverspec) {
    let outcome = step.run(&cx(&fixtures())).await.expect("the suite runs");

    assert!(outcome.is_failed());
    let got: Vec<(&str, Status)> = outcome
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "File \"/etc/hostname-that-does-not-exist\" is expected to be file",
                Status::Failed
            ),
            (
                "Command \"echo zk://zk1:2181/mesos\" stdout is expected to match /zk1:2181,zk2:2181/",
                Status::Failed
            ),
            ("a check not written yet is pending", Status::Skipped),
            (
                "File \"/etc/passwd\" is expected to be file",
                Status::Passed
            ),
            ("User \"root\" is expected to exist", Status::Passed),
            (
                "Command \"echo marathon\" stdout is expected to match /marathon/",
                Status::Passed
            ),
            (
                "Command \"echo marathon\" exit_status is expected to eq 0",
                Status::Passed
            ),
        ]
    );
    let stdout = &outcome.checks[1];
    let msg = stdout.message.as_deref().unwrap_or_default();
    assert!(
        msg.contains("expected \"zk://zk1:2181/mesos\\n\" to match /zk1:2181,zk2:2181/"),
        "{msg}"
    );
    assert!(msg.ends_with("at ./spec/mixed_spec.rb:6"), "{msg}");
    assert_eq!(outcome.outputs["passed"], json!(4));
    assert_eq!(outcome.outputs["failed"], json!(2));
    assert_eq!(outcome.outputs["pending"], json!(1));
    assert_eq!(
        outcome.message.as_deref(),
        Some(
            "2 of 7 examples failed: File \"/etc/hostname-that-does-not-exist\" is expected to be file; Command \"echo zk://zk1:2181/mesos\" stdout is expected to match /zk1:2181,zk2:2181/"
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pattern_selects_spec_files() {
    if !stepwise_tests::tool_available("rspec") {
        return;
    }
    let mut cfg = ServerspecConfig::new("serverspec");
    cfg.pattern = Some("spec/passing_spec.rb".into());
    cfg.engine = EngineChoice::Rspec;
    let outcome = Serverspec::new(cfg)
        .run(&cx(&fixtures()))
        .await
        .expect("rspec runs");
    assert!(!outcome.is_failed(), "{:?}", outcome.message);
    assert_eq!(outcome.checks.len(), 4);
    assert_eq!(outcome.message.as_deref(), Some("4 examples passed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_suite_that_does_not_load_fails_with_rspecs_message() {
    if !stepwise_tests::tool_available("rspec") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("spec")).expect("mkdir");
    std::fs::write(
        dir.path().join("spec/broken_spec.rb"),
        "require 'no_such_library_here'\n",
    )
    .expect("write");
    // `auto` hands the file it cannot load to rspec, which reports the error.
    let outcome = Serverspec::new(ServerspecConfig::new(dir.path()))
        .run(&cx(dir.path()))
        .await
        .expect("rspec runs");
    assert!(outcome.is_failed());
    let msg = outcome.message.as_deref().unwrap_or_default();
    assert!(
        msg.starts_with("rspec reported 1 error(s) outside examples"),
        "{msg}"
    );
    assert!(msg.contains("no_such_library_here"), "{msg}");
}
