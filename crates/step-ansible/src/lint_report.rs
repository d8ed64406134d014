//! Reading ansible-lint's `-f json` output (Code Climate JSON) into
//! [`Finding`]s, and the threshold that decides whether they fail a step.
//!
//! The format, as ansible-lint 26 writes it: a JSON array of issues, each
//! with `check_name` (the rule, `fqcn[action-core]`), `severity` (`major`
//! for what ansible-lint counts as a failure, `minor` for a warning),
//! `description`, `url`, `location.path` and either
//! `location.positions.begin.{line,column}` or `location.lines.begin`, and
//! sometimes `content.body` with details. Rules in the `unskippable`
//! category (`load-failure`, `syntax-check`) are reported as `minor` or
//! `major`, yet ansible-lint always counts them as failures — a file it could
//! not even load must not pass a lint step — so they become
//! [`Severity::Error`] here.

use std::collections::BTreeMap;

use serde_json::Value;
use step_core::{Finding, Location, Severity};

/// ansible-lint's JSON could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ansible-lint's JSON output could not be read: {reason} (it began with `{start}`)")]
pub struct LintParseError {
    /// What was wrong.
    pub reason: String,
    /// The first characters of the output, for the reader.
    pub start: String,
}

/// Parses ansible-lint's Code Climate JSON (`ansible-lint -f json`) into
/// findings. Entries that are not objects are skipped; missing fields get
/// neutral values; the whole output must be a JSON array.
///
/// ```
/// let json = r#"[{"check_name": "yaml[truthy]", "severity": "major",
///   "description": "Truthy value should be one of [false, true]",
///   "url": "https://docs.ansible.com/projects/lint/rules/yaml/",
///   "location": {"path": "site.yml", "lines": {"begin": 9}}}]"#;
/// let findings = step_ansible::lint_report::parse_code_climate(json).unwrap();
/// assert_eq!(findings[0].id, "yaml[truthy]");
/// assert_eq!(findings[0].location.as_ref().unwrap().to_string(), "site.yml:9");
/// ```
pub fn parse_code_climate(text: &str) -> Result<Vec<Finding>, LintParseError> {
    let value = parse_array(text)?;
    let Value::Array(items) = value else {
        return Err(parse_error("expected a JSON array", text));
    };
    Ok(items.iter().filter_map(issue_to_finding).collect())
}

/// The JSON array in the output; tolerates lines of other text around it
/// (a plugin that prints to stdout) by falling back to the last line that
/// looks like an array.
fn parse_array(text: &str) -> Result<Value, LintParseError> {
    let trimmed = text.trim();
    match serde_json::from_str::<Value>(trimmed) {
        Ok(v) => Ok(v),
        Err(first) => trimmed
            .lines()
            .rev()
            .map(str::trim)
            .filter(|l| l.starts_with('['))
            .find_map(|l| serde_json::from_str::<Value>(l).ok())
            .ok_or_else(|| parse_error(&first.to_string(), text)),
    }
}

fn parse_error(reason: &str, text: &str) -> LintParseError {
    LintParseError {
        reason: reason.to_string(),
        start: text.trim().chars().take(120).collect(),
    }
}

fn issue_to_finding(issue: &Value) -> Option<Finding> {
    let obj = issue.as_object()?;
    let rule = obj
        .get("check_name")
        .and_then(Value::as_str)
        .unwrap_or("unknown-rule");
    let categories: Vec<&str> = obj
        .get("categories")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let severity = if categories.contains(&"unskippable") || is_core_failure(rule) {
        Severity::Error
    } else {
        severity_from_code_climate(obj.get("severity").and_then(Value::as_str).unwrap_or(""))
            .unwrap_or(Severity::Medium)
    };
    let message = obj
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or(rule)
        .to_string();
    let mut finding = Finding::new(rule, severity, message);
    if let Some(location) = obj.get("location").and_then(location_of) {
        finding = finding.at(location);
    }
    let body = issue
        .pointer("/content/body")
        .and_then(Value::as_str)
        .filter(|b| !b.is_empty() && *b != "None");
    let url = obj
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty());
    let detail = match (body, url) {
        (Some(b), Some(u)) => Some(format!("{b}\n{u}")),
        (Some(b), None) => Some(b.to_string()),
        (None, Some(u)) => Some(u.to_string()),
        (None, None) => None,
    };
    if let Some(detail) = detail {
        finding = finding.with_detail(detail);
    }
    Some(finding)
}

/// Rules ansible-lint counts as failures whatever `severity` says.
fn is_core_failure(rule: &str) -> bool {
    let base = rule_base(rule);
    matches!(
        base,
        "load-failure" | "syntax-check" | "internal-error" | "parser-error"
    )
}

fn location_of(location: &Value) -> Option<Location> {
    let file = location.get("path").and_then(Value::as_str)?;
    let as_u32 = |v: Option<&Value>| {
        v.and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    let line = as_u32(location.pointer("/positions/begin/line"))
        .or_else(|| as_u32(location.pointer("/lines/begin")));
    let column = as_u32(location.pointer("/positions/begin/column"));
    Some(match line {
        Some(line) => Location::at(file, line, column),
        None => Location::file(file),
    })
}

/// Maps a severity name to ours: Code Climate's `info`, `minor`, `major`,
/// `critical`, `blocker`, or our own `info`, `low`, `medium`, `high`, `error`.
pub fn severity_from_code_climate(name: &str) -> Option<Severity> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "info" => Severity::Info,
        "minor" | "low" | "warning" => Severity::Low,
        "major" | "medium" => Severity::Medium,
        "critical" | "high" => Severity::High,
        "blocker" | "error" => Severity::Error,
        _ => return None,
    })
}

/// A rule id without its sub-rule: `name[play]` → `name`.
pub fn rule_base(rule: &str) -> &str {
    rule.split_once('[').map_or(rule, |(base, _)| base)
}

/// When lint findings fail a step.
///
/// A finding *counts* when its rule is not excluded and its severity is at
/// least `fail_on`; the step fails when more than `max_findings` findings
/// count. The defaults (`fail_on` medium, `max_findings` 0) fail on exactly
/// what ansible-lint itself reports as failures (`major`, and the
/// unskippable load and syntax failures) and let its warnings (`minor`) pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintThreshold {
    /// The lowest severity that counts.
    pub fail_on: Severity,
    /// How many counted findings are allowed.
    pub max_findings: u64,
    /// Rules that never count: a rule id (`name[play]`) or a rule without
    /// its sub-rule (`name` excludes `name[play]` and `name[casing]`).
    pub exclude_rules: Vec<String>,
}

impl Default for LintThreshold {
    fn default() -> Self {
        LintThreshold {
            fail_on: Severity::Medium,
            max_findings: 0,
            exclude_rules: Vec::new(),
        }
    }
}

/// What a threshold made of a list of findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintJudgement {
    /// All findings.
    pub total: usize,
    /// Findings that count against the threshold.
    pub counted: usize,
    /// Findings excluded by `exclude_rules`.
    pub excluded: usize,
    /// Counted findings per rule.
    pub counted_by_rule: BTreeMap<String, usize>,
    /// Whether the threshold was exceeded.
    pub failed: bool,
}

impl LintThreshold {
    /// Whether a rule is excluded.
    pub fn excludes(&self, rule: &str) -> bool {
        self.exclude_rules
            .iter()
            .any(|x| x == rule || x == rule_base(rule))
    }

    /// Marks excluded findings `ignored` (with the reason in `detail`) and
    /// judges the rest.
    pub fn judge(&self, findings: &mut [Finding]) -> LintJudgement {
        let mut judgement = LintJudgement {
            total: findings.len(),
            counted: 0,
            excluded: 0,
            counted_by_rule: BTreeMap::new(),
            failed: false,
        };
        for finding in findings.iter_mut() {
            if self.excludes(&finding.id) {
                finding.ignored = true;
                let why = "excluded by `exclude_rules`";
                finding.detail = Some(match finding.detail.take() {
                    Some(d) => format!("{why}\n{d}"),
                    None => why.to_string(),
                });
                judgement.excluded += 1;
            } else if finding.severity >= self.fail_on {
                judgement.counted += 1;
                *judgement
                    .counted_by_rule
                    .entry(finding.id.clone())
                    .or_default() += 1;
            }
        }
        judgement.failed = u64::try_from(judgement.counted).unwrap_or(u64::MAX) > self.max_findings;
        judgement
    }
}

/// Findings per rule, most frequent first: `2 fqcn[action-core], 1 name[play]`.
pub fn summarize_by_rule(by_rule: &BTreeMap<String, usize>) -> String {
    let mut rules: Vec<(&String, &usize)> = by_rule.iter().collect();
    rules.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    rules
        .iter()
        .map(|(rule, n)| format!("{n} {rule}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Findings per rule, for outputs (all findings that are not excluded).
pub fn count_by_rule(findings: &[Finding]) -> BTreeMap<String, usize> {
    let mut map = BTreeMap::new();
    for f in findings.iter().filter(|f| !f.ignored) {
        *map.entry(f.id.clone()).or_default() += 1;
    }
    map
}

/// Findings per severity name, for outputs (all findings that are not excluded).
pub fn count_by_severity(findings: &[Finding]) -> BTreeMap<String, usize> {
    let mut map = BTreeMap::new();
    for f in findings.iter().filter(|f| !f.ignored) {
        *map.entry(f.severity.as_str().to_string()).or_default() += 1;
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `ansible-lint --offline -f json bad.yml` (ansible-lint 26.10.1).
    const VIOLATIONS: &str = include_str!("../tests/fixtures/captured/lint-violations.json");
    /// Captured from a YAML error, an unknown module and a `-w` warning.
    const BROKEN: &str = include_str!("../tests/fixtures/captured/lint-broken.json");

    #[test]
    fn real_output_becomes_findings_with_rule_location_and_url() {
        let findings = parse_code_climate(VIOLATIONS).unwrap();
        assert_eq!(findings.len(), 9);
        let fqcn = findings
            .iter()
            .find(|f| f.id == "fqcn[action-core]")
            .unwrap();
        assert_eq!(fqcn.severity, Severity::Medium);
        assert_eq!(fqcn.location, Some(Location::at("bad.yml", 3, Some(7))));
        assert_eq!(fqcn.message, "Use FQCN for builtin module actions (shell).");
        let detail = fqcn.detail.as_deref().unwrap();
        assert!(detail.contains("ansible.builtin.shell"), "{detail}");
        assert!(
            detail.contains("https://docs.ansible.com/projects/lint/rules/fqcn/"),
            "{detail}"
        );
        // `lines.begin` without a column.
        let truthy = findings.iter().find(|f| f.id == "yaml[truthy]").unwrap();
        assert_eq!(truthy.location, Some(Location::at("bad.yml", 9, None)));
    }

    #[test]
    fn load_and_syntax_failures_are_errors_and_warnings_are_low() {
        let findings = parse_code_climate(BROKEN).unwrap();
        let sev = |id: &str| findings.iter().find(|f| f.id == id).map(|f| f.severity);
        assert_eq!(sev("load-failure[yaml]"), Some(Severity::Error));
        assert_eq!(sev("syntax-check[unknown-module]"), Some(Severity::Error));
        assert_eq!(sev("yaml[truthy]"), Some(Severity::Low));
        let load = findings
            .iter()
            .find(|f| f.id == "load-failure[yaml]")
            .unwrap();
        assert_eq!(load.location, Some(Location::at("broken.yml", 7, Some(8))));
    }

    #[test]
    fn default_threshold_fails_on_failures_but_not_warnings() {
        let mut findings = parse_code_climate(BROKEN).unwrap();
        let j = LintThreshold::default().judge(&mut findings);
        assert!(j.failed);
        assert_eq!((j.total, j.counted), (3, 2));

        let mut warnings_only: Vec<Finding> = parse_code_climate(BROKEN)
            .unwrap()
            .into_iter()
            .filter(|f| f.severity == Severity::Low)
            .collect();
        let j = LintThreshold::default().judge(&mut warnings_only);
        assert!(!j.failed);
        assert_eq!(j.counted, 0);
        let strict = LintThreshold {
            fail_on: Severity::Low,
            ..LintThreshold::default()
        };
        assert!(strict.judge(&mut warnings_only).failed);
    }

    #[test]
    fn max_findings_allows_up_to_the_limit() {
        let mut findings = parse_code_climate(VIOLATIONS).unwrap();
        let at = |max| LintThreshold {
            max_findings: max,
            ..LintThreshold::default()
        };
        assert!(at(8).judge(&mut findings).failed);
        assert!(!at(9).judge(&mut findings).failed);
    }

    #[test]
    fn fail_on_raises_the_bar() {
        let mut findings = parse_code_climate(VIOLATIONS).unwrap();
        let high = LintThreshold {
            fail_on: Severity::High,
            ..LintThreshold::default()
        };
        let j = high.judge(&mut findings);
        assert!(!j.failed);
        assert_eq!((j.total, j.counted), (9, 0));
    }

    #[test]
    fn excluded_rules_match_by_id_or_base_and_are_marked() {
        let mut findings = parse_code_climate(VIOLATIONS).unwrap();
        let t = LintThreshold {
            exclude_rules: vec!["name".into(), "fqcn[action-core]".into()],
            ..LintThreshold::default()
        };
        let j = t.judge(&mut findings);
        // 3 name[...] + 2 fqcn[action-core] excluded; 4 still count.
        assert_eq!((j.excluded, j.counted), (5, 4));
        assert!(j.failed);
        let play = findings.iter().find(|f| f.id == "name[play]").unwrap();
        assert!(play.ignored);
        assert!(play.detail.as_deref().unwrap().starts_with("excluded by"));
        assert!(!t.excludes("fqcn[action]"));
        assert_eq!(
            summarize_by_rule(&j.counted_by_rule),
            "2 no-changed-when, 1 command-instead-of-shell, 1 yaml[truthy]"
        );
    }

    #[test]
    fn garbage_is_a_parse_error_and_stray_lines_are_tolerated() {
        let err = parse_code_climate("Traceback (most recent call last):").unwrap_err();
        assert!(err.start.starts_with("Traceback"), "{err}");
        assert!(parse_code_climate("{\"a\": 1}").is_err());
        let with_noise = "some plugin said hello\n[]\n";
        assert!(parse_code_climate(with_noise).unwrap().is_empty());
        // Odd entries are skipped, missing fields are neutral.
        let odd = r#"[1, "x", {"check_name": "r", "location": {"path": "a.yml"}}]"#;
        let f = parse_code_climate(odd).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(f[0].location, Some(Location::file("a.yml")));
    }

    #[test]
    fn severity_names_of_both_vocabularies() {
        assert_eq!(severity_from_code_climate("MAJOR"), Some(Severity::Medium));
        assert_eq!(severity_from_code_climate("blocker"), Some(Severity::Error));
        assert_eq!(severity_from_code_climate("low"), Some(Severity::Low));
        assert_eq!(severity_from_code_climate("catastrophic"), None);
    }
}
