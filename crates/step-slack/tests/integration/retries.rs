//! Delivery against servers that misbehave: 429 with Retry-After, 5xx,
//! 404, other 4xx, a server that never answers, a closed port, and
//! cancellation while waiting. A lost message is a failed outcome with a
//! warning, never an error or a panic.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use step_core::event::EventKind;
use step_core::outcome::OutcomeStatus;
use step_core::{Level, RunResult, StepError};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

async fn server_answering(status: u16, body: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(&server)
        .await;
    server
}

fn warnings(h: &Harness) -> Vec<String> {
    h.events
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Log {
                level: Level::Warn,
                message,
            } => Some(message),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_429_with_retry_after_1_then_200_is_one_success_after_about_a_second() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Passed), &[]);
    // retry_delay is long on purpose: the wait must come from Retry-After.
    let properties = props(&url, json!({"retry_delay": "20s"}));
    let started = Instant::now();
    let outcome = within(Duration::from_secs(10), run("slack-notify", properties, &h))
        .await
        .unwrap();
    let elapsed = started.elapsed();

    assert_eq!(outcome.status, OutcomeStatus::Passed, "{outcome:?}");
    assert_eq!(outcome.outputs["attempts"], 2);
    assert!(
        elapsed >= Duration::from_millis(900),
        "waited only {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "waited {elapsed:?}");
    assert_eq!(requests(&server).await.len(), 2);
    let w = warnings(&h);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("429") && w[0].contains("retrying in 1s"),
        "{w:?}"
    );
}

#[tokio::test]
async fn a_5xx_is_retried_and_a_later_success_counts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Failed), &[]);
    let outcome = within(
        Duration::from_secs(10),
        run(
            "slack-notify",
            props(&url, json!({"retry_delay": "50ms"})),
            &h,
        ),
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Passed, "{outcome:?}");
    assert!(
        outcome
            .message
            .as_deref()
            .unwrap()
            .contains("after 2 attempts"),
        "{outcome:?}"
    );
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn a_500_on_every_try_is_a_failed_outcome_with_a_warning_after_the_configured_retries() {
    let server = server_answering(500, "internal_error").await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Passed), &[]);
    let properties = props(&url, json!({"retries": 2, "retry_delay": "100ms"}));
    let started = Instant::now();
    let result = within(Duration::from_secs(10), run("slack-notify", properties, &h)).await;
    let elapsed = started.elapsed();

    // The step ran and reports a failure: not an error, not a panic. As an
    // after-step that is reported without changing the pipeline's result.
    let outcome = result
        .as_ref()
        .expect("a failed notification is an outcome, not an error");
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    let message = outcome.message.as_deref().unwrap();
    assert!(
        message.starts_with("Slack notification not sent"),
        "{message}"
    );
    assert!(message.contains("3 attempts"), "{message}");
    assert!(
        message.contains("HTTP 500 Internal Server Error (internal_error)"),
        "{message}"
    );
    assert_eq!(outcome.outputs["sent"], false);
    assert_eq!(outcome.outputs["attempts"], 3);
    assert_eq!(requests(&server).await.len(), 3, "1 try + 2 retries");
    // Backoff: 100ms then 200ms.
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    // Two retry notices and the final warning.
    let w = warnings(&h);
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].contains("retrying in 100ms (attempt 2 of 3)"), "{w:?}");
    assert!(w[1].contains("retrying in 200ms (attempt 3 of 3)"), "{w:?}");
    assert_eq!(w[2], message);
    assert_no_leak(&url, &visible_texts(&h, &result));
}

#[tokio::test]
async fn a_404_says_webhook_url_not_found_and_is_not_retried() {
    let server = server_answering(404, "no_service").await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Passed), &[]);
    let result = run("slack-notify", props(&url, json!({"retries": 3})), &h).await;
    let outcome = result.as_ref().unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert!(
        outcome
            .message
            .as_deref()
            .unwrap()
            .contains("webhook URL not found"),
        "{outcome:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);
    assert_no_leak(&url, &visible_texts(&h, &result));
}

#[tokio::test]
async fn another_4xx_is_final_and_quotes_slacks_reason() {
    let server = server_answering(400, "invalid_payload").await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Passed), &[]);
    let outcome = run("slack-notify", props(&url, json!({})), &h)
        .await
        .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    let message = outcome.message.as_deref().unwrap();
    assert!(
        message.contains("HTTP 400 Bad Request (invalid_payload)"),
        "{message}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

/// A server that accepts connections and never answers; counts connections.
async fn silent_server() -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local address");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (format!("http://{addr}{TOKEN_PATH}"), accepted, task)
}

#[tokio::test]
async fn a_server_that_never_answers_hits_the_timeout_on_every_try() {
    let (url, accepted, server) = silent_server().await;
    let h = harness(run_info(RunResult::Failed), &[]);
    let properties = props(
        &url,
        json!({"timeout": "1s", "retries": 1, "retry_delay": "100ms"}),
    );
    let started = Instant::now();
    let result = within(Duration::from_secs(10), run("slack-notify", properties, &h)).await;
    let elapsed = started.elapsed();
    server.abort();

    let outcome = result.as_ref().unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    let message = outcome.message.as_deref().unwrap();
    assert!(message.contains("no answer within 1s"), "{message}");
    assert!(message.contains("2 attempts"), "{message}");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(6), "{elapsed:?}");
    assert_no_leak(&url, &visible_texts(&h, &result));
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}{TOKEN_PATH}");
    let h = harness(run_info(RunResult::Passed), &[]);
    let properties = props(&url, json!({"retries": 1, "retry_delay": "50ms"}));
    let result = within(Duration::from_secs(10), run("slack-notify", properties, &h)).await;
    let outcome = result.as_ref().unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    let message = outcome.message.as_deref().unwrap();
    assert!(message.contains("could not connect"), "{message}");
    assert!(message.contains("2 attempts"), "{message}");
    assert_no_leak(&url, &visible_texts(&h, &result));
}

#[tokio::test]
async fn cancelling_during_a_retry_wait_stops_at_once() {
    let server = server_answering(503, "").await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Failed), &[]);
    let cancel = h.cx.cancel().clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel(step_core::CancelReason::Interrupted);
    });
    let started = Instant::now();
    let properties = props(&url, json!({"retries": 3, "retry_delay": "20s"}));
    let result = within(Duration::from_secs(5), run("slack-notify", properties, &h)).await;
    assert!(matches!(result, Err(StepError::Cancelled)), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_retry_after_too_large_for_a_number_stops_the_retries_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(
            ResponseTemplate::new(429).insert_header("Retry-After", "99999999999999999999999"),
        )
        .mount(&server)
        .await;
    let url = webhook(&server);
    let h = harness(run_info(RunResult::Passed), &[]);
    let properties = props(&url, json!({"retries": 4, "retry_delay": "1s"}));
    let outcome = within(Duration::from_secs(10), run("slack-notify", properties, &h))
        .await
        .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Failed, "{outcome:?}");
    assert_eq!(requests(&server).await.len(), 1, "it retried");
    let w = warnings(&h).join("\n");
    assert!(w.contains("longer than"), "{w}");
}
