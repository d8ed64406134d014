//! `packer-validate`: validates one or more templates, concurrently, and
//! turns every problem packer reports into a finding.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use semver::VersionReq;
use serde::Deserialize;
use serde_json::Value;
use step_core::process::{Cmd, ProcessOutput};
use step_core::{
    CheckResult, ConfigError, Finding, Location, Outcome, PropertyDoc, PropertyType, Severity,
    Status, Step, StepContext, StepDescription, StepError, async_trait,
};
use tokio::sync::Semaphore;

use crate::diagnostic::{Diagnostic, parse_validate_output};
use crate::options::{self, one_or_many, scalar_map};
use crate::templates::{self, TemplateFile};

/// The finding id of a validation error.
pub const FINDING_ERROR: &str = "packer-validate";
/// The finding id of a validation warning.
pub const FINDING_WARNING: &str = "packer-validate-warning";

/// How much of packer's output is kept for parsing, per template.
const CAPTURE_LIMIT: usize = 1024 * 1024;

/// Configuration of `packer-validate`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackerValidateConfig {
    /// Templates to validate: a path, a glob (`packer/*.json`), or a list of
    /// either, relative to the step's working directory. An HCL2 directory
    /// counts as one template.
    #[serde(deserialize_with = "one_or_many")]
    pub template: Vec<String>,
    /// Template variables (`-var NAME=VALUE`), the same for every template.
    #[serde(default, deserialize_with = "scalar_map")]
    pub vars: BTreeMap<String, String>,
    /// Variable files (`-var-file=…`), relative to the working directory.
    #[serde(default, deserialize_with = "one_or_many")]
    pub var_files: Vec<String>,
    /// Only check syntax (`-syntax-only`).
    #[serde(default)]
    pub syntax_only: bool,
    /// Validate only these builds (`-only=…`).
    #[serde(default, deserialize_with = "one_or_many")]
    pub only: Vec<String>,
    /// Validate all builds but these (`-except=…`).
    #[serde(default, deserialize_with = "one_or_many")]
    pub except: Vec<String>,
    /// Required packer version (`1.6.6`, `~> 1.6`, `>=1.6, <2`).
    #[serde(default)]
    pub version: Option<String>,
    /// How many templates to validate at once (default: the number of CPUs).
    #[serde(default)]
    pub jobs: Option<usize>,
}

impl PackerValidateConfig {
    /// A config validating these templates, everything else default.
    pub fn new<I, S>(templates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        PackerValidateConfig {
            template: templates.into_iter().map(Into::into).collect(),
            ..PackerValidateConfig::default()
        }
    }
}

/// The `packer-validate` step.
#[derive(Clone, Debug)]
pub struct PackerValidate {
    config: PackerValidateConfig,
    requirement: Option<VersionReq>,
}

impl PackerValidate {
    /// Builds the step, checking the configuration.
    pub fn new(config: PackerValidateConfig) -> Result<Self, ConfigError> {
        if config.template.is_empty() {
            return Err(ConfigError::property(
                "template",
                "name at least one template (a path, a glob, or a list of them)",
            ));
        }
        if config.jobs == Some(0) {
            return Err(ConfigError::property("jobs", "must be at least 1"));
        }
        options::check_selection(&config.only, &config.except, &config.vars)?;
        let requirement = options::parse_version(config.version.as_deref())?;
        Ok(PackerValidate {
            config,
            requirement,
        })
    }

    /// Builds the step from YAML/JSON properties.
    pub fn from_properties(properties: Value) -> Result<Self, ConfigError> {
        PackerValidate::new(step_core::parse_config(properties)?)
    }

    /// The configuration.
    pub fn config(&self) -> &PackerValidateConfig {
        &self.config
    }

    /// packer's arguments (after the program name) for one template;
    /// `var_file` is the generated file holding `vars` ([`options::VarFile`]).
    pub fn args(&self, template: &TemplateFile, var_file: Option<&Path>) -> Vec<String> {
        let c = &self.config;
        let mut args = vec!["-machine-readable".to_string(), "validate".to_string()];
        if c.syntax_only {
            args.push("-syntax-only".into());
        }
        args.extend(options::selection_and_var_args(
            &c.only,
            &c.except,
            var_file,
            &c.var_files,
        ));
        args.push(template.arg.clone());
        args
    }
}

/// What became of one template.
struct TemplateResult {
    template: TemplateFile,
    output: ProcessOutput,
}

#[async_trait]
impl Step for PackerValidate {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let templates = templates::resolve(&self.config.template, cx.workdir(), "template")?;
        options::check_var_files(&self.config.var_files, cx)?;
        let packer = options::find_packer(cx, self.requirement.as_ref()).await?;

        let jobs = self
            .config
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .clamp(1, templates.len());
        cx.info(format!(
            "validating {} template{} with {} ({} at a time){}",
            templates.len(),
            plural(templates.len()),
            packer.path.display(),
            jobs,
            if self.config.syntax_only {
                ", syntax only"
            } else {
                ""
            }
        ));

        // One packer per template, at most `jobs` at once. Each task owns a
        // clone of the context so it can outlive this borrow; cancelling the
        // step's token reaches every clone.
        // Held until every packer is done: dropping it removes the file.
        let var_file = options::VarFile::write(&self.config.vars, cx)?;
        let var_path = var_file.as_ref().map(|f| f.path());
        let permits = Arc::new(Semaphore::new(jobs));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, template) in templates.iter().enumerate() {
            let args = self.args(template, var_path.as_deref());
            let cmd = options::with_packer_env(
                Cmd::new(&packer.path)
                    .args(&args)
                    .capture(CAPTURE_LIMIT)
                    .quiet(),
                cx,
            );
            let task_cx = cx.clone();
            let permits = permits.clone();
            tasks.spawn(async move {
                // The semaphore is never closed; if it were, running anyway is harmless.
                let _permit = permits.acquire_owned().await.ok();
                (index, cmd.run(&task_cx).await)
            });
        }
        let mut outputs: Vec<Option<ProcessOutput>> = vec![None; templates.len()];
        while let Some(joined) = tasks.join_next().await {
            let (index, result) = joined.map_err(|source| StepError::Task {
                what: "a packer validate task".into(),
                source,
            })?;
            // The first error (cancelled, could not start) ends the step;
            // dropping the set aborts the other tasks.
            outputs[index] = Some(result?);
        }
        let results: Vec<TemplateResult> = templates
            .into_iter()
            .zip(outputs)
            .filter_map(|(template, output)| {
                output.map(|output| TemplateResult { template, output })
            })
            .collect();
        Ok(self.outcome(cx, results))
    }

    fn commands(&self) -> Vec<String> {
        // `vars` go through a private var file made when the step runs.
        let var_file =
            (!self.config.vars.is_empty()).then(|| std::path::Path::new("<generated vars file>"));
        self.config
            .template
            .iter()
            .map(|t| {
                let file = crate::templates::TemplateFile {
                    arg: t.clone(),
                    path: t.into(),
                };
                step_core::command_line("packer", &self.args(&file, var_file))
            })
            .collect()
    }
}

impl PackerValidate {
    fn outcome(&self, cx: &StepContext, results: Vec<TemplateResult>) -> Outcome {
        let mut findings = Vec::new();
        let mut checks = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        let mut failed_templates = Vec::new();
        let total = results.len();

        for TemplateResult { template, output } in &results {
            let parsed = parse_validate_output(&output.stdout, &output.stderr);
            for warning in parsed.warnings() {
                findings.push(finding(
                    FINDING_WARNING,
                    Severity::Medium,
                    template,
                    warning,
                ));
            }
            let check_name = format!("packer validate {}", template.arg);
            if output.success() {
                cx.info(format!("{}: valid", template.arg));
                checks.push(
                    CheckResult::new(check_name, Status::Passed)
                        .with_duration(output.duration)
                        .in_group("packer-validate"),
                );
                continue;
            }
            let mut errors: Vec<Finding> = parsed
                .errors()
                .map(|d| finding(FINDING_ERROR, Severity::Error, template, d))
                .collect();
            if errors.is_empty() {
                // Packer failed without a message we could read: say what it printed.
                let text = if parsed.other.is_empty() {
                    format!(
                        "packer validate failed ({}) and printed nothing",
                        output.describe_status()
                    )
                } else {
                    parsed.other.clone()
                };
                let first = text.lines().next().unwrap_or_default().to_string();
                let mut f = Finding::new(FINDING_ERROR, Severity::Error, first.clone())
                    .at(Location::file(template.arg.clone()));
                if text != first {
                    f = f.with_detail(text);
                }
                errors.push(f);
            }
            if output.truncated {
                errors.push(
                    Finding::new(
                        FINDING_ERROR,
                        Severity::Error,
                        format!(
                            "packer printed more than {} KiB; later messages were not read",
                            CAPTURE_LIMIT / 1024
                        ),
                    )
                    .at(Location::file(template.arg.clone())),
                );
            }
            let summary = describe_failure(template, &errors);
            checks.push(
                CheckResult::new(check_name, Status::Failed)
                    .with_message(summary.clone())
                    .with_duration(output.duration)
                    .in_group("packer-validate"),
            );
            failures.push(summary);
            failed_templates.push(Value::String(template.arg.clone()));
            findings.extend(errors);
        }

        let what = if self.config.syntax_only {
            "syntax"
        } else {
            "validation"
        };
        let mut outcome = if failures.is_empty() {
            Outcome::passed().with_message(format!(
                "{total} template{} passed packer {what}",
                plural(total)
            ))
        } else {
            Outcome::failed(format!(
                "{} of {total} template{} failed packer {what}: {}",
                failures.len(),
                plural(total),
                failures.join("; ")
            ))
        };
        outcome = outcome
            .with_findings(findings)
            .with_checks(checks)
            .with_output("templates", total)
            .with_output("failed", Value::Array(failed_templates));
        outcome
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn finding(id: &str, severity: Severity, template: &TemplateFile, d: &Diagnostic) -> Finding {
    let file = d.file.clone().unwrap_or_else(|| template.arg.clone());
    let location = match d.line {
        Some(line) => Location::at(file, line, d.column),
        None => Location::file(file),
    };
    let mut f = Finding::new(id, severity, d.message.clone()).at(location);
    if let Some(detail) = &d.detail {
        f = f.with_detail(detail.clone());
    }
    f
}

/// `t.json:12:4: message` (and how many more), for the step message.
fn describe_failure(template: &TemplateFile, errors: &[Finding]) -> String {
    let Some(first) = errors.first() else {
        return template.arg.clone();
    };
    let place = match &first.location {
        Some(loc) if loc.file == template.arg => loc.to_string(),
        Some(loc) => format!("{} ({loc})", template.arg),
        None => template.arg.clone(),
    };
    let more = match errors.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    format!("{place}: {}{more}", first.message)
}

/// The description `runner explain packer-validate` shows.
pub fn describe() -> StepDescription {
    StepDescription::new(
        "packer-validate",
        "Validate Packer templates (JSON or HCL2), several at once; problems become findings.",
    )
    .reads(&["template", "var_files"])
    .doc(
        "Runs `packer -machine-readable validate` once per template, concurrently (at most `jobs` \
         at a time), in the step's working directory — packer resolves relative script paths \
         against it, as `cd packer && packer validate t.json` did. Every error packer reports \
         becomes a finding (id `packer-validate`, severity error) at the template's file, with \
         line and column when packer gives them (JSON syntax errors: line and column; HCL2: \
         the file and line); warnings become `packer-validate-warning` findings. The step fails \
         when any template is invalid and its message lists each failed template and why. A glob \
         that matches nothing, a missing template or variable file is a configuration error. \
         `syntax_only` only parses: it does not catch unknown builders, missing required \
         variables, missing required builder fields or missing provisioner scripts.",
    )
    .property(PropertyDoc::required(
        "template",
        PropertyType::StringOrList,
        "Template path, glob (`packer/*.json`) or a list of either, relative to the working directory.",
    ))
    .property(PropertyDoc::optional(
        "vars",
        PropertyType::Map,
        "Template variables, passed as `-var NAME=VALUE` to every template.",
    ))
    .property(PropertyDoc::optional(
        "var_files",
        PropertyType::StringOrList,
        "Variable files (`-var-file`), relative to the working directory.",
    ))
    .property(PropertyDoc::with_default(
        "syntax_only",
        PropertyType::Bool,
        "false",
        "Only check syntax (`-syntax-only`); see the doc above for what it misses.",
    ))
    .property(PropertyDoc::optional(
        "only",
        PropertyType::StringOrList,
        "Validate only these builds (`-only`).",
    ))
    .property(PropertyDoc::optional(
        "except",
        PropertyType::StringOrList,
        "Validate all builds except these (`-except`).",
    ))
    .property(PropertyDoc::optional(
        "version",
        PropertyType::String,
        "Required packer version: `1.6.6`, `~> 1.6` or `>=1.6, <2`.",
    ))
    .property(PropertyDoc::with_default(
        "jobs",
        PropertyType::Integer,
        "number of CPUs",
        "How many templates to validate at the same time.",
    ))
    .output("templates", "How many templates were validated.")
    .output("failed", "The templates that failed, as a list of paths.")
    .example(
        "- packer-validate:\n    cwd: packer\n    template:\n      - ubuntu-14.04_amd64-*.json\n      - ubuntu-14.04_amd64.pkr.hcl\n    var_files: ci.json\n    version: \"~> 1.6\"\n",
    )
}

/// Builds the step from properties (for the registry).
pub fn build(properties: Value) -> Result<Box<dyn Step>, ConfigError> {
    Ok(Box::new(PackerValidate::from_properties(properties)?))
}
