//! `wait_for` re-runs a check until a service that starts later comes up;
//! without it the same check fails at once.

use std::time::{Duration, Instant};

use step_core::Status;
use step_serverspec::HostChecksConfig;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn wait_for_passes_once_a_service_started_two_seconds_later_comes_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let impatient = dir.path().join("impatient.yml");
    std::fs::write(
        &impatient,
        format!("- http: http://127.0.0.1:{port}/v2/info\n- port: {port}\n"),
    )
    .expect("write");
    let patient = dir.path().join("patient.yml");
    std::fs::write(
        &patient,
        format!(
            "defaults:\n  wait_for: {{timeout: 15s, interval: 200ms}}\nchecks:\n  - http: http://127.0.0.1:{port}/v2/info\n  - port: {port}\n"
        ),
    )
    .expect("write");

    // Nothing listens yet: without wait_for the checks fail at once.
    let started = Instant::now();
    let outcome = run(HostChecksConfig::new(&impatient), &cx(dir.path()))
        .await
        .expect("runs");
    assert!(outcome.is_failed());
    assert!(started.elapsed() < Duration::from_secs(2));
    let http = check(
        &outcome,
        &format!("HTTP GET http://127.0.0.1:{port}/v2/info status should eq 200"),
    );
    let msg = http.message.as_deref().unwrap_or_default();
    assert!(
        msg.starts_with("expected: eq 200\n  actual: connection failed"),
        "{msg}"
    );
    assert_eq!(
        check(&outcome, &format!("Port {port} should be listening")).status,
        Status::Failed
    );

    // The service comes up 2 s after the patient run starts.
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind later");
        serve_on(listener);
    });
    let started = Instant::now();
    let outcome = run(HostChecksConfig::new(&patient), &cx(dir.path()))
        .await
        .expect("runs");
    let took = started.elapsed();
    assert!(!outcome.is_failed(), "{}", failures(&outcome));
    assert!(
        took >= Duration::from_millis(1900),
        "passed too early: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_stop_after_their_count_and_say_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("r.yml");
    std::fs::write(
        &spec,
        "- file: /no/such/file\n  retries: 2\n  wait_for: {timeout: 0s, interval: 100ms}\n",
    )
    .expect("write");
    let started = Instant::now();
    let outcome = run(HostChecksConfig::new(&spec), &cx(dir.path()))
        .await
        .expect("runs");
    assert!(started.elapsed() >= Duration::from_millis(200));
    let c = check(&outcome, "File /no/such/file should exist");
    let msg = c.message.as_deref().unwrap_or_default();
    assert!(
        msg.starts_with(
            "expected: exist\n  actual: no such file\n  (still failing after 3 attempts in"
        ),
        "{msg}"
    );
}
