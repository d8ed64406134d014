//! Integration tests of step-packer against the real packer (1.6.6 from
//! Debian). Each test works in its own temp copy of
//! `tests/fixtures/templates`; without packer they skip loudly, or fail when
//! `STEPWISE_REQUIRE_TOOLS=1`.

mod build;
mod description;
mod support;
mod tool;
mod validate;
