//! The tool crates' step kinds, gathered for the standard registry.

use step_core::StepKind;

/// Every tool crate's kinds.
pub fn kinds() -> Vec<Box<dyn StepKind>> {
    let mut kinds = Vec::new();
    kinds.extend(step_packer::kinds());
    kinds.extend(step_terraform::kinds());
    kinds.extend(step_ansible::kinds());
    kinds.extend(step_serverspec::kinds());
    kinds.extend(step_dockerbench::kinds());
    kinds.extend(step_slack::kinds());
    kinds
}
