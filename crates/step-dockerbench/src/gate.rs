//! The gate: turns a [`BenchReport`] into a verdict, findings, one check
//! result per bench check, per-section summaries and outputs.
//!
//! Rules (the seed's `dockerbench_warn_threshold`, done right):
//! * the WARN count is the number of checks whose result is WARN — detail
//!   lines and the "not root" warning are not checks, so they never count;
//! * ids in `ignore` are listed (a finding marked ignored, with the reason)
//!   but not counted;
//! * the gate fails when the count is **greater** than `max_warnings`
//!   (equal passes), when an id in `fail_on` is WARN whatever the count,
//!   and when the score is below `min_score`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use step_core::{CheckResult, Finding, Location, Severity, Status};

use crate::report::{BenchCheck, BenchReport, BenchResult, ResultCounts, normalize_check_id};

/// A check id to list but not count, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoredCheck {
    /// The check id (`2.1`, or `check_2_1` as the bench's `-c` takes it).
    #[serde(deserialize_with = "crate::config::id_string")]
    pub id: String,
    /// Why it is accepted (shown with the finding; required, so the next
    /// person knows).
    pub reason: String,
}

/// The thresholds a report is judged against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WarnGate {
    /// Fail when more WARN results than this are counted.
    pub max_warnings: Option<u64>,
    /// Fail when the score is below this.
    pub min_score: Option<i64>,
    /// Check ids that fail the gate when they are WARN, whatever the count.
    pub fail_on: Vec<String>,
    /// Check ids listed but not counted.
    pub ignore: Vec<IgnoredCheck>,
}

/// What the gate decided, with everything the step reports.
#[derive(Clone, Debug, PartialEq)]
pub struct GateVerdict {
    /// Why the gate failed; empty when it passed.
    pub failures: Vec<String>,
    /// Counts by result (ignored WARNs included in `warn`).
    pub counts: ResultCounts,
    /// WARN results that were ignored.
    pub ignored: u64,
    /// WARN results the threshold saw (`warn - ignored`).
    pub counted_warnings: u64,
    /// The score (the log's, or computed when it states none).
    pub score: i64,
    /// Whether the score came from the log.
    pub score_from_log: bool,
    /// The threshold the count was judged against.
    pub max_warnings: Option<u64>,
    /// One finding per WARN.
    pub findings: Vec<Finding>,
    /// One check result per bench check.
    pub checks: Vec<CheckResult>,
    /// One line per section: `5 - Container Runtime: 3 PASS, 2 WARN (1 ignored), …`.
    pub section_summaries: Vec<String>,
    /// Notes for the log: ignore / fail_on entries that matched no check.
    pub notes: Vec<String>,
}

impl GateVerdict {
    /// Whether the gate passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The one-line summary of a passing gate, or what failed.
    pub fn message(&self) -> String {
        let mut qualifiers = Vec::new();
        if let Some(max) = self.max_warnings {
            qualifiers.push(format!("max_warnings {max}"));
        }
        if self.ignored > 0 {
            qualifiers.push(format!("{} ignored", self.ignored));
        }
        let qualifiers = if qualifiers.is_empty() {
            String::new()
        } else {
            format!(" ({})", qualifiers.join(", "))
        };
        let summary = format!(
            "{} WARN counted{qualifiers}, score {}; {} checks: {}",
            self.counted_warnings,
            self.score,
            self.counts.total(),
            self.counts
        );
        if self.passed() {
            format!("docker-bench passed: {summary}")
        } else {
            format!(
                "docker-bench gate failed: {} ({summary})",
                self.failures.join("; ")
            )
        }
    }

    /// The outputs a step publishes: counts by result, score, ignored and
    /// counted WARNs.
    pub fn outputs(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("pass".into(), self.counts.pass.into());
        m.insert("warn".into(), self.counts.warn.into());
        m.insert("info".into(), self.counts.info.into());
        m.insert("note".into(), self.counts.note.into());
        m.insert("total".into(), self.counts.total().into());
        m.insert("score".into(), self.score.into());
        m.insert("ignored".into(), self.ignored.into());
        m.insert("warn_counted".into(), self.counted_warnings.into());
        m
    }
}

impl WarnGate {
    /// Judges a report. `log` names the file it was read from (finding locations).
    pub fn evaluate(&self, report: &BenchReport, log: &str) -> GateVerdict {
        let fail_on: Vec<String> = self.fail_on.iter().map(|s| normalize_check_id(s)).collect();
        let ignore: Vec<(String, &str)> = self
            .ignore
            .iter()
            .map(|i| (normalize_check_id(&i.id), i.reason.as_str()))
            .collect();
        let reason_for = |id: &str| ignore.iter().find(|(i, _)| i == id).map(|(_, r)| *r);

        let counts = report.counts();
        let mut ignored = 0u64;
        let mut findings = Vec::new();
        let mut checks = Vec::new();
        let mut fail_on_hits: Vec<&BenchCheck> = Vec::new();

        for check in &report.checks {
            let reason = reason_for(&check.id);
            let is_warn = check.result == BenchResult::Warn;
            if is_warn {
                if reason.is_some() {
                    ignored += 1;
                } else if fail_on.contains(&check.id) {
                    fail_on_hits.push(check);
                }
                findings.push(finding_for(check, reason, fail_on.contains(&check.id), log));
            }
            checks.push(check_result_for(
                check,
                if is_warn { reason } else { None },
                report,
            ));
        }

        let counted_warnings = counts.warn - ignored;
        let score = report.score();
        let mut failures = Vec::new();
        if let Some(max) = self.max_warnings
            && counted_warnings > max
        {
            failures.push(format!(
                "{counted_warnings} WARN results, more than max_warnings {max}"
            ));
        }
        for check in &fail_on_hits {
            failures.push(format!(
                "{} is WARN and listed in fail_on ({})",
                check.id, check.desc
            ));
        }
        if let Some(min) = self.min_score
            && score < min
        {
            failures.push(format!("score {score} is below min_score {min}"));
        }

        let mut notes = Vec::new();
        for (id, _) in &ignore {
            if !report.checks.iter().any(|c| &c.id == id) {
                notes.push(format!("ignore entry {id} matched no check in the log"));
            }
        }
        for id in &fail_on {
            if !report.checks.iter().any(|c| &c.id == id) {
                notes.push(format!(
                    "fail_on entry {id} matched no check in the log (was it excluded or skipped?)"
                ));
            }
        }

        let section_summaries = report
            .sections_with_checks()
            .iter()
            .map(|section| {
                let mut c = ResultCounts::default();
                let mut section_ignored = 0;
                for check in report.checks.iter().filter(|k| k.section == section.id) {
                    c.add(check.result);
                    if check.result == BenchResult::Warn && reason_for(&check.id).is_some() {
                        section_ignored += 1;
                    }
                }
                let ignored_note = if section_ignored > 0 {
                    format!(" ({section_ignored} ignored)")
                } else {
                    String::new()
                };
                format!(
                    "section {}: {} PASS, {} WARN{ignored_note}, {} INFO, {} NOTE",
                    section.label(),
                    c.pass,
                    c.warn,
                    c.info,
                    c.note
                )
            })
            .collect();

        GateVerdict {
            failures,
            counts,
            ignored,
            counted_warnings,
            score,
            score_from_log: report.logged_score.is_some(),
            max_warnings: self.max_warnings,
            findings,
            checks,
            section_summaries,
            notes,
        }
    }
}

fn finding_for(check: &BenchCheck, ignored: Option<&str>, fail_on: bool, log: &str) -> Finding {
    let severity = if fail_on && ignored.is_none() {
        Severity::Error
    } else {
        Severity::Medium
    };
    let mut detail = Vec::new();
    if let Some(reason) = ignored {
        detail.push(format!("ignored: {reason}"));
    }
    if let Some(d) = &check.details {
        detail.push(d.clone());
    }
    if !check.items.is_empty() {
        detail.push(format!("items: {}", check.items.join(", ")));
    }
    if let Some(r) = &check.remediation {
        detail.push(format!("remediation: {r}"));
    }
    if let Some(r) = &check.remediation_impact {
        detail.push(format!("remediation impact: {r}"));
    }
    let location = match check.line {
        Some(line) => Location::at(log, line, None),
        None => Location::file(log),
    };
    let mut finding = Finding::new(check.id.clone(), severity, check.desc.clone()).at(location);
    if !detail.is_empty() {
        finding = finding.with_detail(detail.join("\n"));
    }
    finding.ignored = ignored.is_some();
    finding
}

fn check_result_for(
    check: &BenchCheck,
    ignored: Option<&str>,
    report: &BenchReport,
) -> CheckResult {
    let details = check
        .details
        .clone()
        .or_else(|| (!check.items.is_empty()).then(|| check.items.join(" ")));
    let (status, message) = match (check.result, ignored) {
        (BenchResult::Warn, Some(reason)) => {
            (Status::Skipped, Some(format!("WARN ignored: {reason}")))
        }
        (BenchResult::Warn, None) => (
            Status::Failed,
            Some(match (&details, &check.remediation) {
                (Some(d), Some(r)) => format!("WARN: {d}\nremediation: {r}"),
                (Some(d), None) => format!("WARN: {d}"),
                (None, Some(r)) => format!("WARN\nremediation: {r}"),
                (None, None) => "WARN".to_string(),
            }),
        ),
        (BenchResult::Pass, _) => (Status::Passed, details),
        (other, _) => (
            Status::Passed,
            Some(match &details {
                Some(d) => format!("{other}: {d}"),
                None => other.to_string(),
            }),
        ),
    };
    let mut result =
        CheckResult::new(check.title(), status).in_group(report.section(&check.section).label());
    result.message = message;
    result
}
