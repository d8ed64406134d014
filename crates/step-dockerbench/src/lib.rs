//! # step-dockerbench
//!
//! docker-bench-security: runs the bench once, parses its JSON (or text) log, gates on the WARN count, score and chosen ids. Filled in by its own issue.
//!
//! ```
//! let kinds = step_dockerbench::kinds();
//! assert!(kinds.iter().all(|k| !k.description().kind.is_empty()));
//! ```

use step_core::StepKind;

/// The step kinds this crate provides, for the runner's registry.
pub fn kinds() -> Vec<Box<dyn StepKind>> {
    Vec::new()
}
