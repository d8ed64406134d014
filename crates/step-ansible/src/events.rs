//! Reading what the `stepwise_events` callback plugin wrote during an
//! `ansible-playbook` run: one JSON object per line, a `result` per task
//! and host, and one `stats` record with the PLAY RECAP counts.
//!
//! ```text
//! {"event": "result", "status": "ok", "host": "localhost", "task": "web : Write the page",
//!  "action": "ansible.builtin.copy", "path": "/src/roles/web/tasks/main.yml:2",
//!  "changed": true, "ignore_errors": false}
//! {"event": "stats", "hosts": {"localhost": {"ok": 2, "failures": 0, "unreachable": 0,
//!  "changed": 1, "skipped": 0, "rescued": 0, "ignored": 0}}}
//! ```
//!
//! The file is tool output, so it is read tolerantly: a line that is not a
//! record we know is counted and skipped, never a panic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How one task ended on one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Ran (changed or not).
    Ok,
    /// Failed (perhaps ignored: see [`TaskResult::ignore_errors`]).
    Failed,
    /// Skipped by a condition.
    Skipped,
    /// The host could not be reached.
    Unreachable,
}

/// One task's result on one host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskResult {
    /// How it ended.
    pub status: TaskStatus,
    /// The host.
    #[serde(default)]
    pub host: String,
    /// The task's name as ansible shows it (`role : task`).
    #[serde(default)]
    pub task: String,
    /// The module or action (`ansible.builtin.command`).
    #[serde(default)]
    pub action: Option<String>,
    /// Where the task is defined (`/path/to/tasks/main.yml:12`).
    #[serde(default)]
    pub path: Option<String>,
    /// Whether it changed something.
    #[serde(default)]
    pub changed: bool,
    /// Whether a failure was ignored (`ignore_errors: true`).
    #[serde(default)]
    pub ignore_errors: bool,
    /// The failure message (absent for `no_log` tasks).
    #[serde(default)]
    pub msg: Option<String>,
}

impl TaskResult {
    /// `path` split into file and line (`a.yml:12` → (`a.yml`, 12)).
    pub fn file_line(&self) -> Option<(&str, Option<u32>)> {
        let path = self.path.as_deref()?;
        match path.rsplit_once(':') {
            Some((file, line)) if line.chars().all(|c| c.is_ascii_digit()) && !line.is_empty() => {
                Some((file, line.parse().ok()))
            }
            _ => Some((path, None)),
        }
    }
}

/// A host's line of the PLAY RECAP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostRecap {
    /// Tasks that ran (changed or not).
    pub ok: u64,
    /// Tasks that changed something.
    pub changed: u64,
    /// Tasks that could not reach the host.
    pub unreachable: u64,
    /// Tasks that failed (not ignored, not rescued).
    #[serde(alias = "failures")]
    pub failed: u64,
    /// Tasks skipped by a condition.
    pub skipped: u64,
    /// Failures handled by a `rescue` block.
    pub rescued: u64,
    /// Failures ignored by `ignore_errors`.
    pub ignored: u64,
}

impl HostRecap {
    /// Adds another host's counts.
    pub fn add(&mut self, other: &HostRecap) {
        self.ok += other.ok;
        self.changed += other.changed;
        self.unreachable += other.unreachable;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.rescued += other.rescued;
        self.ignored += other.ignored;
    }

    /// `ok=2 changed=1 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0`.
    pub fn line(&self) -> String {
        format!(
            "ok={} changed={} unreachable={} failed={} skipped={} rescued={} ignored={}",
            self.ok,
            self.changed,
            self.unreachable,
            self.failed,
            self.skipped,
            self.rescued,
            self.ignored
        )
    }

    /// The counts as a JSON object (for outputs).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("ok".into(), self.ok.into());
        m.insert("changed".into(), self.changed.into());
        m.insert("unreachable".into(), self.unreachable.into());
        m.insert("failed".into(), self.failed.into());
        m.insert("skipped".into(), self.skipped.into());
        m.insert("rescued".into(), self.rescued.into());
        m.insert("ignored".into(), self.ignored.into());
        Value::Object(m)
    }
}

/// Everything the callback recorded for one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlaybookReport {
    /// Task results in the order they happened.
    pub results: Vec<TaskResult>,
    /// The PLAY RECAP per host; `None` when the run ended before ansible
    /// printed one (a parse error, a crash).
    pub recap: Option<BTreeMap<String, HostRecap>>,
    /// Lines that were not records we know.
    pub unreadable_lines: usize,
}

#[derive(Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Record {
    Result(TaskResult),
    Stats { hosts: BTreeMap<String, HostRecap> },
}

/// Parses the callback's JSON lines.
///
/// ```
/// let text = r#"{"event": "result", "status": "ok", "host": "h", "task": "Write", "changed": true}
/// {"event": "stats", "hosts": {"h": {"ok": 1, "changed": 1, "failures": 0}}}"#;
/// let report = step_ansible::events::parse_events(text);
/// assert_eq!(report.changed_tasks().len(), 1);
/// assert_eq!(report.totals().changed, 1);
/// ```
pub fn parse_events(text: &str) -> PlaybookReport {
    let mut report = PlaybookReport::default();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match serde_json::from_str::<Record>(line) {
            Ok(Record::Result(r)) => report.results.push(r),
            Ok(Record::Stats { hosts }) => {
                // Several playbooks in one run each end with stats; add them up.
                let recap = report.recap.get_or_insert_with(BTreeMap::new);
                for (host, counts) in hosts {
                    recap.entry(host).or_default().add(&counts);
                }
            }
            Err(_) => report.unreadable_lines += 1,
        }
    }
    report
}

impl PlaybookReport {
    /// Results that changed something (ignored failures that changed
    /// something included: the recap counts them too).
    pub fn changed_tasks(&self) -> Vec<&TaskResult> {
        self.results.iter().filter(|r| r.changed).collect()
    }

    /// For each host that failed or was unreachable, the result that stopped
    /// it: its last failure that was not ignored (earlier failures may have
    /// been rescued).
    pub fn stopping_failures(&self) -> Vec<&TaskResult> {
        let mut last: BTreeMap<&str, &TaskResult> = BTreeMap::new();
        for r in &self.results {
            let counts = match r.status {
                TaskStatus::Failed => !r.ignore_errors,
                TaskStatus::Unreachable => true,
                _ => false,
            };
            if counts {
                last.insert(r.host.as_str(), r);
            }
        }
        let stopped = |host: &str| match &self.recap {
            Some(recap) => recap
                .get(host)
                .is_some_and(|c| c.failed > 0 || c.unreachable > 0),
            None => true,
        };
        last.into_iter()
            .filter(|(host, _)| stopped(host))
            .map(|(_, r)| r)
            .collect()
    }

    /// All hosts' counts added up.
    pub fn totals(&self) -> HostRecap {
        let mut total = HostRecap::default();
        for counts in self.recap.iter().flat_map(|r| r.values()) {
            total.add(counts);
        }
        total
    }

    /// The recap per host as JSON (`{"localhost": {"ok": 2, …}}`).
    pub fn recap_json(&self) -> Value {
        let mut m = Map::new();
        for (host, counts) in self.recap.iter().flatten() {
            m.insert(host.clone(), counts.to_json());
        }
        Value::Object(m)
    }
}

/// `task (host)` with `file:line` when known — how messages name a task.
pub fn describe_task(r: &TaskResult) -> String {
    let mut s = format!("`{}` on {}", r.task, r.host);
    if let Some(path) = &r.path {
        s.push_str(&format!(" ({path})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from a real run (ansible-core 2.19) of a play with a changed
    /// task, a skipped task, an ignored failure, a `no_log` ignored failure,
    /// a failed assert and an unreachable host.
    const MIXED: &str = include_str!("../tests/fixtures/captured/events-mixed.jsonl");

    #[test]
    fn results_and_recap_from_a_real_run() {
        let report = parse_events(MIXED);
        assert_eq!(report.unreadable_lines, 0);
        assert_eq!(report.results.len(), 6);
        let recap = report.recap.as_ref().unwrap();
        assert_eq!(
            recap["localhost"],
            HostRecap {
                ok: 3,
                changed: 2,
                unreachable: 0,
                failed: 1,
                skipped: 1,
                rescued: 0,
                ignored: 2
            }
        );
        assert_eq!(recap["unreachable-host"].unreachable, 1);
        let totals = report.totals();
        assert_eq!((totals.ok, totals.failed, totals.unreachable), (3, 1, 1));
        assert_eq!(report.recap_json()["localhost"]["failed"], 1);
    }

    #[test]
    fn changed_tasks_include_ignored_failures_that_changed() {
        let report = parse_events(MIXED);
        let names: Vec<&str> = report
            .changed_tasks()
            .iter()
            .map(|r| r.task.as_str())
            .collect();
        assert_eq!(names, ["Always changes", "Ignored failure"]);
    }

    #[test]
    fn stopping_failures_skip_ignored_ones_and_keep_messages() {
        let report = parse_events(MIXED);
        let stops = report.stopping_failures();
        assert_eq!(stops.len(), 2);
        let local = stops.iter().find(|r| r.host == "localhost").unwrap();
        assert_eq!(local.task, "Check the greeting");
        assert_eq!(local.msg.as_deref(), Some("greeting was bye"));
        assert_eq!(
            local.file_line(),
            Some(("/tmp/ans-exp/mixed.yml", Some(19)))
        );
        let unreachable = stops.iter().find(|r| r.host == "unreachable-host").unwrap();
        assert_eq!(unreachable.status, TaskStatus::Unreachable);
    }

    #[test]
    fn no_log_failures_carry_no_message() {
        let report = parse_events(MIXED);
        let secret = report
            .results
            .iter()
            .find(|r| r.task == "Secret failure")
            .unwrap();
        assert_eq!(secret.msg, None);
        assert!(!MIXED.contains("hunter22"));
    }

    #[test]
    fn junk_lines_are_counted_and_stats_of_several_playbooks_add_up() {
        let text = "not json\n{\"event\": \"other\"}\n\
            {\"event\": \"stats\", \"hosts\": {\"h\": {\"ok\": 1, \"changed\": 1}}}\n\
            {\"event\": \"stats\", \"hosts\": {\"h\": {\"ok\": 2, \"failures\": 1}}}\n";
        let report = parse_events(text);
        assert_eq!(report.unreadable_lines, 2);
        let h = report.recap.as_ref().unwrap()["h"];
        assert_eq!((h.ok, h.changed, h.failed), (3, 1, 1));
        assert_eq!(parse_events("").recap, None);
    }
}
