//! GitHub Actions: workflow commands in the log, the job summary, outputs.
//!
//! - `::add-mask::VALUE` for every line of every secret value, written by
//!   [`add_masks`] before anything else is printed, so GitHub hides a
//!   secret even where a tool printed it in a form stepwise did not mask;
//! - `::group::`/`::endgroup::` around each step's lines and
//!   `::error`/`::warning` annotations with `file`, `line`, `col` and
//!   `title` ([`Annotator`]), at most [`MAX_ANNOTATIONS`] of each kind and
//!   then one summary line — GitHub drops what is over its own limits
//!   silently, the summary line says how many were left out;
//! - a Markdown job summary ([`step_summary`]) appended to
//!   `$GITHUB_STEP_SUMMARY`: result per target and step, durations,
//!   findings, failed checks and teardowns.
//!
//! Data is escaped as the runner's toolkit does: `%`, CR and LF in
//! messages; also `:` and `,` in properties.

use std::fmt::Write as _;
use std::io::{self, Write};

use step_core::outcome::{Location, Severity, Status};

use super::format_duration;
use super::summary::Summary;
use super::{is_teardown, tool_of};

/// The most annotations of one kind (errors, warnings) printed per run.
pub const MAX_ANNOTATIONS: usize = 50;

/// Writes `::add-mask::` for each line (of at least 4 characters, as the
/// masker) of each secret value.
pub fn add_masks<'a>(
    out: &mut dyn Write,
    secrets: impl IntoIterator<Item = &'a str>,
) -> io::Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for secret in secrets {
        for line in secret.lines().map(str::trim_end) {
            if line.chars().count() >= 4 && seen.insert(line.to_owned()) {
                writeln!(out, "::add-mask::{}", escape_data(line))?;
            }
        }
    }
    out.flush()
}

/// Escapes the message of a workflow command.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The kind of an annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnnotationKind {
    /// `::error`.
    Error,
    /// `::warning`.
    Warning,
}

impl AnnotationKind {
    /// The annotation kind of a finding's severity, `None` for info.
    pub fn of(severity: Severity) -> Option<Self> {
        match severity {
            Severity::Info => None,
            Severity::Low | Severity::Medium => Some(AnnotationKind::Warning),
            Severity::High | Severity::Error => Some(AnnotationKind::Error),
        }
    }
}

/// Counts annotations and formats them, up to [`MAX_ANNOTATIONS`] per kind.
#[derive(Debug, Default)]
pub struct Annotator {
    errors: usize,
    warnings: usize,
    dropped_errors: usize,
    dropped_warnings: usize,
}

impl Annotator {
    /// The annotation line (without newline), or `None` when the cap of its
    /// kind is reached; the caller then prints the plain line instead.
    pub fn annotate(
        &mut self,
        kind: AnnotationKind,
        location: Option<&Location>,
        title: &str,
        message: &str,
    ) -> Option<String> {
        let (count, dropped, word) = match kind {
            AnnotationKind::Error => (&mut self.errors, &mut self.dropped_errors, "error"),
            AnnotationKind::Warning => (&mut self.warnings, &mut self.dropped_warnings, "warning"),
        };
        if *count >= MAX_ANNOTATIONS {
            *dropped += 1;
            return None;
        }
        *count += 1;
        let mut props = Vec::new();
        if let Some(l) = location.filter(|l| !l.file.is_empty()) {
            props.push(format!("file={}", escape_property(&l.file)));
            if let Some(line) = l.line {
                props.push(format!("line={line}"));
                if let Some(col) = l.column {
                    props.push(format!("col={col}"));
                }
            }
        }
        if !title.is_empty() {
            props.push(format!("title={}", escape_property(title)));
        }
        let props = if props.is_empty() {
            String::new()
        } else {
            format!(" {}", props.join(","))
        };
        Some(format!("::{word}{props}::{}", escape_data(message)))
    }

    /// The one line saying how many annotations were left out, if any.
    pub fn overflow_line(&self) -> Option<String> {
        if self.dropped_errors == 0 && self.dropped_warnings == 0 {
            return None;
        }
        Some(format!(
            "::warning title=stepwise::{} more error(s) and {} more warning(s) were not annotated (at most {MAX_ANNOTATIONS} of each); they are in the log above and in the job summary",
            self.dropped_errors, self.dropped_warnings
        ))
    }
}

/// The Markdown job summary of a run.
pub fn step_summary(summary: &Summary) -> String {
    let mut md = String::new();
    let pipeline = summary.pipeline().unwrap_or("stepwise");
    let result = summary.result().map_or("unfinished", |r| r.as_str());
    let duration = summary
        .duration()
        .map(|d| format!(" in {}", format_duration(d)))
        .unwrap_or_default();
    let _ = writeln!(md, "## stepwise: `{pipeline}` {result}{duration}\n");
    let _ = writeln!(md, "{}\n", summary.result_line());
    md.push_str("| target | step | kind | result | duration | message |\n");
    md.push_str("|---|---|---|---|---:|---|\n");
    for row in summary.rows() {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} {} | {} | {} |",
            cell(row.target.as_deref().unwrap_or("")),
            cell(&row.step),
            cell(row.kind.as_deref().unwrap_or("")),
            icon(row.status),
            row.result(),
            format_duration(row.duration),
            cell(
                row.message
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            ),
        );
    }
    let findings: Vec<_> = summary
        .rows()
        .iter()
        .flat_map(|r| r.findings.iter().map(move |f| (r, f)))
        .collect();
    if !findings.is_empty() {
        let _ = writeln!(md, "\n### Findings ({})\n", findings.len());
        md.push_str("| tool | severity | rule | location | message | step |\n");
        md.push_str("|---|---|---|---|---|---|\n");
        for (row, f) in findings {
            let loc = f.location.as_ref().map(ToString::to_string);
            let _ = writeln!(
                md,
                "| {} | {}{} | `{}` | {} | {} | {} |",
                tool_of(row.kind.as_deref()),
                f.severity,
                if f.ignored { " (ignored)" } else { "" },
                cell(&f.id),
                cell(loc.as_deref().unwrap_or("")),
                cell(&f.message),
                cell(&row.label()),
            );
        }
    }
    failed_checks(summary, &mut md);
    let teardowns: Vec<_> = summary
        .rows()
        .iter()
        .filter(|r| is_teardown(&r.step))
        .collect();
    if !teardowns.is_empty() {
        md.push_str("\n### Teardowns\n\n| teardown | result |\n|---|---|\n");
        for row in teardowns {
            let _ = writeln!(
                md,
                "| {} | {} {} |",
                cell(&row.label()),
                icon(row.status),
                row.result()
            );
        }
    }
    md
}

fn failed_checks(summary: &Summary, md: &mut String) {
    let failed: Vec<_> = summary
        .rows()
        .iter()
        .flat_map(|r| r.checks.iter().map(move |c| (r, c)))
        .filter(|(_, c)| c.status.is_failure())
        .collect();
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n### Failed checks ({})\n", failed.len());
    md.push_str("| step | check | expected / actual | location |\n|---|---|---|---|\n");
    for (row, c) in failed {
        let loc = c.location.as_ref().map(ToString::to_string);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            cell(&row.label()),
            cell(&c.name),
            cell(c.message.as_deref().unwrap_or("")),
            cell(loc.as_deref().unwrap_or("")),
        );
    }
}

/// A Markdown table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn icon(status: Option<Status>) -> &'static str {
    match status {
        Some(Status::Passed) => "✅",
        Some(Status::Warned) => "⚠️",
        Some(Status::Skipped) => "⏭️",
        Some(_) => "❌",
        None => "❔",
    }
}

/// Appends `text` to the file at `path` (the job summary and outputs files
/// are shared by every step of the job: never truncate them).
pub fn append(path: &std::path::Path, text: &str) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// Lines for `$GITHUB_OUTPUT`: `name=value`, or the heredoc form with a
/// delimiter that is not in the value for multi-line values.
pub fn output_lines(name: &str, value: &str) -> String {
    if !value.contains('\n') && !value.contains('\r') {
        return format!("{name}={value}\n");
    }
    let mut delimiter = String::from("STEPWISE_EOF");
    while value.contains(&delimiter) {
        delimiter.push('_');
    }
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_escape_their_data_and_properties() {
        assert_eq!(escape_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn annotations_stop_at_the_cap_and_say_so() {
        let mut a = Annotator::default();
        let loc = Location::at("main.tf", 3, Some(2));
        let first = a.annotate(AnnotationKind::Error, Some(&loc), "t", "m");
        assert_eq!(
            first.as_deref(),
            Some("::error file=main.tf,line=3,col=2,title=t::m")
        );
        for _ in 1..MAX_ANNOTATIONS {
            assert!(a.annotate(AnnotationKind::Error, None, "", "m").is_some());
        }
        assert!(a.annotate(AnnotationKind::Error, None, "", "m").is_none());
        assert!(a.annotate(AnnotationKind::Warning, None, "", "m").is_some());
        let line = a.overflow_line().unwrap_or_default();
        assert!(
            line.contains("1 more error(s) and 0 more warning(s)"),
            "{line}"
        );
    }

    #[test]
    fn masks_cover_each_line_of_a_secret_once() {
        let mut out = Vec::new();
        add_masks(&mut out, ["s3cr3t-line1\nline-two", "abc", "s3cr3t-line1"]).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out),
            "::add-mask::s3cr3t-line1\n::add-mask::line-two\n"
        );
    }

    #[test]
    fn multi_line_outputs_use_a_delimiter_not_in_the_value() {
        assert_eq!(output_lines("ip", "10.0.0.1"), "ip=10.0.0.1\n");
        assert_eq!(
            output_lines("doc", "a\nSTEPWISE_EOF"),
            "doc<<STEPWISE_EOF_\na\nSTEPWISE_EOF\nSTEPWISE_EOF_\n"
        );
    }
}
