//! # step-serverspec
//!
//! Host checks: `host-checks` (a native YAML spec format, local/ssh/docker backends) and `serverspec` (a real rspec suite, one result per example). Filled in by its own issue.
//!
//! ```
//! let kinds = step_serverspec::kinds();
//! assert!(kinds.iter().all(|k| !k.description().kind.is_empty()));
//! ```

use step_core::StepKind;

/// The step kinds this crate provides, for the runner's registry.
pub fn kinds() -> Vec<Box<dyn StepKind>> {
    Vec::new()
}
