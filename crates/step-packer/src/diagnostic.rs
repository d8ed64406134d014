//! Reading what `packer -machine-readable validate` says about a template.
//!
//! Packer 1.6.6 prints its errors on stdout, as `ui,error` lines whose text
//! comes in three shapes (all captured in `tests/fixtures/output/`):
//!
//! * a JSON syntax error: `Failed to parse template: …` followed by
//!   `At line L, column C (offset O):` and a snippet;
//! * HCL2 diagnostics: `Error: <summary>`, a blank line, `on FILE line L:`
//!   and an explanation; several of them in one message;
//! * a builder's or the core's multi-error: `Error: <summary>`,
//!   `N error(s) occurred:` and one `* …` bullet per problem, wrapped at 80
//!   columns.
//!
//! Warnings (`Warning: …`, HCL2) arrive as `ui,say` lines. Each problem
//! becomes one [`Diagnostic`]; anything that does not fit these shapes
//! still becomes one, with its first line as the message, so nothing packer
//! says is lost.

use std::sync::OnceLock;

use regex::Regex;

use crate::machine::parse_line;

/// Longest explanation kept in a one-line message (the full text stays in
/// [`Diagnostic::detail`]).
const MAX_EXPLANATION: usize = 300;

/// Whether a diagnostic is an error or a warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiagnosticSeverity {
    /// The template is invalid.
    Error,
    /// Packer warns but the template validates.
    Warning,
}

/// One problem packer reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: DiagnosticSeverity,
    /// Packer's message on one line: the summary and the problem.
    pub message: String,
    /// Packer's full text (snippet, explanation), when it says more than the message.
    pub detail: Option<String>,
    /// The file packer names (HCL2 `on FILE line L`), as packer spells it.
    pub file: Option<String>,
    /// 1-based line, when packer gives one.
    pub line: Option<u32>,
    /// 1-based column, when packer gives one (JSON syntax errors).
    pub column: Option<u32>,
}

/// Everything read from one `packer -machine-readable validate` run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidateOutput {
    /// Errors and warnings, in the order packer printed them.
    pub diagnostics: Vec<Diagnostic>,
    /// Output that was not machine-readable (a crash, a plugin's stderr).
    pub other: String,
}

impl ValidateOutput {
    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == DiagnosticSeverity::Error)
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == DiagnosticSeverity::Warning)
    }
}

/// Reads the captured stdout and stderr of `packer -machine-readable validate`.
///
/// ```
/// use step_packer::diagnostic::parse_validate_output;
///
/// let stdout = r"1795681193,,ui,error,Error: Argument or block definition required\n\n  on ami.pkr.hcl line 11:\n\nAn argument or block definition is required here.\n\n";
/// let out = parse_validate_output(stdout, "");
/// let d = &out.diagnostics[0];
/// assert_eq!(d.file.as_deref(), Some("ami.pkr.hcl"));
/// assert_eq!(d.line, Some(11));
/// assert!(d.message.starts_with("Argument or block definition required"));
/// ```
pub fn parse_validate_output(stdout: &str, stderr: &str) -> ValidateOutput {
    let mut out = ValidateOutput::default();
    let mut other = Vec::new();
    for raw in stdout.lines() {
        match parse_line(raw) {
            Some(line) => match line.ui() {
                Some(("error", text)) => out
                    .diagnostics
                    .extend(parse_message(text, DiagnosticSeverity::Error)),
                Some((_, text)) if is_header(text.trim_start_matches('\n'), "Warning") => out
                    .diagnostics
                    .extend(parse_message(text, DiagnosticSeverity::Warning)),
                _ => {}
            },
            None if raw.trim().is_empty() => {}
            None => other.push(raw),
        }
    }
    other.extend(stderr.lines().filter(|l| !l.trim().is_empty()));
    out.other = other.join("\n");
    out
}

/// Splits one decoded packer message into diagnostics. `default` is the
/// severity of text without an `Error:`/`Warning:` header.
pub fn parse_message(text: &str, default: DiagnosticSeverity) -> Vec<Diagnostic> {
    split_blocks(text)
        .into_iter()
        .flat_map(|block| parse_block(&block, default))
        .collect()
}

fn is_header(line: &str, word: &str) -> bool {
    line.strip_prefix(word)
        .is_some_and(|rest| rest.starts_with(':'))
}

/// A message cut at its `Error:` / `Warning:` headers.
fn split_blocks(text: &str) -> Vec<Vec<&str>> {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines() {
        if (is_header(line, "Error") || is_header(line, "Warning"))
            && current.iter().any(|l| !l.trim().is_empty())
        {
            blocks.push(std::mem::take(&mut current));
        }
        current.push(line);
    }
    if current.iter().any(|l| !l.trim().is_empty()) {
        blocks.push(current);
    }
    blocks
}

struct Patterns {
    hcl_location: Regex,
    json_position: Regex,
    error_count: Regex,
    bullet: Regex,
    snippet: Regex,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| Patterns {
        hcl_location: Regex::new(r"^\s*on (.+?) line (\d+)(?:, in .*)?:\s*$")
            .expect("literal pattern"),
        json_position: Regex::new(r"^\s*At line (\d+), column (\d+)").expect("literal pattern"),
        error_count: Regex::new(r"^\s*\d+ error(?:s|\(s\))? occurred:\s*$")
            .expect("literal pattern"),
        bullet: Regex::new(r"^\s*\* (.*)$").expect("literal pattern"),
        snippet: Regex::new(r"^\s+\d+: ").expect("literal pattern"),
    })
}

fn parse_block(lines: &[&str], default: DiagnosticSeverity) -> Vec<Diagnostic> {
    let p = patterns();
    let mut rest = lines.iter().copied().skip_while(|l| l.trim().is_empty());
    let Some(first) = rest.next() else {
        return Vec::new();
    };
    let (severity, summary) = if let Some(s) = first.strip_prefix("Error:") {
        (DiagnosticSeverity::Error, s.trim().to_string())
    } else if let Some(s) = first.strip_prefix("Warning:") {
        (DiagnosticSeverity::Warning, s.trim().to_string())
    } else {
        (default, first.trim().to_string())
    };

    let mut file = None;
    let mut line = None;
    let mut column = None;
    let mut bullets: Vec<String> = Vec::new();
    let mut explanation: Option<String> = None;
    let mut explanation_done = false;
    // What the line being read continues: a bullet, the explanation, or nothing.
    #[derive(PartialEq)]
    enum Open {
        Nothing,
        Bullet,
        Explanation,
    }
    let mut open = Open::Nothing;
    let mut in_snippet = false;

    for text in rest {
        if in_snippet {
            continue;
        }
        if text.trim().is_empty() {
            if open == Open::Explanation {
                explanation_done = true;
            }
            open = Open::Nothing;
            continue;
        }
        if let Some(c) = p.hcl_location.captures(text) {
            file = Some(c[1].to_string());
            line = c[2].parse().ok();
            open = Open::Nothing;
        } else if let Some(c) = p.json_position.captures(text) {
            line = c[1].parse().ok();
            column = c[2].parse().ok();
            // What follows is packer's snippet of the template.
            in_snippet = true;
        } else if text.trim() == "(source code not available)"
            || p.error_count.is_match(text)
            || p.snippet.is_match(text)
        {
            open = Open::Nothing;
        } else if let Some(c) = p.bullet.captures(text) {
            bullets.push(c[1].trim().to_string());
            open = Open::Bullet;
        } else {
            match open {
                Open::Bullet => {
                    if let Some(b) = bullets.last_mut() {
                        b.push(' ');
                        b.push_str(text.trim());
                    }
                }
                Open::Explanation => {
                    if let Some(e) = explanation.as_mut() {
                        e.push(' ');
                        e.push_str(text.trim());
                    }
                }
                Open::Nothing if explanation.is_none() && !explanation_done => {
                    explanation = Some(text.trim().to_string());
                    open = Open::Explanation;
                }
                Open::Nothing => {}
            }
        }
    }

    let full = lines.join("\n").trim_matches('\n').trim_end().to_string();
    let make = |message: String| {
        let detail = (full != message).then(|| full.clone());
        Diagnostic {
            severity,
            message,
            detail,
            file: file.clone(),
            line,
            column,
        }
    };
    if !bullets.is_empty() {
        return bullets
            .into_iter()
            .map(|b| make(join_summary(&summary, &b)))
            .collect();
    }
    let message = match explanation {
        Some(e) => join_summary(&summary, &shorten(&e, MAX_EXPLANATION)),
        None => summary.clone(),
    };
    if message.is_empty() {
        return Vec::new();
    }
    vec![make(message)]
}

fn join_summary(summary: &str, text: &str) -> String {
    if summary.is_empty() {
        text.to_string()
    } else if text.is_empty() {
        summary.to_string()
    } else {
        format!("{summary}: {text}")
    }
}

fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> ValidateOutput {
        let text = match name {
            "json-syntax-error" => {
                include_str!("../tests/fixtures/output/validate-json-syntax-error.txt")
            }
            "unknown-builder" => {
                include_str!("../tests/fixtures/output/validate-unknown-builder.txt")
            }
            "required-variable-missing" => {
                include_str!("../tests/fixtures/output/validate-required-variable-missing.txt")
            }
            "required-field-missing" => {
                include_str!("../tests/fixtures/output/validate-required-field-missing.txt")
            }
            "hcl-missing-bracket" => {
                include_str!("../tests/fixtures/output/validate-hcl-missing-bracket.txt")
            }
            "bad-scripts" => include_str!("../tests/fixtures/output/validate-bad-scripts.txt"),
            "hcl-bad-scripts" => {
                include_str!("../tests/fixtures/output/validate-hcl-bad-scripts.txt")
            }
            "hcl-warning" => include_str!("../tests/fixtures/output/validate-hcl-warning.txt"),
            "syntax-only" => include_str!("../tests/fixtures/output/validate-syntax-only.txt"),
            "valid" => include_str!("../tests/fixtures/output/validate-valid.txt"),
            other => panic!("no sample {other}"),
        };
        parse_validate_output(text, "")
    }

    fn only_error(out: &ValidateOutput) -> &Diagnostic {
        let errors: Vec<_> = out.errors().collect();
        assert_eq!(errors.len(), 1, "{out:#?}");
        errors[0]
    }

    #[test]
    fn json_syntax_error_has_line_and_column_and_the_snippet_as_detail() {
        let out = sample("json-syntax-error");
        let d = only_error(&out);
        assert_eq!((d.line, d.column), (Some(12), Some(4)));
        assert_eq!(d.file, None);
        assert_eq!(
            d.message,
            "Failed to parse template: Error parsing JSON: invalid character '}' looking for beginning of object key string"
        );
        let detail = d.detail.as_deref().unwrap();
        assert!(
            detail.contains("At line 12, column 4") && detail.contains("12:   }"),
            "{detail}"
        );
    }

    #[test]
    fn hcl_error_names_file_and_line() {
        let out = sample("hcl-missing-bracket");
        let d = only_error(&out);
        assert_eq!(d.file.as_deref(), Some("missing-bracket.pkr.hcl"));
        assert_eq!((d.line, d.column), (Some(11), None));
        assert_eq!(
            d.message,
            "Argument or block definition required: An argument or block definition is required here."
        );
    }

    #[test]
    fn builder_errors_keep_packer_words() {
        let d = only_error(&sample("unknown-builder")).clone();
        assert_eq!(
            d.message,
            "Failed to initialize build \"atlas-ami\": error initializing builder 'atlas-ami': Unknown builder atlas-ami"
        );
        assert_eq!(d.line, None);
        let d = only_error(&sample("required-field-missing")).clone();
        assert_eq!(
            d.message,
            "Failed to prepare build: \"amazon-ebs\": either instance_type or spot_instance_types must be specified"
        );
        let d = only_error(&sample("required-variable-missing")).clone();
        assert_eq!(d.message, "required variable not set: do_api_token");
    }

    #[test]
    fn wrapped_bullets_become_one_diagnostic_each() {
        let out = sample("bad-scripts");
        let messages: Vec<_> = out.errors().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "Failed to prepare build: \"amazon-ebs\": Bad script 'scripts/ubuntu/base.sh': stat scripts/ubuntu/base.sh: no such file or directory",
                "Failed to prepare build: \"amazon-ebs\": Bad script 'scripts/ubuntu/install_mesos.sh': stat scripts/ubuntu/install_mesos.sh: no such file or directory",
            ]
        );
        let out = sample("hcl-bad-scripts");
        let d = only_error(&out);
        assert_eq!(d.file.as_deref(), Some("valid/ubuntu-14.04_amd64.pkr.hcl"));
        assert_eq!(d.line, Some(28));
        assert!(
            d.message
                .ends_with("stat scripts/ubuntu/base.sh: no such file or directory"),
            "{}",
            d.message
        );
    }

    #[test]
    fn hcl_warnings_are_warnings() {
        let out = sample("hcl-warning");
        assert_eq!(out.errors().count(), 0);
        let w: Vec<_> = out.warnings().collect();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].message
                .starts_with("Undefined variable: A \"nope\" variable was set"),
            "{}",
            w[0].message
        );
    }

    #[test]
    fn success_says_nothing() {
        assert_eq!(sample("valid"), ValidateOutput::default());
        assert_eq!(sample("syntax-only"), ValidateOutput::default());
    }

    #[test]
    fn several_hcl_diagnostics_in_one_message_are_split() {
        let text = "Error: Unset variable \"region\"\n\nA used variable must be set or have a default value; see\nhttps://packer.io/docs for details.\n\nError: Unknown source type amazon-nonexistent\n\n  on h/a.pkr.hcl line 10:\n  (source code not available)\n\nknown builders: [azure-arm null]\n\n";
        let ds = parse_message(text, DiagnosticSeverity::Error);
        assert_eq!(ds.len(), 2, "{ds:#?}");
        assert_eq!(ds[0].file, None);
        assert_eq!(
            ds[0].message,
            "Unset variable \"region\": A used variable must be set or have a default value; see https://packer.io/docs for details."
        );
        assert_eq!(ds[1].file.as_deref(), Some("h/a.pkr.hcl"));
        assert_eq!(ds[1].line, Some(10));
        assert_eq!(
            ds[1].message,
            "Unknown source type amazon-nonexistent: known builders: [azure-arm null]"
        );
    }

    #[test]
    fn plain_output_is_kept_aside() {
        let out = parse_validate_output("panic: boom\n\ngoroutine 1\n", "plugin exited\n");
        assert!(out.diagnostics.is_empty());
        assert_eq!(out.other, "panic: boom\ngoroutine 1\nplugin exited");
    }

    #[test]
    fn unexpected_text_is_still_a_diagnostic() {
        let ds = parse_message(
            "\"nonexist.json\": stat nonexist.json: no such file or directory",
            DiagnosticSeverity::Error,
        );
        assert_eq!(ds.len(), 1);
        assert_eq!(
            ds[0].message,
            "\"nonexist.json\": stat nonexist.json: no such file or directory"
        );
        assert_eq!(ds[0].detail, None);
        assert!(parse_message("Error: \n\n", DiagnosticSeverity::Error).is_empty());
    }

    #[test]
    fn long_explanations_are_shortened_on_a_char_boundary() {
        let long = format!("Error: X\n\n{}\n", "é".repeat(400));
        let ds = parse_message(&long, DiagnosticSeverity::Error);
        assert_eq!(ds[0].message.chars().count(), 3 + MAX_EXPLANATION + 1);
        assert!(ds[0].detail.as_deref().unwrap().len() > 400);
    }
}
