//! `notify_on` and `branches` skip sending and say why.

use serde_json::json;
use step_core::RunResult;
use step_core::outcome::OutcomeStatus;

use crate::support::*;

#[tokio::test]
async fn notify_on_failed_skips_a_passed_run_and_says_so() {
    let server = ok_server().await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Passed), &wercker_env());
    let outcome = run(
        "slack-notify",
        props(&url, json!({"notify_on": "failed"})),
        &h,
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Skipped);
    let reason = outcome.message.as_deref().unwrap();
    assert!(reason.contains("notify_on is `failed`"), "{reason}");
    assert!(reason.contains("passed"), "{reason}");
    assert_eq!(outcome.outputs["sent"], false);
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn notify_on_failed_sends_for_a_failed_run_and_passed_for_a_passed_one() {
    for (notify_on, result) in [("failed", RunResult::Failed), ("passed", RunResult::Passed)] {
        let server = ok_server().await;
        let url = webhook(&server);
        let h = harness(run_info(result), &[]);
        let outcome = run(
            "slack-notify",
            props(&url, json!({"notify_on": notify_on})),
            &h,
        )
        .await
        .unwrap();
        assert_eq!(
            outcome.status,
            OutcomeStatus::Passed,
            "{notify_on}: {outcome:?}"
        );
        assert_eq!(requests(&server).await.len(), 1, "{notify_on}");
    }
    // `failed` means failed: a cancelled run is not notified.
    let server = ok_server().await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Cancelled), &[]);
    let outcome = run(
        "slack-notify",
        props(&url, json!({"notify_on": "failed"})),
        &h,
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Skipped);
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn branches_skips_other_branches_and_says_which() {
    let server = ok_server().await;
    let url = webhook(&server);
    let h = harness(
        run_info(RunResult::Failed),
        &[("STEPWISE_GIT_BRANCH", "feature/x")],
    );
    let outcome = run(
        "slack-notify",
        props(&url, json!({"branches": "^(main|release/.*)$"})),
        &h,
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Skipped);
    let reason = outcome.message.as_deref().unwrap();
    assert!(reason.contains("`feature/x`"), "{reason}");
    assert!(reason.contains("^(main|release/.*)$"), "{reason}");
    assert!(requests(&server).await.is_empty());

    let h = harness(
        run_info(RunResult::Failed),
        &[("WERCKER_GIT_BRANCH", "release/1.2")],
    );
    let outcome = run(
        "slack-notify",
        props(&url, json!({"branches": "^(main|release/.*)$"})),
        &h,
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Passed, "{outcome:?}");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn branches_with_an_unknown_branch_skips_and_says_the_branch_is_unknown() {
    let server = ok_server().await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Passed), &[]);
    let outcome = run(
        "wantedly/pretty-slack-notify",
        props(&url, json!({"branches": "master"})),
        &h,
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Skipped);
    assert!(
        outcome
            .message
            .as_deref()
            .unwrap()
            .contains("branch is unknown"),
        "{outcome:?}"
    );
    assert!(requests(&server).await.is_empty());
}
