//! Where the ansible tools come from, so a missing one says how to get it.

use step_core::ToolSpec;

/// How to install ansible-core (`ansible-playbook`).
pub const ANSIBLE_PLAYBOOK_HINT: &str = "install it with scripts/install-tools.sh \
    (PyPI package ansible-core, installed into the venv /opt/stepwise/venv and linked into /usr/local/bin)";

/// How to install ansible-lint.
pub const ANSIBLE_LINT_HINT: &str = "install it with scripts/install-tools.sh \
    (PyPI package ansible-lint, installed into the venv /opt/stepwise/venv and linked into /usr/local/bin)";

/// The `ansible-playbook` tool.
pub fn ansible_playbook() -> ToolSpec {
    ToolSpec::new("ansible-playbook", ANSIBLE_PLAYBOOK_HINT)
}

/// The `ansible-lint` tool.
pub fn ansible_lint() -> ToolSpec {
    ToolSpec::new("ansible-lint", ANSIBLE_LINT_HINT)
}
