//! Shared helpers: a context with a memory listener and a chosen
//! environment, building steps through the registry's `kinds()`, a mock
//! webhook, and the leak check.

use std::time::Duration;

use serde_json::{Value, json};
use step_core::event::MemoryListener;
use step_core::{
    Cancel, Env, EventSink, Outcome, RunInfo, RunResult, Step, StepContext, StepError,
};
use tempfile::TempDir;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The path of the test webhook: like Slack's, the last segment is the token.
pub const TOKEN_PATH: &str = "/services/T0STEPWISE/B0STEPWISE/sekritWebhookToken42";
/// The token alone.
pub const TOKEN: &str = "sekritWebhookToken42";

/// A context, the listener that sees its events, and its temp dir.
pub struct Harness {
    pub cx: StepContext,
    pub events: MemoryListener,
    _dir: TempDir,
}

/// Run info as the runner hands it to after-steps.
pub fn run_info(result: RunResult) -> RunInfo {
    let failed = result != RunResult::Passed;
    RunInfo {
        run_id: "run-1".into(),
        pipeline: "build".into(),
        result: Some(result),
        failed_step: failed.then(|| "terraform-apply".to_string()),
        failed_message: failed.then(|| "exit status 1: Error <creating> instance".to_string()),
        target: None,
        elapsed_secs: 125,
    }
}

/// The environment a wercker-style build provides.
pub fn wercker_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("WERCKER_GIT_OWNER", "wantedly"),
        ("WERCKER_GIT_REPOSITORY", "apollo"),
        ("WERCKER_GIT_BRANCH", "master"),
        ("WERCKER_GIT_COMMIT", "0123456789abcdef0123"),
        ("WERCKER_STARTED_BY", "alice"),
        ("STEPWISE_BUILD_URL", "https://ci.example/runs/42"),
    ]
}

pub fn harness(run: RunInfo, vars: &[(&str, &str)]) -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut env = Env::new();
    for (k, v) in vars {
        env.set(*k, *v);
    }
    let events = MemoryListener::new();
    let sink = EventSink::new();
    sink.add_listener(Box::new(events.clone()));
    let cx = StepContext::new(
        dir.path().to_path_buf(),
        env,
        sink.scoped("notify"),
        Cancel::new(),
    )
    .with_run(run);
    Harness {
        cx,
        events,
        _dir: dir,
    }
}

/// Builds a step of `kind` from properties through the registry's `kinds()`.
pub fn build(kind: &str, properties: Value) -> Result<Box<dyn Step>, step_core::ConfigError> {
    let kinds = step_slack::kinds();
    let k = kinds
        .iter()
        .find(|k| k.description().kind == kind)
        .unwrap_or_else(|| panic!("no kind {kind}"));
    k.build(properties)
}

/// Builds and runs a step of `kind`.
pub async fn run(kind: &str, properties: Value, h: &Harness) -> Result<Outcome, StepError> {
    build(kind, properties)
        .expect("valid config")
        .run(&h.cx)
        .await
}

/// A webhook server answering 200 `ok` to POSTs on the token path.
pub async fn ok_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    server
}

/// The full webhook URL on a server.
pub fn webhook(server: &MockServer) -> String {
    format!("{}{TOKEN_PATH}", server.uri())
}

/// Properties with the webhook URL plus `extra`.
pub fn props(url: &str, extra: Value) -> Value {
    let mut p = json!({ "webhook_url": url });
    if let (Some(p), Value::Object(extra)) = (p.as_object_mut(), extra) {
        p.extend(extra);
    }
    p
}

pub async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

/// The single JSON body the server received.
pub async fn only_body(server: &MockServer) -> Value {
    let reqs = requests(server).await;
    assert_eq!(reqs.len(), 1, "expected exactly one request");
    let ct = reqs[0]
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    reqs[0].body_json().expect("JSON body")
}

/// The attachment field with this title.
pub fn field<'a>(body: &'a Value, title: &str) -> Option<&'a str> {
    body["attachments"][0]["fields"]
        .as_array()?
        .iter()
        .find(|f| f["title"] == title)
        .and_then(|f| f["value"].as_str())
}

/// Every text a person or a report could see from this step: the events
/// (as the JSON-lines log writes them), the outcome (message, warnings,
/// outputs — what a JUnit case is made of) and an error's message.
pub fn visible_texts(h: &Harness, result: &Result<Outcome, StepError>) -> Vec<String> {
    let mut texts: Vec<String> = h
        .events
        .events()
        .iter()
        .map(|e| serde_json::to_string(e).expect("event serializes"))
        .collect();
    match result {
        Ok(outcome) => texts.push(serde_json::to_string(outcome).expect("outcome serializes")),
        Err(e) => {
            texts.push(e.to_string());
            texts.push(format!("{e:?}"));
        }
    }
    texts
}

/// Fails when any visible text holds the webhook URL, its path or its token.
pub fn assert_no_leak(url: &str, texts: &[String]) {
    let forms = [url, TOKEN_PATH, TOKEN_PATH.trim_start_matches('/'), TOKEN];
    for text in texts {
        for form in forms {
            assert!(!text.contains(form), "`{form}` leaked in: {text}");
        }
    }
}

/// Waits at most `limit` for `fut`, so a hanging step fails the test instead of hanging it.
pub async fn within<T>(limit: Duration, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}
