//! Golden tests of the CI logs (GitHub, GitLab, plain) and the files built
//! from the same run (job summary, SARIF, Code Quality, HTML).
//!
//! The run has a finding of every tool kind, a failed host check, a secret
//! that the event sink masks, and a `for_each` over two targets whose steps
//! interleave.

use std::io::Write;
use std::sync::{Arc, Mutex};

use step_core::event::{Event, EventKind, EventListener, EventSink, Level, MemoryListener, Stream};
use step_core::outcome::{CheckResult, Finding, Location, RunResult, Severity, Status};

use super::ci::{CiDialect, CiReporter};
use super::github;

/// The secret of the run (what `::add-mask::` announces).
pub(crate) const SECRET: &str = "hunter2-s3cret";

/// A writer the test can read after the reporter is done with it.
#[derive(Clone, Default)]
pub(crate) struct Captured(pub(crate) Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        step_core::sync::lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&step_core::sync::lock(&self.0)).into_owned()
    }
}

fn step(sink: &EventSink, target: Option<&str>, name: &str) -> EventSink {
    sink.with_target(target.map(str::to_owned)).scoped(name)
}

fn start(s: &EventSink, kind: &str, cwd: &str) {
    s.emit(EventKind::StepStarted {
        kind: kind.into(),
        cwd: Some(cwd.into()),
    });
}

fn end(s: &EventSink, status: Status, ms: u64, message: Option<&str>) {
    s.emit(EventKind::StepFinished {
        status,
        duration_ms: ms,
        message: message.map(str::to_owned),
    });
}

fn finding(s: &EventSink, f: Finding) {
    s.emit(EventKind::Finding { finding: f });
}

fn build_steps(sink: &EventSink) {
    let p = step(sink, None, "packer validate");
    start(&p, "packer-validate", "packer");
    p.output(Stream::Stdout, "Template validated: apollo.json");
    finding(
        &p,
        Finding::new(
            "packer-validate",
            Severity::Error,
            "unknown variable \"region\"",
        )
        .at(Location::at("packer/apollo.json", 14, Some(21))),
    );
    end(&p, Status::Failed, 900, Some("1 template(s) invalid"));
    let t = step(sink, None, "terraform plan");
    start(&t, "terraform", "terraform");
    t.output(Stream::Stdout, format!("login with token={SECRET}"));
    t.output(Stream::Stdout, "  # terraform_data.cluster will be created");
    finding(
        &t,
        Finding::new(
            "deprecated-attribute",
            Severity::Medium,
            "Argument is deprecated",
        )
        .at(Location::at("terraform/main.tf", 12, Some(3))),
    );
    end(&t, Status::Passed, 2100, None);
    let a = step(sink, None, "ansible-lint");
    start(&a, "ansible-lint", "ansible");
    finding(
        &a,
        Finding::new(
            "yaml[truthy]",
            Severity::Low,
            "Truthy value should be one of [false, true]",
        )
        .at(Location::at("ansible/site.yml", 9, None)),
    );
    finding(
        &a,
        Finding::new(
            "name[missing]",
            Severity::Medium,
            "All tasks should be named",
        )
        .at(Location::at("ansible/roles/web/tasks/main.yml", 4, Some(3))),
    );
    end(&a, Status::Passed, 1500, None);
}

fn parallel_steps(sink: &EventSink) {
    let aws = step(sink, Some("aws"), "verify");
    let gcp = step(sink, Some("gcp"), "verify");
    start(&aws, "host-checks", ".");
    start(&gcp, "host-checks", ".");
    aws.output(Stream::Stdout, "aws: checking 10.0.0.1");
    gcp.output(Stream::Stdout, "gcp: checking 10.1.0.1");
    aws.output(Stream::Stdout, "aws: 2 checks");
    gcp.output(Stream::Stderr, "gcp: connection refused on 443");
    aws.emit(EventKind::Check {
        check: CheckResult::new("port 443 is listening", Status::Passed),
    });
    gcp.emit(EventKind::Check {
        check: CheckResult::new("port 443 is listening", Status::Failed)
            .with_message("expected: listening\nactual: closed")
            .at(Location::at("checks/web.yml", 7, Some(5))),
    });
    end(&aws, Status::Passed, 800, None);
    let bench = step(sink, Some("aws"), "docker-bench");
    start(&bench, "dockerbench", ".");
    gcp.log(Level::Error, "1 of 1 checks failed");
    end(&gcp, Status::Failed, 1200, Some("1 of 1 checks failed"));
    finding(
        &bench,
        Finding::new(
            "5.4",
            Severity::High,
            "Ensure that privileged containers are not used",
        )
        .at(Location::at("reports/docker-bench.log", 120, None)),
    );
    end(
        &bench,
        Status::Warned,
        3000,
        Some("1 WARN over the threshold (continue_on_error)"),
    );
}

/// The events of the golden run, masked by a real sink, with fixed times
/// (one second apart) so the output does not depend on the clock.
pub(crate) fn golden_run() -> Vec<Event> {
    let sink = EventSink::new();
    let memory = MemoryListener::new();
    sink.add_listener(Box::new(memory.clone()));
    sink.add_secrets([SECRET]);
    sink.emit(EventKind::RunStarted {
        run_id: "run-1".into(),
        pipeline: "deploy".into(),
    });
    build_steps(&sink);
    parallel_steps(&sink);
    let td = step(&sink, Some("aws"), "teardown: terraform apply");
    start(&td, "terraform-destroy", "terraform");
    end(&td, Status::Passed, 700, None);
    sink.emit(EventKind::RunFinished {
        result: RunResult::Failed,
        duration_ms: 9000,
    });
    let mut events = memory.events();
    for (i, e) in events.iter_mut().enumerate() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_735_689_600 + i as u64);
        e.time = humantime::format_rfc3339_millis(t).to_string();
    }
    events
}

/// The log of the golden run in `dialect` (GitHub: the masks first).
pub(crate) fn log_of(dialect: CiDialect, stream: bool) -> String {
    let out = Captured::default();
    if dialect == CiDialect::Github {
        let mut w = out.clone();
        github::add_masks(&mut w, [SECRET]).unwrap_or_default();
    }
    let mut r = CiReporter::new(Box::new(out.clone()), dialect).with_stream(stream);
    for e in golden_run() {
        r.event(&e);
    }
    r.finish();
    out.text()
}

#[test]
fn github_log() {
    let log = log_of(CiDialect::Github, false);
    assert!(log.starts_with(&format!("::add-mask::{SECRET}\n")), "{log}");
    assert_eq!(
        log.matches(SECRET).count(),
        1,
        "only the mask names the secret"
    );
    insta::assert_snapshot!(log);
}

#[test]
fn gitlab_log() {
    let log = log_of(CiDialect::Gitlab, false);
    assert!(!log.contains(SECRET));
    assert_eq!(
        log.matches("section_start:").count(),
        log.matches("section_end:").count()
    );
    insta::assert_snapshot!(log.replace('\x1b', "<ESC>").replace('\r', "<CR>"));
}

#[test]
fn plain_log_keeps_each_parallel_step_together() {
    let log = log_of(CiDialect::Plain, false);
    let lines: Vec<&str> = log.lines().collect();
    let pos = |needle: &str| lines.iter().position(|l| l.contains(needle));
    // aws's verify is live; gcp's lines come together after it ended.
    let aws_end = pos("<-- [aws] verify passed").unwrap_or(usize::MAX);
    let gcp_first = pos("[gcp] verify | gcp: checking").unwrap_or(0);
    let gcp_second = pos("[gcp] verify | gcp: connection refused").unwrap_or(0);
    assert!(gcp_first > aws_end, "{log}");
    assert_eq!(gcp_second, gcp_first + 1, "{log}");
    insta::assert_snapshot!(log);
}

#[test]
fn stream_prints_lines_as_they_happen() {
    let log = log_of(CiDialect::Github, true);
    let lines: Vec<&str> = log.lines().collect();
    let aws = lines.iter().position(|l| l.contains("aws: checking"));
    let gcp = lines.iter().position(|l| l.contains("gcp: checking"));
    assert_eq!(gcp, aws.map(|a| a + 1), "{log}");
    assert!(
        !log.contains("::group::"),
        "groups cannot interleave: {log}"
    );
}

#[test]
fn github_job_summary() {
    let mut summary = super::Summary::new();
    for e in golden_run() {
        summary.record(&e);
    }
    let md = github::step_summary(&summary);
    assert!(!md.contains(SECRET));
    insta::assert_snapshot!(md);
}

/// The golden run's summary.
fn golden_summary(keep_output: usize) -> super::Summary {
    let mut summary = super::Summary::new().keep_output(keep_output);
    for e in golden_run() {
        summary.record(&e);
    }
    summary
}

#[test]
fn sarif_is_valid_against_the_schema_with_one_run_per_tool() {
    let sarif = super::sarif::sarif(&golden_summary(0));
    let tools: Vec<&str> = sarif["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["tool"]["driver"]["name"].as_str())
        .collect();
    assert_eq!(
        tools,
        [
            "packer",
            "terraform",
            "ansible-lint",
            "host-checks",
            "dockerbench"
        ]
    );
    let host = &sarif["runs"][3]["results"][0];
    assert_eq!(host["level"], "error");
    let region = &host["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (&region["startLine"], &region["startColumn"]),
        (&7.into(), &5.into())
    );
    let Some(path) = stepwise_tests::shared_schema("sarif-schema-2.1.0.json") else {
        stepwise_tests::skip_or_fail("../shared/schemas/sarif-schema-2.1.0.json is missing");
        return;
    };
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default())
            .expect("the SARIF schema parses");
    let validator = jsonschema::validator_for(&schema).expect("the SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema is strict enough to catch a wrong level.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&broken));
}

#[test]
fn code_quality_issues_have_gitlab_s_required_fields() {
    let issues = super::codequality::code_quality(&golden_summary(0));
    let issues = issues.as_array().cloned().unwrap_or_default();
    // 5 findings and 1 failed check.
    assert_eq!(issues.len(), 6);
    let mut fingerprints = std::collections::BTreeSet::new();
    for i in &issues {
        for field in ["description", "check_name", "fingerprint"] {
            assert!(
                i[field].as_str().is_some_and(|s| !s.is_empty()),
                "{field}: {i}"
            );
        }
        let severity = i["severity"].as_str().unwrap_or_default();
        assert!(
            ["info", "minor", "major", "critical", "blocker"].contains(&severity),
            "{i}"
        );
        assert!(
            i["location"]["path"]
                .as_str()
                .is_some_and(|p| !p.is_empty()),
            "{i}"
        );
        assert!(
            i["location"]["lines"]["begin"]
                .as_u64()
                .is_some_and(|l| l >= 1),
            "{i}"
        );
        assert!(
            fingerprints.insert(i["fingerprint"].to_string()),
            "unique: {i}"
        );
        assert!(!i.to_string().contains(SECRET));
    }
    assert_eq!(issues[0]["check_name"], "packer/packer-validate");
    assert_eq!(issues[0]["location"]["path"], "packer/apollo.json");
    assert_eq!(issues[0]["location"]["lines"]["begin"], 14);
    assert_eq!(issues[4]["check_name"], "host-checks/port 443 is listening");
    assert_eq!(issues[4]["location"]["path"], "checks/web.yml");
}

/// Runs `xmllint --schema` on `xml`; `Err` holds what it said.
fn xmllint(xsd: &std::path::Path, xml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, xml).map_err(|e| e.to_string())?;
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd)
        .arg(&file)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn junit_is_valid_against_the_xunit_schema() {
    let mut junit = super::JunitReporter::new("unused.xml");
    for e in golden_run() {
        junit.event(&e);
    }
    let xml = junit.xml().expect("serialize");
    // Multi-line text is in the body, the first line in `message`.
    assert!(
        xml.contains(
            "<failure message=\"expected: listening\" type=\"failed\">checks/web.yml:7:5: expected: listening\nactual: closed</failure>"
        ),
        "{xml}"
    );
    assert!(xml.contains("classname=\"deploy.gcp\""));
    assert!(!xml.contains(SECRET));
    if !stepwise_tests::tool_available("xmllint") {
        return;
    }
    let Some(xsd) = stepwise_tests::shared_schema("junit-10.xsd") else {
        stepwise_tests::skip_or_fail("../shared/schemas/junit-10.xsd is missing");
        return;
    };
    if let Err(e) = xmllint(&xsd, &xml) {
        panic!("xmllint: {e}\n{xml}");
    }
    // The check is real: the attribute quick-junit writes fails it.
    let raw = junit.report().to_string().expect("serialize");
    assert!(xmllint(&xsd, &raw).is_err());
}

/// The flags the HTML report test runs Chromium with: headless, no
/// sandbox (root in CI), nothing that reaches the network.
const CHROMIUM_FLAGS: [&str; 7] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];

/// Runs headless Chromium with a fresh profile on `args`; its stdout.
fn chromium(args: &[String]) -> String {
    let profile = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new("chromium")
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The workspace's `target/` directory.
fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| stepwise_tests::workspace_root().join("target"))
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let dir = target_dir().join("reports");
    std::fs::create_dir_all(&dir).expect("target/reports");
    let page = dir.join("golden-run.html");
    let mut reporter = super::files::FileReporter::new(&page, super::files::FileFormat::Html);
    for e in golden_run() {
        reporter.event(&e);
    }
    reporter.finish();
    assert!(reporter.error().is_none());
    let html = std::fs::read_to_string(&page).expect("report written");
    assert!(!html.contains(SECRET) && html.contains("token=***"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );
    if !stepwise_tests::tool_available("chromium") {
        return;
    }
    let url = format!("file://{}", page.display());
    let dom = chromium(&["--dump-dom".into(), url.clone()]);
    assert!(
        dom.contains("data-rendered=\"yes\""),
        "the script ran: {dom}"
    );
    // Lanes: the pipeline's own steps, aws, gcp.
    assert_eq!(dom.matches("class=\"lane\"").count(), 3, "{dom}");
    assert_eq!(dom.matches("class=\"bar ").count(), 7);
    assert_eq!(dom.matches("class=\"bar failed\"").count(), 2);
    assert!(dom.contains("data-lane=\"gcp\""));
    assert_eq!(dom.matches("class=\"finding\"").count(), 5);
    assert!(dom.contains("Findings (5)"));
    assert!(dom.contains("data-tool=\"dockerbench\""));
    assert!(dom.contains("Host checks (2 checks, 1 failed)"));
    assert!(dom.contains("expected: listening\nactual: closed"));
    assert_eq!(dom.matches("class=\"teardown\"").count(), 1);
    assert_eq!(
        dom.matches("<details class=\"log\">").count(),
        7,
        "logs collapsed"
    );
    let png = dir.join("golden-run.png");
    let _ = std::fs::remove_file(&png);
    chromium(&[
        format!("--screenshot={}", png.display()),
        "--window-size=1280,1400".into(),
        url,
    ]);
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
}

#[test]
fn a_check_that_repeats_a_finding_is_printed_once() {
    let sink = EventSink::new();
    let memory = MemoryListener::new();
    sink.add_listener(Box::new(memory.clone()));
    let bench = step(&sink, None, "bench");
    start(&bench, "dockerbench", ".");
    let text = "Ensure Content trust for Docker is Enabled (Automated)";
    finding(&bench, Finding::new("4.5", Severity::Medium, text));
    bench.emit(EventKind::Check {
        check: CheckResult::new(format!("4.5 - {text}"), Status::Failed).with_message("WARN"),
    });
    end(&bench, Status::Passed, 10, None);
    for dialect in [CiDialect::Plain, CiDialect::Github] {
        let out = Captured::default();
        let mut r = CiReporter::new(Box::new(out.clone()), dialect);
        memory.events().iter().for_each(|e| r.event(e));
        r.finish();
        let log = out.text();
        assert_eq!(log.matches(text).count(), 1, "{log}");
    }
}

/// The log of the golden run when each run of consecutive output lines of
/// one step comes as one block, as a process reader hands them over.
fn log_of_blocks(dialect: CiDialect, stream: bool) -> String {
    let out = Captured::default();
    let mut r = CiReporter::new(Box::new(out.clone()), dialect).with_stream(stream);
    let events = golden_run();
    let mut i = 0;
    while i < events.len() {
        let e = &events[i];
        let EventKind::Output { stream: s, .. } = &e.kind else {
            r.event(e);
            i += 1;
            continue;
        };
        let mut text = String::new();
        let mut j = i;
        while let Some(next) = events.get(j) {
            match &next.kind {
                EventKind::Output { stream: s2, line }
                    if s2 == s && next.target == e.target && next.step == e.step =>
                {
                    text.push_str(line);
                    text.push('\n');
                    j += 1;
                }
                _ => break,
            }
        }
        r.output_block(&step_core::event::OutputBlock {
            time: &e.time,
            target: e.target.as_deref(),
            step: e.step.as_deref(),
            stream: *s,
            text: &text,
        });
        i = j;
    }
    r.finish();
    out.text()
}

#[test]
fn output_blocks_give_the_same_log_as_their_lines_one_by_one() {
    for dialect in [CiDialect::Plain, CiDialect::Github, CiDialect::Gitlab] {
        for stream in [false, true] {
            let mut whole = log_of(dialect, stream);
            if dialect == CiDialect::Github {
                whole = whole.replacen(&format!("::add-mask::{SECRET}\n"), "", 1);
            }
            assert_eq!(
                log_of_blocks(dialect, stream),
                whole,
                "{dialect:?}, stream {stream}"
            );
        }
    }
}

#[test]
fn a_live_step_s_lines_wait_for_a_flush_or_a_full_batch() {
    let out = Captured::default();
    let mut r = CiReporter::new(Box::new(out.clone()), CiDialect::Plain);
    let sink = EventSink::new();
    let memory = MemoryListener::new();
    sink.add_listener(Box::new(memory.clone()));
    let s = step(&sink, None, "build");
    start(&s, "script", ".");
    memory.events().iter().for_each(|e| r.event(e));
    let before = out.text();
    fn block(text: &str) -> step_core::event::OutputBlock<'_> {
        step_core::event::OutputBlock {
            time: "2025-01-01T00:00:00.000Z",
            target: None,
            step: Some("build"),
            stream: Stream::Stdout,
            text,
        }
    }
    r.output_block(&block("one\ntwo\n"));
    assert_eq!(out.text(), before, "held until a flush");
    r.flush();
    assert!(
        out.text().ends_with("build | one\nbuild | two\n"),
        "{}",
        out.text()
    );
    let big = "x".repeat(100) + "\n";
    let many = big.repeat(super::terminal::BATCH / big.len() + 1);
    r.output_block(&block(&many));
    assert!(
        out.text().len() > super::terminal::BATCH,
        "a full batch is written at once"
    );
}
