//! `packer-validate` against the real packer.

use serde_json::json;
use step_core::outcome::OutcomeStatus;
use step_core::{Finding, Location, Severity, Status, Step, StepError};
use step_packer::{PackerValidate, PackerValidateConfig};

use crate::support::{context, have_packer, workspace};

fn step(props: serde_json::Value) -> PackerValidate {
    PackerValidate::from_properties(props).expect("valid config")
}

fn finding_for<'a>(findings: &'a [Finding], file: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.location.as_ref().is_some_and(|l| l.file == file))
        .unwrap_or_else(|| panic!("no finding for {file}: {findings:#?}"))
}

#[tokio::test]
async fn valid_json_and_hcl2_templates_pass() {
    if !have_packer() {
        return;
    }
    let ws = workspace();
    let (cx, _) = context(&ws.path().join("valid"));
    // The AWS, DigitalOcean and Google JSON templates and the HCL2 one. The
    // droplet reads its token from the environment, as the seed's did (a
    // `-var do_api_token=…` would break the HCL2 template: packer rejects
    // `-var` for variables a HCL2 template does not declare).
    let mut env = cx.env().clone();
    env.set_secret("DIGITALOCEAN_API_TOKEN", "not-a-real-token");
    let outcome = step(json!({"template": ["*.json", "*.pkr.hcl"]}))
        .run(&cx.with_env(env))
        .await
        .expect("ran");
    assert_eq!(outcome.status, OutcomeStatus::Passed, "{outcome:#?}");
    assert!(outcome.findings.is_empty(), "{:#?}", outcome.findings);
    let checks: Vec<_> = outcome
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    assert_eq!(
        checks,
        [
            (
                "packer validate ubuntu-14.04_amd64-amis.json",
                Status::Passed
            ),
            (
                "packer validate ubuntu-14.04_amd64-droplet.json",
                Status::Passed
            ),
            (
                "packer validate ubuntu-14.04_amd64-google.json",
                Status::Passed
            ),
            ("packer validate ubuntu-14.04_amd64.pkr.hcl", Status::Passed),
        ]
    );
    assert_eq!(outcome.outputs["templates"], 4);
    assert_eq!(outcome.outputs["failed"], json!([]));
    assert_eq!(
        outcome.message.as_deref(),
        Some("4 templates passed packer validation")
    );
}

#[tokio::test]
async fn five_broken_templates_fail_with_template_and_location() {
    if !have_packer() {
        return;
    }
    let ws = workspace();
    let (cx, _) = context(&ws.path().join("broken"));
    let outcome = step(json!({"template": "*"})).run(&cx).await.expect("ran");
    assert!(outcome.is_failed());

    let f = finding_for(&outcome.findings, "json-syntax-error.json");
    assert_eq!(
        f.location,
        Some(Location::at("json-syntax-error.json", 12, Some(4)))
    );
    assert!(
        f.message
            .contains("Error parsing JSON: invalid character '}'"),
        "{}",
        f.message
    );

    let f = finding_for(&outcome.findings, "missing-bracket.pkr.hcl");
    assert_eq!(
        f.location,
        Some(Location::at("missing-bracket.pkr.hcl", 11, None))
    );
    assert!(
        f.message
            .starts_with("Argument or block definition required"),
        "{}",
        f.message
    );

    // Packer gives no position for these: the finding names the template.
    let f = finding_for(&outcome.findings, "unknown-builder.json");
    assert_eq!(f.location, Some(Location::file("unknown-builder.json")));
    assert!(
        f.message.contains("Unknown builder atlas-ami"),
        "{}",
        f.message
    );
    let f = finding_for(&outcome.findings, "required-variable-missing.json");
    assert_eq!(f.message, "required variable not set: do_api_token");
    let f = finding_for(&outcome.findings, "required-field-missing.json");
    assert!(
        f.message
            .contains("either instance_type or spot_instance_types must be specified"),
        "{}",
        f.message
    );

    assert_eq!(outcome.findings.len(), 5, "{:#?}", outcome.findings);
    assert!(
        outcome
            .findings
            .iter()
            .all(|f| f.id == "packer-validate" && f.severity == Severity::Error)
    );
    assert_eq!(
        outcome
            .checks
            .iter()
            .filter(|c| c.status == Status::Failed)
            .count(),
        5
    );

    // The step message says which templates failed and why.
    let message = outcome.message.as_deref().unwrap_or_default();
    assert!(
        message.starts_with("5 of 5 templates failed packer validation: "),
        "{message}"
    );
    for expected in [
        "json-syntax-error.json:12:4: Failed to parse template",
        "missing-bracket.pkr.hcl:11: Argument or block definition required",
        "unknown-builder.json: Failed to initialize build \"atlas-ami\"",
        "required-variable-missing.json: required variable not set: do_api_token",
        "required-field-missing.json: Failed to prepare build: \"amazon-ebs\"",
    ] {
        assert!(
            message.contains(expected),
            "missing {expected:?} in {message}"
        );
    }
    let mut failed: Vec<_> = outcome.outputs["failed"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        [
            "json-syntax-error.json",
            "missing-bracket.pkr.hcl",
            "required-field-missing.json",
            "required-variable-missing.json",
            "unknown-builder.json",
        ]
    );
}

#[tokio::test]
async fn one_broken_template_among_valid_ones_fails_alone() {
    if !have_packer() {
        return;
    }
    let ws = workspace();
    let (cx, _) = context(ws.path());
    // From the parent directory the HCL2 file is named by its relative path,
    // and packer's `on FILE line L` uses the same spelling.
    let outcome = step(json!({
        "template": ["broken/missing-bracket.pkr.hcl", "build/null.pkr.hcl"],
        "jobs": 1,
    }))
    .run(&cx)
    .await
    .expect("ran");
    assert!(outcome.is_failed());
    assert_eq!(outcome.findings.len(), 1, "{:#?}", outcome.findings);
    assert_eq!(
        outcome.findings[0].location,
        Some(Location::at("broken/missing-bracket.pkr.hcl", 11, None))
    );
    assert!(
        outcome
            .message
            .as_deref()
            .unwrap_or_default()
            .starts_with("1 of 2 templates failed"),
        "{:?}",
        outcome.message
    );
    let statuses: Vec<_> = outcome.checks.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [Status::Failed, Status::Passed]);
}

#[tokio::test]
async fn syntax_only_misses_what_only_a_full_validation_sees() {
    if !have_packer() {
        return;
    }
    let ws = workspace();
    let (cx, _) = context(&ws.path().join("broken"));
    let outcome = step(json!({"template": "*", "syntax_only": true}))
        .run(&cx)
        .await
        .expect("ran");
    let mut failed: Vec<_> = outcome
        .findings
        .iter()
        .filter_map(|f| f.location.as_ref().map(|l| l.file.clone()))
        .collect();
    failed.sort();
    // Unknown builder, missing variable, missing builder field: not caught.
    assert_eq!(
        failed,
        ["json-syntax-error.json", "missing-bracket.pkr.hcl"]
    );
    assert!(
        outcome
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("failed packer syntax")
    );
}

#[tokio::test]
async fn hcl2_warns_about_a_var_it_does_not_declare() {
    if !have_packer() {
        return;
    }
    // A fact of packer 1.6.6 worth a test: `vars` go to every template. They
    // reach packer through a generated var file (never `-var` on argv), and
    // a var file only makes HCL2 warn about a variable it does not declare
    // (a `-var` would fail it).
    let ws = workspace();
    let (cx, _) = context(&ws.path().join("build"));
    let outcome = step(json!({"template": "null.pkr.hcl", "vars": {"do_api_token": "x"}}))
        .run(&cx)
        .await
        .expect("ran");
    assert_eq!(outcome.status, OutcomeStatus::Passed, "{outcome:#?}");
    assert!(
        outcome.findings[0]
            .message
            .starts_with("Undefined variable"),
        "{:#?}",
        outcome.findings
    );
    std::fs::write(
        ws.path().join("build/extra.json"),
        r#"{"do_api_token": "x"}"#,
    )
    .expect("write");
    let outcome = step(json!({"template": "null.pkr.hcl", "var_files": "extra.json"}))
        .run(&cx)
        .await
        .expect("ran");
    assert_eq!(outcome.status, OutcomeStatus::Passed, "{outcome:#?}");
    assert_eq!(outcome.findings.len(), 1);
    assert_eq!(outcome.findings[0].id, "packer-validate-warning");
    assert_eq!(outcome.findings[0].severity, Severity::Medium);
    assert!(
        outcome.findings[0]
            .message
            .starts_with("Undefined variable"),
        "{:#?}",
        outcome.findings
    );
}

#[tokio::test]
async fn variables_and_builds_are_passed_to_packer() {
    if !have_packer() {
        return;
    }
    let ws = workspace();
    let (cx, _) = context(&ws.path().join("valid"));
    let without = step(json!({"template": "ubuntu-14.04_amd64-droplet.json"}))
        .run(&cx.clone().with_env({
            let mut env = cx.env().clone();
            env.remove("DIGITALOCEAN_API_TOKEN");
            env
        }))
        .await
        .expect("ran");
    assert!(without.is_failed());
    assert!(
        without.findings[0]
            .message
            .contains("api_token for auth must be specified")
    );

    std::fs::write(
        ws.path().join("valid/do.json"),
        r#"{"do_api_token": "from-a-file"}"#,
    )
    .expect("write");
    let with_file =
        step(json!({"template": "ubuntu-14.04_amd64-droplet.json", "var_files": "do.json"}))
            .run(&cx)
            .await
            .expect("ran");
    assert_eq!(with_file.status, OutcomeStatus::Passed, "{with_file:#?}");

    // `except` skips the only build, so its missing token no longer matters.
    let except =
        step(json!({"template": "ubuntu-14.04_amd64-droplet.json", "except": "digitalocean"}))
            .run(&cx)
            .await
            .expect("ran");
    assert_eq!(except.status, OutcomeStatus::Passed, "{except:#?}");
}

#[tokio::test]
async fn scripts_resolve_against_the_working_directory() {
    if !have_packer() {
        return;
    }
    let ws = workspace();
    let (cx, _) = context(ws.path());
    let outcome = step(json!({"template": "valid/ubuntu-14.04_amd64-amis.json"}))
        .run(&cx)
        .await
        .expect("ran");
    assert!(outcome.is_failed());
    let messages: Vec<_> = outcome
        .findings
        .iter()
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "Failed to prepare build: \"amazon-ebs\": Bad script 'scripts/ubuntu/base.sh': stat scripts/ubuntu/base.sh: no such file or directory",
            "Failed to prepare build: \"amazon-ebs\": Bad script 'scripts/ubuntu/install_mesos.sh': stat scripts/ubuntu/install_mesos.sh: no such file or directory",
        ]
    );
}

#[tokio::test]
async fn configuration_errors_name_the_property() {
    let ws = workspace();
    let (cx, _) = context(&ws.path().join("valid"));
    // These are found before packer is looked for, so they need no packer.
    let err = step(json!({"template": ["*.json", "packer/*.hcl"]}))
        .run(&cx)
        .await
        .unwrap_err();
    match &err {
        StepError::Config(c) => {
            assert_eq!(c.property.as_deref(), Some("template"));
            assert!(c.message.contains("`packer/*.hcl` matches no file"), "{c}");
        }
        other => panic!("expected a config error, got {other}"),
    }
    let err = step(json!({"template": "*.json", "var_files": "missing.json"}))
        .run(&cx)
        .await
        .unwrap_err();
    assert!(
        err.is_config() && err.to_string().contains("var_files"),
        "{err}"
    );

    let e =
        PackerValidate::from_properties(json!({"template": "t.json", "only": "a", "except": "b"}))
            .unwrap_err();
    assert!(e.message.contains("cannot both be set"), "{e}");
    let e = PackerValidate::from_properties(json!({"templates": "t.json"})).unwrap_err();
    assert_eq!(e.property.as_deref(), Some("templates"));
    let e = PackerValidate::new(PackerValidateConfig::new(Vec::<String>::new())).unwrap_err();
    assert_eq!(e.property.as_deref(), Some("template"));
}
