//! # runner
//!
//! Runs stepwise pipelines: the pipeline model, the YAML loader (a superset
//! of wercker.yml), the registry of step kinds, the executor (groups,
//! parallel targets, `finally`, teardowns, after-steps, timeouts, retries,
//! cancellation), the reports and the `runner` command line.
//!
//! The command line (`cli`, `help`, `report_setup`, `stepadd`, the spinner
//! line, and the clap and indicatif crates) sits behind the default feature
//! `cli`; embedders that only run pipelines can build without it
//! (`default-features = false`).
//!
//! ```
//! let file = runner::load::load_str(
//!     std::path::Path::new("stepwise.yml"),
//!     "build:\n  steps:\n    - script:\n        code: echo hi\n",
//!     &runner::registry::Registry::builtin(),
//! ).unwrap();
//! assert_eq!(file.pipelines["build"].steps.len(), 1);
//! ```

pub mod builder;
pub mod builtin;
pub mod checked;
#[cfg(feature = "cli")]
pub mod cli;
pub mod diag;
pub mod exec;
pub mod expand;
#[cfg(feature = "cli")]
pub mod help;
pub mod legacy;
pub mod load;
pub mod model;
pub mod plan;
pub mod reap;
pub mod registry;
pub mod report;
#[cfg(feature = "cli")]
pub mod report_setup;
pub mod signals;
pub mod state;
#[cfg(feature = "cli")]
pub mod stepadd;
pub mod tools;
pub mod vars;
pub mod when;
pub mod yaml;
