//! # step-packer
//!
//! Packer steps: `packer-validate` (templates validated concurrently, failures as findings with file:line:col) and `packer-build` (machine-readable build, artifacts as step outputs). Filled in by its own issue.
//!
//! ```
//! let kinds = step_packer::kinds();
//! assert!(kinds.iter().all(|k| !k.description().kind.is_empty()));
//! ```

use step_core::StepKind;

/// The step kinds this crate provides, for the runner's registry.
pub fn kinds() -> Vec<Box<dyn StepKind>> {
    Vec::new()
}
