//! # step-packer
//!
//! Packer steps for stepwise, usable from the runner's YAML or directly
//! from Rust:
//!
//! * [`packer-validate`](validate::PackerValidate) validates templates
//!   (a path, a glob or a list), several at once, and turns every problem
//!   packer reports into a [`Finding`](step_core::Finding) at the template's
//!   file, with line and column where packer gives them;
//! * [`packer-build`](build::PackerBuild) runs `packer -machine-readable
//!   build`, shows packer's progress as readable lines and publishes the
//!   artifacts (ids, files, AMIs per region) as step outputs.
//!
//! Why it reads `-machine-readable` output: packer 1.6.6 prints errors on
//! stdout mixed with progress, wraps long lines at 80 columns and colours
//! its human output; the machine-readable form has one record per line with
//! a type, so artifacts and errors are found without guessing. The parsers
//! ([`machine`], [`diagnostic`], [`artifact`]) are public and tested against
//! output captured from the real packer (`tests/fixtures/output`).
//!
//! ```
//! use step_packer::validate::{PackerValidate, PackerValidateConfig};
//!
//! // The Rust API: a typed config, checked when the step is built.
//! let mut config = PackerValidateConfig::new(["packer/*.json", "packer/ubuntu.pkr.hcl"]);
//! config.vars.insert("aws_region".into(), "eu-west-1".into());
//! let step = PackerValidate::new(config).unwrap();
//! let t = step_packer::templates::TemplateFile { arg: "packer/a.json".into(), path: "/w/packer/a.json".into() };
//! // `vars` reach packer through a generated 0600 var file, never argv.
//! let vf = std::path::Path::new("/tmp/x/stepwise.pkrvars.json");
//! assert_eq!(step.args(&t, Some(vf)), ["-machine-readable", "validate", "-var-file=/tmp/x/stepwise.pkrvars.json", "packer/a.json"]);
//!
//! // The same from properties, as the runner builds it; errors name the property.
//! let err = PackerValidate::from_properties(serde_json::json!({"template": "t.json", "version": "soon"}))
//!     .unwrap_err();
//! assert_eq!(err.property.as_deref(), Some("version"));
//!
//! // What `runner explain` shows.
//! let kinds = step_packer::kinds();
//! let names: Vec<String> = kinds.iter().map(|k| k.description().kind).collect();
//! assert_eq!(names, ["packer-validate", "packer-build"]);
//! ```

pub mod artifact;
pub mod build;
pub mod diagnostic;
pub mod machine;
pub mod options;
pub mod templates;
pub mod validate;

use step_core::StepKind;
use step_core::step::FnKind;

pub use build::{OnError, PackerBuild, PackerBuildConfig};
pub use validate::{PackerValidate, PackerValidateConfig};

/// The step kinds this crate provides, for the runner's registry.
pub fn kinds() -> Vec<Box<dyn StepKind>> {
    vec![
        Box::new(FnKind::named(
            "packer-validate",
            &[],
            validate::describe,
            validate::build,
        )),
        Box::new(FnKind::named(
            "packer-build",
            &[],
            build::describe,
            build::build,
        )),
    ]
}
