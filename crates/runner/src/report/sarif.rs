//! SARIF 2.1.0 (`--sarif FILE`): the findings of a run for code scanning.
//!
//! One `run` per tool that took part (packer, terraform, ansible-lint,
//! host-checks, dockerbench, stepwise for other steps), each with the rules
//! its results refer to, results with a level (`error`, `warning`, `note`)
//! and a physical location relative to the repository root
//! (`uriBaseId: %SRCROOT%`). A failed host check is a result of the
//! `host-checks` run, its rule being the check's name. Ignored findings are
//! results with an external suppression, their reason as justification.

use serde_json::{Map, Value, json};
use step_core::outcome::{CheckResult, Finding, Location, Severity};

use super::summary::{StepRow, Summary};
use super::tool_of;

/// The schema URI written into the file.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The SARIF level of a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "note",
        Severity::Low | Severity::Medium => "warning",
        Severity::High | Severity::Error => "error",
    }
}

/// The tool of one run, with its rules and results so far.
struct ToolRun {
    tool: &'static str,
    rules: Vec<(String, String)>,
    results: Vec<Value>,
}

impl ToolRun {
    /// The index of a rule, added on first use.
    fn rule(&mut self, id: &str, description: &str) -> usize {
        match self.rules.iter().position(|(r, _)| r == id) {
            Some(i) => i,
            None => {
                self.rules.push((id.to_owned(), description.to_owned()));
                self.rules.len() - 1
            }
        }
    }

    fn finding(&mut self, row: &StepRow, f: &Finding) {
        let index = self.rule(&f.id, &f.message);
        let mut result = result(&f.id, index, level(f.severity), &f.message, row);
        if let Some(loc) = &f.location {
            result.insert("locations".into(), json!([physical(loc)]));
        }
        if f.ignored {
            let mut s = Map::new();
            s.insert("kind".into(), "external".into());
            if let Some(d) = &f.detail {
                s.insert("justification".into(), d.clone().into());
            }
            result.insert("suppressions".into(), json!([s]));
        }
        self.results.push(Value::Object(result));
    }

    fn check(&mut self, row: &StepRow, c: &CheckResult) {
        let index = self.rule(&c.name, &c.name);
        let message = match &c.message {
            Some(m) => format!("{}: {m}", c.name),
            None => format!("{}: {}", c.name, c.status),
        };
        let mut result = result(&c.name, index, "error", &message, row);
        if let Some(loc) = &c.location {
            result.insert("locations".into(), json!([physical(loc)]));
        }
        self.results.push(Value::Object(result));
    }

    fn into_json(self) -> Value {
        let rules: Vec<Value> = self
            .rules
            .into_iter()
            .map(|(id, text)| json!({"id": id, "shortDescription": {"text": first_line(&text)}}))
            .collect();
        json!({
            "tool": {"driver": {"name": self.tool, "rules": rules}},
            "columnKind": "unicodeCodePoints",
            "results": self.results,
        })
    }
}

fn result(
    rule: &str,
    index: usize,
    level: &str,
    message: &str,
    row: &StepRow,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("ruleId".into(), rule.into());
    m.insert("ruleIndex".into(), index.into());
    m.insert("level".into(), level.into());
    let text = if message.is_empty() { rule } else { message };
    m.insert("message".into(), json!({ "text": text }));
    m.insert("properties".into(), json!({ "step": row.label() }));
    m
}

fn physical(loc: &Location) -> Value {
    let mut physical = Map::new();
    physical.insert(
        "artifactLocation".into(),
        if loc.file.starts_with('/') {
            json!({ "uri": format!("file://{}", uri_path(&loc.file)) })
        } else {
            json!({ "uri": uri_path(&loc.file), "uriBaseId": "%SRCROOT%" })
        },
    );
    if let Some(line) = loc.line.filter(|&l| l > 0) {
        let mut region = Map::new();
        region.insert("startLine".into(), line.into());
        if let Some(col) = loc.column.filter(|&c| c > 0) {
            region.insert("startColumn".into(), col.into());
        }
        physical.insert("region".into(), Value::Object(region));
    }
    json!({ "physicalLocation": physical })
}

/// A path as a URI reference: characters outside the unreserved and path
/// sets percent-encoded.
fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// The SARIF log of a run.
pub fn sarif(summary: &Summary) -> Value {
    let mut runs: Vec<ToolRun> = Vec::new();
    for row in summary.rows() {
        if row.kind.is_none() {
            continue;
        }
        let tool = tool_of(row.kind.as_deref());
        let i = match runs.iter().position(|r| r.tool == tool) {
            Some(i) => i,
            None => {
                runs.push(ToolRun {
                    tool,
                    rules: Vec::new(),
                    results: Vec::new(),
                });
                runs.len() - 1
            }
        };
        let run = &mut runs[i];
        row.findings.iter().for_each(|f| run.finding(row, f));
        if tool == "host-checks" {
            row.checks
                .iter()
                .filter(|c| c.status.is_failure())
                .for_each(|c| run.check(row, c));
        }
    }
    let runs: Vec<Value> = runs.into_iter().map(ToolRun::into_json).collect();
    json!({ "$schema": SCHEMA_URI, "version": "2.1.0", "runs": runs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri_path("roles/web tier/a.yml"), "roles/web%20tier/a.yml");
        let v = physical(&Location::at("/tmp/x.log", 3, None));
        assert_eq!(
            v["physicalLocation"]["artifactLocation"]["uri"],
            "file:///tmp/x.log"
        );
        assert_eq!(v["physicalLocation"]["region"]["startLine"], 3);
    }
}
