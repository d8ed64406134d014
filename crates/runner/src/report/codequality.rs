//! GitLab Code Quality (`--codequality FILE`): a JSON array of issues.
//!
//! Each finding and each failed check is one issue with the fields GitLab
//! requires: `description`, `check_name` (`tool/rule`), `fingerprint` (a
//! SHA-256 of tool, rule, path, line and message: stable across runs, so
//! GitLab can tell new issues from old ones), `severity` (`info`, `minor`,
//! `major`, `critical`, `blocker`) and `location.path` with
//! `location.lines.begin`. Ignored findings are left out.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use step_core::outcome::{Location, Severity};

use super::summary::Summary;
use super::tool_of;

/// Code Quality's severity of a finding's.
pub fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Low => "minor",
        Severity::Medium => "major",
        Severity::High => "critical",
        Severity::Error => "blocker",
    }
}

fn issue(tool: &str, rule: &str, severity: &str, message: &str, loc: Option<&Location>) -> Value {
    let path = loc.map_or(".", |l| l.file.as_str());
    let line = loc.and_then(|l| l.line).unwrap_or(1);
    let mut hash = Sha256::new();
    for part in [tool, rule, path, &line.to_string(), message] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let fingerprint: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    json!({
        "description": message,
        "check_name": format!("{tool}/{rule}"),
        "fingerprint": fingerprint,
        "severity": severity,
        "location": { "path": path, "lines": { "begin": line } },
    })
}

/// The Code Quality report of a run.
pub fn code_quality(summary: &Summary) -> Value {
    let mut issues = Vec::new();
    for row in summary.rows() {
        let tool = tool_of(row.kind.as_deref());
        for f in row.findings.iter().filter(|f| !f.ignored) {
            let message = format!("{} ({})", f.message, row.label());
            issues.push(issue(
                tool,
                &f.id,
                severity(f.severity),
                &message,
                f.location.as_ref(),
            ));
        }
        for c in row.checks.iter().filter(|c| c.status.is_failure()) {
            let message = match &c.message {
                Some(m) => format!("check {}: {}: {m} ({})", c.status, c.name, row.label()),
                None => format!("check {}: {} ({})", c.status, c.name, row.label()),
            };
            issues.push(issue(
                tool,
                &c.name,
                "critical",
                &message,
                c.location.as_ref(),
            ));
        }
    }
    Value::Array(issues)
}
