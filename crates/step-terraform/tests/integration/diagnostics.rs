//! Failures a person must be able to act on: findings with file:line for an
//! invalid configuration, terraform's own message (quickly) when a provider
//! cannot be downloaded, configuration errors that name the property, and a
//! missing terraform.

use std::time::{Duration, Instant};

use serde_json::json;
use step_core::{Location, Severity, Step, StepError};
use step_terraform::{Terraform, TerraformApply};

use crate::support::{Sandbox, terraform};

#[tokio::test]
async fn an_invalid_config_fails_with_findings_at_file_and_line() {
    if !terraform() {
        return;
    }
    let sb = Sandbox::with_fixture("invalid");
    let cx = sb.cx();

    let validate =
        Terraform::from_properties(json!({"command": "validate", "init": true, "dir": "invalid"}))
            .unwrap();
    let outcome = validate.run(&cx).await.expect("validate runs");
    assert!(outcome.is_failed());
    let message = outcome.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("terraform validate found 2 errors"),
        "{message}"
    );
    let mut locations: Vec<Location> = outcome
        .findings
        .iter()
        .filter_map(|f| f.location.clone())
        .collect();
    locations.sort_by_key(|l| l.line);
    assert_eq!(
        locations,
        vec![
            Location::at("invalid/main.tf", 3, Some(3)),
            Location::at("invalid/main.tf", 7, Some(11)),
        ]
    );
    let bogus = outcome
        .findings
        .iter()
        .find(|f| f.location.as_ref().and_then(|l| l.line) == Some(3))
        .unwrap();
    assert_eq!(bogus.id, "Unsupported argument");
    assert_eq!(bogus.severity, Severity::Error);
    assert!(bogus.message.contains("\"bogus\""), "{}", bogus.message);

    // terraform-apply stops at the same errors, from the JSON stream.
    let apply = TerraformApply::from_properties(json!({"dir": "invalid"})).unwrap();
    let outcome = apply.run(&cx).await.expect("apply runs");
    assert!(outcome.is_failed());
    assert!(
        outcome
            .findings
            .iter()
            .any(|f| f.location == Some(Location::at("invalid/main.tf", 3, Some(3)))),
        "{:#?}",
        outcome.findings
    );
    let message = outcome.message.unwrap_or_default();
    assert!(
        message.starts_with("terraform apply failed (exit code 1): "),
        "{message}"
    );
    assert!(message.contains("invalid/main.tf:"), "{message}");
    sb.assert_clean_output();
}

#[tokio::test]
async fn a_provider_from_an_unreachable_registry_fails_clearly_and_quickly() {
    if !terraform() {
        return;
    }
    let sb = Sandbox::with_fixture("registry");
    let apply = TerraformApply::from_properties(json!({
        "dir": "registry",
        "init_timeout": "60s",
        "retry_attempts": 0,
    }))
    .unwrap();
    let started = Instant::now();
    let outcome = apply.run(&sb.cx()).await.expect("apply runs");
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "took {:?}",
        started.elapsed()
    );
    assert!(outcome.is_failed());
    let message = outcome.message.unwrap_or_default();
    assert!(
        message.starts_with(
            "terraform init failed (exit code 1): Failed to query available provider packages"
        ),
        "{message}"
    );
    assert!(message.contains("hashicorp/aws"), "{message}");
    assert!(!outcome.findings.is_empty());
    sb.assert_clean_output();
}

#[tokio::test]
async fn files_named_by_properties_must_exist() {
    let sb = Sandbox::with_fixture("marker");
    let cx = sb.cx();
    let err = Terraform::from_properties(json!({"command": "plan", "dir": "nope"}))
        .unwrap()
        .run(&cx)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StepError::Config(c) if c.property.as_deref() == Some("dir")),
        "{err}"
    );
    let err = Terraform::from_properties(
        json!({"command": "plan", "dir": "marker", "var_files": ["x.tfvars"]}),
    )
    .unwrap()
    .run(&cx)
    .await
    .unwrap_err();
    assert!(
        matches!(&err, StepError::Config(c) if c.property.as_deref() == Some("var_files[0]")),
        "{err}"
    );
    let err = Terraform::from_properties(
        json!({"command": "plan", "dir": "marker", "secret_vars": {"pw": "NO_SUCH_VAR_XYZ"}}),
    )
    .unwrap()
    .run(&cx)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("NO_SUCH_VAR_XYZ"), "{err}");
}

#[tokio::test]
async fn a_missing_terraform_is_a_tool_error_with_an_install_hint() {
    let sb = Sandbox::with_fixture("marker");
    let mut env = sb.env();
    env.set("PATH", sb.path("empty-bin").to_string_lossy());
    let cx = sb.cx_with(env, None, step_core::Cancel::new());
    let err = Terraform::from_properties(json!({"command": "plan", "dir": "marker"}))
        .unwrap()
        .run(&cx)
        .await
        .unwrap_err();
    assert!(matches!(err, StepError::Tool(_)), "{err}");
    assert!(err.to_string().contains("terraform-install"), "{err}");
}
