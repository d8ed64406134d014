//! The webhook URL, its token path included, appears in no event, outcome
//! or error — and is not relied upon to be masked: on the error paths the
//! events hold no `***` either, so nothing was printed that needed masking.

use serde_json::json;
use step_core::{RunResult, Step};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

#[tokio::test]
async fn the_url_is_registered_as_a_secret_before_anything_else() {
    let server = ok_server().await;
    let url = webhook(&server);
    // Skipped runs send nothing, yet the URL is registered all the same.
    let h = harness(run_info(RunResult::Passed), &[]);
    let result = run(
        "slack-notify",
        props(&url, json!({"notify_on": "failed"})),
        &h,
    )
    .await;
    let masker = h.cx.events().masker();
    assert_eq!(masker.mask(&url), "***");
    assert_eq!(masker.mask(TOKEN_PATH), "***");
    assert_eq!(masker.mask(&format!("token={TOKEN}")), "token=***");
    // A later line that prints the token (a script's `curl -v`) is masked.
    h.cx.info(format!("POST {TOKEN_PATH} HTTP/1.1"));
    assert_no_leak(&url, &visible_texts(&h, &result));
}

#[tokio::test]
async fn the_url_is_not_sent_to_slack_even_when_a_template_asks_for_it() {
    let server = ok_server().await;
    let url = webhook(&server);
    let h = harness(
        run_info(RunResult::Failed),
        &[("SLACK_WEBHOOK_URL", url.as_str())],
    );
    let properties = props(
        &url,
        json!({"failed_message": "hook: {{ env.SLACK_WEBHOOK_URL }}"}),
    );
    let result = run("slack-notify", properties, &h).await;
    let body = only_body(&server).await.to_string();
    assert!(body.contains("hook: ***"), "{body}");
    assert_no_leak(&url, &[body]);
    assert_no_leak(&url, &visible_texts(&h, &result));
}

#[tokio::test]
async fn error_paths_leak_nothing_and_need_no_masking() {
    for status in [404u16, 500, 403] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_string("invalid_token"))
            .mount(&server)
            .await;
        let url = webhook(&server);
        let h = harness(run_info(RunResult::Failed), &[]);
        let properties = props(&url, json!({"retries": 1, "retry_delay": "10ms"}));
        let result = run("slack-notify", properties, &h).await;
        let texts = visible_texts(&h, &result);
        assert_no_leak(&url, &texts);
        assert!(
            texts.iter().all(|t| !t.contains("***")),
            "{status}: {texts:?}"
        );
        assert!(result.unwrap().is_failed(), "{status}");
    }
}

#[tokio::test]
async fn a_server_echoing_the_url_in_its_error_page_is_masked_in_the_message() {
    // Some proxies answer with an error page that repeats the requested URL.
    let server = MockServer::start().await;
    let url = webhook(&server);
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string(format!("bad request for {url}")))
        .mount(&server)
        .await;
    let h = harness(run_info(RunResult::Passed), &[]);
    let result = run("slack-notify", props(&url, json!({})), &h).await;
    let outcome = result.as_ref().unwrap();
    assert!(
        outcome
            .message
            .as_deref()
            .unwrap()
            .contains("bad request for ***"),
        "{outcome:?}"
    );
    assert_no_leak(&url, &visible_texts(&h, &result));
}

#[tokio::test]
async fn config_errors_and_debug_output_never_show_the_url() {
    let secret = format!("ftp://hooks.example{TOKEN_PATH}");
    let err = build("slack-notify", json!({"webhook_url": secret}))
        .err()
        .unwrap();
    assert_no_leak(&secret, &[err.to_string(), format!("{err:?}")]);
    assert_eq!(err.property.as_deref(), Some("webhook_url"));

    let url = format!("https://hooks.example{TOKEN_PATH}");
    let step =
        step_slack::SlackNotify::new(step_slack::SlackNotifyConfig::new(url.clone())).unwrap();
    assert_no_leak(&url, &[format!("{step:?}"), format!("{:?}", step.config())]);
    let boxed: Box<dyn Step> = build("slack-notify", json!({"webhook_url": url})).unwrap();
    drop(boxed);
}
