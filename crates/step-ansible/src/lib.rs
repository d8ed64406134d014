//! # step-ansible
//!
//! Ansible steps: `ansible-lint` (structured findings, thresholds) and `ansible-playbook` (syntax check, runs, idempotence). Filled in by its own issue.
//!
//! ```
//! let kinds = step_ansible::kinds();
//! assert!(kinds.iter().all(|k| !k.description().kind.is_empty()));
//! ```

use step_core::StepKind;

/// The step kinds this crate provides, for the runner's registry.
pub fn kinds() -> Vec<Box<dyn StepKind>> {
    Vec::new()
}
