//! # step-terraform
//!
//! Terraform steps: `terraform-install` (pinned, checksum-verified download), `terraform`, `terraform-apply` (registers its destroy as a teardown) and `terraform-destroy`. Filled in by its own issue.
//!
//! ```
//! let kinds = step_terraform::kinds();
//! assert!(kinds.iter().all(|k| !k.description().kind.is_empty()));
//! ```

use step_core::StepKind;

/// The step kinds this crate provides, for the runner's registry.
pub fn kinds() -> Vec<Box<dyn StepKind>> {
    Vec::new()
}
