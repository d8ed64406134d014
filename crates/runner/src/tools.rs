//! The tool crates' step kinds, gathered for the standard registry.

use step_core::StepKind;

/// Every tool crate's kinds.
pub fn kinds() -> Vec<Box<dyn StepKind>> {
    Vec::new()
}
