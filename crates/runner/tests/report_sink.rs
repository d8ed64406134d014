//! The three reporters together on one real event sink: parallel targets
//! emitting at once, a registered secret, and the files read back.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use runner::report::{
    JsonLinesReporter, JunitReporter, Shared, Summary, TerminalMode, TerminalReporter,
};
use step_core::outcome::{CheckResult, RunResult, Status};
use step_core::{Event, EventKind, EventSink, Stream};

/// A writer the test reads back after the reporter took it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const SECRET: &str = "s3cr3t-t0ken-value";
const TARGETS: [&str; 3] = ["aws", "gcp", "azure"];
const LINES: usize = 300;

#[test]
fn parallel_targets_through_all_reporters() {
    let dir = tempfile::tempdir().expect("temp dir");
    let events_path = dir.path().join("events.jsonl");
    let junit_path = dir.path().join("junit.xml");

    let sink = EventSink::new();
    let terminal = Captured::default();
    sink.add_listener(Box::new(TerminalReporter::new(
        Box::new(terminal.clone()),
        TerminalMode::Plain,
    )));
    let events = Shared::new(JsonLinesReporter::create(&events_path).expect("events file"));
    sink.add_listener(Box::new(events.clone()));
    let junit = Shared::new(JunitReporter::new(&junit_path));
    sink.add_listener(Box::new(junit.clone()));
    let summary = Shared::new(Summary::new());
    sink.add_listener(Box::new(summary.clone()));
    sink.add_secrets([SECRET]);

    sink.emit(EventKind::RunStarted {
        run_id: "r1".into(),
        pipeline: "deploy".into(),
    });
    std::thread::scope(|scope| {
        for target in TARGETS {
            let step = sink.with_target(Some(target.to_owned())).scoped("apply");
            scope.spawn(move || {
                step.emit(EventKind::StepStarted {
                    kind: "script".into(),
                    cwd: None,
                });
                for i in 0..LINES {
                    step.output(Stream::Stdout, format!("{target} {i} token={SECRET}"));
                }
                step.emit(EventKind::Check {
                    check: CheckResult::new("endpoint answers", Status::Passed),
                });
                let status = if target == "gcp" {
                    Status::Failed
                } else {
                    Status::Passed
                };
                step.emit(EventKind::StepFinished {
                    status,
                    duration_ms: 10,
                    message: (status == Status::Failed).then(|| format!("leaked {SECRET}?")),
                });
            });
        }
    });
    sink.emit(EventKind::RunFinished {
        result: RunResult::Failed,
        duration_ms: 50,
    });
    sink.finish();

    // Terminal: every output line whole and under its own target's prefix.
    let text = String::from_utf8(terminal.0.lock().expect("lock").clone()).expect("utf-8");
    for target in TARGETS {
        let prefix = format!("[{target}] apply | {target} ");
        let count = text.lines().filter(|l| l.starts_with(&prefix)).count();
        assert_eq!(count, LINES, "lines of {target}");
    }
    for line in text.lines().filter(|l| l.contains(" | ")) {
        assert!(
            line.ends_with(" token=***"),
            "mixed or unmasked line: {line}"
        );
    }

    // Events: parse back, all targets present.
    assert!(events.lock().error().is_none());
    let events_text = std::fs::read_to_string(&events_path).expect("events");
    let parsed: Vec<Event> = events_text
        .lines()
        .map(|l| serde_json::from_str(l).expect("event line"))
        .collect();
    assert_eq!(parsed.len(), 2 + TARGETS.len() * (LINES + 3));

    // JUnit: a suite per target, each with the step and its check.
    assert!(junit.lock().error().is_none());
    let xml = std::fs::read_to_string(&junit_path).expect("junit");
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit");
    let mut suites: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
    suites.sort_unstable();
    assert_eq!(suites, vec!["aws", "azure", "gcp"]);
    assert!(report.test_suites.iter().all(|s| s.tests == 2));
    assert_eq!(report.failures, 1);

    // The summary the CLI reads.
    let summary = summary.lock();
    assert_eq!(summary.count(Status::Passed), 2);
    assert_eq!(summary.count(Status::Failed), 1);
    assert_eq!(summary.groups().len(), TARGETS.len());

    // The secret is nowhere.
    for (name, content) in [
        ("terminal", &text),
        ("events", &events_text),
        ("junit", &xml),
    ] {
        assert!(!content.contains(SECRET), "secret in the {name} output");
    }
}
