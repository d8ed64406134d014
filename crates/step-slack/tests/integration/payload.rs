//! What is posted: text, color and fields for passed, failed and cancelled
//! runs; custom templates; the seed's conventions under its own kind name.

use serde_json::json;
use step_core::outcome::OutcomeStatus;
use step_core::{RunResult, StepError};

use crate::support::*;

#[tokio::test]
async fn a_passed_run_posts_green_with_the_runs_facts() {
    let server = ok_server().await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Passed), &wercker_env());
    let outcome = run(
        "slack-notify",
        props(&url, json!({"channel": "#apollo"})),
        &h,
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Passed, "{outcome:?}");
    assert_eq!(outcome.outputs["sent"], true);
    assert_eq!(outcome.outputs["attempts"], 1);
    assert!(
        outcome.message.as_deref().unwrap().contains("#apollo"),
        "{outcome:?}"
    );

    let body = only_body(&server).await;
    assert_eq!(
        body["text"],
        "[wantedly/apollo] build(01234567) of master by alice passed"
    );
    assert_eq!(body["channel"], "#apollo");
    assert!(body.get("username").is_none(), "{body}");
    let a = &body["attachments"][0];
    assert_eq!(a["color"], "good");
    assert_eq!(a["fallback"], body["text"]);
    assert_eq!(a["title"], "wantedly/apollo: build passed");
    assert_eq!(a["title_link"], "https://ci.example/runs/42");
    assert_eq!(field(&body, "Pipeline"), Some("build"));
    assert_eq!(field(&body, "Branch"), Some("master"));
    assert_eq!(field(&body, "Commit"), Some("01234567"));
    assert_eq!(field(&body, "Started by"), Some("alice"));
    assert_eq!(field(&body, "Duration"), Some("2m 5s"));
    assert_eq!(field(&body, "Failed step"), None);
    assert_eq!(field(&body, "Message"), None);
}

#[tokio::test]
async fn a_failed_run_posts_red_with_the_failed_step_and_its_message() {
    let server = ok_server().await;
    let url = webhook(&server);
    let mut run = run_info(RunResult::Failed);
    run.target = Some("aws".into());
    let h = harness(run, &wercker_env());
    let outcome = run_kind_ok("slack-notify", &url, &h).await;
    assert_eq!(outcome.status, OutcomeStatus::Passed);

    let body = only_body(&server).await;
    assert_eq!(
        body["text"],
        "[wantedly/apollo] build(01234567) of master for aws by alice failed"
    );
    assert_eq!(body["attachments"][0]["color"], "danger");
    assert_eq!(
        body["attachments"][0]["title"],
        "wantedly/apollo: build failed (aws)"
    );
    assert_eq!(field(&body, "Target"), Some("aws"));
    assert_eq!(field(&body, "Failed step"), Some("terraform-apply"));
    // Slack's reserved characters are escaped, so the message shows as written.
    assert_eq!(
        field(&body, "Message"),
        Some("exit status 1: Error &lt;creating&gt; instance")
    );
    let message = body["attachments"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["title"] == "Message")
        .unwrap();
    assert_eq!(message["short"], false);
}

#[tokio::test]
async fn a_cancelled_run_posts_a_warning_color() {
    let server = ok_server().await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Cancelled), &wercker_env());
    run_kind_ok("slack-notify", &url, &h).await;
    let body = only_body(&server).await;
    assert_eq!(body["attachments"][0]["color"], "warning");
    assert!(
        body["text"].as_str().unwrap().ends_with(" cancelled"),
        "{body}"
    );
    assert_eq!(field(&body, "Failed step"), Some("terraform-apply"));
}

#[tokio::test]
async fn messages_are_templates_over_the_runs_variables() {
    let server = ok_server().await;
    let url = webhook(&server);
    let mut vars = wercker_env();
    vars.push(("DEPLOY_ENV", "staging"));
    let h = harness(run_info(RunResult::Failed), &vars);
    let properties = props(
        &url,
        json!({
            "passed_message": "all good",
            "failed_message": "{{ result_title }}: {{ repo }}@{{ branch }} ({{ commit_short }}) step {{ failed_step }} \
                               in {{ duration }} on {{ env.DEPLOY_ENV }} <{{ build_url }}|build>",
            "icon_emoji": ":fire:",
            "username": "ci",
        }),
    );
    run("slack-notify", properties, &h).await.unwrap();
    let body = only_body(&server).await;
    assert_eq!(
        body["text"],
        "Failed: wantedly/apollo@master (01234567) step terraform-apply in 2m 5s on staging \
         <https://ci.example/runs/42|build>"
    );
    assert_eq!(body["icon_emoji"], ":fire:");
    assert_eq!(body["username"], "ci");
}

#[tokio::test]
async fn cancelled_runs_use_the_failed_message_unless_they_have_their_own() {
    let server = ok_server().await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Cancelled), &[]);
    run(
        "slack-notify",
        props(&url, json!({"failed_message": "not green: {{ result }}"})),
        &h,
    )
    .await
    .unwrap();
    assert_eq!(only_body(&server).await["text"], "not green: cancelled");

    let server = ok_server().await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Cancelled), &[]);
    let properties = props(
        &url,
        json!({"failed_message": "red", "cancelled_message": "stopped by {{ run.id }}"}),
    );
    run("slack-notify", properties, &h).await.unwrap();
    assert_eq!(only_body(&server).await["text"], "stopped by run-1");
}

#[tokio::test]
async fn an_undefined_template_variable_is_an_error_naming_it_and_nothing_is_sent() {
    let server = ok_server().await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Passed), &[]);
    let err = run(
        "slack-notify",
        props(&url, json!({"passed_message": "{{ nope.deeper }}"})),
        &h,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StepError::Template(_)), "{err:?}");
    assert!(err.to_string().contains("nope.deeper"), "{err}");
    assert!(err.to_string().contains("passed_message"), "{err}");
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn the_seeds_step_name_keeps_its_channel_and_username_conventions() {
    // The seed's after-step: `wantedly/pretty-slack-notify` with channel `apollo`
    // and username `wercker-bot`.
    let server = ok_server().await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Failed), &wercker_env());
    let properties = props(
        &url,
        json!({"channel": "apollo", "username": "wercker-bot"}),
    );
    let outcome = run("wantedly/pretty-slack-notify", properties, &h)
        .await
        .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Passed, "{outcome:?}");
    let body = only_body(&server).await;
    assert_eq!(body["channel"], "#apollo");
    assert_eq!(body["username"], "wercker-bot Failed");
    assert_eq!(
        body["text"],
        "[wantedly/apollo] build(01234567) of master by alice failed"
    );
    assert_eq!(body["attachments"][0]["color"], "danger");

    // No username: the seed's default, `Wercker`.
    let server = ok_server().await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Passed), &[]);
    run(
        "wantedly/pretty-slack-notify",
        props(&url, json!({"channel": "@bob"})),
        &h,
    )
    .await
    .unwrap();
    let body = only_body(&server).await;
    assert_eq!(body["username"], "Wercker Passed");
    assert_eq!(body["channel"], "@bob");
    // With nothing known but the result, the text still reads.
    assert_eq!(body["text"], "build passed");
}

#[tokio::test]
async fn standalone_use_reads_the_result_from_the_environment() {
    let server = ok_server().await;
    let url = webhook(&server);
    let h = harness(
        step_core::RunInfo::default(),
        &[
            ("WERCKER_RESULT", "failed"),
            ("STEPWISE_GIT_BRANCH", "main"),
        ],
    );
    let step =
        step_slack::SlackNotify::new(step_slack::SlackNotifyConfig::new(url.clone())).unwrap();
    let outcome = step_core::Step::run(&step, &h.cx).await.unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Passed, "{outcome:?}");
    let body = only_body(&server).await;
    assert_eq!(body["text"], "run of main failed");
    // No run info from a runner: no made-up duration.
    assert_eq!(field(&body, "Duration"), None);
}

async fn run_kind_ok(kind: &str, url: &str, h: &Harness) -> step_core::Outcome {
    run(kind, props(url, json!({})), h)
        .await
        .expect("step runs")
}
