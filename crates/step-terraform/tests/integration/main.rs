//! Integration tests of step-terraform against the real terraform binary
//! (offline: only `terraform_data` + `local-exec`) and a local HTTP mirror.
//! Each test works in its own temporary directory, so every run has its own
//! `TF_DATA_DIR` and state.

// In a test a panic *is* the failure report.
#![allow(clippy::unwrap_used)]

mod apply;
mod argv;
mod diagnostics;
#[cfg(feature = "install")]
mod install;
mod lifecycle;
mod parallel;
mod recovery;
mod support;
