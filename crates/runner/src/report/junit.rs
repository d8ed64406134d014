//! The JUnit XML report (`--junit FILE`), for CI systems that show test
//! results.
//!
//! The report is built from the run's [`Summary`] and written once, when the
//! run ends ([`EventListener::finish`]), atomically (a temporary file renamed
//! over the path), so a CI system never reads half a report:
//!
//! - one `testsuite` per target, named after it (the steps outside any
//!   `for_each` form a suite named after the pipeline);
//! - one `testcase` per step run: name = the step's name, classname =
//!   `pipeline` or `pipeline.target`, time = its duration; failed and timed
//!   out steps are failures, errored and cancelled steps are errors (with
//!   the step's message and findings), skipped steps are skipped; the last
//!   [`DEFAULT_OUTPUT_LINES`] lines the step printed are its `system-out`;
//! - a failure's `message` is the first line of the step's message; the
//!   whole message and the findings (`path:line: severity [rule] text`, the
//!   path relative to the repository root) are the element's body, where
//!   parsers keep line breaks;
//! - one more `testcase` per check a step reported, named
//!   `<step> › <check>` (`<step> › <group> › <check>` when the check has a
//!   group, so that the same check on two hosts stays two cases).
//!
//! The file is valid against the JUnit XSD of Jenkins' xunit plugin. That
//! schema has no `skipped` on `<testsuites>` (quick-junit writes one, so
//! [`JunitReporter::xml`] drops it) and no `file`/`line` on `<testcase>`,
//! so a finding's location is written in the failure's body instead.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use step_core::event::{Event, EventListener};
use step_core::outcome::{CheckResult, Status};

use super::summary::{StepRow, Summary};

/// How many output lines of a step the report keeps by default.
pub const DEFAULT_OUTPUT_LINES: usize = 200;

/// The name of the report (and of the suite of steps without target) when
/// the run never said which pipeline it ran.
const UNNAMED_PIPELINE: &str = "stepwise";

/// Collects a run's results and writes them as JUnit XML at the end.
#[derive(Debug)]
pub struct JunitReporter {
    path: PathBuf,
    summary: Summary,
    written: bool,
    error: Option<io::Error>,
}

impl JunitReporter {
    /// A reporter that writes the report to `path` when the run ends,
    /// keeping the last [`DEFAULT_OUTPUT_LINES`] output lines of each step.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JunitReporter {
            path: path.into(),
            summary: Summary::new().keep_output(DEFAULT_OUTPUT_LINES),
            written: false,
            error: None,
        }
    }

    /// Keeps the last `lines` output lines of each step instead (0: none).
    pub fn with_output_lines(mut self, lines: usize) -> Self {
        self.summary = self.summary.keep_output(lines);
        self
    }

    /// The path the report is written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The results collected so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The error writing the report, if writing failed.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// The report of the events so far.
    pub fn report(&self) -> Report {
        let pipeline = self.summary.pipeline().unwrap_or(UNNAMED_PIPELINE);
        let mut report = Report::new(pipeline);
        for group in self.summary.groups() {
            let (suite_name, classname) = match group.target {
                Some(target) => (target.to_owned(), format!("{pipeline}.{target}")),
                None => (pipeline.to_owned(), pipeline.to_owned()),
            };
            let mut suite = TestSuite::new(suite_name);
            suite.set_time(group.rows.iter().map(|r| r.duration).sum());
            for row in group.rows {
                suite.add_test_case(step_case(row, &classname));
                for check in &row.checks {
                    suite.add_test_case(check_case(row, check, &classname));
                }
            }
            report.add_test_suite(suite);
        }
        if let Some(duration) = self.summary.duration() {
            report.set_time(duration);
        }
        report
    }

    /// The report as XML in the xunit dialect (see the module docs).
    pub fn xml(&self) -> io::Result<String> {
        let xml = self.report().to_string().map_err(io::Error::other)?;
        Ok(drop_testsuites_skipped(&xml))
    }

    /// Writes the report to the path now: to a temporary file next to it,
    /// then renamed over it.
    pub fn write(&self) -> io::Result<()> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        {
            let mut out = BufWriter::new(file.as_file_mut());
            out.write_all(self.xml()?.as_bytes())?;
            out.flush()?;
        }
        file.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

impl EventListener for JunitReporter {
    fn event(&mut self, event: &Event) {
        self.summary.record(event);
    }

    fn output_block(&mut self, block: &step_core::event::OutputBlock<'_>) {
        self.summary.record_output(block);
    }

    fn finish(&mut self) {
        if self.written {
            return;
        }
        self.written = true;
        if let Err(e) = self.write() {
            self.error = Some(e);
        }
    }
}

/// Removes the `skipped` attribute of the `<testsuites>` element, which
/// the xunit schema does not allow (the suites keep theirs).
fn drop_testsuites_skipped(xml: &str) -> String {
    let Some(start) = xml.find("<testsuites") else {
        return xml.to_owned();
    };
    let end = xml[start..].find('>').map_or(xml.len(), |e| start + e);
    let tag = &xml[start..end];
    let Some(at) = tag.find(" skipped=\"") else {
        return xml.to_owned();
    };
    let value_end = tag[at + 10..]
        .find('"')
        .map_or(tag.len(), |e| at + 10 + e + 1);
    format!("{}{}{}", &xml[..start + at], &tag[value_end..], &xml[end..])
}

/// The body of a failure: the whole message when it has more than one
/// line, then the findings, one per line.
fn failure_body(message: Option<&str>, findings: &[step_core::Finding]) -> Option<String> {
    let mut body: Vec<String> = Vec::new();
    if let Some(m) = message.filter(|m| m.lines().nth(1).is_some()) {
        body.push(m.to_owned());
    }
    body.extend(findings.iter().map(ToString::to_string));
    (!body.is_empty()).then(|| body.join("\n"))
}

/// The test case of one step run.
fn step_case(row: &StepRow, classname: &str) -> TestCase {
    let mut status = match row.status {
        // A step that never reported its end is an error of the run.
        None => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message("the step did not finish");
            status.set_type("unfinished");
            status
        }
        Some(s) => case_status(s, row.message.as_deref()),
    };
    if matches!(status, TestCaseStatus::NonSuccess { .. })
        && let Some(body) = failure_body(row.message.as_deref(), &row.findings)
    {
        status.set_description(body);
    }
    let mut case = TestCase::new(row.step.as_str(), status);
    case.set_classname(classname).set_time(row.duration);
    if !row.output.is_empty() {
        let mut out = String::new();
        if row.output_dropped > 0 {
            out.push_str(&format!(
                "[{} earlier lines not kept]\n",
                row.output_dropped
            ));
        }
        for line in &row.output {
            out.push_str(line);
            out.push('\n');
        }
        case.set_system_out(out);
    }
    if row.status == Some(Status::Warned) {
        // A warning passes, yet a person reading the report should see why
        // it was not a plain pass.
        let message = row
            .message
            .as_deref()
            .unwrap_or("failed, continue_on_error");
        case.set_system_err(format!("warning: {message}\n"));
    }
    case
}

/// The test case of one check of a step.
fn check_case(row: &StepRow, check: &CheckResult, classname: &str) -> TestCase {
    let name = match &check.group {
        Some(group) => format!("{} › {group} › {}", row.step, check.name),
        None => format!("{} › {}", row.step, check.name),
    };
    let mut status = case_status(check.status, check.message.as_deref());
    let message = check.message.as_deref().unwrap_or_default();
    if matches!(status, TestCaseStatus::NonSuccess { .. })
        && (check.location.is_some() || message.lines().nth(1).is_some())
    {
        let body = match &check.location {
            Some(loc) => format!("{loc}: {message}"),
            None => message.to_owned(),
        };
        status.set_description(body);
    }
    let mut case = TestCase::new(name, status);
    case.set_classname(classname)
        .set_time(Duration::from_millis(check.duration_ms));
    case
}

/// The JUnit status of a step or check status, with the message saying why.
fn case_status(status: Status, message: Option<&str>) -> TestCaseStatus {
    let kind = match status {
        Status::Passed | Status::Warned => return TestCaseStatus::success(),
        Status::Skipped => {
            let mut skipped = TestCaseStatus::skipped();
            if let Some(message) = message {
                skipped.set_message(message);
            }
            return skipped;
        }
        // The step ran and found a problem (or ran too long).
        Status::Failed | Status::TimedOut => NonSuccessKind::Failure,
        // The step could not run, or was stopped from outside.
        Status::Errored | Status::Cancelled => NonSuccessKind::Error,
        // A status added later: reported as an error.
        _ => NonSuccessKind::Error,
    };
    let mut non_success = TestCaseStatus::non_success(kind);
    let first = message
        .and_then(|m| m.lines().next())
        .filter(|m| !m.is_empty());
    non_success
        .set_message(first.unwrap_or(status.as_str()))
        .set_type(status.as_str());
    non_success
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::*;
    use step_core::outcome::RunResult;

    fn reporter_of(events: &[Event]) -> JunitReporter {
        let mut reporter = JunitReporter::new("unused.xml");
        for e in events {
            reporter.event(e);
        }
        reporter
    }

    #[test]
    fn one_suite_per_target_and_a_case_per_step_and_check() {
        let report = reporter_of(&two_target_run()).report();
        let suites: Vec<(&str, Vec<&str>)> = report
            .test_suites
            .iter()
            .map(|s| {
                let cases = s.test_cases.iter().map(|c| c.name.as_str()).collect();
                (s.name.as_str(), cases)
            })
            .collect();
        assert_eq!(
            suites,
            vec![
                ("deploy", vec!["setup", "notify"]),
                (
                    "aws",
                    vec![
                        "deploy",
                        "verify",
                        "verify › port 443 is listening",
                        "smoke"
                    ]
                ),
                (
                    "gcp",
                    vec![
                        "deploy",
                        "verify",
                        "verify › port 443 is listening",
                        "smoke"
                    ]
                ),
            ]
        );
        assert_eq!(report.tests, 10);
        assert_eq!(report.failures, 2, "gcp verify and its check");
        assert_eq!(report.skipped, 2);
    }

    #[test]
    fn xml_of_a_two_target_run() {
        let xml = reporter_of(&two_target_run()).xml().expect("serialize");
        assert!(!xml.contains("<testsuites name=\"deploy\" tests=\"10\" skipped"));
        insta::assert_snapshot!(xml);
    }

    #[test]
    fn statuses_map_to_failure_error_and_skipped() {
        let kind = |status| match case_status(status, Some("why")) {
            TestCaseStatus::Success { .. } => "success",
            TestCaseStatus::Skipped { .. } => "skipped",
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                ..
            } => "failure",
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Error,
                ..
            } => "error",
        };
        assert_eq!(kind(Status::Passed), "success");
        assert_eq!(kind(Status::Warned), "success");
        assert_eq!(kind(Status::Failed), "failure");
        assert_eq!(kind(Status::TimedOut), "failure");
        assert_eq!(kind(Status::Errored), "error");
        assert_eq!(kind(Status::Cancelled), "error");
        assert_eq!(kind(Status::Skipped), "skipped");
    }

    #[test]
    fn output_is_bounded_and_unfinished_steps_are_errors() {
        let mut events = vec![run_started("build"), started(None, "flood", "script")];
        events.extend((0..250).map(|i| output(None, "flood", &format!("line {i}"))));
        let report = reporter_of(&events).report();
        let case = &report.test_suites[0].test_cases[0];
        let out = case.system_out.as_ref().expect("system-out").as_str();
        assert!(
            out.starts_with("[50 earlier lines not kept]\nline 50\n"),
            "{out}"
        );
        assert!(out.ends_with("line 249\n"));
        assert!(matches!(
            case.status,
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Error,
                ..
            }
        ));
    }

    #[test]
    fn finish_writes_the_file_once_and_it_parses() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("junit.xml");
        let mut reporter = JunitReporter::new(&path);
        for e in two_target_run() {
            reporter.event(&e);
        }
        reporter.finish();
        assert!(reporter.error().is_none());
        let xml = std::fs::read_to_string(&path).expect("report written");
        let parsed = Report::deserialize_from_str(&xml).expect("valid JUnit");
        assert_eq!(parsed.test_suites.len(), 3);
        assert_eq!(parsed.time, Some(Duration::from_millis(3100)));
        // Nothing left behind but the report.
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    #[test]
    fn an_unwritable_path_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut reporter = JunitReporter::new(dir.path().join("missing/junit.xml"));
        reporter.event(&run_finished(RunResult::Passed, 1));
        reporter.finish();
        assert_eq!(
            reporter.error().map(io::Error::kind),
            Some(io::ErrorKind::NotFound)
        );
    }
}
