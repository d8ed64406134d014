//! # step-terraform
//!
//! Terraform steps for stepwise:
//!
//! | kind | what it does |
//! |------|--------------|
//! | `terraform-install` | a pinned terraform, downloaded from a mirror, checksum-verified, cached, first on `PATH` (`TerraformInstall`; feature `install`, on by default) |
//! | `terraform` | one command — init, validate, plan, apply, destroy, output, … ([`Terraform`]) |
//! | `terraform-apply` | init + apply, outputs published, its destroy registered as teardown ([`TerraformApply`]) |
//! | `terraform-destroy` | init + destroy ([`TerraformDestroy`]) |
//!
//! Why it looks the way it does: the seed pipeline downloaded an unverified
//! terraform from a host that no longer exists, applied, and relied on a
//! shell `finally` to destroy. Here the binary is verified before it is
//! cached, terraform runs non-interactively (`-input=false -no-color`) with
//! its machine-readable `-json` output turned into readable lines and
//! [findings](step_core::Finding) with `file:line:column`, and the destroy
//! is a [teardown](step_core::Step::teardown) the runner records before the
//! apply starts. Parallel targets applying one configuration get their own
//! `TF_DATA_DIR` and workspace ([`isolation`]), so they never share state.
//! Cancelling sends SIGINT first — terraform then stops gracefully and
//! writes its state — and kills only after a grace period.
//!
//! The `install` feature (default) brings `terraform-install` and its HTTP
//! and archive stack (reqwest, rustls, zip). A program that has terraform on
//! `PATH` already depends on the crate with `default-features = false` and
//! gets the other three kinds without that stack.
//!
//! Every kind is a typed config plus a step, usable without the runner:
//!
//! ```
//! use step_core::Step;
//! use step_terraform::{TerraformApply, TerraformApplyConfig, TerraformOptions};
//!
//! let mut options = TerraformOptions::for_dir("infra/cluster");
//! options.vars.insert("region".into(), "eu-west-1".into());
//! options.secret_vars.insert("api_token".into(), "DO_TOKEN".into());
//! let apply = TerraformApply::new(TerraformApplyConfig { teardown: true, options }).unwrap();
//!
//! // The teardown destroys the same configuration, naming the secret's
//! // variable, never its value.
//! let teardown = apply.teardown().unwrap();
//! let record = teardown.record();
//! assert_eq!(record.kind, "terraform-destroy");
//! assert_eq!(record.properties["dir"], "infra/cluster");
//! assert_eq!(record.properties["secret_vars"]["api_token"], "DO_TOKEN");
//!
//! // The same kinds, as the runner sees them.
//! let kinds = step_terraform::kinds();
//! let names: Vec<String> = kinds.iter().map(|k| k.description().kind).collect();
//! assert_eq!(names, ["terraform-install", "terraform", "terraform-apply", "terraform-destroy"]);
//! ```
//!
//! And the JSON UI stream, as a step shows it:
//!
//! ```
//! use step_terraform::json_ui::UiMessage;
//!
//! let line = r#"{"@level":"error","@message":"Error: Unsupported argument","type":"diagnostic",
//!   "diagnostic":{"severity":"error","summary":"Unsupported argument",
//!   "detail":"An argument named \"bogus\" is not expected here.",
//!   "range":{"filename":"main.tf","start":{"line":3,"column":3}}}}"#;
//! let msg = UiMessage::parse(&line.replace('\n', "")).unwrap();
//! assert_eq!(
//!     msg.readable(),
//!     "Error: Unsupported argument (main.tf:3:3): An argument named \"bogus\" is not expected here."
//! );
//! ```

pub mod apply;
mod cli;
pub mod command;
pub mod dry_run;
#[cfg(feature = "install")]
pub mod install;
pub mod isolation;
pub mod json_ui;
pub mod options;
pub mod recover;
mod relay;

pub use apply::{TerraformApply, TerraformApplyConfig, TerraformDestroy};
pub use command::{Terraform, TerraformConfig};
#[cfg(feature = "install")]
pub use install::{TerraformInstall, TerraformInstallConfig};
pub use options::{BackendConfig, TerraformOptions};

use step_core::step::FnKind;
use step_core::{ConfigError, Step, StepKind};

/// The step kinds this crate provides, for the runner's registry.
pub fn kinds() -> Vec<Box<dyn StepKind>> {
    let kinds: Vec<Box<dyn StepKind>> = vec![
        #[cfg(feature = "install")]
        Box::new(FnKind::named(
            "terraform-install",
            &[],
            install::describe,
            build_install,
        )),
        Box::new(FnKind::named(
            "terraform",
            &[],
            command::describe,
            build_terraform,
        )),
        Box::new(FnKind::named(
            "terraform-apply",
            &[],
            apply::describe_apply,
            build_apply,
        )),
        Box::new(FnKind::named(
            "terraform-destroy",
            &[],
            apply::describe_destroy,
            build_destroy,
        )),
    ];
    kinds
}

#[cfg(feature = "install")]
fn build_install(properties: serde_json::Value) -> Result<Box<dyn Step>, ConfigError> {
    Ok(Box::new(TerraformInstall::from_properties(properties)?))
}

fn build_terraform(properties: serde_json::Value) -> Result<Box<dyn Step>, ConfigError> {
    Ok(Box::new(Terraform::from_properties(properties)?))
}

fn build_apply(properties: serde_json::Value) -> Result<Box<dyn Step>, ConfigError> {
    Ok(Box::new(TerraformApply::from_properties(properties)?))
}

fn build_destroy(properties: serde_json::Value) -> Result<Box<dyn Step>, ConfigError> {
    Ok(Box::new(TerraformDestroy::from_properties(properties)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_builds_from_its_own_example() {
        for kind in kinds() {
            let d = kind.description();
            assert!(
                !d.summary.is_empty() && !d.doc.is_empty() && !d.example.is_empty(),
                "{}",
                d.kind
            );
            for p in &d.properties {
                assert!(!p.doc.is_empty(), "{}.{} undocumented", d.kind, p.name);
            }
        }
        let build = |name: &str, v: serde_json::Value| {
            let kinds = kinds();
            let kind = kinds
                .iter()
                .find(|k| k.description().kind == name)
                .unwrap_or_else(|| panic!("no kind {name}"));
            kind.build(v).map(|_| ())
        };
        #[cfg(feature = "install")]
        build(
            "terraform-install",
            serde_json::json!({"version": "~> 1.11"}),
        )
        .unwrap();
        build(
            "terraform",
            serde_json::json!({"command": "plan", "dir": "infra"}),
        )
        .unwrap();
        build(
            "terraform-apply",
            serde_json::json!({"dir": "infra", "vars": {"nodes": 3}}),
        )
        .unwrap();
        build("terraform-destroy", serde_json::json!({"dir": "infra"})).unwrap();
        assert!(build("terraform-apply", serde_json::json!({"dri": "infra"})).is_err());
    }

    #[cfg(not(feature = "install"))]
    #[test]
    fn without_the_install_feature_there_is_no_install_kind() {
        let names: Vec<String> = kinds().iter().map(|k| k.description().kind).collect();
        assert_eq!(names, ["terraform", "terraform-apply", "terraform-destroy"]);
    }
}
