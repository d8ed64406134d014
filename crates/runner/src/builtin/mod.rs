//! Built-in step kinds: `script` (wercker's script step), and the seed's
//! `install-packages` and `pip-install`.

pub mod packages;
pub mod script;

use step_core::StepKind;

/// The built-in kinds.
pub fn kinds() -> Vec<Box<dyn StepKind>> {
    vec![
        script::kind(),
        packages::install_packages_kind(),
        packages::pip_install_kind(),
    ]
}
