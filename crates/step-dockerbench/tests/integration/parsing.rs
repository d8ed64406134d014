//! The parsers on fixture logs. `current.log` and `current.log.json` are the
//! text and JSON logs of one run (docker-bench-security 1.6.0 layout, `-b -p`,
//! run as non-root); `badly-escaped.log.json` is that JSON log with values the
//! bench did not escape; `2015.log` is a v1.0.0 text log with padded ids.

use step_dockerbench::json_log::parse_json_log;
use step_dockerbench::text_log::parse_text_log;
use step_dockerbench::{BenchReport, BenchResult, LogFormat};

use crate::common::fixture_text;

fn ids_and_results(report: &BenchReport) -> Vec<(String, BenchResult)> {
    report
        .checks
        .iter()
        .map(|c| (c.id.clone(), c.result))
        .collect()
}

fn check<'a>(report: &'a BenchReport, id: &str) -> &'a step_dockerbench::BenchCheck {
    report
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id} in {:?}", ids_and_results(report)))
}

#[test]
fn current_text_log_counts_checks_not_lines() {
    let text = fixture_text("current.log");
    let report = parse_text_log(&text);
    let counts = report.counts();
    assert_eq!(
        (
            counts.pass,
            counts.warn,
            counts.info,
            counts.note,
            counts.total()
        ),
        (10, 13, 5, 4, 32)
    );
    // The seed's `grep WARN | wc -l` counted 21 here: detail lines and the
    // "not root" warning are not checks.
    assert_eq!(text.lines().filter(|l| l.contains("WARN")).count(), 21);
    assert!(
        report
            .checks
            .iter()
            .all(|c| !c.desc.contains("require root"))
    );
    // Section and subsection headers, and the id-less deprecated check, are not checks.
    for header in ["1", "1.1", "1.2", "2", "5", "7"] {
        assert!(
            report.checks.iter().all(|c| c.id != header),
            "{header} counted as a check"
        );
    }
    assert!(report.checks.iter().all(|c| !c.desc.contains("Deprecated")));
    assert_eq!(
        report
            .sections
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        ["1", "2", "3", "4", "5", "7"]
    );
    assert_eq!(check(&report, "1.1.1").section, "1");
    assert_eq!(report.format, LogFormat::Text);
    assert_eq!(
        (report.logged_score, report.logged_checks),
        (Some(-4), Some(32))
    );
    assert_eq!(
        report.computed_score(),
        -4,
        "the bench's rule applied to the checks"
    );

    let privileged = check(&report, "5.4");
    assert_eq!(privileged.result, BenchResult::Warn);
    assert_eq!(
        privileged.details.as_deref(),
        Some("Container running in Privileged mode: web")
    );
    // Remediation comes from section B, split at "Remediation Impact:".
    assert_eq!(
        privileged.remediation.as_deref(),
        Some("You should not run containers with the --privileged flag.")
    );
    assert!(
        privileged
            .remediation_impact
            .as_deref()
            .is_some_and(|i| i.starts_with("If you start a container without"))
    );
    let line = text
        .lines()
        .position(|l| l.starts_with("[WARN] 5.4 - "))
        .map(|i| i + 1);
    assert_eq!(privileged.line, line.and_then(|l| u32::try_from(l).ok()));
    // Detail lines keep their own tag: 1.2.2 PASSes with two INFO details.
    assert_eq!(
        check(&report, "1.2.2")
            .details
            .as_deref()
            .map(|d| d.lines().count()),
        Some(2)
    );
    assert_eq!(
        check(&report, "4.6")
            .details
            .as_deref()
            .map(|d| d.lines().count()),
        Some(2)
    );
}

#[test]
fn current_json_log_matches_the_text_log_of_the_same_run() {
    let parsed = parse_json_log(&fixture_text("current.log.json")).expect("parse JSON log");
    assert!(
        parsed.repaired.is_none(),
        "a valid JSON log needs no repair"
    );
    assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
    let json = parsed.report;
    let text = parse_text_log(&fixture_text("current.log"));
    assert_eq!(ids_and_results(&json), ids_and_results(&text));
    assert_eq!(json.counts(), text.counts());
    assert_eq!(json.version.as_deref(), Some("1.6.0"));
    assert_eq!(
        (json.logged_score, json.logged_checks),
        (Some(-4), Some(32))
    );
    assert_eq!(json.format, LogFormat::Json);
    let apparmor = check(&json, "5.2");
    assert_eq!(apparmor.items, ["web", "api"]);
    assert_eq!(
        apparmor.details.as_deref(),
        Some("Containers with no AppArmorProfile:  web api")
    );
    for warn in json.checks.iter().filter(|c| c.result == BenchResult::Warn) {
        assert!(warn.remediation.is_some(), "{} has no remediation", warn.id);
        assert_eq!(
            warn.remediation,
            check(&text, &warn.id).remediation,
            "remediation of {} differs between the logs",
            warn.id
        );
    }
    assert_eq!(
        json.sections.iter().map(|s| s.label()).collect::<Vec<_>>()[4],
        "5 - Container Runtime"
    );
}

#[test]
fn badly_escaped_json_log_gives_the_right_counts() {
    let raw = fixture_text("badly-escaped.log.json");
    assert!(
        serde_json::from_str::<serde_json::Value>(&raw).is_err(),
        "the fixture must be invalid JSON"
    );
    let parsed = parse_json_log(&raw).expect("repaired and parsed");
    let (error, stats) = parsed.repaired.clone().expect("it was repaired");
    assert!(!error.is_empty());
    assert!(
        stats.quotes >= 8 && stats.control_chars >= 3 && stats.backslashes >= 3,
        "{stats:?}"
    );
    let report = parsed.report;
    let counts = report.counts();
    assert_eq!(
        (
            counts.pass,
            counts.warn,
            counts.info,
            counts.note,
            counts.total()
        ),
        (10, 13, 5, 4, 32)
    );
    assert_eq!(report.score(), -4);
    // The same checks with the same results as the text log of that run.
    let text = parse_text_log(&fixture_text("current.log"));
    assert_eq!(ids_and_results(&report), ids_and_results(&text));
    // And the values are what the bench meant.
    assert!(check(&report, "2.2")
        .remediation
        .as_deref()
        .is_some_and(|r| r.contains(r#"set "icc": false in /etc/docker/daemon.json, or run dockerd with "--icc=false", then"#)));
    assert_eq!(
        check(&report, "1.1.2").details.as_deref(),
        Some("doubtfulusers: ubuntu,deploy\n\tci-runner")
    );
    assert_eq!(
        check(&report, "5.4").details.as_deref(),
        Some(r#"Containers running in privileged mode:  "web""#)
    );
    assert!(
        check(&report, "2.13")
            .remediation
            .as_deref()
            .is_some_and(|r| r.contains(r"C:\ProgramData\docker\config\daemon.json"))
    );
    assert!(
        check(&report, "5.11")
            .remediation
            .as_deref()
            .is_some_and(|r| r.contains("argument:\tdocker run"))
    );
}

#[test]
fn text_log_of_2015_with_padded_ids() {
    let text = fixture_text("2015.log");
    let report = parse_text_log(&text);
    let counts = report.counts();
    assert_eq!(
        (
            counts.pass,
            counts.warn,
            counts.info,
            counts.note,
            counts.total()
        ),
        (16, 11, 8, 0, 35)
    );
    assert_eq!(text.lines().filter(|l| l.contains("WARN")).count(), 21);
    let ids: Vec<&str> = report.checks.iter().map(|c| c.id.as_str()).collect();
    assert!(
        ids.contains(&"1.1") && ids.contains(&"5.10") && ids.contains(&"6.7"),
        "{ids:?}"
    );
    assert!(ids.iter().all(|id| !id.contains(' ')));
    // 5.7's header is printed once per failing container: still one check.
    assert_eq!(ids.iter().filter(|id| **id == "5.7").count(), 1);
    assert_eq!(
        check(&report, "5.7").details.as_deref(),
        Some("Docker exec fails: web\nDocker exec fails: db")
    );
    assert_eq!(
        check(&report, "5.5").desc,
        "Do not use privileged containers"
    );
    assert_eq!(check(&report, "5.10").section, "5");
    assert_eq!(
        report
            .sections
            .iter()
            .map(|s| s.label())
            .collect::<Vec<_>>(),
        [
            "1 - Host Configuration",
            "2 - Docker Daemon Configuration",
            "3 - Docker Daemon Configuration Files",
            "4 - Container Images and Build File",
            "5 - Container Runtime",
            "6 - Docker Security Operations"
        ]
    );
    // No score line in 2015: +1 per PASS, -1 per WARN.
    assert_eq!(report.logged_score, None);
    assert_eq!(report.score(), 16 - 11);
}

#[test]
fn an_appended_text_log_is_read_from_its_last_run() {
    let old = fixture_text("2015.log");
    let current = fixture_text("current.log");
    let appended = format!("{old}\n{current}");
    let once = parse_text_log(&current);
    let report = parse_text_log(&appended);
    assert_eq!(report.counts(), once.counts());
    assert_eq!(ids_and_results(&report), ids_and_results(&once));
    let twice = parse_text_log(&format!("{current}{current}"));
    assert_eq!(twice.counts(), once.counts());
}

#[test]
fn colours_are_stripped() {
    let log = "Initializing 2024-05-02T10:14:07+00:00\n\
        \u{1b}[1;34m[INFO]\u{1b}[0m 5 - Container Runtime\n\
        \u{1b}[1;31m[WARN]\u{1b}[0m 5.4 - Ensure that privileged containers are not used (Automated)\n\
        \u{1b}[1;31m[WARN]\u{1b}[0m      * Container running in Privileged mode: web\n\
        \u{1b}[1;32m[PASS]\u{1b}[0m 5.5 - Ensure sensitive host system directories are not mounted on containers (Automated)\n";
    let report = parse_text_log(log);
    assert_eq!(
        ids_and_results(&report),
        [
            ("5.4".to_string(), BenchResult::Warn),
            ("5.5".to_string(), BenchResult::Pass)
        ]
    );
}

#[test]
fn results_straight_in_tests_without_a_section() {
    // `-c check_5_4` runs the check without its section header.
    let log = r#"{
  "dockerbenchsecurity": "1.6.0",
  "start": 1714644847,
  "tests": [
        {
          "id": "5.4",
          "desc": "Ensure that privileged containers are not used (Automated)",
          "result": "WARN",
          "details": "Containers running in privileged mode:  web",
          "items": [
            "web"
          ]
        }
  ],
  "checks": 1,
  "score": -1,
  "end": 1714644848
}"#;
    let report = parse_json_log(log).expect("parse").report;
    assert_eq!(
        ids_and_results(&report),
        [("5.4".to_string(), BenchResult::Warn)]
    );
    assert_eq!(report.checks[0].section, "5");
    assert_eq!(report.sections_with_checks()[0].label(), "5");
}
