//! Integration tests of step-ansible against the real ansible-lint and
//! ansible-playbook (skipped loudly when they are missing, failing when
//! `STEPWISE_REQUIRE_TOOLS=1`). Each test works in its own temp directory.

mod lint;
mod playbook;
mod support;
