//! `terraform-apply` (init + apply + outputs, with its destroy registered as
//! the step's teardown) and `terraform-destroy` (init + destroy).
//!
//! The teardown is a [`TerraformDestroy`] (recorded as a
//! [`step_core::StepSpec`]) holding exactly the apply's own
//! [`TerraformOptions`]: same directory, variables, var files, workspace,
//! data directory and isolation key. It is recorded before the apply starts
//! and may run later from another process, so it holds no secret values —
//! only the names of the environment variables in `secret_vars`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use step_core::{
    ConfigError, Outcome, PropertyDoc, PropertyType, Recorded, Step, StepContext, StepDescription,
    StepError, Teardown, async_trait,
};

use crate::cli::Session;
use crate::command::{applied_message, destroyed_message, failed, finish, with_outputs};
use crate::options::{RetryPatterns, TerraformOptions, parse_with_options, property_docs};

/// Properties of `terraform-apply`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformApplyConfig {
    /// Register a `terraform-destroy` of the same configuration as this
    /// step's teardown (the ephemeral environment is always destroyed).
    #[serde(default = "yes")]
    pub teardown: bool,
    /// The shared settings.
    #[serde(flatten)]
    pub options: TerraformOptions,
}

impl Default for TerraformApplyConfig {
    fn default() -> Self {
        TerraformApplyConfig {
            teardown: true,
            options: TerraformOptions::default(),
        }
    }
}

fn yes() -> bool {
    true
}

/// `terraform init` + `terraform apply`; publishes terraform's outputs.
#[derive(Clone, Debug)]
pub struct TerraformApply {
    config: TerraformApplyConfig,
    retry_on: RetryPatterns,
}

impl TerraformApply {
    /// A step from its config.
    pub fn new(config: TerraformApplyConfig) -> Result<Self, ConfigError> {
        let retry_on = config.options.validate()?;
        Ok(TerraformApply { config, retry_on })
    }

    /// Builds the step from properties.
    pub fn from_properties(properties: Value) -> Result<Self, ConfigError> {
        TerraformApply::new(parse_with_options(properties, &["teardown"])?)
    }

    /// The config it was built from.
    pub fn config(&self) -> &TerraformApplyConfig {
        &self.config
    }
}

#[async_trait]
impl Step for TerraformApply {
    fn stop_policy(&self) -> step_core::StopPolicy {
        self.config.options.stop_policy()
    }

    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let session = Session::prepare(cx, &self.config.options, self.retry_on.regexes()).await?;
        let init = session.init(&[]).await?;
        let mut findings = init.findings(&session);
        if !init.ok {
            return Ok(failed(&session, &init, Vec::new()));
        }
        let apply = session.apply(false, &[]).await?;
        if !apply.ok {
            return Ok(failed(&session, &apply, findings));
        }
        findings.extend(apply.findings(&session));
        let message = format!(
            "{} (workspace {})",
            applied_message(&apply),
            session.workspace()
        );
        with_outputs(&session, message, findings).await
    }

    fn commands(&self) -> Vec<String> {
        crate::dry_run::lines(&self.config.options, "apply", &[], true)
    }

    fn teardown(&self) -> Option<Teardown> {
        if !self.config.teardown {
            return None;
        }
        // The options were checked when this step was built.
        let destroy = TerraformDestroy {
            options: self.config.options.clone(),
            retry_on: self.retry_on.clone(),
        };
        Some(Teardown::of(destroy))
    }
}

/// `terraform init` + `terraform destroy`. Its properties are
/// [`TerraformOptions`].
#[derive(Clone, Debug)]
pub struct TerraformDestroy {
    options: TerraformOptions,
    retry_on: RetryPatterns,
}

impl Recorded for TerraformDestroy {
    const KIND: &'static str = "terraform-destroy";

    fn properties(&self) -> Value {
        // Serializing plain data cannot fail; if it ever did, registering no
        // teardown would be worse than a null property set the destroy
        // step refuses loudly.
        serde_json::to_value(&self.options).unwrap_or(Value::Null)
    }
}

impl TerraformDestroy {
    /// A step from its options.
    pub fn new(options: TerraformOptions) -> Result<Self, ConfigError> {
        let retry_on = options.validate()?;
        Ok(TerraformDestroy { options, retry_on })
    }

    /// Builds the step from properties.
    pub fn from_properties(properties: Value) -> Result<Self, ConfigError> {
        TerraformDestroy::new(step_core::parse_config(properties)?)
    }

    /// The options it was built from.
    pub fn options(&self) -> &TerraformOptions {
        &self.options
    }
}

#[async_trait]
impl Step for TerraformDestroy {
    fn stop_policy(&self) -> step_core::StopPolicy {
        self.options.stop_policy()
    }

    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let session = Session::prepare(cx, &self.options, self.retry_on.regexes()).await?;
        let workspace = session
            .isolation
            .workspace
            .clone()
            .or_else(|| cx.env().get("TF_WORKSPACE").map(str::to_string));
        let state = crate::recover::local_state_path(&session.config_dir, workspace.as_deref());
        match crate::recover::recover_truncated_state(&state) {
            Ok(Some(what)) => cx.warn(what),
            Ok(None) => {}
            Err(e) => cx.warn(format!("could not restore {}: {e}", state.display())),
        }
        let init = session.init(&[]).await?;
        if !init.ok {
            return Ok(failed(&session, &init, Vec::new()));
        }
        let findings = init.findings(&session);
        let destroy = session.apply(true, &[]).await?;
        Ok(finish(&session, &destroy, findings, || {
            format!(
                "{} (workspace {})",
                destroyed_message(&destroy),
                session.workspace()
            )
        }))
    }

    fn commands(&self) -> Vec<String> {
        crate::dry_run::lines(&self.options, "destroy", &[], true)
    }
}

/// The description of `terraform-apply`.
pub fn describe_apply() -> StepDescription {
    let mut d = StepDescription::new(
        "terraform-apply",
        "terraform init + apply; publishes terraform's outputs and registers the matching destroy as teardown.",
    )
    .doc(
        "Initializes and applies the configuration in `dir` (-input=false -no-color -json -auto-approve), then reads \
`terraform output -json` into the step's outputs (`${{ outputs.<id>.<name> }}`); sensitive outputs are registered \
as secrets first, so they are masked everywhere. Unless `teardown: false`, a terraform-destroy with the same \
properties (directory, vars, var_files, workspace, data_dir, isolation) is recorded before the apply starts and runs \
when the enclosing group ends — even if the apply was interrupted. Values in `vars` are recorded with it; pass \
secrets through `secret_vars` (environment variable names) instead. Parallel targets get their own TF_DATA_DIR \
and workspace.",
    )
    .property(PropertyDoc::with_default(
        "teardown",
        PropertyType::Bool,
        "true",
        "Register a terraform-destroy of the same configuration as this step's teardown.",
    ));
    for p in property_docs() {
        d = d.property(p);
    }
    d.reads(&["dir", "var_files"])
        .open_outputs()
        .output("<output name>", "Each terraform output's value (sensitive values are masked in logs).")
        .example(
            "- terraform-apply:\n    id: cluster\n    dir: infra/cluster\n    vars:\n      region: eu-west-1\n      nodes: 3\n    secret_vars:\n      api_token: DO_TOKEN\n- script:\n    code: ssh core@${{ outputs.cluster.address }} uptime\n",
        )
}

/// The description of `terraform-destroy`.
pub fn describe_destroy() -> StepDescription {
    let mut d = StepDescription::new(
        "terraform-destroy",
        "terraform init + destroy of a configuration (what terraform-apply registers as its teardown).",
    )
    .doc(
        "Initializes and destroys the configuration in `dir` (-input=false -no-color -json -auto-approve), in the \
same isolated workspace and TF_DATA_DIR a terraform-apply with the same properties and target used. Destroying \
nothing passes.",
    );
    for p in property_docs() {
        d = d.property(p);
    }
    d.reads(&["dir", "var_files"]).example(
        "- terraform-destroy:\n    dir: infra/cluster\n    vars:\n      region: eu-west-1\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_teardown_destroys_exactly_what_was_applied() {
        let props = json!({
            "dir": "infra",
            "vars": {"region": "eu", "nodes": 3},
            "secret_vars": {"token": "DO_TOKEN"},
            "var_files": ["common.tfvars"],
            "workspace": "staging",
            "lock_timeout": "30s",
        });
        let apply = TerraformApply::from_properties(props).unwrap();
        let teardown = apply.teardown().expect("a teardown");
        let spec = teardown.record();
        assert_eq!(spec.kind, "terraform-destroy");
        let destroy = TerraformDestroy::from_properties(spec.properties.clone()).unwrap();
        assert_eq!(destroy.options(), &apply.config().options);
        assert_eq!(spec.properties["secret_vars"]["token"], "DO_TOKEN");
    }

    #[test]
    fn teardown_can_be_turned_off() {
        let apply = TerraformApply::from_properties(json!({"teardown": false})).unwrap();
        assert!(apply.teardown().is_none());
        let err = TerraformApply::from_properties(json!({"command": "apply"})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("command"));
        let err = TerraformApply::from_properties(json!({"retry_attempts": -1})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("retry_attempts"));
        let err = TerraformDestroy::from_properties(json!({"teardown": true})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("teardown"));
    }
}
