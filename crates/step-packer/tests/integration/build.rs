//! `packer-build` with packer's null builder (`"communicator": "none"`) and
//! shell-local provisioners: real builds that need no cloud.

use std::time::{Duration, Instant};

use serde_json::json;
use step_core::outcome::OutcomeStatus;
use step_core::{Cancel, CancelReason, Status, Step, StepError};
use step_packer::PackerBuild;

use crate::support::{context, have_packer, output_lines, workspace};

fn step(props: serde_json::Value) -> PackerBuild {
    PackerBuild::from_properties(props).expect("valid config")
}

/// What `${{ outputs.<id>.<expr> }}` gives a later step, evaluated the way
/// the runner does (minijinja over `{"outputs": {id: outputs}}`).
fn output_expr(
    id: &str,
    outputs: &serde_json::Map<String, serde_json::Value>,
    expr: &str,
) -> serde_json::Value {
    let context = json!({"outputs": {id: outputs}});
    step_core::template::eval("test", expr, &context).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

#[tokio::test]
async fn a_null_build_publishes_its_artifacts_as_outputs() {
    if !have_packer() {
        return;
    }
    let ws = workspace();
    let dir = ws.path().join("build");
    let (cx, memory) = context(&dir);
    let outcome = step(json!({
        "template": "null-artifacts.json",
        "vars": {"greeting": "hi, there"},
    }))
    .run(&cx)
    .await
    .expect("ran");
    assert_eq!(outcome.status, OutcomeStatus::Passed, "{outcome:#?}");

    let o = &outcome.outputs;
    assert_eq!(o["artifact_count"], 3);
    assert_eq!(o["first"]["id"], "Null");
    assert_eq!(o["first"]["builder_id"], "fnoeding.null");
    assert_eq!(o["first"]["files"], json!([]));
    assert_eq!(o["second"]["files"], json!(["image-second.raw"]));
    assert_eq!(
        o["second"]["artifacts"][1]["builder_id"],
        "packer.post-processor.artifice"
    );
    assert_eq!(o["second"]["amis"], json!({}));
    // The artifact's file was made in the step's working directory.
    assert!(dir.join("image-second.raw").is_file());

    // A later step reads them as `${{ outputs.pk.<build>.… }}`.
    assert_eq!(output_expr("pk", o, "outputs.pk.first.id"), json!("Null"));
    assert_eq!(
        output_expr("pk", o, "outputs.pk.second.files[0]"),
        json!("image-second.raw")
    );
    assert_eq!(output_expr("pk", o, "outputs.pk.artifact_count"), json!(3));

    // `ui` lines stream decoded; artifact lines are read, not shown.
    let lines = output_lines(&memory);
    assert!(
        lines.iter().any(|l| l == "    first: hi, there"),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l == "==> second: to-stderr"),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("==> Builds finished.")),
        "{lines:#?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("PACKER_COMMA") || l.contains(",artifact,")),
        "{lines:#?}"
    );

    let checks: Vec<_> = outcome
        .checks
        .iter()
        .map(|c| (c.name.clone(), c.status))
        .collect();
    assert!(checks.contains(&("packer build first".to_string(), Status::Passed)));
    assert!(checks.contains(&("packer build second".to_string(), Status::Passed)));
    let message = outcome.message.unwrap_or_default();
    assert!(
        message.starts_with("packer build of null-artifacts.json produced 3 artifacts"),
        "{message}"
    );
}

#[tokio::test]
async fn an_hcl2_build_is_keyed_by_its_dotted_name() {
    if !have_packer() {
        return;
    }
    let ws = workspace();
    let (cx, memory) = context(&ws.path().join("build"));
    let outcome = step(json!({"template": "null.pkr.hcl", "vars": {"greeting": "from-hcl"}}))
        .run(&cx)
        .await
        .expect("ran");
    assert_eq!(outcome.status, OutcomeStatus::Passed, "{outcome:#?}");
    assert_eq!(outcome.outputs["builds"], json!(["hcl.null.example"]));
    assert_eq!(
        output_expr(
            "img",
            &outcome.outputs,
            r#"outputs.img["hcl.null.example"].id"#
        ),
        json!("Null")
    );
    assert!(
        output_lines(&memory)
            .iter()
            .any(|l| l == "    hcl.null.example: from-hcl")
    );
}

#[tokio::test]
async fn only_builds_the_named_build() {
    if !have_packer() {
        return;
    }
    let ws = workspace();
    let (cx, _) = context(&ws.path().join("build"));
    let outcome =
        step(json!({"template": "null-artifacts.json", "only": "first", "parallel_builds": 1}))
            .run(&cx)
            .await
            .expect("ran");
    assert_eq!(outcome.status, OutcomeStatus::Passed, "{outcome:#?}");
    assert_eq!(outcome.outputs["builds"], json!(["first"]));
    assert!(outcome.outputs.get("second").is_none());
}

#[tokio::test]
async fn a_provisioner_exiting_3_fails_the_step_with_packers_message() {
    if !have_packer() {
        return;
    }
    let ws = workspace();
    let (cx, memory) = context(&ws.path().join("build"));
    let outcome = step(json!({"template": "provisioner-exit-3.json"}))
        .run(&cx)
        .await
        .expect("ran");
    assert!(outcome.is_failed());
    assert_eq!(
        outcome.message.as_deref(),
        Some(
            "packer build of provisioner-exit-3.json failed: web: Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"
        )
    );
    assert_eq!(outcome.findings.len(), 1);
    assert_eq!(outcome.findings[0].id, "packer-build");
    assert_eq!(outcome.checks[0].status, Status::Failed);
    assert_eq!(outcome.outputs["artifact_count"], 0);
    assert!(
        output_lines(&memory)
            .iter()
            .any(|l| l == "    web: configuring web")
    );
}

#[tokio::test]
async fn a_broken_template_fails_the_build_with_packers_message() {
    if !have_packer() {
        return;
    }
    let ws = workspace();
    let (cx, _) = context(&ws.path().join("broken"));
    let outcome = step(json!({"template": "json-syntax-error.json"}))
        .run(&cx)
        .await
        .expect("ran");
    assert!(outcome.is_failed());
    let message = outcome.message.unwrap_or_default();
    assert!(
        message.contains("Error parsing JSON: invalid character '}'"),
        "{message}"
    );
}

#[tokio::test]
async fn cancelling_interrupts_packer_so_it_cleans_up() {
    if !have_packer() {
        return;
    }
    let ws = workspace();
    let cancel = Cancel::new();
    let (cx, memory) = context(&ws.path().join("build"));
    let cx = cx.with_cancel(cancel.clone());
    let build = step(json!({"template": "slow.json", "cancel_grace": "20s"}));
    let run = tokio::spawn(async move { build.run(&cx).await });

    let deadline = Instant::now() + Duration::from_secs(20);
    while !output_lines(&memory)
        .iter()
        .any(|l| l == "    slow: provisioning started")
    {
        assert!(
            Instant::now() < deadline,
            "the build never started: {:#?}",
            output_lines(&memory)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cancelled_at = Instant::now();
    cancel.cancel(CancelReason::Interrupted);
    let result = run.await.expect("joined");
    assert!(matches!(result, Err(StepError::Cancelled)), "{result:?}");
    // Packer stopped on the interrupt itself, well before the grace period.
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(15),
        "{:?}",
        cancelled_at.elapsed()
    );
    let lines = output_lines(&memory);
    assert!(
        lines
            .iter()
            .any(|l| l == "Cancelling build after receiving interrupt"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "Cleanly cancelled builds after being interrupted."),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn build_configuration_errors() {
    let ws = workspace();
    let (cx, _) = context(&ws.path().join("build"));
    let err = step(json!({"template": "*.json"}))
        .run(&cx)
        .await
        .unwrap_err();
    assert!(err.is_config(), "{err}");
    assert!(
        err.to_string()
            .contains("builds one template, but `*.json` matches 3"),
        "{err}"
    );
    let err = step(json!({"template": "nope.json"}))
        .run(&cx)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("`nope.json` does not exist"),
        "{err}"
    );
    let e =
        PackerBuild::from_properties(json!({"template": "t.json", "on_error": "ask"})).unwrap_err();
    assert_eq!(e.property.as_deref(), Some("on_error"));
}

/// Stand-in: a fake `packer` that reports which signal it got, to prove the
/// stop signal is SIGINT (real packer cleans up on SIGINT and SIGTERM alike,
/// so the test above cannot tell them apart).
#[cfg(unix)]
#[tokio::test]
async fn the_stop_signal_is_sigint() {
    use std::os::unix::fs::PermissionsExt;

    let ws = workspace();
    let bin = ws.path().join("fake-bin");
    std::fs::create_dir(&bin).expect("mkdir");
    let fake = bin.join("packer");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         trap 'echo \"1,,ui,say,got SIGINT\"; exit 1' INT\n\
         trap 'echo \"1,,ui,say,got SIGTERM\"; exit 1' TERM\n\
         echo '1,,ui,say,ready'\n\
         while :; do sleep 0.1; done\n",
    )
    .expect("write fake packer");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let cancel = Cancel::new();
    let (cx, memory) = context(&ws.path().join("build"));
    let mut env = cx.env().clone();
    env.set("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    let cx = cx.with_env(env).with_cancel(cancel.clone());
    let build = step(json!({"template": "slow.json", "cancel_grace": "10s"}));
    let run = tokio::spawn(async move { build.run(&cx).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !output_lines(&memory).iter().any(|l| l == "ready") {
        assert!(Instant::now() < deadline, "the fake never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel(CancelReason::Interrupted);
    let result = run.await.expect("joined");
    assert!(matches!(result, Err(StepError::Cancelled)), "{result:?}");
    let lines = output_lines(&memory);
    assert!(lines.iter().any(|l| l == "got SIGINT"), "{lines:#?}");
    assert!(!lines.iter().any(|l| l == "got SIGTERM"), "{lines:#?}");
}

#[tokio::test]
async fn vars_never_appear_on_any_command_line() {
    if !have_packer() {
        return;
    }
    let ws = workspace();
    let dir = ws.path().join("build");
    std::fs::write(
        dir.join("argv-probe.json"),
        r#"{
  "variables": {"token": ""},
  "builders": [{"type": "null", "communicator": "none"}],
  "provisioners": [{"type": "shell-local", "inline": [
    "sleep 1",
    "echo '{{user `token`}}' > got-token.txt"
  ]}]
}"#,
    )
    .expect("write");
    let (cx, _) = context(&dir);
    let secret = "packer-argv-secret-4711";
    let watch = stepwise_tests::CmdlineWatch::start(secret);
    let outcome = step(json!({"template": "argv-probe.json", "vars": {"token": secret}}))
        .run(&cx)
        .await
        .expect("ran");
    let (hits, scans) = watch.finish();
    assert_eq!(outcome.status, OutcomeStatus::Passed, "{outcome:#?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("got-token.txt"))
            .unwrap_or_default()
            .trim(),
        secret,
        "packer did not get the var"
    );
    assert!(scans > 10, "the watch hardly ran ({scans} scans)");
    assert!(
        hits.is_empty(),
        "the secret was on a command line: {hits:#?}"
    );
}
