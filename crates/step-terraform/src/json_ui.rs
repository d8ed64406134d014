//! Terraform's machine-readable output, parsed tolerantly.
//!
//! * The JSON UI stream of `plan`/`apply`/`destroy`/`init -json`: one JSON
//!   object per line with `@level`, `@message`, `type` (`version`, `log`,
//!   `diagnostic`, `planned_change`, `apply_start`, `apply_complete`,
//!   `change_summary`, `outputs`, …) and a type-specific payload.
//!   [`UiCollector`] turns each line into readable text (its line filter for
//!   [`step_core::process::Cmd`]) and keeps the diagnostics and the change
//!   summary for the step's result.
//! * The single JSON document of `validate -json` ([`ValidateReport`]).
//! * The plain-text `Error: …` blocks terraform prints when it was not asked
//!   for JSON, or before it could start its JSON UI ([`parse_plain_diagnostics`]).
//!
//! Tool output is untrusted: nothing here panics on malformed input; a line
//! that is not a UI message is shown as it is.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{Map, Value};
use step_core::event::Stream;
use step_core::process::LineFilter;
use step_core::{Finding, Location, Severity};

/// A terraform diagnostic (an error or warning about the configuration or a run).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Diagnostic {
    /// `error` or `warning`.
    #[serde(default)]
    pub severity: String,
    /// One line: "Unsupported argument".
    #[serde(default)]
    pub summary: String,
    /// Explanation, possibly several paragraphs.
    #[serde(default)]
    pub detail: String,
    /// The resource it is about, when terraform says.
    #[serde(default)]
    pub address: Option<String>,
    /// Where in the configuration, when terraform says.
    #[serde(default)]
    pub range: Option<SourceRange>,
}

/// A range in a configuration file.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct SourceRange {
    /// The file, relative to the configuration directory.
    #[serde(default)]
    pub filename: String,
    /// Where it starts.
    #[serde(default)]
    pub start: SourcePos,
}

/// A position in a configuration file (1-based).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct SourcePos {
    /// Line.
    #[serde(default)]
    pub line: u32,
    /// Column.
    #[serde(default)]
    pub column: u32,
}

impl Diagnostic {
    /// Whether it is an error (anything but a warning counts as one).
    pub fn is_error(&self) -> bool {
        !self.severity.eq_ignore_ascii_case("warning")
    }

    /// `file:line:col` relative to the configuration directory, when known.
    pub fn position(&self) -> Option<String> {
        let range = self.range.as_ref().filter(|r| !r.filename.is_empty())?;
        let mut s = range.filename.clone();
        if range.start.line > 0 {
            s.push_str(&format!(":{}", range.start.line));
            if range.start.column > 0 {
                s.push_str(&format!(":{}", range.start.column));
            }
        }
        Some(s)
    }

    /// One readable line: `Error: summary (main.tf:3:3): detail`.
    pub fn one_line(&self) -> String {
        let mut s = format!(
            "{}: {}",
            if self.is_error() { "Error" } else { "Warning" },
            self.summary
        );
        if let Some(pos) = self.position() {
            s.push_str(&format!(" ({pos})"));
        }
        let detail = collapse(&self.detail);
        if !detail.is_empty() {
            s.push_str(": ");
            s.push_str(&detail);
        }
        s
    }

    /// The diagnostic as a finding. The file is given relative to
    /// `workdir` when it lies below it (terraform names it relative to the
    /// configuration directory `config_dir`).
    pub fn to_finding(&self, config_dir: &Path, workdir: &Path) -> Finding {
        let severity = if self.is_error() {
            Severity::Error
        } else {
            Severity::Medium
        };
        let id = if self.summary.is_empty() {
            "terraform".to_string()
        } else {
            self.summary.clone()
        };
        let detail = self.detail.trim();
        let message = if detail.is_empty() {
            self.summary.clone()
        } else {
            collapse(detail)
        };
        let mut finding = Finding::new(id, severity, message);
        if !detail.is_empty() {
            finding = finding.with_detail(detail.to_string());
        }
        if let Some(range) = self.range.as_ref().filter(|r| !r.filename.is_empty()) {
            let full = config_dir.join(&range.filename);
            let file = full
                .strip_prefix(workdir)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| full.to_string_lossy().into_owned());
            let line = (range.start.line > 0).then_some(range.start.line);
            let column = (range.start.column > 0).then_some(range.start.column);
            finding = finding.at(Location { file, line, column });
        } else if let Some(address) = &self.address {
            finding = finding.with_detail(format!("{address}: {detail}"));
        }
        finding
    }
}

/// The counts of a plan or apply (`change_summary`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ChangeSummary {
    /// Resources to add / added.
    #[serde(default)]
    pub add: u64,
    /// Resources to change / changed.
    #[serde(default)]
    pub change: u64,
    /// Resources to import / imported.
    #[serde(default)]
    pub import: u64,
    /// Resources to destroy / destroyed.
    #[serde(default)]
    pub remove: u64,
}

impl ChangeSummary {
    /// Whether anything changes.
    pub fn has_changes(&self) -> bool {
        self.add + self.change + self.import + self.remove > 0
    }
}

/// One line of the JSON UI stream.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct UiMessage {
    /// `info`, `warn`, `error`, …
    #[serde(rename = "@level", default)]
    pub level: String,
    /// The human-readable text terraform would have printed.
    #[serde(rename = "@message", default)]
    pub message: String,
    /// The message type.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// For `diagnostic`.
    #[serde(default)]
    pub diagnostic: Option<Diagnostic>,
    /// For `change_summary`.
    #[serde(default)]
    pub changes: Option<ChangeSummary>,
    /// For `outputs`: name → {sensitive, type, value?, action?}.
    #[serde(default)]
    pub outputs: Option<Map<String, Value>>,
    /// For `version`: terraform's version.
    #[serde(default)]
    pub terraform: Option<String>,
}

impl UiMessage {
    /// Parses one line; `None` when it is not a UI message.
    pub fn parse(line: &str) -> Option<UiMessage> {
        let trimmed = line.trim_start();
        if !trimmed.starts_with('{') {
            return None;
        }
        let msg: UiMessage = serde_json::from_str(trimmed).ok()?;
        (!msg.kind.is_empty() || !msg.message.is_empty()).then_some(msg)
    }

    /// The text a person reads for this message. Output *values* are never
    /// shown (they may be sensitive); only their names.
    pub fn readable(&self) -> String {
        match self.kind.as_str() {
            "diagnostic" => match &self.diagnostic {
                Some(d) => d.one_line(),
                None => collapse(&self.message),
            },
            "outputs" => {
                let Some(outputs) = &self.outputs else {
                    return collapse(&self.message);
                };
                if outputs.is_empty() {
                    return "Outputs: none".to_string();
                }
                let names: Vec<String> = outputs
                    .iter()
                    .map(|(name, o)| {
                        if o.get("sensitive").and_then(Value::as_bool) == Some(true) {
                            format!("{name} (sensitive)")
                        } else {
                            name.clone()
                        }
                    })
                    .collect();
                format!("Outputs: {}", names.join(", "))
            }
            _ => collapse(&self.message),
        }
    }
}

/// What a JSON UI stream said, beyond its lines.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UiSummary {
    /// Every diagnostic, in order.
    pub diagnostics: Vec<Diagnostic>,
    /// The last change summary (a plan's, then an apply's).
    pub changes: Option<ChangeSummary>,
    /// Terraform's version, from the `version` message.
    pub version: Option<String>,
}

impl UiSummary {
    /// Records one line of the stream.
    pub fn record(&mut self, msg: &UiMessage) {
        match msg.kind.as_str() {
            "diagnostic" => {
                if let Some(d) = &msg.diagnostic {
                    self.diagnostics.push(d.clone());
                }
            }
            "change_summary" => {
                if let Some(c) = msg.changes {
                    self.changes = Some(c);
                }
            }
            "version" => self.version = msg.terraform.clone(),
            _ => {}
        }
    }

    /// Parses a whole captured stream.
    pub fn from_stream(text: &str) -> UiSummary {
        let mut summary = UiSummary::default();
        for msg in text.lines().filter_map(UiMessage::parse) {
            summary.record(&msg);
        }
        summary
    }
}

/// Collects a JSON UI stream while it is shown: [`UiCollector::filter`] is
/// the [`LineFilter`] of the terraform command; it renders each line and
/// records diagnostics and the change summary as they pass.
#[derive(Clone, Debug, Default)]
pub struct UiCollector {
    summary: Arc<Mutex<UiSummary>>,
}

impl UiCollector {
    /// A new, empty collector.
    pub fn new() -> Self {
        UiCollector::default()
    }

    /// The line filter: UI messages on stdout become readable text; other
    /// lines (stderr, non-JSON) pass unchanged.
    pub fn filter(&self) -> LineFilter {
        let summary = self.summary.clone();
        Arc::new(move |stream: Stream, line: &str| {
            if stream == Stream::Stderr {
                return Some(line.to_string());
            }
            match UiMessage::parse(line) {
                Some(msg) => {
                    step_core::sync::lock(&summary).record(&msg);
                    let text = msg.readable();
                    (!text.is_empty()).then_some(text)
                }
                None => Some(line.to_string()),
            }
        })
    }

    /// What was collected so far.
    pub fn summary(&self) -> UiSummary {
        step_core::sync::lock(&self.summary).clone()
    }
}

/// The document `terraform validate -json` prints.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct ValidateReport {
    /// Whether the configuration is valid.
    #[serde(default)]
    pub valid: bool,
    /// Number of errors.
    #[serde(default)]
    pub error_count: u64,
    /// Number of warnings.
    #[serde(default)]
    pub warning_count: u64,
    /// The diagnostics.
    #[serde(default)]
    pub diagnostics: Vec<Diagnostic>,
}

impl ValidateReport {
    /// Parses the document; the error says what was wrong with it.
    pub fn parse(text: &str) -> Result<ValidateReport, ValidateReportError> {
        let start = text.find('{').ok_or(ValidateReportError::NoDocument)?;
        serde_json::from_str(&text[start..]).map_err(ValidateReportError::Unreadable)
    }
}

/// Why `terraform validate -json`'s output could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValidateReportError {
    /// No `{` in the output.
    #[error("no JSON document in the output")]
    NoDocument,
    /// The document is not the JSON expected.
    #[error("unreadable JSON ({0})")]
    Unreadable(#[source] serde_json::Error),
}

/// Diagnostics from terraform's plain-text output (`-json` not given or not
/// supported, or errors printed before the JSON UI started), with or
/// without the box-drawing frame terraform draws around them:
///
/// ```text
/// Error: Failed to query available provider packages
///
/// Could not retrieve the list of available versions for provider hashicorp/aws: …
/// ```
pub fn parse_plain_diagnostics(text: &str) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    let mut current: Option<(Diagnostic, Vec<String>)> = None;
    let finish = |cur: Option<(Diagnostic, Vec<String>)>, out: &mut Vec<Diagnostic>| {
        if let Some((mut d, lines)) = cur {
            d.detail = lines.join("\n").trim().to_string();
            out.push(d);
        }
    };
    for raw in text.lines() {
        let framed = raw.starts_with('│') || raw.starts_with('╷') || raw.starts_with('╵');
        let line = raw
            .trim_start_matches(['│', '╷', '╵'])
            .strip_prefix(' ')
            .unwrap_or_else(|| raw.trim_start_matches(['│', '╷', '╵']));
        let heading = line
            .strip_prefix("Error: ")
            .map(|s| ("error", s))
            .or_else(|| line.strip_prefix("Warning: ").map(|s| ("warning", s)));
        if let Some((severity, summary)) = heading {
            finish(current.take(), &mut out);
            current = Some((
                Diagnostic {
                    severity: severity.to_string(),
                    summary: summary.trim().to_string(),
                    ..Diagnostic::default()
                },
                Vec::new(),
            ));
            continue;
        }
        if raw.starts_with('╵') {
            finish(current.take(), &mut out);
            continue;
        }
        let Some((diag, lines)) = current.as_mut() else {
            continue;
        };
        // `  on main.tf line 3, in resource "x" "y":` gives the position.
        if diag.range.is_none()
            && let Some(range) = parse_on_line(line)
        {
            diag.range = Some(range);
            continue;
        }
        // Source excerpts (`  3:   bogus = 2`) and their underline markers
        // are noise in a one-line summary.
        let t = line.trim_start();
        if t.starts_with(|c: char| c.is_ascii_digit()) && t.contains(':') && line.starts_with("  ")
        {
            continue;
        }
        if !framed && line.trim_start().starts_with("For more help") {
            finish(current.take(), &mut out);
            continue;
        }
        lines.push(line.trim_end().to_string());
    }
    finish(current, &mut out);
    out
}

fn parse_on_line(line: &str) -> Option<SourceRange> {
    let rest = line.trim_start().strip_prefix("on ")?;
    let (file, rest) = rest.split_once(" line ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let line_no = digits.parse().ok()?;
    Some(SourceRange {
        filename: file.to_string(),
        start: SourcePos {
            line: line_no,
            column: 0,
        },
    })
}

/// Whitespace (newlines included) collapsed to single spaces.
pub(crate) fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPLY: &str = r#"{"@level":"info","@message":"Terraform 1.11.4","@module":"terraform.ui","terraform":"1.11.4","type":"version","ui":"1.2"}
{"@level":"info","@message":"terraform_data.marker: Creating...","@module":"terraform.ui","hook":{"action":"create"},"type":"apply_start"}
{"@level":"info","@message":"Apply complete! Resources: 1 added, 0 changed, 0 destroyed.","changes":{"add":1,"change":0,"import":0,"remove":0,"operation":"apply"},"type":"change_summary"}
{"@level":"info","@message":"Outputs: 2","outputs":{"path":{"sensitive":false,"type":"string","value":"/tmp/m"},"pw":{"sensitive":true,"type":"string"}},"type":"outputs"}
{"@level":"error","@message":"Error: Unsupported argument","diagnostic":{"severity":"error","summary":"Unsupported argument","detail":"An argument named \"bogus\" is not expected here.","range":{"filename":"main.tf","start":{"line":3,"column":3,"byte":46},"end":{"line":3,"column":8,"byte":51}}},"type":"diagnostic"}
not json at all
{"broken": "#;

    #[test]
    fn the_stream_becomes_readable_lines_and_a_summary() {
        let collector = UiCollector::new();
        let filter = collector.filter();
        let lines: Vec<String> = APPLY
            .lines()
            .filter_map(|l| filter(Stream::Stdout, l))
            .collect();
        assert_eq!(lines[0], "Terraform 1.11.4");
        assert_eq!(lines[1], "terraform_data.marker: Creating...");
        assert_eq!(lines[3], "Outputs: path, pw (sensitive)");
        assert_eq!(
            lines[4],
            "Error: Unsupported argument (main.tf:3:3): An argument named \"bogus\" is not expected here."
        );
        assert_eq!(lines[5], "not json at all");
        assert_eq!(lines[6], "{\"broken\": ");
        assert!(
            !lines.iter().any(|l| l.contains("/tmp/m")),
            "output values are not shown"
        );
        let summary = collector.summary();
        assert_eq!(summary.version.as_deref(), Some("1.11.4"));
        assert_eq!(summary.changes.map(|c| c.add), Some(1));
        assert_eq!(summary.diagnostics.len(), 1);
        assert_eq!(summary, UiSummary::from_stream(APPLY));
    }

    #[test]
    fn diagnostics_become_findings_relative_to_the_workdir() {
        let summary = UiSummary::from_stream(APPLY);
        let f = summary.diagnostics[0].to_finding(Path::new("/w/infra"), Path::new("/w"));
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.id, "Unsupported argument");
        assert_eq!(f.location, Some(Location::at("infra/main.tf", 3, Some(3))));
        assert!(f.message.contains("bogus"));
    }

    #[test]
    fn validate_documents_are_parsed() {
        let doc = r#"{"format_version":"1.0","valid":false,"error_count":1,"warning_count":0,
          "diagnostics":[{"severity":"error","summary":"Reference to undeclared input variable",
          "detail":"x","range":{"filename":"main.tf","start":{"line":6,"column":22}}}]}"#;
        let report = ValidateReport::parse(doc).unwrap();
        assert!(!report.valid);
        assert_eq!(
            report.diagnostics[0].position().as_deref(),
            Some("main.tf:6:22")
        );
        assert!(matches!(
            ValidateReport::parse("garbage"),
            Err(ValidateReportError::NoDocument)
        ));
        let e = ValidateReport::parse("{").unwrap_err();
        assert!(matches!(e, ValidateReportError::Unreadable(_)), "{e:?}");
        assert!(e.to_string().starts_with("unreadable JSON ("), "{e}");
    }

    #[test]
    fn plain_text_errors_are_understood_with_and_without_frames() {
        let plain = "Initializing provider plugins...\n\nError: Failed to query available provider packages\n\nCould not retrieve the list of available versions for provider hashicorp/aws:\ncould not connect to registry.terraform.io\n";
        let d = parse_plain_diagnostics(plain);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].summary, "Failed to query available provider packages");
        assert!(d[0].detail.contains("registry.terraform.io"));

        let framed = "╷\n│ Error: Unsupported argument\n│ \n│   on main.tf line 3, in resource \"terraform_data\" \"x\":\n│    3:   bogus = 2\n│ \n│ An argument named \"bogus\" is not expected here.\n╵\n╷\n│ Warning: Deprecated\n│ \n│ old\n╵\n";
        let d = parse_plain_diagnostics(framed);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].position().as_deref(), Some("main.tf:3"));
        assert_eq!(
            d[0].detail,
            "An argument named \"bogus\" is not expected here."
        );
        assert!(!d[1].is_error());

        let flags = "Error: Failed to parse command-line flags\n\nflag provided but not defined: -input\n\nFor more help on using this command, run:\n  terraform validate -help\n";
        let d = parse_plain_diagnostics(flags);
        assert_eq!(d[0].detail, "flag provided but not defined: -input");
    }
}
