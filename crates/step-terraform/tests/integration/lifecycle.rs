//! Cancellation (SIGINT first: terraform stops gracefully and writes its
//! state) and retries of transient failures.

use std::time::{Duration, Instant};

use serde_json::json;
use step_core::{Cancel, CancelReason, Step, StepError};
use step_terraform::TerraformApply;

use crate::support::{Sandbox, terraform};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_apply_interrupts_terraform_which_writes_its_state() {
    if !terraform() {
        return;
    }
    let sb = Sandbox::with_fixture("slow");
    let cancel = Cancel::new();
    let cx = sb.cx_with(sb.env(), None, cancel.clone());
    // A grace far longer than terraform needs: if SIGINT did not stop it,
    // the test would wait for the kill and fail the time bound below.
    let apply =
        TerraformApply::from_properties(json!({"dir": "slow", "stop_grace": "20s"})).unwrap();
    let running = tokio::spawn(async move { apply.run(&cx).await });

    let deadline = Instant::now() + Duration::from_secs(30);
    while !sb
        .lines()
        .iter()
        .any(|l| l.contains("(local-exec): Executing"))
    {
        assert!(
            Instant::now() < deadline,
            "the provisioner never started: {:#?}",
            sb.lines()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cancelled_at = Instant::now();
    cancel.cancel(CancelReason::Interrupted);
    let result = running.await.expect("the step task");
    let took = cancelled_at.elapsed();
    assert!(matches!(result, Err(StepError::Cancelled)), "{result:?}");
    assert!(
        took < Duration::from_secs(10),
        "stopping took {took:?}: SIGINT was not a graceful stop"
    );
    assert!(
        sb.lines().iter().any(|l| l.contains("Interrupt received")),
        "terraform saw SIGINT: {:#?}",
        sb.lines()
    );
    // On SIGINT terraform records the half-created resource (tainted); a
    // SIGKILL would have left no state at all.
    let state = std::fs::read_to_string(sb.path("slow/terraform.tfstate")).expect("state written");
    assert!(state.contains("\"tainted\""), "{state}");
}

#[tokio::test]
async fn a_transient_failure_is_retried() {
    if !terraform() {
        return;
    }
    let sb = Sandbox::with_fixture("flaky");
    let apply = TerraformApply::from_properties(json!({
        "dir": "flaky",
        "retry_delay": "100ms",
        "teardown": false,
    }))
    .unwrap();
    let outcome = apply.run(&sb.cx()).await.expect("apply runs");
    assert!(!outcome.is_failed(), "{:?}", outcome.message);
    let attempts = std::fs::read_to_string(sb.path("flaky/attempts.log")).unwrap();
    assert_eq!(attempts.lines().count(), 2, "one failure, one retry");
    assert!(
        sb.lines().iter().any(|l| l.contains("transient error")
            && l.contains("connection reset by peer")
            && l.contains("attempt 2 of 3")),
        "{:#?}",
        sb.lines()
    );
}

#[tokio::test]
async fn a_failure_matching_no_pattern_is_not_retried() {
    if !terraform() {
        return;
    }
    let sb = Sandbox::with_fixture("flaky");
    let apply = TerraformApply::from_properties(json!({
        "dir": "flaky",
        "retry_on": ["quota exceeded"],
        "retry_attempts": 3,
        "retry_delay": "100ms",
    }))
    .unwrap();
    let outcome = apply.run(&sb.cx()).await.expect("apply runs");
    assert!(outcome.is_failed());
    let message = outcome.message.unwrap_or_default();
    assert!(
        message.contains("local-exec provisioner error"),
        "{message}"
    );
    assert!(message.contains("connection reset by peer"), "{message}");
    let attempts = std::fs::read_to_string(sb.path("flaky/attempts.log")).unwrap();
    assert_eq!(attempts.lines().count(), 1);
}
