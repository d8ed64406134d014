//! `packer-build`: runs `packer -machine-readable build`, shows packer's
//! `ui` lines as readable log lines, and turns its artifacts into outputs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use semver::VersionReq;
use serde::Deserialize;
use serde_json::Value;
use step_core::process::{Cmd, LineFilter, StopSignal};
use step_core::{
    CheckResult, ConfigError, Finding, Location, Outcome, PropertyDoc, PropertyType, Severity,
    Status, Step, StepContext, StepDescription, StepError, StopPolicy, Stream, async_trait,
};

use crate::artifact::BuildReport;
use crate::machine::{MachineLine, parse_line, readable_ui_text};
use crate::options::{self, one_or_many, scalar_map};
use crate::templates;

/// The finding id of a failed build.
pub const FINDING_BUILD: &str = "packer-build";

/// Most machine-readable lines kept for parsing; a build prints a handful
/// per artifact, so this bound only matters for a runaway plugin.
const MAX_KEPT_LINES: usize = 100_000;

/// What packer does when a build fails (`-on-error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// Delete what the build created (packer's default).
    Cleanup,
    /// Leave everything as it is, for debugging (instances keep running and cost money).
    Abort,
    /// Run the template's `error-cleanup-provisioner`, then clean up.
    RunCleanupProvisioner,
}

impl OnError {
    /// The value packer expects.
    pub fn as_str(self) -> &'static str {
        match self {
            OnError::Cleanup => "cleanup",
            OnError::Abort => "abort",
            OnError::RunCleanupProvisioner => "run-cleanup-provisioner",
        }
    }
}

fn default_stop_grace() -> Duration {
    Duration::from_secs(300)
}

/// Configuration of `packer-build`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackerBuildConfig {
    /// The template: a file, or an HCL2 directory, relative to the working
    /// directory (a glob must match exactly one).
    pub template: String,
    /// Template variables (`-var NAME=VALUE`).
    #[serde(default, deserialize_with = "scalar_map")]
    pub vars: BTreeMap<String, String>,
    /// Variable files (`-var-file=…`).
    #[serde(default, deserialize_with = "one_or_many")]
    pub var_files: Vec<String>,
    /// Build only these builds (`-only=…`).
    #[serde(default, deserialize_with = "one_or_many")]
    pub only: Vec<String>,
    /// Build all but these (`-except=…`).
    #[serde(default, deserialize_with = "one_or_many")]
    pub except: Vec<String>,
    /// What to do with a failed build's resources (`-on-error`); `ask`
    /// needs a terminal and is not accepted.
    #[serde(default)]
    pub on_error: Option<OnError>,
    /// How many builds run at once (`-parallel-builds`; 0 = no limit).
    #[serde(default)]
    pub parallel_builds: Option<u32>,
    /// Replace existing artifacts (`-force`).
    #[serde(default)]
    pub force: bool,
    /// Required packer version (`1.6.6`, `~> 1.6`, `>=1.6, <2`).
    #[serde(default)]
    pub version: Option<String>,
    /// After a cancel, how long packer gets to delete what it created
    /// (it does so on SIGINT) before it is killed. The same property as
    /// terraform's `stop_grace`; `cancel_grace`, its old name, is still
    /// read (with a deprecation warning).
    #[serde(
        default = "default_stop_grace",
        alias = "cancel_grace",
        with = "step_core::config::duration"
    )]
    pub stop_grace: Duration,
}

impl PackerBuildConfig {
    /// A config building this template, everything else default.
    pub fn new(template: impl Into<String>) -> Self {
        PackerBuildConfig {
            template: template.into(),
            vars: BTreeMap::new(),
            var_files: Vec::new(),
            only: Vec::new(),
            except: Vec::new(),
            on_error: None,
            parallel_builds: None,
            force: false,
            version: None,
            stop_grace: default_stop_grace(),
        }
    }
}

/// The `packer-build` step.
#[derive(Clone, Debug)]
pub struct PackerBuild {
    config: PackerBuildConfig,
    requirement: Option<VersionReq>,
    /// The properties named the grace period by its old name, `cancel_grace`.
    old_grace_name: bool,
}

impl PackerBuild {
    /// Builds the step, checking the configuration.
    pub fn new(config: PackerBuildConfig) -> Result<Self, ConfigError> {
        if config.template.trim().is_empty() {
            return Err(ConfigError::property(
                "template",
                "name the template to build",
            ));
        }
        options::check_selection(&config.only, &config.except, &config.vars)?;
        let requirement = options::parse_version(config.version.as_deref())?;
        Ok(PackerBuild {
            config,
            requirement,
            old_grace_name: false,
        })
    }

    /// Builds the step from YAML/JSON properties.
    pub fn from_properties(properties: Value) -> Result<Self, ConfigError> {
        let old_grace_name = properties.get("cancel_grace").is_some();
        let mut step = PackerBuild::new(step_core::parse_config(properties)?)?;
        step.old_grace_name = old_grace_name;
        Ok(step)
    }

    /// The configuration.
    pub fn config(&self) -> &PackerBuildConfig {
        &self.config
    }

    /// packer's arguments (after the program name) for this template path;
    /// `var_file` is the generated file holding `vars` ([`options::VarFile`]).
    pub fn args(&self, template: &str, var_file: Option<&Path>) -> Vec<String> {
        let c = &self.config;
        let mut args = vec!["-machine-readable".to_string(), "build".to_string()];
        if let Some(on_error) = c.on_error {
            args.push(format!("-on-error={}", on_error.as_str()));
        }
        if let Some(n) = c.parallel_builds {
            args.push(format!("-parallel-builds={n}"));
        }
        if c.force {
            args.push("-force".into());
        }
        args.extend(options::selection_and_var_args(
            &c.only,
            &c.except,
            var_file,
            &c.var_files,
        ));
        args.push(template.to_string());
        args
    }
}

/// The machine-readable lines a build printed (other than `ui`), kept by
/// the line filter while the output streams.
#[derive(Default)]
struct KeptLines {
    lines: Vec<MachineLine>,
    dropped: usize,
}

/// Shows `ui` lines decoded, hides the other machine-readable lines and
/// keeps them (and `ui` errors) for parsing; passes anything that is not
/// machine-readable through unchanged.
fn build_filter(kept: Arc<Mutex<KeptLines>>) -> LineFilter {
    Arc::new(move |_stream: Stream, raw: &str| {
        let Some(line) = parse_line(raw) else {
            return Some(raw.to_string());
        };
        let shown = match line.ui() {
            // `ui` errors are shown and also kept: they explain a failure.
            Some(("error", text)) => readable_ui_text(text),
            Some((_, text)) => return readable_ui_text(text),
            None => None,
        };
        let mut kept = step_core::sync::lock(&kept);
        if kept.lines.len() < MAX_KEPT_LINES {
            kept.lines.push(line);
        } else {
            kept.dropped += 1;
        }
        shown
    })
}

#[async_trait]
impl Step for PackerBuild {
    fn stop_policy(&self) -> StopPolicy {
        // packer deletes the instances it started when it gets SIGINT.
        StopPolicy::new(StopSignal::Int, self.config.stop_grace)
    }

    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        if self.old_grace_name {
            cx.warn(
                "`cancel_grace` is deprecated: write `stop_grace` (the name terraform's steps use)",
            );
        }
        let found = templates::resolve(
            std::slice::from_ref(&self.config.template),
            cx.workdir(),
            "template",
        )?;
        let template = match found.as_slice() {
            [one] => one.clone(),
            many => {
                let names: Vec<&str> = many.iter().map(|t| t.arg.as_str()).collect();
                return Err(ConfigError::property(
                    "template",
                    format!(
                        "packer-build builds one template, but `{}` matches {}: {}",
                        self.config.template,
                        many.len(),
                        names.join(", ")
                    ),
                )
                .into());
            }
        };
        options::check_var_files(&self.config.var_files, cx)?;
        let packer = options::find_packer(cx, self.requirement.as_ref()).await?;

        // Held until packer is done: dropping it removes the file.
        let var_file = options::VarFile::write(&self.config.vars, cx)?;
        let args = self.args(
            &template.arg,
            var_file.as_ref().map(|f| f.path()).as_deref(),
        );
        cx.info(format!("running {}", options::loggable_command(&args, cx)));
        let kept = Arc::new(Mutex::new(KeptLines::default()));
        let cmd = options::with_packer_env(
            Cmd::new(&packer.path)
                .args(&args)
                .filter(build_filter(kept.clone()))
                // packer deletes the instances it started when it gets SIGINT.
                .stop_signal(StopSignal::Int)
                .grace(self.config.stop_grace),
            cx,
        );
        let output = cmd.run(cx).await?;

        let kept = std::mem::take(&mut *step_core::sync::lock(&kept));
        let report = BuildReport::from_lines(&kept.lines);
        let mut outcome = outcome_of(
            &report,
            &template.arg,
            output.success(),
            &output.describe_status(),
        );
        if kept.dropped > 0 {
            outcome = outcome.with_warning(format!(
                "packer printed more than {MAX_KEPT_LINES} machine-readable lines; {} were not read",
                kept.dropped
            ));
        }
        for name in report.clashing_names() {
            outcome = outcome.with_warning(format!(
                "build `{name}` has the name of a step output; its artifacts are not published as `{name}`"
            ));
        }
        Ok(outcome)
    }

    fn commands(&self) -> Vec<String> {
        // `vars` go through a private var file made when the step runs.
        let var_file = (!self.config.vars.is_empty()).then(|| Path::new("<generated vars file>"));
        vec![step_core::command_line(
            "packer",
            &self.args(&self.config.template, var_file),
        )]
    }
}

/// The step's outcome from what packer reported and how it exited.
fn outcome_of(report: &BuildReport, template: &str, success: bool, status: &str) -> Outcome {
    let mut checks = Vec::new();
    let mut findings = Vec::new();
    for build in &report.builds {
        let check = CheckResult::new(
            format!("packer build {}", build.name),
            if build.errors.is_empty() {
                Status::Passed
            } else {
                Status::Failed
            },
        )
        .in_group(template.to_string());
        checks.push(if build.errors.is_empty() {
            check
        } else {
            check.with_message(build.errors.join("; "))
        });
        for error in &build.errors {
            findings.push(
                Finding::new(
                    FINDING_BUILD,
                    Severity::Error,
                    format!("{}: {error}", build.name),
                )
                .at(Location::file(template.to_string())),
            );
        }
    }
    let outputs = report.outputs();
    let count = report.artifact_count();
    let built: Vec<String> = report
        .builds
        .iter()
        .filter(|b| !b.artifacts.is_empty())
        .map(|b| match b.primary() {
            Some(a) if !a.id.is_empty() => format!("{}: {}", b.name, a.id),
            _ => b.name.clone(),
        })
        .collect();

    let mut outcome = if success {
        let list = if built.is_empty() {
            String::new()
        } else {
            format!(" ({})", built.join(", "))
        };
        Outcome::passed().with_message(format!(
            "packer build of {template} produced {count} artifact{}{list}",
            if count == 1 { "" } else { "s" }
        ))
    } else {
        let why: Vec<String> = if findings.is_empty() {
            // No per-build error: the template or packer itself failed.
            match report.ui_errors.last() {
                Some(e) => vec![e.replace('\n', " ")],
                None => vec![format!("packer failed ({status})")],
            }
        } else {
            findings.iter().map(|f| f.message.clone()).collect()
        };
        if findings.is_empty() {
            findings.push(
                Finding::new(FINDING_BUILD, Severity::Error, why.join("; "))
                    .at(Location::file(template.to_string())),
            );
        }
        Outcome::failed(format!(
            "packer build of {template} failed: {}",
            why.join("; ")
        ))
    };
    outcome = outcome.with_findings(findings).with_checks(checks);
    outcome.outputs = outputs;
    outcome
}

/// The description `runner explain packer-build` shows.
pub fn describe() -> StepDescription {
    StepDescription::new(
        "packer-build",
        "Build a Packer template; its artifacts (AMI ids, files) become step outputs.",
    )
    .reads(&["template", "var_files"])
    .open_outputs()
    .doc(
        "Runs `packer -machine-readable build` in the step's working directory. Packer's `ui` \
         lines are shown as normal log lines (commas and newlines decoded); the other \
         machine-readable lines are read, not shown. Each build that produced artifacts becomes \
         an output named after the build, so `${{ outputs.<id>.<build>.id }}` is its artifact id \
         (for names with `-` or `.`, such as `amazon-ebs`, write `outputs.<id>[\"amazon-ebs\"].id`). \
         A failed build fails the step with packer's message. On cancel or timeout packer gets \
         SIGINT, which makes it delete the instances it started, and `stop_grace` to finish \
         before it is killed (`cancel_grace`, its old name, is still read, with a warning).",
    )
    .property(PropertyDoc::required(
        "template",
        PropertyType::Path,
        "The template file or HCL2 directory, relative to the working directory.",
    ))
    .property(PropertyDoc::optional(
        "vars",
        PropertyType::Map,
        "Template variables, passed as `-var NAME=VALUE`.",
    ))
    .property(PropertyDoc::optional(
        "var_files",
        PropertyType::StringOrList,
        "Variable files (`-var-file`), relative to the working directory.",
    ))
    .property(PropertyDoc::optional(
        "only",
        PropertyType::StringOrList,
        "Build only these builds (`-only`).",
    ))
    .property(PropertyDoc::optional(
        "except",
        PropertyType::StringOrList,
        "Build all builds except these (`-except`).",
    ))
    .property(PropertyDoc::with_default(
        "on_error",
        PropertyType::String,
        "cleanup",
        "When a build fails: `cleanup`, `abort` (leave resources for debugging) or `run-cleanup-provisioner`.",
    ))
    .property(PropertyDoc::with_default(
        "parallel_builds",
        PropertyType::Integer,
        "0 (no limit)",
        "How many builds of the template run at once (`-parallel-builds`).",
    ))
    .property(PropertyDoc::with_default(
        "force",
        PropertyType::Bool,
        "false",
        "Replace existing artifacts (`-force`).",
    ))
    .property(PropertyDoc::optional(
        "version",
        PropertyType::String,
        "Required packer version: `1.6.6`, `~> 1.6` or `>=1.6, <2`.",
    ))
    .property(PropertyDoc::with_default(
        "stop_grace",
        PropertyType::Duration,
        "5m",
        "After a cancel (SIGINT), how long packer may take to clean up before it is killed.",
    ))
    .property(PropertyDoc::optional(
        "cancel_grace",
        PropertyType::Duration,
        "Deprecated: the old name of `stop_grace`.",
    ))
    .output(
        "<build>",
        "Per build with artifacts: `id`, `builder_id`, `string` (of its last artifact that has an id), \
         `files` (of all its artifacts), `amis` (region → AMI id, from ids like `us-east-1:ami-…`) \
         and `artifacts` (every artifact with `id`, `builder_id`, `string`, `files`).",
    )
    .output("artifact_count", "How many artifacts all builds produced.")
    .output("builds", "The names of the builds that produced artifacts.")
    .example(
        "- packer-build:\n    id: ami\n    cwd: packer\n    template: ubuntu-14.04_amd64-amis.json\n    vars:\n      aws_region: $AWS_REGION\n    only: amazon-ebs\n- script:\n    name: use the AMI\n    code: |\n      echo \"AMI in us-east-1: ${{ outputs.ami[\"amazon-ebs\"].amis[\"us-east-1\"] }}\"\n",
    )
}

/// Builds the step from properties (for the registry).
pub fn build(properties: Value) -> Result<Box<dyn Step>, ConfigError> {
    Ok(Box::new(PackerBuild::from_properties(properties)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::parse_lines;

    #[test]
    fn the_filter_shows_ui_text_and_keeps_the_rest() {
        let kept = Arc::new(Mutex::new(KeptLines::default()));
        let f = build_filter(kept.clone());
        assert_eq!(
            f(
                Stream::Stdout,
                "1,,ui,message,    first: hello%!(PACKER_COMMA) world"
            )
            .as_deref(),
            Some("    first: hello, world")
        );
        assert_eq!(
            f(Stream::Stdout, r"1,,ui,say,\n==> Builds finished.").as_deref(),
            Some("==> Builds finished.")
        );
        assert_eq!(f(Stream::Stdout, r"1,,ui,say,\n"), None);
        assert_eq!(f(Stream::Stdout, "1,first,artifact,0,id,Null"), None);
        assert_eq!(
            f(Stream::Stdout, "1,,ui,error,==> web: to-stderr").as_deref(),
            Some("==> web: to-stderr")
        );
        assert_eq!(
            f(Stream::Stderr, "plugin said hi").as_deref(),
            Some("plugin said hi")
        );
        let kept = kept.lock().unwrap();
        let kinds: Vec<_> = kept.lines.iter().map(|l| l.kind.as_str()).collect();
        assert_eq!(kinds, ["artifact", "ui"]);
    }

    #[test]
    fn failed_build_outcome_quotes_packer() {
        let report = BuildReport::from_lines(&parse_lines(include_str!(
            "../tests/fixtures/output/build-provisioner-exit-3.txt"
        )));
        let o = outcome_of(&report, "t.json", false, "exit code 1");
        assert!(o.is_failed());
        assert_eq!(
            o.message.as_deref(),
            Some(
                "packer build of t.json failed: web: Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"
            )
        );
        assert_eq!(o.findings.len(), 1);
        assert_eq!(o.checks[0].status, Status::Failed);
    }

    #[test]
    fn template_errors_without_builds_still_explain() {
        let report = BuildReport::from_lines(&parse_lines(
            r#"1,,ui,error,Failed to parse template: Error parsing JSON: unexpected end of JSON input\nAt line 1%!(PACKER_COMMA) column 29"#,
        ));
        let o = outcome_of(&report, "t.json", false, "exit code 1");
        let msg = o.message.unwrap();
        assert!(
            msg.contains("unexpected end of JSON input At line 1, column 29"),
            "{msg}"
        );
        assert_eq!(o.findings.len(), 1);
        let o = outcome_of(
            &BuildReport::default(),
            "t.json",
            false,
            "killed by signal 9",
        );
        assert_eq!(
            o.message.as_deref(),
            Some("packer build of t.json failed: packer failed (killed by signal 9)")
        );
    }

    #[test]
    fn config_rejects_ask_and_unknown_fields() {
        let e = PackerBuild::from_properties(
            serde_json::json!({"template": "t.json", "on_error": "ask"}),
        )
        .unwrap_err();
        assert_eq!(e.property.as_deref(), Some("on_error"));
        let e = PackerBuild::from_properties(
            serde_json::json!({"template": "t.json", "paralel_builds": 1}),
        )
        .unwrap_err();
        assert_eq!(e.property.as_deref(), Some("paralel_builds"));
        let b = PackerBuild::from_properties(serde_json::json!({
            "template": "t.json", "on_error": "abort", "parallel_builds": 2, "only": "web",
            "vars": {"n": 1}, "cancel_grace": "30s"
        }))
        .unwrap();
        assert_eq!(b.config().stop_grace, Duration::from_secs(30));
        assert!(b.old_grace_name, "the old name is noticed, for its warning");
        assert_eq!(
            b.args("t.json", Some(Path::new("/p/v.pkrvars.json"))),
            [
                "-machine-readable",
                "build",
                "-on-error=abort",
                "-parallel-builds=2",
                "-only=web",
                "-var-file=/p/v.pkrvars.json",
                "t.json"
            ]
        );
    }
}
