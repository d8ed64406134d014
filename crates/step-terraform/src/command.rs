//! The `terraform` kind: one terraform command (init, validate, plan,
//! apply, destroy, output, …) in an isolated, non-interactive session.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use step_core::{
    ConfigError, Finding, Outcome, PropertyDoc, PropertyType, Step, StepContext, StepDescription,
    StepError, async_trait,
};

use crate::cli::{CommandResult, Session};
use crate::options::{RetryPatterns, TerraformOptions, parse_with_options, property_docs};

/// The commands the `terraform` kind runs. Interactive ones (`console`,
/// `login`) make no sense in a pipeline.
pub const COMMANDS: &[&str] = &[
    "init",
    "validate",
    "plan",
    "apply",
    "destroy",
    "output",
    "refresh",
    "import",
    "fmt",
    "show",
    "state",
    "workspace",
    "providers",
    "get",
    "graph",
    "taint",
    "untaint",
    "force-unlock",
    "test",
    "version",
];

/// Properties of the `terraform` kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformConfig {
    /// The terraform command: one of [`COMMANDS`].
    pub command: String,
    /// Extra arguments, after the flags stepwise adds (argv, never a shell
    /// string). For `state`, `workspace` and `providers` the first one is
    /// the nested command (`[list]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Run `terraform init` first.
    #[serde(default)]
    pub init: bool,
    /// The shared settings (directory, variables, workspace, isolation, …).
    #[serde(flatten)]
    pub options: TerraformOptions,
}

/// A step running one terraform command.
#[derive(Clone, Debug)]
pub struct Terraform {
    config: TerraformConfig,
    retry_on: RetryPatterns,
}

impl Terraform {
    /// A step from its config; checks the command and the options.
    pub fn new(config: TerraformConfig) -> Result<Self, ConfigError> {
        if !COMMANDS.contains(&config.command.as_str()) {
            return Err(ConfigError::property(
                "command",
                format!(
                    "`{}` is not a terraform command this step runs; expected one of {}",
                    config.command,
                    COMMANDS.join(", ")
                ),
            ));
        }
        if config.command == "output" && !config.args.is_empty() {
            return Err(ConfigError::property(
                "args",
                "`output` publishes every output as a step output; it takes no arguments",
            ));
        }
        let retry_on = config.options.validate()?;
        Ok(Terraform { config, retry_on })
    }

    /// Builds the step from properties.
    pub fn from_properties(properties: Value) -> Result<Self, ConfigError> {
        Terraform::new(parse_with_options(
            properties,
            &["command", "args", "init"],
        )?)
    }

    /// The config it was built from.
    pub fn config(&self) -> &TerraformConfig {
        &self.config
    }
}

#[async_trait]
impl Step for Terraform {
    fn stop_policy(&self) -> step_core::StopPolicy {
        self.config.options.stop_policy()
    }

    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let session = Session::prepare(cx, &self.config.options, self.retry_on.regexes()).await?;
        let args = &self.config.args;
        let mut findings = Vec::new();
        if self.config.init && self.config.command != "init" {
            let init = session.init(&[]).await?;
            findings.extend(init.findings(&session));
            if !init.ok {
                return Ok(failed(&session, &init, findings));
            }
        }
        match self.config.command.as_str() {
            "init" => {
                let r = session.init(args).await?;
                Ok(finish(&session, &r, findings, || {
                    format!(
                        "initialized {} (workspace {})",
                        session.config_dir.display(),
                        session.workspace()
                    )
                }))
            }
            "validate" => {
                let r = session.validate(args).await?;
                if r.ok {
                    findings.extend(r.findings(&session));
                    return Ok(Outcome::passed()
                        .with_message("the configuration is valid")
                        .with_findings(findings));
                }
                let errors = r.diagnostics.iter().filter(|d| d.is_error()).count();
                let mut outcome = failed(&session, &r, findings);
                if errors > 0 {
                    outcome.message = Some(format!(
                        "terraform validate found {errors} error{}: {}",
                        if errors == 1 { "" } else { "s" },
                        outcome.message.unwrap_or_default()
                    ));
                }
                Ok(outcome)
            }
            "plan" => {
                // The JSON UI names the resources a plan changes, not their
                // attributes: the plan is saved and `terraform show` prints
                // the diff a person reads (unless the caller saves it).
                let saved_by_caller = args.iter().any(|a| a.starts_with("-out"));
                let plan_dir = tempfile::tempdir()
                    .map_err(|e| StepError::io("creating a directory for the plan", e))?;
                let plan_file = plan_dir.path().join("stepwise.tfplan");
                let mut plan_args = args.clone();
                if !saved_by_caller {
                    plan_args.push(format!("-out={}", plan_file.display()));
                }
                let r = session.plan(&plan_args).await?;
                if !r.ok {
                    return Ok(failed(&session, &r, findings));
                }
                let changes = r.changes.unwrap_or_default();
                let has_changes = r.code == Some(2);
                if has_changes && !saved_by_caller {
                    let file = plan_file.to_string_lossy().into_owned();
                    let show = session.other("show", &[file]).await?;
                    if !show.ok {
                        cx.warn("terraform show could not print the plan's changes");
                    }
                }
                findings.extend(r.findings(&session));
                Ok(Outcome::passed()
                    .with_message(if has_changes {
                        format!(
                            "plan: {} to add, {} to change, {} to destroy",
                            changes.add, changes.change, changes.remove
                        )
                    } else {
                        "plan: no changes".to_string()
                    })
                    .with_findings(findings)
                    .with_output("changes", has_changes)
                    .with_output("add", changes.add)
                    .with_output("change", changes.change)
                    .with_output("destroy", changes.remove))
            }
            "apply" => {
                let r = session.apply(false, args).await?;
                if !r.ok {
                    return Ok(failed(&session, &r, findings));
                }
                findings.extend(r.findings(&session));
                with_outputs(&session, applied_message(&r), findings).await
            }
            "destroy" => {
                let r = session.apply(true, args).await?;
                Ok(finish(&session, &r, findings, || destroyed_message(&r)))
            }
            "output" => with_outputs(&session, String::new(), findings).await,
            other => {
                let r = session.other(other, args).await?;
                Ok(finish(&session, &r, findings, || {
                    format!("terraform {other} done")
                }))
            }
        }
    }

    fn commands(&self) -> Vec<String> {
        let c = &self.config;
        crate::dry_run::lines(&c.options, &c.command, &c.args, c.init)
    }
}

/// A failed outcome for a failed command, with its findings.
pub(crate) fn failed(
    session: &Session<'_>,
    result: &CommandResult,
    mut findings: Vec<Finding>,
) -> Outcome {
    findings.extend(result.findings(session));
    Outcome::failed(result.failure_message(session)).with_findings(findings)
}

/// Passed with `message` when the command succeeded, failed otherwise.
pub(crate) fn finish(
    session: &Session<'_>,
    result: &CommandResult,
    mut findings: Vec<Finding>,
    message: impl FnOnce() -> String,
) -> Outcome {
    if !result.ok {
        return failed(session, result, findings);
    }
    findings.extend(result.findings(session));
    Outcome::passed()
        .with_message(message())
        .with_findings(findings)
}

/// Reads `terraform output -json` into the outcome's outputs.
pub(crate) async fn with_outputs(
    session: &Session<'_>,
    message: String,
    findings: Vec<Finding>,
) -> Result<Outcome, StepError> {
    let outputs = match session.outputs().await? {
        Ok(outputs) => outputs,
        Err(r) => return Ok(failed(session, &r, findings)),
    };
    let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
    let listed = if names.is_empty() {
        "no outputs".to_string()
    } else {
        format!("outputs: {}", names.join(", "))
    };
    let message = if message.is_empty() {
        listed
    } else {
        format!("{message}; {listed}")
    };
    let mut outcome = Outcome::passed()
        .with_message(message)
        .with_findings(findings);
    outcome.outputs.extend(outputs);
    Ok(outcome)
}

pub(crate) fn applied_message(r: &CommandResult) -> String {
    let c = r.changes.unwrap_or_default();
    format!(
        "applied: {} added, {} changed, {} destroyed",
        c.add, c.change, c.remove
    )
}

pub(crate) fn destroyed_message(r: &CommandResult) -> String {
    match r.changes {
        Some(c) if c.remove > 0 => format!(
            "destroyed {} resource{}",
            c.remove,
            if c.remove == 1 { "" } else { "s" }
        ),
        _ => "nothing to destroy".to_string(),
    }
}

/// The description of the `terraform` kind.
pub fn describe() -> StepDescription {
    let mut d = StepDescription::new(
        "terraform",
        "Runs one terraform command (init, validate, plan, apply, destroy, output, …) non-interactively.",
    )
    .doc(
        "Runs terraform with -input=false -no-color; plan, apply, destroy, validate (and init on terraform >= 1.9) \
use -json, whose stream is shown as readable lines and whose diagnostics become findings with file:line:column. \
plan runs with -detailed-exitcode and publishes `changes`; apply and output publish terraform's outputs (sensitive \
ones masked in all output). Each parallel target gets its own TF_DATA_DIR and workspace, so targets applying one \
configuration never share state. On cancellation terraform alone gets SIGINT (its running provisioners finish, it stops gracefully and writes state), then \
after stop_grace its process group is killed. Failures matching retry_on are retried.",
    )
    .property(PropertyDoc::required(
        "command",
        PropertyType::String,
        "The terraform command: init, validate, plan, apply, destroy, output, refresh, import, fmt, show, state, workspace, providers, get, graph, taint, untaint, force-unlock, test or version.",
    ))
    .property(PropertyDoc::optional(
        "args",
        PropertyType::List,
        "Extra arguments after stepwise's flags (argv). For state/workspace/providers the first is the nested command.",
    ))
    .property(PropertyDoc::with_default(
        "init",
        PropertyType::Bool,
        "false",
        "Run terraform init first.",
    ));
    for p in property_docs() {
        d = d.property(p);
    }
    d.reads(&["dir", "var_files"])
        .open_outputs()
        .output("changes", "plan: whether the plan has changes (true/false).")
        .output("add", "plan: resources to add.")
        .output("change", "plan: resources to change.")
        .output("destroy", "plan: resources to destroy.")
        .output("<output name>", "apply, output: each terraform output's value.")
        .example(
            "- terraform:\n    id: plan\n    command: plan\n    init: true\n    dir: infra/cluster\n    vars:\n      region: eu-west-1\n- script:\n    code: echo \"changes: ${{ outputs.plan.changes }}\"\n",
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattened_options_still_reject_unknown_properties_by_name() {
        let err = Terraform::from_properties(json!({"command": "plan", "dirr": "x"})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("dirr"));
        let err = Terraform::from_properties(json!({"command": "plan", "parallelism": "many"}))
            .unwrap_err();
        assert_eq!(err.property.as_deref(), Some("parallelism"));
        let err = Terraform::from_properties(json!({"command": 3})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("command"));
        let err =
            Terraform::from_properties(json!({"command": "plan", "init": "yes"})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("init"));
        let ok = Terraform::from_properties(
            json!({"command": "plan", "dir": "infra", "vars": {"a": 1}}),
        )
        .unwrap();
        assert_eq!(ok.config().options.dir, std::path::PathBuf::from("infra"));
    }

    #[test]
    fn unknown_commands_are_refused_with_the_list() {
        let err = Terraform::from_properties(json!({"command": "aply"})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("command"));
        assert!(err.message.contains("apply"));
        let err =
            Terraform::from_properties(json!({"command": "output", "args": ["x"]})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("args"));
    }

    #[test]
    fn the_description_documents_every_property() {
        let d = describe();
        for name in [
            "command",
            "args",
            "init",
            "dir",
            "vars",
            "var_files",
            "workspace",
            "backend_config",
            "parallelism",
            "lock_timeout",
            "retry_on",
        ] {
            assert!(d.find_property(name).is_some(), "{name} undocumented");
        }
    }
}
