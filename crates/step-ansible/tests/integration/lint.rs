//! `ansible-lint` and `capgemini/ansible-lint` against the real ansible-lint.

use serde_json::json;
use step_core::outcome::OutcomeStatus;
use step_core::{Env, Location, Severity, StepError};

use crate::support::{context, context_with_env, fixture_dir, run};

/// What ansible-lint 26 reports for `fixtures/lint/violations/site.yml`:
/// rule, line, column.
const EXPECTED: &[(&str, u32, Option<u32>)] = &[
    ("name[play]", 1, Some(3)),
    ("command-instead-of-shell", 3, None),
    ("fqcn[action-core]", 3, Some(7)),
    ("name[missing]", 3, None),
    ("no-changed-when", 3, None),
    ("name[casing]", 4, Some(13)),
    ("no-changed-when", 4, None),
    ("fqcn[action-core]", 5, Some(7)),
    ("yaml[truthy]", 9, None),
];

#[tokio::test]
async fn clean_playbook_passes_and_leaves_the_project_alone() {
    if !stepwise_tests::tool_available("ansible-lint") {
        return;
    }
    let dir = fixture_dir("lint/clean");
    let (cx, _) = context(dir.path(), &[]);
    let outcome = run("ansible-lint", json!({"playbooks": ["site.yml"]}), &cx)
        .await
        .unwrap();
    assert_eq!(
        outcome.status,
        OutcomeStatus::Passed,
        "{:?}",
        outcome.message
    );
    assert!(outcome.findings.is_empty(), "{:?}", outcome.findings);
    assert_eq!(outcome.outputs["findings"], 0);
    assert_eq!(
        outcome.message.as_deref(),
        Some("ansible-lint: no findings in site.yml")
    );
    // --offline keeps ansible-lint's cache out of the project.
    assert!(!dir.path().join(".ansible").exists());
}

#[tokio::test]
async fn violations_become_findings_with_rule_and_location_and_fail_by_default() {
    if !stepwise_tests::tool_available("ansible-lint") {
        return;
    }
    let dir = fixture_dir("lint/violations");
    let (cx, _) = context(dir.path(), &[]);
    let outcome = run("ansible-lint", json!({"playbook": "site.yml"}), &cx)
        .await
        .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert_eq!(
        outcome.findings.len(),
        EXPECTED.len(),
        "{:#?}",
        outcome.findings
    );
    for (rule, line, column) in EXPECTED {
        let at = Location::at("site.yml", *line, *column);
        assert!(
            outcome
                .findings
                .iter()
                .any(|f| f.id == *rule && f.location.as_ref() == Some(&at)),
            "no {rule} at {at}: {:#?}",
            outcome.findings
        );
    }
    for f in &outcome.findings {
        assert_eq!(f.severity, Severity::Medium, "{f}");
        let detail = f.detail.as_deref().unwrap_or_default();
        assert!(
            detail.contains("https://docs.ansible.com/projects/lint/rules/"),
            "{f}: {detail}"
        );
        assert!(!f.message.is_empty());
    }
    let message = outcome.message.as_deref().unwrap();
    assert!(
        message.contains(
            "9 finding(s) at severity medium or above in site.yml, more than the 0 allowed"
        ),
        "{message}"
    );
    assert!(
        message.ends_with(
            ": 2 fqcn[action-core], 2 no-changed-when, 1 command-instead-of-shell, \
             1 name[casing], 1 name[missing], 1 name[play], 1 yaml[truthy]"
        ),
        "{message}"
    );
    assert_eq!(outcome.outputs["by_rule"]["no-changed-when"], 2);
    assert_eq!(outcome.outputs["by_severity"]["medium"], 9);
}

#[tokio::test]
async fn the_threshold_lets_the_same_violations_pass() {
    if !stepwise_tests::tool_available("ansible-lint") {
        return;
    }
    let dir = fixture_dir("lint/violations");
    let (cx, _) = context(dir.path(), &[]);
    // 5 findings of `name[...]` and `fqcn[...]` are excluded, 4 count: allowed.
    let props = json!({
        "playbooks": "site.yml",
        "max_findings": 4,
        "exclude_rules": ["name", "fqcn"],
        "fail_on": "major"
    });
    let outcome = run("ansible-lint", props, &cx).await.unwrap();
    assert_eq!(
        outcome.status,
        OutcomeStatus::Passed,
        "{:?}",
        outcome.message
    );
    assert_eq!(outcome.findings.len(), 9);
    assert_eq!(outcome.findings.iter().filter(|f| f.ignored).count(), 5);
    assert_eq!(outcome.outputs["counted"], 4);
    assert_eq!(outcome.outputs["excluded"], 5);
    let message = outcome.message.as_deref().unwrap();
    assert!(
        message.contains("(allowed: 4)") && message.contains("5 excluded"),
        "{message}"
    );
}

#[tokio::test]
async fn seed_alias_passes_options_through_and_fails_like_ansible_lint() {
    if !stepwise_tests::tool_available("ansible-lint") {
        return;
    }
    let dir = fixture_dir("lint/violations");
    let (cx, _) = context(dir.path(), &[]);
    // Quoted as a wercker user would have written it; split without a shell.
    let props = json!({
        "playbook": "site.yml",
        "options": "-x 'name,fqcn,no-changed-when,command-instead-of-shell'"
    });
    let outcome = run("capgemini/ansible-lint", props, &cx).await.unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert_eq!(outcome.findings.len(), 1, "{:#?}", outcome.findings);
    assert_eq!(outcome.findings[0].id, "yaml[truthy]");
    assert_eq!(
        outcome.findings[0].location,
        Some(Location::at("site.yml", 9, None))
    );
    let message = outcome.message.as_deref().unwrap();
    assert!(
        message.contains("exit code 2") && message.contains("1 yaml[truthy]"),
        "{message}"
    );
}

#[tokio::test]
async fn missing_ansible_lint_says_how_to_install_it() {
    let dir = fixture_dir("lint/clean");
    let mut env = Env::new();
    env.set("PATH", "");
    let (cx, _) = context_with_env(dir.path(), env);
    for kind in ["ansible-lint", "capgemini/ansible-lint"] {
        let err = run(kind, json!({"playbook": "site.yml"}), &cx)
            .await
            .unwrap_err();
        assert!(matches!(err, StepError::Tool(_)), "{kind}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains("`ansible-lint` was not found"), "{msg}");
        assert!(
            msg.contains("scripts/install-tools.sh") && msg.contains("PyPI package ansible-lint"),
            "{msg}"
        );
    }
}

#[tokio::test]
async fn a_playbook_that_does_not_exist_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cx, _) = context(dir.path(), &[]);
    for (kind, property) in [
        ("ansible-lint", "playbooks"),
        ("capgemini/ansible-lint", "playbook"),
    ] {
        let err = run(kind, json!({"playbook": "missing.yml"}), &cx)
            .await
            .unwrap_err();
        assert!(err.is_config(), "{kind}: {err:?}");
        let StepError::Config(config) = &err else {
            unreachable!()
        };
        assert_eq!(config.property.as_deref(), Some(property));
        assert!(
            err.to_string().contains("`missing.yml` does not exist"),
            "{err}"
        );
    }
}
