//! Reading `docker-bench-security.log.json`.
//!
//! The layout (docker-bench-security 1.3.4 and later):
//!
//! ```text
//! {"dockerbenchsecurity": "1.6.0", "start": 1700000000,
//!  "tests": [{"id": "5", "desc": "Container Runtime",
//!             "results": [{"id": "5.4", "desc": "Ensure …", "result": "WARN",
//!                          "details": "…", "items": ["web"],
//!                          "remediation": "…", "remediation-impact": "…"}]}],
//!  "checks": 117, "score": 1, "end": 1700000042}
//! ```
//!
//! The text is first given to `serde_json` as it is; when that fails it is
//! [repaired](crate::repair) and parsed again. The tree is then walked
//! tolerantly: a run limited with `-c check_5_4` puts results straight into
//! `tests` without a section, numbers may come as strings, `items` may be a
//! string.

use serde_json::{Map, Value};

use crate::repair::{RepairStats, repair_json};
use crate::report::{BenchCheck, BenchReport, BenchResult, BenchSection, LogFormat};

/// Why a JSON log could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonLogError {
    /// Not JSON, even after repair.
    #[error("not valid JSON even after repair: {0}")]
    Syntax(String),
    /// JSON, but not the bench's layout.
    #[error("not a docker-bench-security JSON log: {0}")]
    Layout(String),
}

/// A parsed JSON log and what had to be repaired to read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedJsonLog {
    /// The report.
    pub report: BenchReport,
    /// Set when the text was not valid JSON and was repaired: the
    /// `serde_json` error on the original text and what the repair changed.
    pub repaired: Option<(String, RepairStats)>,
    /// Results that could not be used (an unknown result word, a result
    /// without an id), for warnings.
    pub skipped: Vec<String>,
}

/// Parses the bench's JSON log, repairing it when needed.
///
/// ```
/// let log = r#"{"dockerbenchsecurity": "1.6.0", "tests": [{"id": "5", "desc": "Container Runtime",
///   "results": [{"id": "5.4", "desc": "Ensure that privileged containers are not used (Automated)",
///                "result": "WARN", "details": "Containers running in privileged mode:  web",
///                "items": ["web"], "remediation": "Do not use "--privileged"."}]}],
///   "checks": 1, "score": -1}"#;
/// let parsed = step_dockerbench::json_log::parse_json_log(log).unwrap();
/// assert!(parsed.repaired.is_some());
/// assert_eq!(parsed.report.counts().warn, 1);
/// assert_eq!(parsed.report.checks[0].remediation.as_deref(), Some("Do not use \"--privileged\"."));
/// ```
pub fn parse_json_log(text: &str) -> Result<ParsedJsonLog, JsonLogError> {
    let text = text.trim_start_matches('\u{feff}');
    let (root, repaired) = match serde_json::from_str::<Value>(text) {
        Ok(v) => (v, None),
        Err(original) => {
            let (fixed, stats) = repair_json(text);
            match serde_json::from_str::<Value>(&fixed) {
                Ok(v) => (v, Some((original.to_string(), stats))),
                Err(after) => {
                    return Err(JsonLogError::Syntax(format!(
                        "{original} (after repairing {}: {after})",
                        stats.describe()
                    )));
                }
            }
        }
    };
    let Value::Object(root) = root else {
        return Err(JsonLogError::Layout(
            "the top level is not an object".into(),
        ));
    };
    let Some(tests) = root.get("tests") else {
        return Err(JsonLogError::Layout("it has no `tests` list".into()));
    };
    let Value::Array(tests) = tests else {
        return Err(JsonLogError::Layout("`tests` is not a list".into()));
    };

    let mut report = BenchReport::new(LogFormat::Json);
    report.version = root.get("dockerbenchsecurity").and_then(text_of);
    report.logged_score = root.get("score").and_then(int_of);
    report.logged_checks = root
        .get("checks")
        .and_then(int_of)
        .and_then(|n| u64::try_from(n).ok());
    let mut skipped = Vec::new();

    for entry in tests {
        let Value::Object(entry) = entry else {
            skipped.push(format!("a `tests` entry that is not an object: {entry}"));
            continue;
        };
        match entry.get("results") {
            Some(Value::Array(results)) => {
                let section = BenchSection {
                    id: entry.get("id").and_then(text_of).unwrap_or_default(),
                    desc: entry.get("desc").and_then(text_of).unwrap_or_default(),
                };
                for result in results {
                    match result {
                        Value::Object(obj) => {
                            if let Some(mut check) = check_of(obj, &mut skipped) {
                                if !section.id.is_empty() {
                                    check.section = section.id.clone();
                                }
                                report.checks.push(check);
                            }
                        }
                        other => skipped.push(format!("a result that is not an object: {other}")),
                    }
                }
                if !section.id.is_empty() && !report.sections.iter().any(|s| s.id == section.id) {
                    report.sections.push(section);
                }
            }
            // `-c check_5_4` without its section: the result sits in `tests`.
            _ if entry.contains_key("result") => {
                if let Some(check) = check_of(entry, &mut skipped) {
                    report.checks.push(check);
                }
            }
            _ => skipped.push(format!(
                "a `tests` entry with neither `results` nor `result`: {}",
                Value::Object(entry.clone())
            )),
        }
    }
    Ok(ParsedJsonLog {
        report,
        repaired,
        skipped,
    })
}

fn check_of(obj: &Map<String, Value>, skipped: &mut Vec<String>) -> Option<BenchCheck> {
    let id = obj
        .get("id")
        .and_then(text_of)
        .map(|s| s.trim().to_string());
    let result_text = obj.get("result").and_then(text_of);
    let (Some(id), Some(result_text)) = (id.filter(|s| !s.is_empty()), result_text) else {
        skipped.push(format!(
            "a result without an id or result: {}",
            Value::Object(obj.clone())
        ));
        return None;
    };
    let Some(result) = BenchResult::parse(&result_text) else {
        skipped.push(format!("check {id}: unknown result `{result_text}`"));
        return None;
    };
    let desc = obj.get("desc").and_then(text_of).unwrap_or_default();
    let mut check = BenchCheck::new(id, desc.trim(), result);
    check.details = obj
        .get("details")
        .and_then(text_of)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    check.items = match obj.get("items") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(text_of)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        _ => Vec::new(),
    };
    check.remediation = obj
        .get("remediation")
        .and_then(text_of)
        .filter(|s| !s.trim().is_empty());
    check.remediation_impact = obj
        .get("remediation-impact")
        .and_then(text_of)
        .filter(|s| !s.trim().is_empty());
    Some(check)
}

/// A string, or a number/bool written as text.
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An integer, or a string holding one.
fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
