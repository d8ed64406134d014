//! The `ansible-lint` step (and the seed's `capgemini/ansible-lint`): runs
//! ansible-lint with `-f json`, turns its Code Climate JSON into findings
//! and passes or fails by a threshold.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use step_core::config::OneOrMany;
use step_core::describe::{PropertyDoc, PropertyType, StepDescription};
use step_core::paths::{PathKind, require_path};
use step_core::process::{Cmd, LineFilter, ProcessOutput};
use step_core::{ConfigError, Finding, Outcome, Severity, Step, StepContext, StepError, Stream};

use crate::lint_report::{
    LintThreshold, count_by_rule, count_by_severity, parse_code_climate,
    severity_from_code_climate, summarize_by_rule,
};
use crate::{shell_words, tools};
use step_core::ansi::strip_ansi;

/// The most of ansible-lint's stdout/stderr kept for parsing (its JSON is
/// about 500 bytes per finding).
const CAPTURE_LIMIT: usize = 32 * 1024 * 1024;

/// ansible-lint's profiles (`--profile`).
pub const PROFILES: &[&str] = &["min", "basic", "moderate", "safety", "shared", "production"];

/// Configuration of the `ansible-lint` step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnsibleLintConfig {
    /// Playbooks, roles or directories to lint, relative to the working
    /// directory (`playbook` is accepted too). Empty: ansible-lint lints the
    /// whole project it finds in the working directory.
    #[serde(default, alias = "playbook")]
    pub playbooks: OneOrMany<String>,
    /// Extra ansible-lint flags as one string, split with shell quoting
    /// rules (never run through a shell), e.g. `-x 'name, fqcn' --strict`.
    #[serde(default)]
    pub options: String,
    /// An ansible-lint profile: min, basic, moderate, safety, shared or production.
    #[serde(default)]
    pub profile: Option<String>,
    /// How many counted findings are allowed (default 0).
    #[serde(default)]
    pub max_findings: Option<u64>,
    /// The lowest severity that counts: info, low, medium, high, error (or
    /// ansible-lint's minor, major, critical, blocker). Default medium
    /// (= major: what ansible-lint itself reports as failures).
    #[serde(default)]
    pub fail_on: Option<String>,
    /// Rules that never count (`name` or `name[play]`); their findings are
    /// still listed, marked ignored.
    #[serde(default)]
    pub exclude_rules: OneOrMany<String>,
    /// Run ansible-lint with `--offline` (no collection or schema downloads,
    /// no `.ansible/` written into the project). Default true.
    #[serde(default = "default_true")]
    pub offline: bool,
}

fn default_true() -> bool {
    true
}

impl Default for AnsibleLintConfig {
    fn default() -> Self {
        AnsibleLintConfig {
            playbooks: OneOrMany::default(),
            options: String::new(),
            profile: None,
            max_findings: None,
            fail_on: None,
            exclude_rules: OneOrMany::default(),
            offline: true,
        }
    }
}

/// Configuration of the seed's `capgemini/ansible-lint` step: exactly its
/// two properties.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapgeminiAnsibleLintConfig {
    /// The playbook to lint, relative to the working directory.
    pub playbook: String,
    /// Extra ansible-lint flags as one string (default empty).
    #[serde(default)]
    pub options: String,
}

/// How the step decides pass or fail.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// By our threshold over the parsed findings.
    Threshold(LintThreshold),
    /// By ansible-lint's exit code, as the seed's step did (so flags such
    /// as `--strict` in `options` keep their meaning).
    ExitCode,
}

/// The `ansible-lint` step.
#[derive(Clone, Debug)]
pub struct AnsibleLint {
    playbooks: Vec<String>,
    /// The property that named the playbooks, for errors.
    playbooks_property: &'static str,
    options: Vec<String>,
    profile: Option<String>,
    offline: bool,
    verdict: Verdict,
}

impl AnsibleLint {
    /// A step from its configuration; checks the values that can be checked
    /// before running.
    pub fn new(config: AnsibleLintConfig) -> Result<Self, ConfigError> {
        let options = split_options(&config.options)?;
        if let Some(profile) = &config.profile
            && !PROFILES.contains(&profile.as_str())
        {
            return Err(ConfigError::property(
                "profile",
                format!(
                    "`{profile}` is not an ansible-lint profile; expected one of {}",
                    PROFILES.join(", ")
                ),
            ));
        }
        let fail_on = match &config.fail_on {
            None => Severity::Medium,
            Some(name) => severity_from_code_climate(name).ok_or_else(|| {
                ConfigError::property(
                    "fail_on",
                    format!(
                        "`{name}` is not a severity; expected one of info, low, medium, high, error \
                         (or ansible-lint's minor, major, critical, blocker)"
                    ),
                )
            })?,
        };
        Ok(AnsibleLint {
            playbooks: config.playbooks.into_vec(),
            playbooks_property: "playbooks",
            options,
            profile: config.profile,
            offline: config.offline,
            verdict: Verdict::Threshold(LintThreshold {
                fail_on,
                max_findings: config.max_findings.unwrap_or(0),
                exclude_rules: config.exclude_rules.into_vec(),
            }),
        })
    }

    /// The seed's step: lints one playbook with extra flags, offline, and
    /// fails when ansible-lint exits non-zero (as it did in wercker).
    pub fn capgemini(config: CapgeminiAnsibleLintConfig) -> Result<Self, ConfigError> {
        if config.playbook.trim().is_empty() {
            return Err(ConfigError::property(
                "playbook",
                "must name the playbook to lint",
            ));
        }
        Ok(AnsibleLint {
            playbooks: vec![config.playbook],
            playbooks_property: "playbook",
            options: split_options(&config.options)?,
            profile: None,
            offline: true,
            verdict: Verdict::ExitCode,
        })
    }

    /// The arguments passed to ansible-lint (after the program name).
    /// The user's options come first so ours (`-f json`) win.
    pub fn args(&self) -> Vec<String> {
        let mut args = self.options.clone();
        args.extend(["--nocolor".into(), "-f".into(), "json".into()]);
        args.push(
            if self.offline {
                "--offline"
            } else {
                "--no-offline"
            }
            .into(),
        );
        if let Some(profile) = &self.profile {
            args.extend(["--profile".into(), profile.clone()]);
        }
        args.extend(self.playbooks.iter().cloned());
        args
    }

    fn check_paths(&self, cx: &StepContext) -> Result<(), ConfigError> {
        for playbook in &self.playbooks {
            let path = cx.resolve(playbook);
            require_path(self.playbooks_property, playbook, &path, PathKind::Any)?;
        }
        Ok(())
    }

    fn judge(&self, mut findings: Vec<Finding>, output: &ProcessOutput) -> Outcome {
        let what = if self.playbooks.is_empty() {
            "the project".to_string()
        } else {
            self.playbooks.join(", ")
        };
        let (failed, message, counted, excluded) = match &self.verdict {
            Verdict::Threshold(threshold) => {
                let j = threshold.judge(&mut findings);
                let excluded_note = if j.excluded > 0 {
                    format!(" ({} excluded by exclude_rules)", j.excluded)
                } else {
                    String::new()
                };
                let message = if j.failed {
                    format!(
                        "ansible-lint: {} finding(s) at severity {} or above in {what}, more than the {} allowed: {}{excluded_note}",
                        j.counted,
                        threshold.fail_on,
                        threshold.max_findings,
                        summarize_by_rule(&j.counted_by_rule)
                    )
                } else if j.total == 0 {
                    format!("ansible-lint: no findings in {what}")
                } else {
                    format!(
                        "ansible-lint: {} finding(s) at severity {} or above in {what} (allowed: {}); {} in all: {}{excluded_note}",
                        j.counted,
                        threshold.fail_on,
                        threshold.max_findings,
                        j.total,
                        summarize_by_rule(&count_by_rule(&findings))
                    )
                };
                (j.failed, message, j.counted, j.excluded)
            }
            Verdict::ExitCode => {
                let failed = !output.success();
                let by_rule = summarize_by_rule(&count_by_rule(&findings));
                let message = match (failed, findings.len()) {
                    (true, n) => format!(
                        "ansible-lint reported violations in {what} ({}): {n} finding(s): {by_rule}",
                        output.describe_status()
                    ),
                    (false, 0) => format!("ansible-lint: no findings in {what}"),
                    (false, n) => {
                        format!("ansible-lint passed {what} with {n} warning(s): {by_rule}")
                    }
                };
                (failed, message, findings.len(), 0)
            }
        };
        let mut outcome = if failed {
            Outcome::failed(message)
        } else {
            Outcome::passed().with_message(message)
        };
        outcome = outcome
            .with_output("findings", findings.len())
            .with_output("counted", counted)
            .with_output("excluded", excluded)
            .with_output("by_rule", to_json_map(count_by_rule(&findings)))
            .with_output("by_severity", to_json_map(count_by_severity(&findings)))
            .with_findings(findings);
        outcome
    }
}

fn to_json_map(map: std::collections::BTreeMap<String, usize>) -> Value {
    Value::Object(
        map.into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect::<Map<_, _>>(),
    )
}

fn split_options(options: &str) -> Result<Vec<String>, ConfigError> {
    shell_words::split(options).map_err(|e| {
        ConfigError::property("options", format!("cannot be split into arguments: {e}"))
    })
}

/// The last few lines a tool printed on stderr, for error messages.
pub(crate) fn stderr_tail(stderr: &str, lines: usize) -> String {
    let kept: Vec<String> = stderr
        .lines()
        .map(|l| strip_ansi(l).into_owned())
        .filter(|l| !l.trim().is_empty())
        .collect();
    let start = kept.len().saturating_sub(lines);
    kept[start..].join(" | ")
}

/// Removes `<workdir>/.ansible` after the run when the run created it
/// (ansible-lint without `--offline` caches collections there).
struct CacheDirGuard {
    path: PathBuf,
    existed: bool,
}

impl CacheDirGuard {
    fn new(workdir: &Path) -> Self {
        let path = workdir.join(".ansible");
        let existed = path.exists();
        CacheDirGuard { path, existed }
    }

    fn clean(self, cx: &StepContext) {
        if !self.existed
            && self.path.is_dir()
            && let Err(e) = std::fs::remove_dir_all(&self.path)
        {
            cx.warn(format!(
                "could not remove the `{}` ansible-lint created: {e}",
                self.path.display()
            ));
        }
    }
}

#[async_trait]
impl Step for AnsibleLint {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        // A wrong path is a configuration error whether or not the tool is installed.
        self.check_paths(cx)?;
        let tool = tools::ansible_lint().find(cx.env(), cx.workdir())?;
        let guard = CacheDirGuard::new(cx.workdir());
        // stdout is the JSON array (one long line): parse it, don't stream it.
        let hide_stdout: LineFilter = Arc::new(|stream, line| match stream {
            Stream::Stdout => None,
            Stream::Stderr => Some(line.to_string()),
        });
        let output = Cmd::new(&tool.path)
            .args(self.args())
            .capture(CAPTURE_LIMIT)
            .filter(hide_stdout)
            .run(cx)
            .await;
        guard.clean(cx);
        let output = output?;

        let code = output.code();
        // 0: clean, 2: violations, 8: violations fixed by --fix. Anything
        // else (3 bad config, 4 lock timeout, 5 no files, a crash) means
        // ansible-lint could not judge the files.
        if !matches!(code, Some(0 | 2 | 8)) {
            return Err(StepError::tool_failed(
                "ansible-lint",
                format!(
                    "ansible-lint could not lint ({}{}): {}",
                    output.describe_status(),
                    exit_meaning(code),
                    stderr_tail(&output.stderr, 6)
                ),
            ));
        }
        if output.truncated {
            return Err(StepError::tool_output(
                "ansible-lint",
                format!(
                    "ansible-lint printed more than {} MiB; its JSON could not be read whole",
                    CAPTURE_LIMIT / (1024 * 1024)
                ),
            ));
        }
        let findings = if output.stdout.trim().is_empty() {
            if code == Some(0) {
                Vec::new()
            } else {
                // argparse exits 2 on a bad flag, with no JSON at all.
                return Err(StepError::tool_failed(
                    "ansible-lint",
                    format!(
                        "ansible-lint failed ({}) without a report: {}",
                        output.describe_status(),
                        stderr_tail(&output.stderr, 6)
                    ),
                ));
            }
        } else {
            parse_code_climate(&output.stdout)
                .map_err(|e| StepError::tool_output("ansible-lint", e.to_string()))?
        };
        Ok(self.judge(findings, &output))
    }

    fn commands(&self) -> Vec<String> {
        vec![step_core::command_line("ansible-lint", &self.args())]
    }
}

fn exit_meaning(code: Option<i32>) -> &'static str {
    match code {
        Some(3) => ": invalid configuration",
        Some(4) => ": lock timeout",
        Some(5) => ": no files matched",
        _ => "",
    }
}

fn build(properties: Value) -> Result<Box<dyn Step>, ConfigError> {
    let config: AnsibleLintConfig = step_core::parse_config(properties)?;
    Ok(Box::new(AnsibleLint::new(config)?))
}

fn build_capgemini(properties: Value) -> Result<Box<dyn Step>, ConfigError> {
    let config: CapgeminiAnsibleLintConfig = step_core::parse_config(properties)?;
    Ok(Box::new(AnsibleLint::capgemini(config)?))
}

/// The `ansible-lint` kind.
pub fn kind() -> Box<dyn step_core::StepKind> {
    Box::new(step_core::step::FnKind::named(
        "ansible-lint",
        &[],
        describe,
        build,
    ))
}

/// The `capgemini/ansible-lint` kind.
pub fn capgemini_kind() -> Box<dyn step_core::StepKind> {
    Box::new(step_core::step::FnKind::named(
        "capgemini/ansible-lint",
        &[],
        describe_capgemini,
        build_capgemini,
    ))
}

fn outputs(d: StepDescription) -> StepDescription {
    d.output("findings", "Number of findings ansible-lint reported.")
        .output(
            "counted",
            "Number of findings that count against the threshold.",
        )
        .output(
            "excluded",
            "Number of findings excluded by `exclude_rules`.",
        )
        .output(
            "by_rule",
            "Findings per rule (not excluded), e.g. {\"fqcn[action-core]\": 2}.",
        )
        .output(
            "by_severity",
            "Findings per severity (not excluded), e.g. {\"medium\": 7, \"low\": 1}.",
        )
}

/// The description of `ansible-lint` (what `runner explain ansible-lint` shows).
pub fn describe() -> StepDescription {
    outputs(
        StepDescription::new(
            "ansible-lint",
            "Lint Ansible playbooks and roles; findings become structured, a threshold decides.",
        )
        .reads(&["playbooks", "playbook"])
        .doc(
            "Runs `ansible-lint --nocolor -f json --offline` on the playbooks (or the whole project) \
             and reads its Code Climate JSON: every violation becomes a finding with its rule, \
             severity (major → medium, minor → low; load and syntax failures → error), \
             file:line:column, message and documentation URL. A finding counts when its rule is not \
             in `exclude_rules` and its severity is at least `fail_on`; the step fails when more \
             than `max_findings` count, and its message summarizes the counted findings by rule. \
             The defaults fail on what ansible-lint calls failures and let its warnings pass. \
             With `offline: true` ansible-lint downloads nothing and caches in ANSIBLE_HOME \
             (~/.ansible) instead of the project; a `.ansible/` directory the run creates in the \
             working directory is removed afterwards. ansible-lint exit codes other than 0 and 2 \
             (bad configuration, no files) make the step error.",
        )
        .property(PropertyDoc::optional(
            "playbooks",
            PropertyType::StringOrList,
            "Playbooks, roles or directories to lint, relative to the working directory \
             (`playbook` works too). Default: the whole project.",
        ))
        .property(PropertyDoc::with_default(
            "options",
            PropertyType::String,
            "\"\"",
            "Extra ansible-lint flags as one string, split with shell quoting rules (never run by a shell).",
        ))
        .property(PropertyDoc::optional(
            "profile",
            PropertyType::String,
            "ansible-lint profile: min, basic, moderate, safety, shared or production.",
        ))
        .property(PropertyDoc::with_default(
            "max_findings",
            PropertyType::Integer,
            "0",
            "How many counted findings are allowed before the step fails.",
        ))
        .property(PropertyDoc::with_default(
            "fail_on",
            PropertyType::String,
            "medium",
            "Lowest severity that counts: info, low, medium, high, error (or ansible-lint's minor, \
             major, critical, blocker). `low` counts ansible-lint's warnings too.",
        ))
        .property(PropertyDoc::optional(
            "exclude_rules",
            PropertyType::StringOrList,
            "Rules that never count (`name` matches `name[play]` too); their findings are listed as ignored.",
        ))
        .property(PropertyDoc::with_default(
            "offline",
            PropertyType::Bool,
            "true",
            "Pass --offline (no downloads, no project cache dir); false passes --no-offline.",
        ))
        .example(
            "- ansible-lint:\n    id: lint\n    playbooks: [site.yml, deploy.yml]\n    \
             profile: production\n    fail_on: low\n    max_findings: 5\n    exclude_rules: [name]\n",
        ),
    )
}

/// The description of `capgemini/ansible-lint`, the seed's wercker step.
pub fn describe_capgemini() -> StepDescription {
    outputs(
        StepDescription::new(
            "capgemini/ansible-lint",
            "The seed's wercker step: ansible-lint one playbook, fail when ansible-lint fails.",
        )
        .reads(&["playbook"])
        .doc(
            "Accepts the wercker step's properties unchanged (`playbook`, `options`) and runs \
             `ansible-lint <options> --nocolor -f json --offline <playbook>`. Like the original, it \
             passes or fails by ansible-lint's exit code (so `--strict` or `-w` in `options` keep \
             their meaning); unlike it, the violations become structured findings. For thresholds \
             use the `ansible-lint` kind.",
        )
        .property(PropertyDoc::required(
            "playbook",
            PropertyType::Path,
            "The playbook to lint, relative to the working directory.",
        ))
        .property(PropertyDoc::with_default(
            "options",
            PropertyType::String,
            "\"\"",
            "Extra ansible-lint flags as one string, split with shell quoting rules (never run by a shell).",
        ))
        .example("- capgemini/ansible-lint:\n    playbook: site.yml\n    options: \"-x name\"\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(props: Value) -> Result<AnsibleLint, ConfigError> {
        AnsibleLint::new(step_core::parse_config(props)?)
    }

    #[test]
    fn arguments_put_user_options_first_so_json_output_wins() {
        let step = lint(serde_json::json!({
            "playbook": "site.yml",
            "options": "-f pep8 -x 'name, fqcn'",
            "profile": "production"
        }))
        .unwrap();
        assert_eq!(
            step.args(),
            [
                "-f",
                "pep8",
                "-x",
                "name, fqcn",
                "--nocolor",
                "-f",
                "json",
                "--offline",
                "--profile",
                "production",
                "site.yml"
            ]
        );
        let online =
            lint(serde_json::json!({"playbooks": ["a.yml", "b.yml"], "offline": false})).unwrap();
        assert_eq!(
            online.args(),
            ["--nocolor", "-f", "json", "--no-offline", "a.yml", "b.yml"]
        );
    }

    #[test]
    fn threshold_properties_are_read() {
        let step = lint(serde_json::json!({
            "fail_on": "minor", "max_findings": 3, "exclude_rules": "name"
        }))
        .unwrap();
        assert_eq!(
            step.verdict,
            Verdict::Threshold(LintThreshold {
                fail_on: Severity::Low,
                max_findings: 3,
                exclude_rules: vec!["name".into()],
            })
        );
        let capgemini = AnsibleLint::capgemini(CapgeminiAnsibleLintConfig {
            playbook: "site.yml".into(),
            options: String::new(),
        })
        .unwrap();
        assert_eq!(capgemini.verdict, Verdict::ExitCode);
    }

    #[test]
    fn bad_values_name_their_property() {
        let prop = |props: Value| lint(props).unwrap_err().property;
        assert_eq!(
            prop(serde_json::json!({"profile": "strictest"})).as_deref(),
            Some("profile")
        );
        assert_eq!(
            prop(serde_json::json!({"fail_on": "catastrophic"})).as_deref(),
            Some("fail_on")
        );
        assert_eq!(
            prop(serde_json::json!({"options": "\"open"})).as_deref(),
            Some("options")
        );
        assert_eq!(
            prop(serde_json::json!({"max_findings": -1})).as_deref(),
            Some("max_findings")
        );
        // The seed alias has exactly the seed's properties.
        let err = step_core::parse_config::<CapgeminiAnsibleLintConfig>(serde_json::json!({
            "playbook": "site.yml", "fail_on": "low"
        }))
        .unwrap_err();
        assert_eq!(err.property.as_deref(), Some("fail_on"));
        let err = step_core::parse_config::<CapgeminiAnsibleLintConfig>(serde_json::json!({}))
            .unwrap_err();
        assert!(err.message.contains("playbook"), "{err}");
    }

    #[test]
    fn a_cache_dir_the_run_created_is_removed_and_an_existing_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cx = StepContext::for_dir(dir.path());
        let guard = CacheDirGuard::new(dir.path());
        std::fs::create_dir_all(dir.path().join(".ansible/roles")).unwrap();
        guard.clean(&cx);
        assert!(!dir.path().join(".ansible").exists());

        std::fs::create_dir_all(dir.path().join(".ansible/roles")).unwrap();
        let guard = CacheDirGuard::new(dir.path());
        guard.clean(&cx);
        assert!(dir.path().join(".ansible/roles").is_dir());
    }

    #[test]
    fn stderr_tail_keeps_the_last_non_empty_lines_without_colors() {
        let text = "one\n\n\u{1b}[31mtwo\u{1b}[0m\nthree\n";
        assert_eq!(stderr_tail(text, 2), "two | three");
        assert_eq!(stderr_tail("", 3), "");
    }
}
