//! Run mode. These tests run the **stand-in** script
//! (`tests/fixtures/docker-bench-standin/docker-bench-security.sh`) — the real
//! docker-bench-security is in no package registry — against the **real**
//! local Docker daemon (scripts/start-dockerd.sh, image stepwise/busybox from
//! scripts/build-test-image.sh): its check 5.4 asks `docker ps` and
//! `docker inspect` about the containers the tests start.
//!
//! Containers get unique names and the runs are limited to them with
//! `containers:` (`-i`), so containers of other tests sharing the daemon do
//! not change the results. Each container is removed by a Drop guard.

use serde_json::json;
use step_core::outcome::OutcomeStatus;
use step_core::{Status, StepError};
use step_dockerbench::json_log::parse_json_log;
use step_dockerbench::text_log::parse_text_log;
use tempfile::TempDir;

use crate::common::{
    Container, copy_fixture, docker_ready, fixture, out_int, outcome, run_step, standin,
    unique_name,
};

#[tokio::test]
async fn a_privileged_container_makes_5_4_warn_against_the_real_daemon() {
    if !docker_ready() {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let script = standin(dir.path());
    let container = Container::start("stepwise-dockerbench-priv", true);
    let (o, memory) = outcome(
        dir.path(),
        json!({
            "script": script,
            "log_dir": "logs",
            "containers": [container.name],
            "max_warnings": 100,
            "fail_on": ["5.4"],
        }),
    )
    .await;
    assert_eq!(o.status, OutcomeStatus::Failed, "{:?}", o.message);
    let message = o.message.clone().unwrap_or_default();
    assert!(
        message.contains("5.4 is WARN and listed in fail_on"),
        "{message}"
    );

    let f = o
        .findings
        .iter()
        .find(|f| f.id == "5.4")
        .expect("a 5.4 finding");
    let detail = f.detail.clone().unwrap_or_default();
    assert!(
        detail.contains(&format!("items: {}", container.name)),
        "{detail}"
    );
    assert!(
        detail.contains("remediation: You should not run containers with the --privileged flag."),
        "{detail}"
    );
    let case = o
        .checks
        .iter()
        .find(|c| c.name.starts_with("5.4 - "))
        .expect("5.4 case");
    assert_eq!(case.status, Status::Failed);
    assert_eq!(case.group.as_deref(), Some("5 - Container Runtime"));
    assert_eq!(o.outputs["format"], "json");
    // 1.1.1, 1.1.3, 2.2, 4.5 and 5.4 WARN; 2.3 PASSes: -5 + 1.
    assert_eq!((out_int(&o, "warn"), out_int(&o, "score")), (5, -4));

    // The bench's output was streamed, and its JSON (unescaped "icc" in a
    // remediation, as the real bench writes it with -p) was repaired.
    let lines = memory.lines();
    let detail_line = format!(
        "[WARN]      * Container running in Privileged mode: {}",
        container.name
    );
    assert!(lines.contains(&detail_line), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("is not valid JSON") && l.contains("repairing"))
    );

    // Both logs of the run were written where asked, and agree.
    let text_log = dir.path().join("logs/docker-bench-security.log");
    let text = std::fs::read_to_string(&text_log).expect("text log");
    let json_text = std::fs::read_to_string(dir.path().join("logs/docker-bench-security.log.json"))
        .expect("JSON log");
    let from_text = parse_text_log(&text);
    let from_json = parse_json_log(&json_text).expect("JSON log parses").report;
    let pairs = |r: &step_dockerbench::BenchReport| {
        r.checks
            .iter()
            .map(|c| (c.id.clone(), c.result))
            .collect::<Vec<_>>()
    };
    assert_eq!(pairs(&from_text), pairs(&from_json));
    assert_eq!(from_text.logged_score, from_json.logged_score);
}

#[tokio::test]
async fn an_unprivileged_container_makes_5_4_pass() {
    if !docker_ready() {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let script = standin(dir.path());
    let container = Container::start("stepwise-dockerbench-plain", false);
    let (o, memory) = outcome(
        dir.path(),
        json!({
            "script": script.join("docker-bench-security.sh"),
            "log_dir": dir.path().join("out"),
            "containers": container.name,
            "fail_on": "5.4",
            "remediation": false,
        }),
    )
    .await;
    assert_eq!(o.status, OutcomeStatus::Passed, "{:?}", o.message);
    let case = o
        .checks
        .iter()
        .find(|c| c.name.starts_with("5.4 - "))
        .expect("5.4 ran");
    assert_eq!(case.status, Status::Passed);
    assert!(o.findings.iter().all(|f| f.id != "5.4"));
    // Without -p the bench writes no remediation, so its JSON is valid.
    assert!(o.findings.iter().all(|f| {
        !f.detail
            .clone()
            .unwrap_or_default()
            .contains("remediation:")
    }));
    assert!(
        !memory
            .lines()
            .iter()
            .any(|l| l.contains("is not valid JSON"))
    );
    assert_eq!(o.outputs["format"], "json");
    assert!(
        dir.path()
            .join("out/docker-bench-security.log.json")
            .is_file()
    );
}

#[tokio::test]
async fn checks_and_excludes_reach_the_script_and_old_logs_are_cleared() {
    if !docker_ready() {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let script = standin(dir.path());
    // A previous run's logs in log_dir: the bench appends to its text log,
    // and a stale JSON log must not be read as this run's.
    copy_fixture(dir.path(), "current.log", "logs/docker-bench-security.log");
    copy_fixture(
        dir.path(),
        "current.log.json",
        "logs/docker-bench-security.log.json",
    );
    let (o, _) = outcome(
        dir.path(),
        json!({
            "script": script,
            "log_dir": "logs",
            "checks": ["host_configuration", "5.4"],
            "exclude": "1.1.3",
            "containers": [unique_name("no-such-container")],
            "max_warnings": 1,
        }),
    )
    .await;
    assert_eq!(o.status, OutcomeStatus::Passed, "{:?}", o.message);
    let names: Vec<&str> = o
        .checks
        .iter()
        .map(|c| c.name.split(" - ").next().unwrap_or_default())
        .collect();
    // host_configuration without 1.1.3; 5.4 has no matching container and is skipped.
    assert_eq!(names, ["1.1.1", "1.1.2", "1.2.1"]);
    assert_eq!((out_int(&o, "total"), out_int(&o, "warn")), (3, 1));
    let text =
        std::fs::read_to_string(dir.path().join("logs/docker-bench-security.log")).expect("log");
    assert_eq!(
        text.matches("Initializing").count(),
        1,
        "the old text log was removed first"
    );
}

#[tokio::test]
async fn the_docker_backend_reads_logs_and_reports_a_missing_script_in_the_container() {
    if !docker_ready() {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let container = Container::start("stepwise-dockerbench-logs", false);
    container.copy_in(&fixture("current.log"), "/tmp/docker-bench-security.log");
    container.copy_in(
        &fixture("badly-escaped.log.json"),
        "/tmp/docker-bench-security.log.json",
    );

    // Log mode through `docker exec`: a directory in the container.
    let (o, _) = outcome(
        dir.path(),
        json!({"log": "/tmp", "backend": "docker", "host": container.name, "max_warnings": 13}),
    )
    .await;
    assert_eq!(o.status, OutcomeStatus::Passed, "{:?}", o.message);
    assert_eq!((out_int(&o, "warn"), out_int(&o, "total")), (13, 32));
    assert_eq!(o.outputs["log"], "/tmp/docker-bench-security.log.json");

    // A missing log in the container.
    let e = run_step(
        dir.path(),
        json!({"log": "/nowhere/docker-bench-security.log", "backend": "docker", "host": container.name}),
    )
    .await
    .0
    .expect_err("missing log");
    assert!(
        matches!(&e, StepError::Config(c) if c.property.as_deref() == Some("log")),
        "{e:?}"
    );

    // Run mode: the wrapper runs in the container and finds no script there.
    let e = run_step(
        dir.path(),
        json!({"script": "/opt/docker-bench-security", "backend": "docker", "host": container.name}),
    )
    .await
    .0
    .expect_err("missing script");
    match &e {
        StepError::Config(c) => {
            assert_eq!(c.property.as_deref(), Some("script"));
            assert!(
                c.message
                    .contains("/opt/docker-bench-security/docker-bench-security.sh does not exist"),
                "{c}"
            );
            assert!(c.message.contains(&container.name), "{c}");
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}
