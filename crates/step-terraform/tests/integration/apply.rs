//! A real apply and destroy: a marker file is created by a local-exec
//! provisioner and removed by a destroy-time one; outputs are read back by a
//! later step; sensitive outputs are published but masked.

use serde_json::{Map, Value, json};
use step_core::process::Cmd;
use step_core::{EnvChange, Step};
use step_terraform::{Terraform, TerraformApply, TerraformDestroy};

use crate::support::{Sandbox, terraform};

#[tokio::test]
async fn apply_publishes_outputs_a_later_step_reads_and_the_teardown_destroys_it() {
    if !terraform() {
        return;
    }
    let sb = Sandbox::with_fixture("marker");
    let marker = sb.path("marker.txt");
    let mut env = sb.env();
    env.set("TF_TEST_TOKEN", "t0ken-from-the-environment");
    let cx = sb.cx_with(env.clone(), None, step_core::Cancel::new());

    let apply = TerraformApply::from_properties(json!({
        "dir": "marker",
        "vars": {"marker_path": marker.to_string_lossy(), "name": "stepwise"},
        "secret_vars": {"token": "TF_TEST_TOKEN"},
    }))
    .unwrap();
    let outcome = apply.run(&cx).await.expect("apply runs");
    assert!(!outcome.is_failed(), "{:?}", outcome.message);
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), "created");
    assert_eq!(
        outcome.outputs["marker_path"],
        marker.to_string_lossy().as_ref()
    );
    assert_eq!(outcome.outputs["greeting"], "hello stepwise from default");
    assert_eq!(outcome.outputs["token_echo"], "t0ken-from-the-environment");
    assert!(
        outcome.message.as_deref().unwrap_or("").contains("1 added"),
        "{:?}",
        outcome.message
    );

    // The JSON stream was shown as terraform's readable messages.
    let lines = sb.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("terraform_data.marker: Creation complete")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Apply complete! Resources: 1 added")),
        "{lines:#?}"
    );
    sb.assert_clean_output();

    // Sensitive outputs: published as outputs, masked everywhere else —
    // also in what later steps print.
    let password = outcome.outputs["db_password"].as_str().unwrap().to_string();
    assert!(password.starts_with("pw-") && password.len() > 10);
    for line in sb.lines() {
        assert!(!line.contains(&password), "secret shown: {line}");
        assert!(
            !line.contains("t0ken-from-the-environment"),
            "secret shown: {line}"
        );
    }
    let echo = Cmd::new("echo")
        .arg(format!("password is {password}"))
        .run(&cx)
        .await
        .unwrap();
    assert!(echo.success());
    assert!(
        sb.lines().iter().any(|l| l == "password is ***"),
        "{:#?}",
        sb.lines()
    );

    // A later step reads an output through a template, as the runner
    // expands `${{ outputs.tf.marker_path }}` in a script step.
    let mut outputs = Map::new();
    outputs.insert("tf".into(), Value::Object(outcome.outputs.clone()));
    let later = cx.clone().with_outputs(outputs);
    let path =
        step_core::template::eval("code", "outputs.tf.marker_path", &later.template_context())
            .unwrap();
    let read = Cmd::new("cat")
        .arg(path.as_str().unwrap())
        .capture(1024)
        .run(&later)
        .await
        .unwrap();
    assert_eq!(read.stdout.trim(), "created");

    // The teardown names the secret's variable, never its value, and
    // destroys exactly what was applied.
    let teardown = apply.teardown().expect("apply registers a teardown");
    let recorded = teardown.record().properties.to_string();
    assert!(
        recorded.contains("TF_TEST_TOKEN") && !recorded.contains("t0ken-from"),
        "{recorded}"
    );
    let destroy = TerraformDestroy::from_properties(teardown.record().properties.clone()).unwrap();
    let outcome = destroy.run(&cx).await.expect("destroy runs");
    assert!(!outcome.is_failed(), "{:?}", outcome.message);
    assert!(
        !marker.exists(),
        "the destroy provisioner removes the marker"
    );
    assert!(
        outcome
            .message
            .as_deref()
            .unwrap_or("")
            .contains("destroyed 1 resource"),
        "{:?}",
        outcome.message
    );

    // Destroying again finds nothing, and passes.
    let again = destroy.run(&cx).await.expect("second destroy runs");
    assert!(!again.is_failed(), "{:?}", again.message);
    assert!(
        again
            .message
            .as_deref()
            .unwrap_or("")
            .contains("nothing to destroy"),
        "{:?}",
        again.message
    );
    assert!(
        outcome
            .env
            .iter()
            .all(|c| !matches!(c, EnvChange::Set { .. }))
    );
}

#[tokio::test]
async fn the_terraform_kind_plans_applies_reads_outputs_and_destroys() {
    if !terraform() {
        return;
    }
    let sb = Sandbox::with_fixture("marker");
    let cx = sb.cx();
    let marker = sb.path("m.txt");
    // `vars` override `var_files`: the file's marker_path must lose.
    std::fs::write(
        sb.path("common.tfvars"),
        "name = \"from-file\"\nmarker_path = \"/nonexistent/dir/marker\"\n",
    )
    .unwrap();
    let props = |command: &str, init: bool| {
        json!({
            "command": command,
            "init": init,
            "dir": "marker",
            "var_files": ["common.tfvars"],
            "vars": {"marker_path": marker.to_string_lossy()},
            "parallelism": 2,
            "lock_timeout": "10s",
        })
    };
    let run = |command: &'static str, init: bool| {
        let step = Terraform::from_properties(props(command, init)).unwrap();
        let cx = cx.clone();
        async move { step.run(&cx).await.expect("terraform runs") }
    };

    let plan = run("plan", true).await;
    assert!(!plan.is_failed(), "{:?}", plan.message);
    assert_eq!(plan.outputs["changes"], true);
    assert_eq!(plan.outputs["add"], 1);
    assert!(!marker.exists(), "a plan changes nothing");
    // The diff is shown: the resource with its attributes.
    let lines = sb.lines();
    let diff = lines
        .iter()
        .position(|l| l.contains("# terraform_data.marker will be created"));
    assert!(diff.is_some(), "{lines:#?}");
    let input = format!("+ input  = \"{}\"", marker.to_string_lossy());
    assert!(lines.iter().any(|l| l.contains(&input)), "{lines:#?}");

    let apply = run("apply", false).await;
    assert!(!apply.is_failed(), "{:?}", apply.message);
    assert!(marker.exists());
    assert_eq!(apply.outputs["workspace"], "default");
    assert_eq!(apply.outputs["greeting"], "hello from-file from default");

    let plan = run("plan", false).await;
    assert_eq!(plan.outputs["changes"], false, "{:?}", plan.message);

    let output = run("output", false).await;
    assert_eq!(
        output.outputs["marker_path"],
        marker.to_string_lossy().as_ref()
    );

    let validate = run("validate", false).await;
    assert!(!validate.is_failed(), "{:?}", validate.message);

    let destroy = run("destroy", false).await;
    assert!(!destroy.is_failed(), "{:?}", destroy.message);
    assert!(!marker.exists());
    sb.assert_clean_output();
}
