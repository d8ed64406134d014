//! `ansible-playbook` against the real ansible-playbook, on localhost with a
//! local connection listed in an inventory file.

use std::path::Path;

use serde_json::json;
use step_core::event::MemoryListener;
use step_core::outcome::OutcomeStatus;
use step_core::{Env, Location, Status, StepError};

use crate::support::{context, context_with_env, fixture_dir, run};

fn streamed(memory: &MemoryListener, text: &str) -> bool {
    memory.lines().iter().any(|l| l.contains(text))
}

#[tokio::test]
async fn a_role_converges_idempotently_and_the_recap_becomes_outputs() {
    if !stepwise_tests::tool_available("ansible-playbook") {
        return;
    }
    let dir = fixture_dir("playbook");
    let out = tempfile::tempdir().unwrap();
    let (cx, memory) = context(dir.path(), &[]);
    let props = json!({
        "playbook": "site.yml",
        "inventory": "inventory",
        "extra_vars": {"out_dir": out.path()},
        "idempotence": true
    });
    let outcome = run("ansible-playbook", props, &cx).await.unwrap();
    assert_eq!(
        outcome.status,
        OutcomeStatus::Passed,
        "{:?}",
        outcome.message
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("greeting.txt")).unwrap(),
        "hello\n"
    );
    // python_check: setup + assert (ok), writer: copy (changed).
    assert_eq!(
        outcome.outputs["recap"],
        json!({"localhost": {"ok": 3, "changed": 1, "unreachable": 0, "failed": 0,
                             "skipped": 0, "rescued": 0, "ignored": 0}})
    );
    assert_eq!(outcome.outputs["ok"], 3);
    assert_eq!(outcome.outputs["changed"], 1);
    assert_eq!(outcome.outputs["failed"], 0);
    assert_eq!(
        outcome.outputs["changed_tasks"],
        json!(["writer : Write the greeting (localhost)"])
    );
    assert_eq!(outcome.outputs["idempotence_changed_tasks"], json!([]));
    assert_eq!(
        outcome.outputs["idempotence_recap"]["localhost"]["changed"],
        0
    );
    let checks: Vec<(&str, Status)> = outcome
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    assert_eq!(
        checks,
        [
            ("localhost", Status::Passed),
            ("idempotence", Status::Passed)
        ]
    );
    let message = outcome.message.as_deref().unwrap();
    assert!(
        message.contains("localhost ok=3 changed=1") && message.contains("idempotent"),
        "{message}"
    );
    // ansible's own output streamed as it ran.
    assert!(streamed(&memory, "TASK [writer : Write the greeting]"));
    assert!(streamed(&memory, "PLAY RECAP"));
}

#[tokio::test]
async fn a_task_that_changes_every_time_fails_idempotence_by_name() {
    if !stepwise_tests::tool_available("ansible-playbook") {
        return;
    }
    let dir = fixture_dir("playbook");
    let out = tempfile::tempdir().unwrap();
    let (cx, _) = context(dir.path(), &[]);
    let props = json!({
        "playbook": "not_idempotent.yml",
        "inventory": "inventory",
        "extra_vars": {"out_dir": out.path()},
        "idempotence": true
    });
    let outcome = run("ansible-playbook", props, &cx).await.unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    let message = outcome.message.as_deref().unwrap();
    assert!(
        message.starts_with("not_idempotent.yml is not idempotent: the second run changed 1 task(s): `Stamp without creates` on localhost"),
        "{message}"
    );
    assert!(!message.contains("Write the greeting"), "{message}");
    let finding = outcome
        .findings
        .iter()
        .find(|f| f.id == "not-idempotent")
        .unwrap();
    assert_eq!(
        finding.location,
        Some(Location::at("not_idempotent.yml", 8, None))
    );
    // The first run converged; its recap is still the step's output.
    assert_eq!(outcome.outputs["changed"], 2);
    assert_eq!(
        outcome.outputs["idempotence_changed_tasks"],
        json!(["Stamp without creates (localhost)"])
    );
    assert!(
        outcome
            .checks
            .iter()
            .any(|c| c.name == "idempotence" && c.status == Status::Failed)
    );
}

#[tokio::test]
async fn syntax_check_passes_a_good_playbook_and_locates_errors_in_a_broken_one() {
    if !stepwise_tests::tool_available("ansible-playbook") {
        return;
    }
    let dir = fixture_dir("playbook");
    let (cx, _) = context(dir.path(), &[]);
    let good = json!({"playbook": "site.yml", "inventory": "inventory", "syntax_check": true});
    let outcome = run("ansible-playbook", good, &cx).await.unwrap();
    assert_eq!(
        outcome.status,
        OutcomeStatus::Passed,
        "{:?}",
        outcome.message
    );
    assert_eq!(
        outcome.message.as_deref(),
        Some("syntax check of site.yml passed")
    );

    let broken = json!({"playbook": "broken.yml", "inventory": "inventory", "syntax_check": true});
    let outcome = run("ansible-playbook", broken, &cx).await.unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert_eq!(outcome.findings.len(), 1, "{:#?}", outcome.findings);
    assert_eq!(outcome.findings[0].id, "ansible-syntax");
    assert_eq!(
        outcome.findings[0].location,
        Some(Location::at("broken.yml", 8, Some(8)))
    );
    let message = outcome.message.as_deref().unwrap();
    assert!(
        message.contains("syntax check of broken.yml failed") && message.contains("broken.yml:8:8"),
        "{message}"
    );
}

#[tokio::test]
async fn extra_vars_from_env_reach_the_playbook() {
    if !stepwise_tests::tool_available("ansible-playbook") {
        return;
    }
    let dir = fixture_dir("playbook");
    let (cx, _) = context(dir.path(), &[("APOLLO_serverspec_run_tests", "true")]);
    let mut props = json!({
        "playbook": "assert_vars.yml",
        "inventory": "inventory",
        "extra_vars_from_env": "APOLLO",
        "extra_vars": {"cluster_size": 3}
    });
    // The interpreter is overridable: the play asserts modules ran with it.
    if Path::new("/usr/bin/python3").exists() {
        props["python_interpreter"] = json!("/usr/bin/python3");
        props["extra_vars"]["expected_python"] = json!("/usr/bin/python3");
    }
    let outcome = run("ansible-playbook", props, &cx).await.unwrap();
    assert_eq!(
        outcome.status,
        OutcomeStatus::Passed,
        "{:?}",
        outcome.message
    );
    assert_eq!(outcome.outputs["recap"]["localhost"]["ok"], 3);
}

#[tokio::test]
async fn a_failing_task_is_named_with_its_message() {
    if !stepwise_tests::tool_available("ansible-playbook") {
        return;
    }
    let dir = fixture_dir("playbook");
    // The same play as above, with the value the assert rejects.
    let (cx, _) = context(dir.path(), &[("APOLLO_serverspec_run_tests", "false")]);
    let props = json!({
        "playbook": "assert_vars.yml",
        "inventory": "inventory",
        "extra_vars_from_env": "APOLLO_",
        "extra_vars": {"cluster_size": 3}
    });
    let outcome = run("ansible-playbook", props, &cx).await.unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    let message = outcome.message.as_deref().unwrap();
    assert!(
        message.starts_with("ansible-playbook assert_vars.yml failed (exit code 2): "),
        "{message}"
    );
    assert!(
        message.contains("`Variables from the environment and extra_vars arrived` on localhost"),
        "{message}"
    );
    assert!(
        message.contains("serverspec_run_tests=false cluster_size=3"),
        "{message}"
    );
    assert!(
        message.contains("recap: localhost ok=2 changed=0 unreachable=0 failed=1"),
        "{message}"
    );
    let finding = &outcome.findings[0];
    assert_eq!(finding.id, "task-failed");
    assert_eq!(
        finding.location,
        Some(Location::at("assert_vars.yml", 8, None))
    );
    assert_eq!(outcome.outputs["failed"], 1);
    assert!(
        outcome
            .checks
            .iter()
            .any(|c| c.name == "localhost" && c.status == Status::Failed)
    );
}

#[tokio::test]
async fn missing_ansible_playbook_says_how_to_install_it() {
    let dir = fixture_dir("playbook");
    let mut env = Env::new();
    env.set("PATH", "");
    let (cx, _) = context_with_env(dir.path(), env);
    let err = run("ansible-playbook", json!({"playbook": "site.yml"}), &cx)
        .await
        .unwrap_err();
    assert!(matches!(err, StepError::Tool(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("`ansible-playbook` was not found"), "{msg}");
    assert!(
        msg.contains("scripts/install-tools.sh") && msg.contains("PyPI package ansible-core"),
        "{msg}"
    );
}

#[tokio::test]
async fn missing_playbook_or_inventory_is_a_configuration_error() {
    let dir = fixture_dir("playbook");
    let (cx, _) = context(dir.path(), &[]);
    let err = run("ansible-playbook", json!({"playbook": "nope.yml"}), &cx)
        .await
        .unwrap_err();
    assert!(err.is_config(), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "configuration error: property `playbook`: `nope.yml` does not exist (looked for {})",
            dir.path().join("nope.yml").display()
        )
    );
    let err = run(
        "ansible-playbook",
        json!({"playbook": "site.yml", "inventory": "hosts.ini"}),
        &cx,
    )
    .await
    .unwrap_err();
    let StepError::Config(config) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(config.property.as_deref(), Some("inventory"));
    // A host list is not a path.
    let step = crate::support::build(
        "ansible-playbook",
        json!({"playbook": "nope.yml", "inventory": "localhost,"}),
    );
    let err = step.run(&cx).await.unwrap_err();
    let StepError::Config(config) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(config.property.as_deref(), Some("playbook"));
}

#[tokio::test]
async fn extra_vars_never_reach_a_command_line_and_leave_no_file() {
    if !stepwise_tests::tool_available("ansible-playbook") {
        return;
    }
    let dir = fixture_dir("playbook");
    let out = tempfile::tempdir().unwrap();
    let private = tempfile::tempdir().unwrap();
    let secret = "ansible-extra-var-secret-1999";
    let (cx, _) = context(
        dir.path(),
        &[
            ("STEPWISE_TMPDIR", private.path().to_str().unwrap()),
            ("PROBE_TOKEN", secret),
        ],
    );
    let watch = stepwise_tests::CmdlineWatch::start(secret);
    let props = json!({
        "playbook": "site.yml",
        "inventory": "inventory",
        "extra_vars": {"out_dir": out.path(), "probe_secret": secret},
        "extra_vars_from_env": "PROBE",
    });
    let outcome = run("ansible-playbook", props, &cx).await.unwrap();
    let (hits, scans) = watch.finish();
    assert_eq!(
        outcome.status,
        OutcomeStatus::Passed,
        "{:?}",
        outcome.message
    );
    assert!(scans > 10, "the watch hardly ran ({scans} scans)");
    assert!(
        hits.is_empty(),
        "the secret was on a command line: {hits:#?}"
    );
    assert!(
        std::fs::read_dir(private.path()).unwrap().next().is_none(),
        "the extra-vars directory was left behind"
    );
}
