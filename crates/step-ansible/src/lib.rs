//! # step-ansible
//!
//! Ansible steps for stepwise:
//!
//! * [`ansible-lint`](lint::AnsibleLint) runs ansible-lint offline with
//!   `-f json`, turns its Code Climate JSON into structured findings (rule,
//!   severity, file:line:column, message, documentation URL) and passes or
//!   fails by a [threshold](lint_report::LintThreshold) — `max_findings`,
//!   `fail_on` severity, `exclude_rules`.
//! * `capgemini/ansible-lint` is the seed's wercker step with its own two
//!   properties (`playbook`, `options`) and its verdict (ansible-lint's exit
//!   code), now with structured findings.
//! * [`ansible-playbook`](playbook::AnsiblePlaybook) checks syntax, runs a
//!   playbook with its output streaming live, turns the PLAY RECAP into
//!   outputs per host and, with `idempotence: true`, runs it again and fails
//!   naming every task that changed a second time.
//!
//! Why it is built this way: ansible prints for people, in color. The step
//! reads machine-readable forms only — ansible-lint's JSON, and for
//! playbooks a tiny [callback plugin](callback) shipped in this crate that
//! writes each task result and the recap as JSON lines next to the normal
//! output ([`events`]). The one exception is a playbook that does not even
//! parse: no callback sees it, so its `[ERROR]`/`Origin:` lines are read
//! ([`diagnostics`]). Flags from `options` strings are [split](shell_words)
//! with shell quoting rules but never run by a shell, and extra variables
//! travel as a JSON file.
//!
//! ```
//! use step_ansible::playbook::{AnsiblePlaybook, AnsiblePlaybookConfig};
//!
//! // The Rust API: the same config struct the YAML loader fills.
//! let step = AnsiblePlaybook::new(AnsiblePlaybookConfig {
//!     playbook: "site.yml".into(),
//!     extra_vars_from_env: Some("APOLLO".into()),
//!     idempotence: true,
//!     ..Default::default()
//! })
//! .unwrap();
//! let mut env = step_core::Env::new();
//! env.set("APOLLO_serverspec_run_tests", "true");
//! let (vars, _) = step.extra_vars(&env);
//! assert_eq!(vars["serverspec_run_tests"], "true");
//!
//! // What `runner explain` shows.
//! let kinds = step_ansible::kinds();
//! let names: Vec<String> = kinds.iter().map(|k| k.description().kind).collect();
//! assert_eq!(names, ["ansible-lint", "capgemini/ansible-lint", "ansible-playbook"]);
//! assert!(kinds.iter().all(|k| !k.description().example.is_empty()));
//! ```

pub mod callback;
pub mod diagnostics;
pub mod events;
pub mod lint;
pub mod lint_report;
pub mod playbook;
pub mod shell_words;
pub mod tools;

pub use lint::{AnsibleLint, AnsibleLintConfig, CapgeminiAnsibleLintConfig};
pub use playbook::{AnsiblePlaybook, AnsiblePlaybookConfig};

use step_core::StepKind;

/// The README's Rust example, compiled as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The step kinds this crate provides, for the runner's registry:
/// `ansible-lint`, `capgemini/ansible-lint` and `ansible-playbook`.
pub fn kinds() -> Vec<Box<dyn StepKind>> {
    vec![lint::kind(), lint::capgemini_kind(), playbook::kind()]
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};
    use step_core::PropertyType;

    use super::*;

    /// A value of the documented type, to feed the config.
    fn sample(name: &str, ty: &PropertyType) -> Value {
        match (name, ty) {
            ("profile", _) => json!("production"),
            ("fail_on", _) => json!("low"),
            ("python_interpreter", _) => json!("auto"),
            ("extra_vars_from_env", _) => json!("APOLLO"),
            (_, PropertyType::Bool) => json!(false),
            (_, PropertyType::Integer) => json!(1),
            (_, PropertyType::Map) => json!({"k": "v"}),
            (_, PropertyType::List | PropertyType::StringOrList) => json!(["x"]),
            _ => json!("site.yml"),
        }
    }

    #[test]
    fn every_documented_property_is_accepted_and_every_field_documented() {
        for kind in kinds() {
            let d = kind.description();
            let props: Map<String, Value> = d
                .properties
                .iter()
                .map(|p| (p.name.clone(), sample(&p.name, &p.ty)))
                .collect();
            if let Err(e) = kind.build(Value::Object(props)) {
                panic!("{}: documented properties rejected: {e}", d.kind);
            }
            assert!(
                !d.summary.is_empty() && !d.doc.is_empty() && !d.outputs.is_empty(),
                "{}: summary, doc and outputs must be described",
                d.kind
            );
        }
        let fields = |v: Value| -> Vec<String> {
            v.as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        let documented = |kind: &str| -> Vec<String> {
            kinds()
                .iter()
                .map(|k| k.description())
                .find(|d| d.kind == kind)
                .map(|d| d.properties.into_iter().map(|p| p.name).collect())
                .unwrap_or_default()
        };
        let checks = [
            (
                "ansible-lint",
                serde_json::to_value(AnsibleLintConfig::default()),
            ),
            (
                "ansible-playbook",
                serde_json::to_value(AnsiblePlaybookConfig::default()),
            ),
            (
                "capgemini/ansible-lint",
                serde_json::to_value(CapgeminiAnsibleLintConfig {
                    playbook: String::new(),
                    options: String::new(),
                }),
            ),
        ];
        for (kind, config) in checks {
            let documented = documented(kind);
            for field in fields(config.unwrap()) {
                assert!(
                    documented.contains(&field),
                    "{kind}: `{field}` is not documented"
                );
            }
        }
    }
}
