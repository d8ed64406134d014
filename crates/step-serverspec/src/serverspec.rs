//! The `serverspec` step kind: run an existing serverspec suite with rspec
//! and report each example as a check. rspec writes its JSON report to a
//! temporary file (`--format json --out FILE`) while its readable
//! documentation format streams to the log, so the report never mixes with
//! whatever the specs print.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;
use step_core::paths::{PathKind, require_path};
use step_core::process::Cmd;
use step_core::{
    CheckResult, ConfigError, Outcome, PropertyDoc, PropertyType, Status, Step, StepContext,
    StepDescription, StepError, ToolSpec, async_trait,
};

/// Configuration of a `serverspec` step.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerspecConfig {
    /// The suite's directory (where `spec/` and usually `.rspec` live); rspec runs there.
    pub dir: PathBuf,
    /// Which spec files to run (rspec's `--pattern`, default `spec/**/*_spec.rb`).
    #[serde(default)]
    pub pattern: Option<String>,
    /// Extra rspec arguments (`--tag`, spec files).
    #[serde(default)]
    pub args: Vec<String>,
    /// `auto` (native, rspec for files the native engine cannot run),
    /// `native` or `rspec`.
    #[serde(default)]
    pub engine: crate::serverspec_native::EngineChoice,
    /// A YAML/JSON file mapping host names to their properties (`roles`).
    #[serde(default)]
    pub properties: Option<PathBuf>,
    /// Template variables for `*_spec.rb.j2` files.
    #[serde(default)]
    pub vars: crate::serverspec_native::Vars,
}

impl ServerspecConfig {
    /// A config for the suite in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ServerspecConfig {
            dir: dir.into(),
            pattern: None,
            args: Vec::new(),
            engine: Default::default(),
            properties: None,
            vars: Default::default(),
        }
    }
}

/// The `serverspec` step.
#[derive(Clone, Debug)]
pub struct Serverspec {
    config: ServerspecConfig,
}

impl Serverspec {
    /// Builds the step.
    pub fn new(config: ServerspecConfig) -> Self {
        Serverspec { config }
    }

    /// Builds the step from properties.
    pub fn from_properties(properties: Value) -> Result<Self, ConfigError> {
        Ok(Serverspec::new(step_core::parse_config(properties)?))
    }
}

/// The description of `serverspec`.
pub fn describe() -> StepDescription {
    StepDescription::new("serverspec", "Run an existing serverspec (rspec) suite; one check per example")
        .reads(&["dir"])
        .doc(
            "Runs `rspec --format documentation --format json --out <tmp>` in `dir` and reports every example \
             as a check (passed, failed with rspec's expected/got message, or skipped when pending). The step \
             fails when an example fails, when rspec reports errors outside examples (a spec that does not \
             load), or when no example ran. The suite chooses its own backend (`set :backend, :exec` or `:ssh`); \
             the pipeline's environment (TARGET_HOST, …) is passed through.",
        )
        .property(PropertyDoc::required("dir", PropertyType::Path, "The suite's directory; rspec runs there."))
        .property(PropertyDoc::optional(
            "pattern",
            PropertyType::String,
            "Spec files to run (rspec `--pattern`; rspec's default is `spec/**/*_spec.rb`).",
        ))
        .property(PropertyDoc::optional("args", PropertyType::List, "Extra rspec arguments (`--tag smoke`, spec files); rspec engine only."))
        .property(PropertyDoc::optional(
            "engine",
            PropertyType::String,
            "`auto` (default: native, with rspec for files using constructs outside the supported subset, the reason logged), `native` (those examples fail as unsupported) or `rspec`.",
        ))
        .property(PropertyDoc::optional(
            "properties",
            PropertyType::Path,
            "YAML/JSON file mapping hosts to their properties; each host runs `spec/<role>/` for its `roles`, with TARGET_HOST set and `property` bound.",
        ))
        .property(PropertyDoc::optional("vars", PropertyType::Map, "Variables for `*_spec.rb.j2` templates (with env, outputs, run, host)."))
        .output("passed", "Examples that passed.")
        .output("failed", "Examples that failed.")
        .output("pending", "Examples that are pending (skipped).")
        .output("total", "Examples run.")
        .example("- serverspec:\n    dir: serverspec\n    pattern: spec/localhost/*_spec.rb\n")
}

/// Builds a `serverspec` step from properties.
pub fn build(properties: Value) -> Result<Box<dyn Step>, ConfigError> {
    Ok(Box::new(Serverspec::from_properties(properties)?))
}

#[async_trait]
impl Step for Serverspec {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let dir = cx.resolve(&self.config.dir);
        require_path("dir", &self.config.dir, &dir, PathKind::Dir)?;
        if self.config.engine != crate::serverspec_native::EngineChoice::Rspec {
            return crate::serverspec_native::run(&self.config, cx, dir).await;
        }
        let rspec = ToolSpec::new(
            "rspec",
            "install it with scripts/install-tools.sh (Debian package ruby-serverspec)",
        )
        .find(cx.env(), cx.workdir())?;
        let report_dir = tempfile::Builder::new()
            .prefix("stepwise-rspec-")
            .tempdir()
            .map_err(|e| StepError::io("creating a directory for rspec's report", e))?;
        let report = report_dir.path().join("rspec.json");
        let mut cmd = Cmd::new(&rspec.path)
            .args([
                "--no-color",
                "--format",
                "documentation",
                "--format",
                "json",
                "--out",
            ])
            .arg(&report)
            .cwd(&dir)
            .capture(64 * 1024);
        if let Some(p) = &self.config.pattern {
            cmd = cmd.arg("--pattern").arg(p);
        }
        let out = cmd.args(&self.config.args).run(cx).await?;
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        if text.trim().is_empty() {
            return Err(StepError::other(format!(
                "rspec ended ({}) without writing its JSON report: {}",
                out.describe_status(),
                crate::matcher::cut(last_lines(&out.stderr, &out.stdout).trim(), 1500)
            )));
        }
        let parsed =
            parse_rspec_json(&text).map_err(|e| StepError::tool_output("rspec", e.to_string()))?;
        Ok(parsed.into_outcome(out.code()))
    }

    fn commands(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            "--no-color",
            "--format",
            "documentation",
            "--format",
            "json",
            "--out",
            "<report>",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(p) = &self.config.pattern {
            args.extend(["--pattern".to_string(), p.clone()]);
        }
        args.extend(self.config.args.iter().cloned());
        vec![format!(
            "{}  (in {})",
            step_core::command_line("rspec", &args),
            self.config.dir.display()
        )]
    }
}

fn last_lines(stderr: &str, stdout: &str) -> String {
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// An rspec JSON report, as far as the step needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct RspecReport {
    /// One result per example.
    pub examples: Vec<CheckResult>,
    /// Errors outside examples (a spec file that does not load).
    pub errors_outside: u64,
    /// rspec's closing messages (they explain errors outside examples).
    pub messages: Vec<String>,
}

/// Why rspec's JSON report could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RspecReportError {
    /// The text is not JSON.
    #[error("rspec's JSON report cannot be read: {0}")]
    NotJson(#[from] serde_json::Error),
    /// JSON without rspec's `examples` list.
    #[error("rspec's JSON report has no `examples` list")]
    NoExamples,
}

/// Parses rspec's `--format json` report.
pub fn parse_rspec_json(text: &str) -> Result<RspecReport, RspecReportError> {
    let v: Value = serde_json::from_str(text)?;
    let examples = v
        .get("examples")
        .and_then(Value::as_array)
        .ok_or(RspecReportError::NoExamples)?;
    let s = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let examples = examples
        .iter()
        .map(|e| {
            let mut name = s(e, "full_description");
            if name.is_empty() {
                name = s(e, "description");
            }
            let status = match s(e, "status").as_str() {
                "passed" => Status::Passed,
                "pending" => Status::Skipped,
                _ => Status::Failed,
            };
            let at = format!(
                "{}:{}",
                s(e, "file_path"),
                e.get("line_number").and_then(Value::as_u64).unwrap_or(0)
            );
            let mut result = CheckResult::new(name, status).in_group(s(e, "file_path"));
            if let Some(secs) = e.get("run_time").and_then(Value::as_f64) {
                result = result.with_duration(std::time::Duration::from_secs_f64(secs.max(0.0)));
            }
            match status {
                Status::Failed => {
                    let message = e
                        .pointer("/exception/message")
                        .and_then(Value::as_str)
                        .unwrap_or("failed")
                        .trim()
                        .to_string();
                    result.with_message(format!("{message}\n  at {at}"))
                }
                Status::Skipped => {
                    let why = s(e, "pending_message");
                    result.with_message(if why.is_empty() {
                        "pending".into()
                    } else {
                        format!("pending: {why}")
                    })
                }
                _ => result,
            }
        })
        .collect();
    Ok(RspecReport {
        examples,
        errors_outside: v
            .pointer("/summary/errors_outside_of_examples_count")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        messages: v
            .get("messages")
            .and_then(Value::as_array)
            .map(|m| {
                m.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

impl RspecReport {
    /// The step's outcome; `exit_code` is rspec's.
    pub fn into_outcome(self, exit_code: Option<i32>) -> Outcome {
        let count = |st: Status| self.examples.iter().filter(|e| e.status == st).count();
        let (passed, failed, pending) = (
            count(Status::Passed),
            count(Status::Failed),
            count(Status::Skipped),
        );
        let total = self.examples.len();
        let failed_names: Vec<String> = self
            .examples
            .iter()
            .filter(|e| e.status == Status::Failed)
            .take(5)
            .map(|e| e.name.clone())
            .collect();
        let outcome = if self.errors_outside > 0 {
            Outcome::failed(format!(
                "rspec reported {} error(s) outside examples: {}",
                self.errors_outside,
                crate::matcher::cut(self.messages.join(" ").trim(), 1500)
            ))
        } else if failed > 0 {
            let more = if failed > failed_names.len() {
                format!("; and {} more", failed - failed_names.len())
            } else {
                String::new()
            };
            Outcome::failed(format!(
                "{failed} of {total} examples failed: {}{more}",
                failed_names.join("; ")
            ))
        } else if total == 0 {
            Outcome::failed("no examples ran (check `dir` and `pattern`)")
        } else if exit_code != Some(0) {
            Outcome::failed(format!(
                "rspec exited with {} although no example failed",
                exit_code.map_or("a signal".to_string(), |c| format!("code {c}"))
            ))
        } else {
            Outcome::passed().with_message(format!(
                "{passed} examples passed{}",
                if pending > 0 {
                    format!(", {pending} pending")
                } else {
                    String::new()
                }
            ))
        };
        outcome
            .with_output("passed", passed)
            .with_output("failed", failed)
            .with_output("pending", pending)
            .with_output("total", total)
            .with_checks(self.examples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"{"version":"3.12.0","examples":[
      {"id":"a","description":"is expected to be file","full_description":"File \"/etc/passwd\" is expected to be file","status":"passed","file_path":"./spec/a_spec.rb","line_number":3,"run_time":0.01,"pending_message":null},
      {"id":"b","description":"is expected to be file","full_description":"File \"/nope\" is expected to be file","status":"failed","file_path":"./spec/a_spec.rb","line_number":9,"run_time":0.02,"pending_message":null,
       "exception":{"class":"RSpec::Expectations::ExpectationNotMetError","message":"expected `File \"/nope\".file?` to be truthy, got false","backtrace":[]}},
      {"id":"c","description":"is pending","full_description":"pending is pending","status":"pending","file_path":"./spec/a_spec.rb","line_number":15,"run_time":0.0,"pending_message":"Not yet implemented"}],
      "summary":{"duration":0.1,"example_count":3,"failure_count":1,"pending_count":1,"errors_outside_of_examples_count":0},
      "summary_line":"3 examples, 1 failure, 1 pending"}"#;

    #[test]
    fn one_check_per_example_with_messages() {
        let r = parse_rspec_json(REPORT).unwrap();
        assert_eq!(r.examples.len(), 3);
        assert_eq!(r.examples[1].status, Status::Failed);
        assert_eq!(
            r.examples[1].message.as_deref(),
            Some(
                "expected `File \"/nope\".file?` to be truthy, got false\n  at ./spec/a_spec.rb:9"
            )
        );
        assert_eq!(r.examples[2].status, Status::Skipped);
        let o = r.into_outcome(Some(1));
        assert!(o.is_failed());
        assert_eq!(
            o.message.as_deref(),
            Some("1 of 3 examples failed: File \"/nope\" is expected to be file")
        );
        assert_eq!(o.outputs["pending"], serde_json::json!(1));
    }

    #[test]
    fn load_errors_and_empty_runs_fail() {
        let r = parse_rspec_json(
            r#"{"examples":[],"messages":["An error occurred while loading ./spec/x_spec.rb."],"summary":{"errors_outside_of_examples_count":1}}"#,
        )
        .unwrap();
        let o = r.into_outcome(Some(1));
        assert!(
            o.message
                .unwrap_or_default()
                .contains("while loading ./spec/x_spec.rb")
        );
        let o = parse_rspec_json(r#"{"examples":[]}"#)
            .unwrap()
            .into_outcome(Some(0));
        assert!(o.is_failed());
        assert!(matches!(
            parse_rspec_json("not json"),
            Err(RspecReportError::NotJson(_))
        ));
        assert!(matches!(
            parse_rspec_json(r#"{"summary":{}}"#),
            Err(RspecReportError::NoExamples)
        ));
    }
}
