//! The per-step results of a run, collected from its events.
//!
//! A [`Summary`] is itself an [`EventListener`]: feed it every event and it
//! keeps one [`StepRow`] per step run — target, step, kind, status,
//! duration, message, checks and findings. The terminal reporter prints it
//! as the closing table, the JUnit reporter turns it into test cases, and
//! the CLI can read it (through [`super::Shared`]) to decide the exit code.
//!
//! Steps are identified by `(target, step name)`. A step name can repeat
//! within a target (an after-step named like a main step, a retried step):
//! a new row begins at every `StepStarted` unless the step's latest row is
//! still open, and a `StepFinished` closes the latest open row or, for a
//! step that never started (skipped), adds a finished row of its own.
//! Events without a step name (run-level logs) do not make rows.
//!
//! Output lines are not kept unless asked for ([`Summary::keep_output`]):
//! the JUnit report wants the last lines of each step, the terminal does not.

use std::collections::VecDeque;
use std::time::Duration;

use step_core::event::{Event, EventKind, EventListener, OutputBlock};
use step_core::outcome::{CheckResult, Finding, RunResult, Status};

use super::{format_duration, label};

/// The longest message the summary table shows for one step, in characters.
const TABLE_MESSAGE_CHARS: usize = 72;

/// The longest output line a summary keeps, in bytes; longer lines are cut.
const KEPT_LINE_BYTES: usize = 4096;

/// The order statuses are counted in on the result line.
const COUNT_ORDER: [Status; 7] = [
    Status::Passed,
    Status::Warned,
    Status::Failed,
    Status::Errored,
    Status::TimedOut,
    Status::Cancelled,
    Status::Skipped,
];

/// One run of one step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepRow {
    /// The parallel target (`for_each` value) it ran for, if any.
    pub target: Option<String>,
    /// The step's display name.
    pub step: String,
    /// The step's kind, when it started (a skipped step never does).
    pub kind: Option<String>,
    /// How it ended; `None` while it runs, or when the run ended without
    /// saying (a crash, a lost event).
    pub status: Option<Status>,
    /// How long it took (zero until it finished).
    pub duration: Duration,
    /// What happened, for a person (the failure reason, the skip reason).
    pub message: Option<String>,
    /// The results of its checks, in the order they were reported.
    pub checks: Vec<CheckResult>,
    /// Its findings, in the order they were reported.
    pub findings: Vec<Finding>,
    /// The last lines it printed (stdout and stderr, in order), when the
    /// summary keeps output ([`Summary::keep_output`]); long lines are cut.
    pub output: VecDeque<String>,
    /// How many earlier lines were dropped from [`StepRow::output`].
    pub output_dropped: usize,
}

impl StepRow {
    fn new(target: Option<&str>, step: &str) -> Self {
        StepRow {
            target: target.map(str::to_owned),
            step: step.to_owned(),
            kind: None,
            status: None,
            duration: Duration::ZERO,
            message: None,
            checks: Vec::new(),
            findings: Vec::new(),
            output: VecDeque::new(),
            output_dropped: 0,
        }
    }

    /// Whether the row belongs to `(target, step)`.
    fn is(&self, target: Option<&str>, step: &str) -> bool {
        self.target.as_deref() == target && self.step == step
    }

    /// Whether the step has not finished (yet).
    pub fn is_open(&self) -> bool {
        self.status.is_none()
    }

    /// The label of the step in reports: `[aws] deploy` or `deploy`.
    pub fn label(&self) -> String {
        label(self.target.as_deref(), Some(&self.step))
    }

    /// The result word of the step: its status, or `unfinished`.
    pub fn result(&self) -> &'static str {
        self.status.map_or("unfinished", Status::as_str)
    }
}

/// The rows of one target (or of the steps without target), in the order
/// they began.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetGroup<'a> {
    /// The target; `None` for the steps outside any `for_each`.
    pub target: Option<&'a str>,
    /// Its rows.
    pub rows: Vec<&'a StepRow>,
}

/// The results of a run, step by step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pipeline: Option<String>,
    run_id: Option<String>,
    rows: Vec<StepRow>,
    result: Option<RunResult>,
    duration: Option<Duration>,
    kept_lines: usize,
}

impl Summary {
    /// An empty summary.
    pub fn new() -> Self {
        Summary::default()
    }

    /// Keeps the last `lines` output lines of every step in
    /// [`StepRow::output`] (none by default).
    pub fn keep_output(mut self, lines: usize) -> Self {
        self.kept_lines = lines;
        self
    }

    /// Takes one event into account. Returns the index (in [`Summary::rows`])
    /// of the row the event belongs to, when it belongs to a step.
    ///
    /// Output lines and log messages change nothing (output is kept when
    /// [`Summary::keep_output`] asks for it); their step's row is returned
    /// all the same, when it has one.
    pub fn record(&mut self, event: &Event) -> Option<usize> {
        let target = event.target.as_deref();
        match &event.kind {
            EventKind::RunStarted { run_id, pipeline } => {
                self.run_id = Some(run_id.clone());
                self.pipeline = Some(pipeline.clone());
                None
            }
            EventKind::RunFinished {
                result,
                duration_ms,
            } => {
                self.result = Some(*result);
                self.duration = Some(Duration::from_millis(*duration_ms));
                None
            }
            EventKind::StepStarted { kind, .. } => {
                let step = event.step.as_deref()?;
                let index = match self.open_row(target, step) {
                    Some(i) => i,
                    None => self.push(target, step),
                };
                self.rows[index].kind = Some(kind.clone());
                Some(index)
            }
            EventKind::StepFinished {
                status,
                duration_ms,
                message,
            } => {
                let step = event.step.as_deref()?;
                let index = match self.open_row(target, step) {
                    Some(i) => i,
                    None => self.push(target, step),
                };
                let row = &mut self.rows[index];
                row.status = Some(*status);
                row.duration = Duration::from_millis(*duration_ms);
                row.message = message.clone();
                Some(index)
            }
            EventKind::Check { check } => {
                let index = self.row_of(target, event.step.as_deref()?);
                self.rows[index].checks.push(check.clone());
                Some(index)
            }
            EventKind::Finding { finding } => {
                let index = self.row_of(target, event.step.as_deref()?);
                self.rows[index].findings.push(finding.clone());
                Some(index)
            }
            EventKind::Output { line, .. } => {
                let step = event.step.as_deref()?;
                if self.kept_lines == 0 {
                    return self.latest_row(target, step);
                }
                let index = self.row_of(target, step);
                let row = &mut self.rows[index];
                if row.output.len() == self.kept_lines {
                    row.output.pop_front();
                    row.output_dropped += 1;
                }
                row.output.push_back(cut_line(line));
                Some(index)
            }
            EventKind::Log { .. } => self.latest_row(target, event.step.as_deref()?),
            // Kinds of event added later: no row.
            _ => None,
        }
    }

    /// The latest row of `(target, step)` if it is still open.
    fn open_row(&self, target: Option<&str>, step: &str) -> Option<usize> {
        self.latest_row(target, step)
            .filter(|&i| self.rows[i].is_open())
    }

    /// The latest row of `(target, step)`.
    /// Takes a block of output lines into account, as [`Summary::record`]
    /// would each of its lines (only the last kept lines are copied).
    pub fn record_output(&mut self, block: &OutputBlock<'_>) -> Option<usize> {
        let step = block.step?;
        if self.kept_lines == 0 {
            return self.latest_row(block.target, step);
        }
        let index = self.row_of(block.target, step);
        let kept = self.kept_lines;
        let row = &mut self.rows[index];
        let lines: Vec<&str> = block.lines().collect();
        let skip = lines.len().saturating_sub(kept);
        row.output_dropped += skip;
        for line in &lines[skip..] {
            if row.output.len() == kept {
                row.output.pop_front();
                row.output_dropped += 1;
            }
            row.output.push_back(cut_line(line));
        }
        Some(index)
    }

    fn latest_row(&self, target: Option<&str>, step: &str) -> Option<usize> {
        // Scanning from the end finds running steps after a few rows: the
        // rows of a run number in the tens or hundreds, not more.
        self.rows.iter().rposition(|r| r.is(target, step))
    }

    /// The row an event of a step belongs to: its latest row, or a new open
    /// one when the step has none yet (an event before `StepStarted`).
    fn row_of(&mut self, target: Option<&str>, step: &str) -> usize {
        match self.latest_row(target, step) {
            Some(i) => i,
            None => self.push(target, step),
        }
    }

    fn push(&mut self, target: Option<&str>, step: &str) -> usize {
        self.rows.push(StepRow::new(target, step));
        self.rows.len() - 1
    }

    /// The pipeline's name, once the run started.
    pub fn pipeline(&self) -> Option<&str> {
        self.pipeline.as_deref()
    }

    /// The run's id, once the run started.
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// Every step run, in the order they began (skipped steps: in the order
    /// they were skipped).
    pub fn rows(&self) -> &[StepRow] {
        &self.rows
    }

    /// The run's result, once it finished.
    pub fn result(&self) -> Option<RunResult> {
        self.result
    }

    /// How long the run took, once it finished.
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }

    /// How many step runs ended with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.rows
            .iter()
            .filter(|r| r.status == Some(status))
            .count()
    }

    /// How many step runs never reported how they ended.
    pub fn unfinished(&self) -> usize {
        self.rows.iter().filter(|r| r.is_open()).count()
    }

    /// The rows grouped by target, groups in the order their first step
    /// began; the steps without target form one group of their own.
    pub fn groups(&self) -> Vec<TargetGroup<'_>> {
        let mut groups: Vec<TargetGroup<'_>> = Vec::new();
        for row in &self.rows {
            let target = row.target.as_deref();
            match groups.iter_mut().find(|g| g.target == target) {
                Some(group) => group.rows.push(row),
                None => groups.push(TargetGroup {
                    target,
                    rows: vec![row],
                }),
            }
        }
        groups
    }

    /// The rows in table order: grouped by target, each target's group at
    /// the place its first step began; steps without target stay where they
    /// ran, so the steps after a `for_each` come after its targets.
    fn table_order(&self) -> Vec<&StepRow> {
        let mut groups: Vec<TargetGroup<'_>> = Vec::new();
        for row in &self.rows {
            let target = row.target.as_deref();
            let existing = match target {
                Some(_) => groups.iter_mut().find(|g| g.target == target),
                None => groups.last_mut().filter(|g| g.target.is_none()),
            };
            match existing {
                Some(group) => group.rows.push(row),
                None => groups.push(TargetGroup {
                    target,
                    rows: vec![row],
                }),
            }
        }
        groups.into_iter().flat_map(|g| g.rows).collect()
    }

    /// The summary table: one line per step run, grouped by target, with
    /// aligned columns `step`, `result`, `duration` and the step's message
    /// (its first line, shortened). Plain text, no trailing newline.
    ///
    /// ```text
    /// step            result    duration
    /// setup           passed        0.1s
    /// [aws] deploy    passed        1.2s
    /// [gcp] deploy    failed        2.5s  exit status 1
    /// ```
    pub fn table(&self) -> String {
        let rows: Vec<[String; 4]> = self
            .table_order()
            .into_iter()
            .map(|row| {
                let duration = match row.status {
                    Some(Status::Skipped) | None => "-".to_owned(),
                    Some(_) => format_duration(row.duration),
                };
                let note = row
                    .message
                    .as_deref()
                    .map(table_message)
                    .unwrap_or_default();
                [row.label(), row.result().to_owned(), duration, note]
            })
            .collect();
        let header = [
            "step".to_owned(),
            "result".to_owned(),
            "duration".to_owned(),
            String::new(),
        ];
        let width = |col: usize| {
            rows.iter()
                .chain(std::iter::once(&header))
                .map(|r| r[col].chars().count())
                .max()
                .unwrap_or(0)
        };
        let (step_w, result_w, duration_w) = (width(0), width(1), width(2));
        std::iter::once(&header)
            .chain(&rows)
            .map(|[step, result, duration, note]| {
                let line = format!(
                    "{step:<step_w$}  {result:<result_w$}  {duration:>duration_w$}  {note}"
                );
                line.trim_end().to_owned()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The closing line: `build failed in 3.1s: 5 passed, 1 failed, 2 skipped`
    /// (`… did not finish: …` when the run's end was never reported).
    pub fn result_line(&self) -> String {
        let name = self.pipeline.as_deref().unwrap_or("run");
        let head = match (self.result, self.duration) {
            (Some(result), Some(duration)) => {
                format!("{name} {result} in {}", format_duration(duration))
            }
            _ => format!("{name} did not finish"),
        };
        let mut counts: Vec<String> = COUNT_ORDER
            .iter()
            .filter_map(|&status| match self.count(status) {
                0 => None,
                n => Some(format!("{n} {status}")),
            })
            .collect();
        if self.unfinished() > 0 {
            counts.push(format!("{} unfinished", self.unfinished()));
        }
        if counts.is_empty() {
            head
        } else {
            format!("{head}: {}", counts.join(", "))
        }
    }
}

impl EventListener for Summary {
    fn event(&mut self, event: &Event) {
        self.record(event);
    }

    fn output_block(&mut self, block: &OutputBlock<'_>) {
        self.record_output(block);
    }
}

/// An output line as a summary keeps it: at most [`KEPT_LINE_BYTES`] bytes.
fn cut_line(line: &str) -> String {
    if line.len() <= KEPT_LINE_BYTES {
        return line.to_owned();
    }
    let mut end = KEPT_LINE_BYTES;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

/// A message as the table shows it: its first line, at most
/// [`TABLE_MESSAGE_CHARS`] characters.
fn table_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or("").trim();
    let more_lines = message.trim_end().contains('\n');
    if first.chars().count() > TABLE_MESSAGE_CHARS {
        let cut: String = first.chars().take(TABLE_MESSAGE_CHARS - 1).collect();
        format!("{cut}…")
    } else if more_lines {
        format!("{first} …")
    } else {
        first.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::*;

    fn summary_of(events: &[Event]) -> Summary {
        let mut summary = Summary::new();
        for e in events {
            summary.event(e);
        }
        summary
    }

    #[test]
    fn rows_are_grouped_per_target() {
        let summary = summary_of(&two_target_run());
        let groups: Vec<(Option<&str>, Vec<&str>)> = summary
            .groups()
            .iter()
            .map(|g| (g.target, g.rows.iter().map(|r| r.step.as_str()).collect()))
            .collect();
        assert_eq!(
            groups,
            vec![
                (None, vec!["setup", "notify"]),
                (Some("aws"), vec!["deploy", "verify", "smoke"]),
                (Some("gcp"), vec!["deploy", "verify", "smoke"]),
            ]
        );
    }

    #[test]
    fn rows_carry_status_duration_kind_checks_and_findings() {
        let summary = summary_of(&two_target_run());
        let gcp_verify = summary
            .rows()
            .iter()
            .find(|r| r.target.as_deref() == Some("gcp") && r.step == "verify")
            .expect("gcp verify row");
        assert_eq!(gcp_verify.status, Some(Status::Failed));
        assert_eq!(gcp_verify.duration, Duration::from_millis(450));
        assert_eq!(gcp_verify.kind.as_deref(), Some("host-check"));
        assert_eq!(gcp_verify.message.as_deref(), Some("1 of 1 checks failed"));
        assert_eq!(gcp_verify.checks.len(), 1);
        assert_eq!(gcp_verify.findings.len(), 1);

        let skipped = summary
            .rows()
            .iter()
            .find(|r| r.target.as_deref() == Some("aws") && r.step == "smoke")
            .expect("aws smoke row");
        assert_eq!(skipped.status, Some(Status::Skipped));
        assert_eq!(skipped.kind, None);

        assert_eq!(summary.pipeline(), Some("deploy"));
        assert_eq!(summary.run_id(), Some("run-1"));
        assert_eq!(summary.result(), Some(RunResult::Failed));
        assert_eq!(summary.count(Status::Passed), 4);
        assert_eq!(summary.count(Status::Skipped), 2);
        assert_eq!(summary.unfinished(), 0);
    }

    #[test]
    fn a_repeated_step_name_gets_a_row_per_run() {
        let summary = summary_of(&[
            started(None, "build", "script"),
            finished(None, "build", Status::Failed, 10, Some("exit status 1")),
            started(None, "build", "script"),
            finished(None, "build", Status::Passed, 20, None),
        ]);
        let statuses: Vec<_> = summary.rows().iter().map(|r| r.status).collect();
        assert_eq!(statuses, vec![Some(Status::Failed), Some(Status::Passed)]);
    }

    #[test]
    fn a_step_that_never_finished_is_unfinished() {
        let summary = summary_of(&[
            run_started("build"),
            started(Some("aws"), "deploy", "script"),
        ]);
        assert_eq!(summary.unfinished(), 1);
        assert_eq!(summary.rows()[0].result(), "unfinished");
        assert_eq!(summary.result_line(), "build did not finish: 1 unfinished");
    }

    #[test]
    fn table_groups_targets_and_keeps_after_steps_last() {
        let summary = summary_of(&two_target_run());
        insta::assert_snapshot!(summary.table(), @r"
        step          result   duration
        setup         passed       0.1s
        [aws] deploy  passed       1.2s
        [aws] verify  passed       0.3s
        [aws] smoke   skipped         -  --skip smoke
        [gcp] deploy  passed       2.5s
        [gcp] verify  failed       0.5s  1 of 1 checks failed
        [gcp] smoke   skipped         -  --skip smoke
        notify        warning      0.1s  exit status 7
        ");
        assert_eq!(
            summary.result_line(),
            "deploy failed in 3.1s: 4 passed, 1 warning, 1 failed, 2 skipped"
        );
    }

    #[test]
    fn output_is_kept_only_when_asked_and_bounded() {
        let events: Vec<Event> = std::iter::once(started(Some("aws"), "deploy", "script"))
            .chain((0..10).map(|i| output(Some("aws"), "deploy", &format!("line {i}"))))
            .chain(std::iter::once(output(
                Some("aws"),
                "deploy",
                &"é".repeat(3000),
            )))
            .collect();
        assert!(summary_of(&events).rows()[0].output.is_empty());

        let mut summary = Summary::new().keep_output(3);
        for e in &events {
            summary.record(e);
        }
        let row = &summary.rows()[0];
        assert_eq!(row.output_dropped, 8);
        assert_eq!(row.output.len(), 3);
        assert_eq!(row.output[0], "line 8");
        assert!(row.output[2].len() <= KEPT_LINE_BYTES + '…'.len_utf8());
        assert!(row.output[2].ends_with('…'));
    }

    #[test]
    fn long_and_multi_line_messages_are_shortened() {
        assert_eq!(table_message("one\ntwo"), "one …");
        let long = "x".repeat(100);
        let shown = table_message(&long);
        assert_eq!(shown.chars().count(), TABLE_MESSAGE_CHARS);
        assert!(shown.ends_with('…'));
    }
}
