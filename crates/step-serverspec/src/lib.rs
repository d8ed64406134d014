//! # step-serverspec
//!
//! Host checks for stepwise: does the machine we just built look the way
//! it should? Two step kinds:
//!
//! * `host-checks` — a native spec format in YAML (ports, files,
//!   processes, services, users, groups, packages, HTTP endpoints, docker
//!   containers, TCP addresses, commands), rendered as a minijinja template
//!   with the pipeline's values, checked on this machine, over ssh or inside
//!   a container. See the crate README for the format.
//! * `serverspec` — run an existing serverspec suite with rspec and report
//!   each example.
//!
//! Why a native format next to serverspec: serverspec (and testinfra) run
//! one shell command per check, which costs a process — or a network round
//! trip — per assertion. Here local checks read `/proc`, `/etc` and
//! `lstat` in-process and share each host-wide table (sockets, processes,
//! accounts, packages) across all checks of a round; remote checks are
//! batched into one shell script per host over one ssh ControlMaster
//! connection, parsed by the same parsers as local facts. So one spec means
//! the same on every backend, and a thousand checks cost milliseconds.
//!
//! Each assertion is one [`step_core::CheckResult`] with a readable
//! description ("Port 8080 should be listening") and, when it fails, the
//! expected and actual values. Checks run concurrently (bounded) and can be
//! patient: `retries`, `timeout` and `wait_for` for services that converge.
//!
//! ```
//! use step_serverspec::{HostChecks, HostChecksConfig};
//! use step_core::Step;
//!
//! // A spec that checks this machine: a file that exists and a user.
//! let dir = tempfile::tempdir().unwrap();
//! let spec = dir.path().join("base.yml");
//! std::fs::write(&spec, "- file: '{{ path }}'\n  type: directory\n- user: root\n  uid: 0\n").unwrap();
//!
//! let mut config = HostChecksConfig::new(&spec);
//! config.vars.insert("path".into(), dir.path().display().to_string().into());
//! let step = HostChecks::new(config).unwrap();
//!
//! let cx = step_core::StepContext::for_dir(dir.path());
//! let outcome = tokio::runtime::Runtime::new().unwrap().block_on(step.run(&cx)).unwrap();
//! assert!(!outcome.is_failed(), "{:?}", outcome.message);
//! assert_eq!(outcome.checks[0].name, format!("File {} should be a directory", dir.path().display()));
//! assert_eq!(outcome.outputs["total"], 2);
//!
//! // The kinds the runner registers describe themselves.
//! let kinds = step_serverspec::kinds();
//! assert_eq!(kinds[0].description().kind, "host-checks");
//! assert_eq!(kinds[1].description().kind, "serverspec");
//! ```

pub mod check;
pub mod docker_api;
pub mod engine;
pub mod facts;
pub mod host_checks;
pub mod jsonpath;
// How resources are observed (locally, over ssh or in a container) is
// this crate's business: the steps above are its interface.
mod local;
pub mod matcher;
pub mod netdiag;
mod observe;
mod remote;
pub mod ruby;
pub mod serverspec;
pub mod serverspec_native;
pub mod spec;

use step_core::StepKind;
use step_core::step::FnKind;

pub use check::{Assertion, Check, Property, Resource};
pub use host_checks::{BackendKind, HostChecks, HostChecksConfig};
pub use matcher::Matcher;
pub use serverspec::{Serverspec, ServerspecConfig};
pub use spec::{Defaults, SpecError, parse_spec};

/// The step kinds this crate provides, for the runner's registry:
/// `host-checks` and `serverspec`.
pub fn kinds() -> Vec<Box<dyn StepKind>> {
    vec![
        Box::new(FnKind::named(
            "host-checks",
            &[],
            host_checks::describe,
            host_checks::build,
        )),
        Box::new(FnKind::named(
            "serverspec",
            &[],
            serverspec::describe,
            serverspec::build,
        )),
    ]
}
