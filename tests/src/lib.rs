//! # stepwise-tests
//!
//! Helpers shared by the end-to-end tests in `tests/tests/`: the path of the
//! `runner` binary, temporary workspaces, and the `STEPWISE_REQUIRE_TOOLS`
//! rule (a test that needs a real tool fails in CI when the tool is missing,
//! and elsewhere skips loudly).
//!
//! ```
//! assert!(!stepwise_tests::require_tools() || std::env::var("STEPWISE_REQUIRE_TOOLS").is_ok());
//! ```

/// Whether tests must fail (not skip) when a real tool is missing.
pub fn require_tools() -> bool {
    std::env::var("STEPWISE_REQUIRE_TOOLS").is_ok_and(|v| v == "1" || v == "true")
}
