//! # step-dockerbench
//!
//! [docker-bench-security](https://github.com/docker/docker-bench-security)
//! (the CIS Docker Benchmark script) as a CI gate: the `dockerbench` step.
//!
//! The seed pipeline gated deploys with `grep WARN | wc -l` over the bench's
//! output: it ran the bench twice, and counted the indented detail lines and
//! the "not root" warning as failures. This crate runs the bench **once**,
//! reads its **JSON log** (which the bench writes without escaping its
//! values, so it is [repaired](repair) when needed) or, failing that, its
//! **text log** (current and 2015 layouts), and counts **checks**, not lines.
//! The [gate] then applies `max_warnings` (fail when greater), `min_score`,
//! `fail_on` ids and `ignore`d ids.
//!
//! Layout: [`report`] is the format-independent result; [`json_log`] and
//! [`text_log`] parse the two logs; [`logs`] chooses between them; [`gate`]
//! judges; [`step`] runs the bench through a
//! [`Backend`](step_core::backend::Backend) (local, ssh, docker) or reads an
//! existing log; [`config`] and [`describe`] are the step's properties and
//! their documentation.
//!
//! Using it without the runner — gate a log the bench wrote:
//!
//! ```
//! use step_dockerbench::{DockerBench, DockerBenchConfig, text_log, gate::WarnGate};
//!
//! // Parse a text log directly…
//! let log = "\
//! Initializing 2024-05-02T10:00:00+00:00
//!
//! [INFO] 2 - Docker daemon configuration
//! [WARN] 2.2 - Ensure network traffic is restricted between containers on the default bridge (Scored)
//! [PASS] 2.3 - Ensure the logging level is set to 'info' (Scored)
//! [INFO] 5 - Container Runtime
//! [WARN] 5.4 - Ensure that privileged containers are not used (Automated)
//! [WARN]      * Container running in Privileged mode: web
//! ";
//! let report = text_log::parse_text_log(log);
//! assert_eq!(report.counts().warn, 2); // the detail line is not a check
//!
//! // …and judge it: two WARNs are within max_warnings 2, but 5.4 is fatal.
//! let gate = WarnGate { max_warnings: Some(2), fail_on: vec!["5.4".into()], ..WarnGate::default() };
//! let verdict = gate.evaluate(&report, "docker-bench-security.log");
//! assert!(!verdict.passed());
//! assert_eq!(verdict.findings.len(), 2);
//!
//! // The step itself, built the way the runner builds it.
//! let config = DockerBenchConfig { max_warnings: Some(52), ..DockerBenchConfig::log("log/docker-bench-security.log") };
//! let step = DockerBench::new(config).unwrap();
//! assert_eq!(step.config().max_warnings, Some(52));
//! assert_eq!(step_dockerbench::kinds()[0].description().kind, "dockerbench");
//! ```

pub mod config;
pub mod describe;
pub mod gate;
pub mod json_log;
pub mod logs;
pub mod repair;
pub mod report;
pub mod step;
pub mod text_log;

pub use config::DockerBenchConfig;
pub use gate::{GateVerdict, IgnoredCheck, WarnGate};
pub use report::{BenchCheck, BenchReport, BenchResult, LogFormat};
pub use step::DockerBench;

use step_core::StepKind;
use step_core::step::FnKind;

/// The step kinds this crate provides, for the runner's registry: `dockerbench`.
pub fn kinds() -> Vec<Box<dyn StepKind>> {
    vec![Box::new(FnKind::named(
        "dockerbench",
        &[],
        describe::describe,
        step::build,
    ))]
}
