//! The step in log mode (`log: FILE`): the gate's rules, the fallbacks
//! between the two logs, and what the step reports.

use serde_json::json;
use step_core::event::EventKind;
use step_core::outcome::OutcomeStatus;
use step_core::{Level, Severity, Status};
use tempfile::TempDir;

use crate::common::{copy_fixture, fixture_text, out_int, outcome};

/// A temp dir holding the current run's text log, as the bench names it.
fn text_log_dir() -> (TempDir, String) {
    let dir = TempDir::new().expect("temp dir");
    let log = copy_fixture(dir.path(), "current.log", "bench/docker-bench-security.log");
    (dir, log.to_string_lossy().into_owned())
}

#[tokio::test]
async fn warn_count_equal_to_max_warnings_passes_and_one_more_fails() {
    for (fixture, name) in [
        ("current.log", "docker-bench-security.log"),
        ("current.log.json", "docker-bench-security.log.json"),
    ] {
        let dir = TempDir::new().expect("temp dir");
        let log = copy_fixture(dir.path(), fixture, name);
        // 13 WARN results.
        let (equal, _) = outcome(dir.path(), json!({"log": log, "max_warnings": 13})).await;
        assert_eq!(
            equal.status,
            OutcomeStatus::Passed,
            "{fixture}: {:?}",
            equal.message
        );
        assert_eq!(out_int(&equal, "warn"), 13);

        let (over, _) = outcome(dir.path(), json!({"log": log, "max_warnings": 12})).await;
        assert_eq!(over.status, OutcomeStatus::Failed, "{fixture}");
        let message = over.message.unwrap_or_default();
        assert!(
            message.contains("13 WARN results, more than max_warnings 12"),
            "{fixture}: {message}"
        );
    }
}

#[tokio::test]
async fn detail_lines_and_the_root_warning_are_not_counted() {
    let (dir, log) = text_log_dir();
    let raw_warn_lines = fixture_text("current.log")
        .lines()
        .filter(|l| l.contains("WARN"))
        .count();
    assert_eq!(raw_warn_lines, 21, "what `grep WARN | wc -l` counted");
    // A threshold the seed's grep count would break, but the checks do not.
    let (o, _) = outcome(dir.path(), json!({"log": log, "max_warnings": 13})).await;
    assert_eq!(o.status, OutcomeStatus::Passed, "{:?}", o.message);
    assert_eq!(out_int(&o, "warn_counted"), 13);
    assert_eq!(o.findings.len(), 13, "one finding per WARN check");
    assert!(o.findings.iter().all(|f| !f.message.contains("root")));
}

#[tokio::test]
async fn ignored_ids_are_listed_but_not_counted() {
    let (dir, log) = text_log_dir();
    let ignore = json!([
        {"id": "5.4", "reason": "the monitoring agent needs it (SEC-42)"},
        {"id": "check_2_9", "reason": "user namespaces break our volumes"}
    ]);
    let (o, _) = outcome(
        dir.path(),
        json!({"log": log, "max_warnings": 11, "ignore": ignore}),
    )
    .await;
    assert_eq!(o.status, OutcomeStatus::Passed, "{:?}", o.message);
    assert_eq!(
        (
            out_int(&o, "warn"),
            out_int(&o, "ignored"),
            out_int(&o, "warn_counted")
        ),
        (13, 2, 11)
    );
    // Listed: still a finding each, marked ignored, with the reason.
    assert_eq!(o.findings.len(), 13);
    let f = o
        .findings
        .iter()
        .find(|f| f.id == "5.4")
        .expect("5.4 listed");
    assert!(f.ignored);
    assert!(
        f.detail
            .as_deref()
            .is_some_and(|d| d.starts_with("ignored: the monitoring agent needs it (SEC-42)"))
    );
    assert!(
        o.findings
            .iter()
            .find(|f| f.id == "2.9")
            .is_some_and(|f| f.ignored)
    );
    assert_eq!(o.findings.iter().filter(|f| f.ignored).count(), 2);
    let case = o
        .checks
        .iter()
        .find(|c| c.name.starts_with("5.4 - "))
        .expect("5.4 case");
    assert_eq!(case.status, Status::Skipped);
    assert!(
        case.message
            .as_deref()
            .is_some_and(|m| m.contains("SEC-42"))
    );

    // Exactly two were taken off: one less allowed fails.
    let (o, _) = outcome(
        dir.path(),
        json!({"log": log, "max_warnings": 10, "ignore": ignore}),
    )
    .await;
    assert_eq!(o.status, OutcomeStatus::Failed);
    assert!(
        o.message
            .unwrap_or_default()
            .contains("11 WARN results, more than max_warnings 10")
    );
}

#[tokio::test]
async fn a_fail_on_id_fails_even_under_the_threshold() {
    let (dir, log) = text_log_dir();
    let (o, _) = outcome(
        dir.path(),
        json!({"log": log, "max_warnings": 100, "fail_on": ["5.4"]}),
    )
    .await;
    assert_eq!(o.status, OutcomeStatus::Failed);
    let message = o.message.clone().unwrap_or_default();
    assert!(
        message.contains("5.4 is WARN and listed in fail_on"),
        "{message}"
    );
    assert!(!message.contains("max_warnings 100;"), "{message}");
    let f = o.findings.iter().find(|f| f.id == "5.4").expect("finding");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(
        o.findings
            .iter()
            .filter(|f| f.severity == Severity::Medium)
            .count(),
        12
    );

    // A fail_on id that PASSed does not fail anything.
    let (o, _) = outcome(
        dir.path(),
        json!({"log": log, "max_warnings": 100, "fail_on": "2.3, check_5_6"}),
    )
    .await;
    assert_eq!(o.status, OutcomeStatus::Passed, "{:?}", o.message);
}

#[tokio::test]
async fn min_score_fails_below_and_passes_at_the_score() {
    let (dir, log) = text_log_dir();
    let (o, _) = outcome(dir.path(), json!({"log": log, "min_score": -4})).await;
    assert_eq!(o.status, OutcomeStatus::Passed, "{:?}", o.message);
    let (o, _) = outcome(dir.path(), json!({"log": log, "min_score": -3})).await;
    assert_eq!(o.status, OutcomeStatus::Failed);
    assert!(
        o.message
            .unwrap_or_default()
            .contains("score -4 is below min_score -3")
    );
}

#[tokio::test]
async fn badly_escaped_json_log_gives_the_right_counts_through_the_step() {
    let dir = TempDir::new().expect("temp dir");
    let log = copy_fixture(
        dir.path(),
        "badly-escaped.log.json",
        "docker-bench-security.log.json",
    );
    let (o, memory) = outcome(dir.path(), json!({"log": log, "max_warnings": 13})).await;
    assert_eq!(o.status, OutcomeStatus::Passed, "{:?}", o.message);
    for (name, want) in [
        ("pass", 10),
        ("warn", 13),
        ("info", 5),
        ("note", 4),
        ("total", 32),
        ("score", -4),
    ] {
        assert_eq!(out_int(&o, name), want, "output {name}");
    }
    assert_eq!(o.outputs["format"], "json");
    assert!(
        o.warnings.is_empty(),
        "a repaired JSON log needs no fallback: {:?}",
        o.warnings
    );
    assert!(
        memory
            .lines()
            .iter()
            .any(|l| l.contains("is not valid JSON") && l.contains("repairing")),
        "{:?}",
        memory.lines()
    );
    let f = o.findings.iter().find(|f| f.id == "2.2").expect("2.2");
    assert!(
        f.detail
            .as_deref()
            .is_some_and(|d| d.contains(r#""icc": false"#))
    );
}

#[tokio::test]
async fn broken_json_falls_back_to_the_text_log_with_a_warning() {
    let dir = TempDir::new().expect("temp dir");
    copy_fixture(dir.path(), "current.log", "docker-bench-security.log");
    std::fs::write(
        dir.path().join("docker-bench-security.log.json"),
        "Error response from daemon: this is not JSON at all",
    )
    .expect("write");
    // `log` names the JSON file; the text log next to it is used.
    let log = dir.path().join("docker-bench-security.log.json");
    let (o, _) = outcome(dir.path(), json!({"log": log, "max_warnings": 13})).await;
    assert_eq!(o.status, OutcomeStatus::Passed, "{:?}", o.message);
    assert_eq!(o.outputs["format"], "text");
    assert_eq!(out_int(&o, "warn"), 13);
    assert!(
        o.warnings
            .iter()
            .any(|w| w.contains("is unusable") && w.contains("falling back to the text log")),
        "{:?}",
        o.warnings
    );
}

#[tokio::test]
async fn a_missing_json_log_reads_the_text_log_with_a_warning() {
    let dir = TempDir::new().expect("temp dir");
    copy_fixture(dir.path(), "2015.log", "old/docker-bench-security.log");
    // `log` names the directory.
    let (o, memory) = outcome(dir.path(), json!({"log": "old", "max_warnings": 11})).await;
    assert_eq!(o.status, OutcomeStatus::Passed, "{:?}", o.message);
    assert_eq!(out_int(&o, "warn"), 11);
    assert_eq!(out_int(&o, "score"), 5);
    assert!(
        o.warnings.iter().any(|w| w.contains("no JSON log")),
        "{:?}",
        o.warnings
    );
    assert!(
        memory
            .lines()
            .iter()
            .any(|l| l.contains("states no score; computed 5"))
    );
    let f = o.findings.iter().find(|f| f.id == "5.5").expect("5.5");
    let loc = f.location.clone().expect("location");
    assert!(loc.file.ends_with("old/docker-bench-security.log"), "{loc}");
    let line = fixture_text("2015.log")
        .lines()
        .position(|l| l.starts_with("[WARN] 5.5  - "))
        .map(|i| i + 1);
    assert_eq!(loc.line.map(|l| l as usize), line);
}

#[tokio::test]
async fn findings_checks_outputs_and_section_summaries() {
    let dir = TempDir::new().expect("temp dir");
    let log = copy_fixture(
        dir.path(),
        "current.log.json",
        "docker-bench-security.log.json",
    );
    let (o, memory) = outcome(dir.path(), json!({"log": log})).await;
    // No threshold set: the step only reports.
    assert_eq!(o.status, OutcomeStatus::Passed);
    let message = o.message.clone().unwrap_or_default();
    assert!(
        message.contains("13 WARN counted, score -4; 32 checks: 10 PASS, 13 WARN, 5 INFO, 4 NOTE"),
        "{message}"
    );

    // One finding per WARN, with details, items and remediation.
    assert_eq!(o.findings.len(), 13);
    let f = o.findings.iter().find(|f| f.id == "5.2").expect("5.2");
    assert_eq!(
        f.message,
        "Ensure that, if applicable, an AppArmor Profile is enabled (Automated)"
    );
    assert_eq!(f.severity, Severity::Medium);
    let detail = f.detail.clone().unwrap_or_default();
    for part in [
        "Containers with no AppArmorProfile:  web api",
        "items: web, api",
        "remediation: If AppArmor is applicable for your Linux OS",
        "remediation impact: The container will have the security controls",
    ] {
        assert!(detail.contains(part), "missing {part:?} in {detail}");
    }
    assert_eq!(
        f.location.as_ref().map(|l| l.file.clone()),
        Some(log.to_string_lossy().into_owned())
    );

    // One JUnit case per check, grouped by section.
    assert_eq!(o.checks.len(), 32);
    assert_eq!(
        o.checks
            .iter()
            .filter(|c| c.status == Status::Failed)
            .count(),
        13
    );
    assert_eq!(
        o.checks
            .iter()
            .filter(|c| c.status == Status::Passed)
            .count(),
        19
    );
    let case = o
        .checks
        .iter()
        .find(|c| c.name.starts_with("1.1.8 - "))
        .expect("1.1.8");
    assert_eq!(case.group.as_deref(), Some("1 - Host Configuration"));
    assert_eq!(case.message.as_deref(), Some("INFO: File not found"));

    // Outputs.
    for (name, want) in [
        ("pass", 10),
        ("warn", 13),
        ("info", 5),
        ("note", 4),
        ("total", 32),
        ("score", -4),
        ("ignored", 0),
        ("warn_counted", 13),
    ] {
        assert_eq!(out_int(&o, name), want, "output {name}");
    }

    // A summary line per section, and findings/checks are not emitted by
    // the step itself (the runner emits the Outcome's).
    let lines = memory.lines();
    assert!(
        lines
            .contains(&"section 5 - Container Runtime: 2 PASS, 3 WARN, 1 INFO, 1 NOTE".to_string()),
        "{lines:#?}"
    );
    assert!(lines.contains(
        &"section 7 - Docker Swarm Configuration: 1 PASS, 0 WARN, 0 INFO, 0 NOTE".to_string()
    ));
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("section ")).count(),
        6
    );
    assert!(
        memory
            .events()
            .iter()
            .all(|e| !matches!(e.kind, EventKind::Finding { .. } | EventKind::Check { .. }))
    );
    assert!(memory.events().iter().all(|e| !matches!(
        e.kind,
        EventKind::Log {
            level: Level::Error,
            ..
        }
    )));
}

#[tokio::test]
async fn stale_ignore_and_fail_on_entries_are_warned_about() {
    let (dir, log) = text_log_dir();
    let (o, _) = outcome(
        dir.path(),
        json!({"log": log, "fail_on": ["9.9"], "ignore": [{"id": "8.1", "reason": "enterprise only"}]}),
    )
    .await;
    assert_eq!(o.status, OutcomeStatus::Passed);
    assert!(
        o.warnings
            .iter()
            .any(|w| w.contains("fail_on entry 9.9 matched no check")),
        "{:?}",
        o.warnings
    );
    assert!(
        o.warnings
            .iter()
            .any(|w| w.contains("ignore entry 8.1 matched no check")),
        "{:?}",
        o.warnings
    );
}
