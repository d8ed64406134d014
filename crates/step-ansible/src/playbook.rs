//! The `ansible-playbook` step: a syntax check, a converging run whose PLAY
//! RECAP becomes outputs, and an idempotence check that runs the playbook a
//! second time and fails naming every task that changed again.
//!
//! Results come from the `stepwise_events` callback plugin ([`crate::callback`]),
//! written to a temporary directory for each run, while ansible's normal
//! output streams live. Extra variables go to ansible as a JSON file
//! (`-e @vars.json`), never as a quoted string.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use step_core::config::OneOrMany;
use step_core::describe::{PropertyDoc, PropertyType, StepDescription};
use step_core::outcome::OutcomeStatus;
use step_core::paths::{PathKind, require_path};
use step_core::process::{Cmd, ProcessOutput};
use step_core::{
    CheckResult, ConfigError, Env, Finding, Location, Outcome, Severity, Status, Step, StepContext,
    StepError,
};

use crate::callback::{self, EVENTS_FILE_VAR};
use crate::diagnostics::{self, relative};
use crate::events::{self, PlaybookReport, TaskResult, describe_task, parse_events};
use crate::lint::stderr_tail;
use crate::{shell_words, tools};

/// Output kept from ansible-playbook for error messages (its results come
/// from the callback file, not from this).
const CAPTURE_LIMIT: usize = 1024 * 1024;

/// The interpreter setting that makes hosts with a local connection use the
/// Python that runs ansible-playbook (`ansible_playbook_python`, exactly
/// what ansible's implicit localhost uses) while every other host keeps
/// ansible's default discovery (`auto`). Interpreter discovery for a local
/// host can pick a Python that does not work (on this project's machine it
/// finds a pyenv shim of an uninstalled 3.13), so local connections need
/// this; remote hosts must not get a controller path.
pub const CONTROLLER_INTERPRETER: &str =
    "{{ ansible_playbook_python if (ansible_connection | default('')) == 'local' else 'auto' }}";

/// Configuration of the `ansible-playbook` step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnsiblePlaybookConfig {
    /// The playbook, relative to the working directory.
    pub playbook: String,
    /// Inventories: paths (relative to the working directory) or host lists
    /// with a comma (`localhost,`). Each becomes one `-i`.
    #[serde(default)]
    pub inventory: OneOrMany<String>,
    /// Extra variables (any JSON/YAML values), passed as a JSON file.
    #[serde(default)]
    pub extra_vars: Map<String, Value>,
    /// A prefix: every environment variable `PREFIX_x=v` becomes the extra
    /// variable `x` with the string value `v` (the `_` is added when the
    /// prefix lacks it). Values stay strings, as `-e x=v` made them for the
    /// seed: test them with `| bool`. `extra_vars` wins on a name clash.
    #[serde(default)]
    pub extra_vars_from_env: Option<String>,
    /// `--limit`: hosts or groups to run on.
    #[serde(default)]
    pub limit: Option<String>,
    /// `--tags`: only tasks with these tags.
    #[serde(default)]
    pub tags: OneOrMany<String>,
    /// `--skip-tags`: skip tasks with these tags.
    #[serde(default)]
    pub skip_tags: OneOrMany<String>,
    /// Only check the syntax (`--syntax-check`); nothing runs on hosts.
    #[serde(default)]
    pub syntax_check: bool,
    /// Dry run (`--check`).
    #[serde(default)]
    pub check: bool,
    /// `--become`: run tasks with privilege escalation.
    #[serde(default)]
    pub r#become: bool,
    /// Run the playbook a second time and fail if anything changed.
    #[serde(default)]
    pub idempotence: bool,
    /// The Python interpreter for hosts that do not set
    /// `ansible_python_interpreter` themselves: `controller` (default:
    /// local connections use the Python running ansible-playbook, other
    /// hosts are discovered), `auto`, `auto_silent`, or a path such as
    /// `/usr/bin/python3`. Unset, an `ANSIBLE_PYTHON_INTERPRETER` in the
    /// environment is kept, else `controller`.
    #[serde(default)]
    pub python_interpreter: Option<String>,
    /// Extra ansible-playbook flags as one string, split with shell quoting
    /// rules (never run through a shell), e.g. `-v --forks 10`.
    #[serde(default)]
    pub options: String,
}

/// The `ansible-playbook` step.
#[derive(Clone, Debug)]
pub struct AnsiblePlaybook {
    config: AnsiblePlaybookConfig,
    options: Vec<String>,
}

/// What one `ansible-playbook` invocation needs besides the program:
/// arguments and extra environment. Built by [`AnsiblePlaybook::invocation`];
/// public so embedders (and tests) can see exactly what would run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// Environment variables set on top of the context's.
    pub env: Vec<(String, String)>,
}

impl AnsiblePlaybook {
    /// A step from its configuration; checks what can be checked before running.
    pub fn new(config: AnsiblePlaybookConfig) -> Result<Self, ConfigError> {
        if config.playbook.trim().is_empty() {
            return Err(ConfigError::property("playbook", "must name a playbook"));
        }
        if config.syntax_check && (config.idempotence || config.check) {
            return Err(ConfigError::property(
                "syntax_check",
                "only checks the syntax; it cannot be combined with `idempotence` or `check`",
            ));
        }
        if config.idempotence && config.check {
            return Err(ConfigError::property(
                "idempotence",
                "needs real runs: a second `check` run would report the same changes as the first",
            ));
        }
        if let Some(prefix) = &config.extra_vars_from_env
            && prefix.trim_end_matches('_').is_empty()
        {
            return Err(ConfigError::property(
                "extra_vars_from_env",
                "must be a variable name prefix such as APOLLO",
            ));
        }
        if let Some(p) = &config.python_interpreter
            && p.trim().is_empty()
        {
            return Err(ConfigError::property(
                "python_interpreter",
                "must be `controller`, `auto`, `auto_silent` or a path to a Python",
            ));
        }
        let options = shell_words::split(&config.options).map_err(|e| {
            ConfigError::property("options", format!("cannot be split into arguments: {e}"))
        })?;
        Ok(AnsiblePlaybook { config, options })
    }

    /// The configuration.
    pub fn config(&self) -> &AnsiblePlaybookConfig {
        &self.config
    }

    /// The extra variables: those taken from the environment, then
    /// `extra_vars` on top. Also returns the names of environment variables
    /// skipped because the rest of the name is not a valid variable name.
    pub fn extra_vars(&self, env: &Env) -> (Map<String, Value>, Vec<String>) {
        let mut vars = Map::new();
        let mut skipped = Vec::new();
        if let Some(prefix) = &self.config.extra_vars_from_env {
            let prefix = if prefix.ends_with('_') {
                prefix.clone()
            } else {
                format!("{prefix}_")
            };
            for (name, value) in env.iter() {
                let Some(var) = name.strip_prefix(&prefix) else {
                    continue;
                };
                if is_identifier(var) {
                    vars.insert(var.to_string(), Value::String(value.to_string()));
                } else {
                    skipped.push(name.to_string());
                }
            }
        }
        for (k, v) in &self.config.extra_vars {
            vars.insert(k.clone(), v.clone());
        }
        (vars, skipped)
    }

    /// The arguments and environment for one run. `extra_vars_file` is the
    /// JSON file holding the extra variables (if there are any),
    /// `plugin_dir` the directory holding the callback plugin and
    /// `events_file` where it writes.
    pub fn invocation(
        &self,
        env: &Env,
        cwd: &Path,
        extra_vars_file: Option<&Path>,
        plugin_dir: &Path,
        events_file: &Path,
    ) -> Invocation {
        let c = &self.config;
        let mut args = Vec::new();
        for inventory in c.inventory.clone().into_vec() {
            args.push("-i".to_string());
            args.push(inventory);
        }
        if let Some(file) = extra_vars_file {
            args.push("-e".to_string());
            args.push(format!("@{}", file.display()));
        }
        if let Some(limit) = &c.limit {
            args.extend(["--limit".to_string(), limit.clone()]);
        }
        let tags = c.tags.clone().into_vec();
        if !tags.is_empty() {
            args.extend(["--tags".to_string(), tags.join(",")]);
        }
        let skip_tags = c.skip_tags.clone().into_vec();
        if !skip_tags.is_empty() {
            args.extend(["--skip-tags".to_string(), skip_tags.join(",")]);
        }
        if c.r#become {
            args.push("--become".to_string());
        }
        if c.check {
            args.push("--check".to_string());
        }
        if c.syntax_check {
            args.push("--syntax-check".to_string());
        }
        args.extend(self.options.iter().cloned());
        args.push(c.playbook.clone());

        let mut extra_env: Vec<(String, String)> =
            callback::callback_env(plugin_dir, env, cwd).into();
        extra_env.push((
            EVENTS_FILE_VAR.to_string(),
            events_file.display().to_string(),
        ));
        let interpreter = match c.python_interpreter.as_deref() {
            Some("controller") => Some(CONTROLLER_INTERPRETER.to_string()),
            Some(other) => Some(other.to_string()),
            None if env.get("ANSIBLE_PYTHON_INTERPRETER").is_some() => None,
            None => Some(CONTROLLER_INTERPRETER.to_string()),
        };
        if let Some(interpreter) = interpreter {
            extra_env.push(("ANSIBLE_PYTHON_INTERPRETER".to_string(), interpreter));
        }
        // Output reaches the step's log line by line as it happens.
        extra_env.push(("PYTHONUNBUFFERED".to_string(), "1".to_string()));
        Invocation {
            args,
            env: extra_env,
        }
    }

    fn check_paths(&self, cx: &StepContext) -> Result<(), ConfigError> {
        let playbook = cx.resolve(&self.config.playbook);
        require_path("playbook", &self.config.playbook, &playbook, PathKind::File)?;
        for inventory in self.config.inventory.clone().into_vec() {
            // `host1,host2` and `localhost,` are host lists, not paths.
            if inventory.contains(',') {
                continue;
            }
            require_path(
                "inventory",
                &inventory,
                &cx.resolve(&inventory),
                PathKind::Any,
            )?;
        }
        Ok(())
    }

    /// Runs ansible-playbook once; returns its output and what the callback
    /// recorded.
    async fn run_once(
        &self,
        cx: &StepContext,
        program: &Path,
        scratch: &Scratch,
        round: u32,
    ) -> Result<(ProcessOutput, PlaybookReport), StepError> {
        let events_file = scratch.dir.join(format!("events-{round}.jsonl"));
        let invocation = self.invocation(
            cx.env(),
            cx.workdir(),
            scratch.extra_vars_file.as_deref(),
            &scratch.plugin_dir,
            &events_file,
        );
        let mut cmd = Cmd::new(program)
            .args(&invocation.args)
            .capture(CAPTURE_LIMIT);
        for (k, v) in invocation.env {
            cmd = cmd.env(k, v);
        }
        let output = cmd.run(cx).await?;
        let text = match std::fs::read_to_string(&events_file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(StepError::io(
                    format!(
                        "reading the results ansible wrote to {}",
                        events_file.display()
                    ),
                    e,
                ));
            }
        };
        Ok((output, parse_events(&text)))
    }

    fn syntax_outcome(&self, cx: &StepContext, output: &ProcessOutput) -> Outcome {
        let playbook = &self.config.playbook;
        if output.success() {
            return Outcome::passed().with_message(format!("syntax check of {playbook} passed"));
        }
        let findings = diagnostics::parse_errors(&output.stderr, "ansible-syntax", cx.workdir());
        let message = match findings.first() {
            Some(first) => format!(
                "syntax check of {playbook} failed ({}): {first}",
                output.describe_status()
            ),
            None => format!(
                "syntax check of {playbook} failed ({}): {}",
                output.describe_status(),
                stderr_tail(&output.stderr, 6)
            ),
        };
        Outcome::failed(message).with_findings(findings)
    }
}

/// The per-step temporary directory: callback plugin, extra-vars file,
/// events files. Removed when dropped.
struct Scratch {
    dir: PathBuf,
    plugin_dir: PathBuf,
    extra_vars_file: Option<PathBuf>,
    _guard: tempfile::TempDir,
}

impl Scratch {
    fn new(extra_vars: &Map<String, Value>, base: &Path) -> Result<Self, StepError> {
        use std::os::unix::fs::PermissionsExt as _;
        // Under the run's private temp dir when the runner gives one, so a
        // crash leaves nothing `runner cleanup` does not remove.
        let guard = tempfile::Builder::new()
            .prefix("stepwise-ansible-")
            .tempdir_in(base)
            .map_err(|e| StepError::io("creating a temporary directory for ansible-playbook", e))?;
        let dir = guard.path().to_path_buf();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| StepError::io(format!("making {} private", dir.display()), e))?;
        let plugin_dir = callback::install(&dir).map_err(|e| {
            StepError::io(
                format!("writing the callback plugin to {}", dir.display()),
                e,
            )
        })?;
        let extra_vars_file = if extra_vars.is_empty() {
            None
        } else {
            let file = dir.join("extra-vars.json");
            let json = serde_json::to_vec(extra_vars).map_err(|e| {
                StepError::other(format!("extra variables cannot be written as JSON: {e}"))
            })?;
            write_private(&file, &json)
                .map_err(|e| StepError::io(format!("writing {}", file.display()), e))?;
            Some(file)
        };
        Ok(Scratch {
            dir,
            plugin_dir,
            extra_vars_file,
            _guard: guard,
        })
    }
}

/// Writes a file only its owner can read (extra vars may hold secrets).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// How many tasks a message names before it says "and N more".
const NAMED_IN_MESSAGE: usize = 5;

fn name_tasks(tasks: &[&TaskResult], with_msg: bool) -> String {
    let mut parts: Vec<String> = tasks
        .iter()
        .take(NAMED_IN_MESSAGE)
        .map(|r| {
            let mut s = describe_task(r);
            if with_msg && let Some(msg) = &r.msg {
                let first: String = msg
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect();
                s.push_str(&format!(": {first}"));
            }
            s
        })
        .collect();
    if tasks.len() > NAMED_IN_MESSAGE {
        parts.push(format!("and {} more", tasks.len() - NAMED_IN_MESSAGE));
    }
    parts.join("; ")
}

fn task_finding(
    r: &TaskResult,
    id: &str,
    severity: Severity,
    message: String,
    workdir: &Path,
) -> Finding {
    let mut finding = Finding::new(id, severity, message);
    if let Some((file, line)) = r.file_line() {
        let file = relative(file, workdir);
        finding = finding.at(match line {
            Some(line) => Location::at(file, line, None),
            None => Location::file(file),
        });
    }
    finding
}

fn recap_summary(report: &PlaybookReport) -> String {
    match &report.recap {
        Some(recap) if !recap.is_empty() => recap
            .iter()
            .map(|(host, c)| format!("{host} {}", c.line()))
            .collect::<Vec<_>>()
            .join("; "),
        Some(_) => "no hosts matched".to_string(),
        None => "no recap".to_string(),
    }
}

fn changed_names(report: &PlaybookReport) -> Value {
    Value::Array(
        report
            .changed_tasks()
            .iter()
            .map(|r| Value::String(format!("{} ({})", r.task, r.host)))
            .collect(),
    )
}

fn host_checks(report: &PlaybookReport, group: &str) -> Vec<CheckResult> {
    report
        .recap
        .iter()
        .flatten()
        .map(|(host, c)| {
            let status = if c.failed > 0 || c.unreachable > 0 {
                Status::Failed
            } else {
                Status::Passed
            };
            CheckResult::new(host.clone(), status)
                .with_message(c.line())
                .in_group(group)
        })
        .collect()
}

/// The outcome of a run that did not pass: names what stopped each host,
/// or the errors ansible printed when no task ran.
fn failed_run(
    cx: &StepContext,
    what: &str,
    output: &ProcessOutput,
    report: &PlaybookReport,
) -> Outcome {
    let stops = report.stopping_failures();
    if !stops.is_empty() {
        let findings = stops
            .iter()
            .map(|r| {
                let id = match r.status {
                    events::TaskStatus::Unreachable => "host-unreachable",
                    _ => "task-failed",
                };
                let msg = r
                    .msg
                    .clone()
                    .unwrap_or_else(|| "failed (no message)".into());
                task_finding(
                    r,
                    id,
                    Severity::Error,
                    format!("`{}` on {}: {msg}", r.task, r.host),
                    cx.workdir(),
                )
            })
            .collect::<Vec<_>>();
        return Outcome::failed(format!(
            "{what} failed ({}): {}; recap: {}",
            output.describe_status(),
            name_tasks(&stops, true),
            recap_summary(report)
        ))
        .with_findings(findings);
    }
    let findings = diagnostics::parse_errors(&output.stderr, "ansible-error", cx.workdir());
    let detail = match findings.first() {
        Some(first) => first.to_string(),
        None => stderr_tail(&output.stderr, 6),
    };
    Outcome::failed(format!(
        "{what} failed ({}): {detail}",
        output.describe_status()
    ))
    .with_findings(findings)
}

#[async_trait]
impl Step for AnsiblePlaybook {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        // A wrong path is a configuration error whether or not the tool is installed.
        self.check_paths(cx)?;
        let tool = tools::ansible_playbook().find(cx.env(), cx.workdir())?;
        let (extra_vars, skipped) = self.extra_vars(cx.env());
        let mut warnings = Vec::new();
        if !skipped.is_empty() {
            let w = format!(
                "extra_vars_from_env: skipped {} (not a valid variable name after the prefix)",
                skipped.join(", ")
            );
            cx.warn(w.clone());
            warnings.push(w);
        }
        let scratch = Scratch::new(&extra_vars, &cx.temp_base())?;
        let playbook = &self.config.playbook;

        let (output, report) = self.run_once(cx, &tool.path, &scratch, 1).await?;
        if self.config.syntax_check {
            return Ok(self.syntax_outcome(cx, &output));
        }
        let what = format!("ansible-playbook {playbook}");
        let mut outcome = if output.success() {
            Outcome::passed().with_message(format!("{what}: {}", recap_summary(&report)))
        } else {
            failed_run(cx, &what, &output, &report)
        };
        outcome = outcome
            .with_output("recap", report.recap_json())
            .with_output("changed_tasks", changed_names(&report))
            .with_checks(host_checks(&report, "ansible-playbook"));
        let totals = report.totals().to_json();
        if let Value::Object(totals) = totals {
            for (k, v) in totals {
                outcome = outcome.with_output(k, v);
            }
        }
        if report.recap.is_none() && output.success() {
            warnings.push(format!(
                "the {} callback recorded no results, so the recap outputs are empty \
                 (is ANSIBLE_CALLBACKS_ENABLED overridden in a way that drops it?)",
                callback::CALLBACK_NAME
            ));
        }
        if report.unreadable_lines > 0 {
            warnings.push(format!(
                "{} line(s) of the callback's results could not be read",
                report.unreadable_lines
            ));
        }

        if self.config.idempotence && !outcome.is_failed() {
            if report.recap.is_none() {
                return Err(StepError::other(format!(
                    "idempotence cannot be judged: the {} callback recorded no results of the first run",
                    callback::CALLBACK_NAME
                )));
            }
            cx.info(format!("idempotence: running {playbook} a second time"));
            let (output2, report2) = self.run_once(cx, &tool.path, &scratch, 2).await?;
            let changed2 = report2.changed_tasks();
            outcome = outcome
                .with_output("idempotence_recap", report2.recap_json())
                .with_output("idempotence_changed_tasks", changed_names(&report2));
            if !output2.success() {
                let failed = failed_run(
                    cx,
                    &format!("second run of {what} (idempotence)"),
                    &output2,
                    &report2,
                );
                outcome.status = failed.status;
                outcome.message = failed.message;
                outcome.findings.extend(failed.findings);
                outcome.checks.push(
                    CheckResult::new("idempotence", Status::Failed)
                        .with_message("the second run failed")
                        .in_group("ansible-playbook"),
                );
            } else if report2.recap.is_none() {
                return Err(StepError::other(format!(
                    "idempotence cannot be judged: the {} callback recorded no results of the second run",
                    callback::CALLBACK_NAME
                )));
            } else if !changed2.is_empty() {
                let message = format!(
                    "{playbook} is not idempotent: the second run changed {} task(s): {}",
                    changed2.len(),
                    name_tasks(&changed2, false)
                );
                let findings: Vec<Finding> = changed2
                    .iter()
                    .map(|r| {
                        task_finding(
                            r,
                            "not-idempotent",
                            Severity::Error,
                            format!("`{}` changed {} again on the second run", r.task, r.host),
                            cx.workdir(),
                        )
                    })
                    .collect();
                outcome.status = OutcomeStatus::Failed;
                outcome.message = Some(message.clone());
                outcome.findings.extend(findings);
                outcome.checks.push(
                    CheckResult::new("idempotence", Status::Failed)
                        .with_message(message)
                        .in_group("ansible-playbook"),
                );
            } else {
                outcome.message = Some(format!(
                    "{what}: {}; idempotent: the second run changed nothing",
                    recap_summary(&report)
                ));
                outcome.checks.push(
                    CheckResult::new("idempotence", Status::Passed)
                        .with_message("the second run changed nothing")
                        .in_group("ansible-playbook"),
                );
            }
        }
        for w in warnings {
            outcome = outcome.with_warning(w);
        }
        Ok(outcome)
    }

    fn commands(&self) -> Vec<String> {
        let c = &self.config;
        let vars = (!c.extra_vars.is_empty() || c.extra_vars_from_env.is_some())
            .then(|| Path::new("<generated extra vars>"));
        let inv = self.invocation(
            &Env::new(),
            Path::new("."),
            vars,
            Path::new("<callback plugin>"),
            Path::new("<events>"),
        );
        let line = step_core::command_line("ansible-playbook", &inv.args);
        if c.idempotence && !c.syntax_check {
            vec![line.clone(), format!("{line}  (again: idempotence check)")]
        } else {
            vec![line]
        }
    }
}

fn build(properties: Value) -> Result<Box<dyn Step>, ConfigError> {
    let config: AnsiblePlaybookConfig = step_core::parse_config(properties)?;
    Ok(Box::new(AnsiblePlaybook::new(config)?))
}

/// The `ansible-playbook` kind.
pub fn kind() -> Box<dyn step_core::StepKind> {
    Box::new(step_core::step::FnKind::named(
        "ansible-playbook",
        &[],
        describe,
        build,
    ))
}

/// The description of `ansible-playbook` (what `runner explain ansible-playbook` shows).
pub fn describe() -> StepDescription {
    StepDescription::new(
        "ansible-playbook",
        "Run an Ansible playbook: syntax check, converge (recap as outputs), idempotence check.",
    )
    .reads(&["playbook", "inventory"])
    .doc(
        "Runs `ansible-playbook` with ansible's normal output streaming live. A small callback \
         plugin shipped with the step (enabled next to the user's own callbacks) records every \
         task result and the PLAY RECAP as JSON, so results are read structurally, never scraped \
         from colored text. The recap becomes outputs per host and in total; a failed run names \
         the task that stopped each host and its message. `idempotence: true` runs the playbook \
         a second time and fails naming every task that changed again, with its file:line. \
         `syntax_check: true` only runs `--syntax-check`; errors become findings with \
         file:line:column. Extra variables (`extra_vars`, and `extra_vars_from_env: APOLLO` for \
         every APOLLO_x variable, as the seed passed them) go to ansible as a JSON file \
         (`-e @file`, readable only by the owner), never as a quoted string. Hosts with a local \
         connection use the Python that runs ansible-playbook (see `python_interpreter`).",
    )
    .property(PropertyDoc::required(
        "playbook",
        PropertyType::Path,
        "The playbook, relative to the working directory.",
    ))
    .property(PropertyDoc::optional(
        "inventory",
        PropertyType::StringOrList,
        "Inventory paths (must exist) or host lists with a comma (`localhost,`); one -i each.",
    ))
    .property(PropertyDoc::optional(
        "extra_vars",
        PropertyType::Map,
        "Extra variables with any YAML values; they win over extra_vars_from_env.",
    ))
    .property(PropertyDoc::optional(
        "extra_vars_from_env",
        PropertyType::String,
        "A prefix: every environment variable PREFIX_x=v becomes extra variable x=\"v\" (a string, \
         as the seed's -e x=v made it; use `| bool` for true/false).",
    ))
    .property(PropertyDoc::optional("limit", PropertyType::String, "--limit: hosts or groups to run on."))
    .property(PropertyDoc::optional("tags", PropertyType::StringOrList, "--tags: only tasks with these tags."))
    .property(PropertyDoc::optional(
        "skip_tags",
        PropertyType::StringOrList,
        "--skip-tags: skip tasks with these tags.",
    ))
    .property(PropertyDoc::with_default(
        "syntax_check",
        PropertyType::Bool,
        "false",
        "Only check the syntax (--syntax-check); errors become findings with file:line:column.",
    ))
    .property(PropertyDoc::with_default("check", PropertyType::Bool, "false", "Dry run (--check)."))
    .property(PropertyDoc::with_default(
        "become",
        PropertyType::Bool,
        "false",
        "--become: privilege escalation for all tasks.",
    ))
    .property(PropertyDoc::with_default(
        "idempotence",
        PropertyType::Bool,
        "false",
        "Run a second time and fail, naming the tasks, if anything changed.",
    ))
    .property(PropertyDoc::with_default(
        "python_interpreter",
        PropertyType::String,
        "controller",
        "Python for hosts that do not set ansible_python_interpreter: `controller` (local \
         connections use ansible-playbook's own Python, other hosts auto-discover), `auto`, \
         `auto_silent` or a path like /usr/bin/python3. Unset, ANSIBLE_PYTHON_INTERPRETER from \
         the environment is kept if set.",
    ))
    .property(PropertyDoc::with_default(
        "options",
        PropertyType::String,
        "\"\"",
        "Extra ansible-playbook flags as one string, split with shell quoting rules (never run by a shell).",
    ))
    .output("recap", "Per host: {ok, changed, unreachable, failed, skipped, rescued, ignored}.")
    .output("ok", "Total ok tasks over all hosts.")
    .output("changed", "Total changed tasks over all hosts.")
    .output("unreachable", "Total unreachable results over all hosts.")
    .output("failed", "Total failed tasks over all hosts.")
    .output("skipped", "Total skipped tasks over all hosts.")
    .output("rescued", "Total rescued tasks over all hosts.")
    .output("ignored", "Total ignored failures over all hosts.")
    .output("changed_tasks", "Tasks that changed something, as \"task (host)\".")
    .output("idempotence_recap", "The second run's recap per host (with idempotence).")
    .output(
        "idempotence_changed_tasks",
        "Tasks that changed again on the second run (with idempotence).",
    )
    .example(
        "- ansible-playbook:\n    id: converge\n    playbook: site.yml\n    inventory: inventory/hosts\n    \
         extra_vars_from_env: APOLLO\n    extra_vars:\n      cluster_size: 3\n    idempotence: true\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(props: serde_json::Value) -> AnsiblePlaybook {
        let config: AnsiblePlaybookConfig = step_core::parse_config(props).unwrap();
        AnsiblePlaybook::new(config).unwrap()
    }

    fn env_of(vars: &[(&str, &str)]) -> Env {
        let mut env = Env::new();
        for (k, v) in vars {
            env.set(*k, *v);
        }
        env
    }

    #[test]
    fn env_prefix_vars_are_strings_and_extra_vars_win() {
        let s = step(serde_json::json!({
            "playbook": "site.yml",
            "extra_vars_from_env": "APOLLO",
            "extra_vars": {"region": "eu", "size": 3}
        }));
        let env = env_of(&[
            ("APOLLO_serverspec_run_tests", "true"),
            ("APOLLO_region", "us"),
            ("APOLLO_bad-name", "x"),
            ("APOLLOX_not_me", "x"),
            ("OTHER", "x"),
        ]);
        let (vars, skipped) = s.extra_vars(&env);
        assert_eq!(vars["serverspec_run_tests"], Value::String("true".into()));
        assert_eq!(vars["region"], Value::String("eu".into()));
        assert_eq!(vars["size"], Value::from(3));
        assert_eq!(vars.len(), 3);
        assert_eq!(skipped, ["APOLLO_bad-name"]);
        // A prefix with its underscore means the same.
        let s2 = step(serde_json::json!({"playbook": "p.yml", "extra_vars_from_env": "APOLLO_"}));
        assert_eq!(s2.extra_vars(&env).0.len(), 2);
    }

    #[test]
    fn invocation_passes_flags_as_argv_and_vars_as_a_file() {
        let s = step(serde_json::json!({
            "playbook": "site.yml",
            "inventory": ["inv/hosts", "localhost,"],
            "limit": "web",
            "tags": ["a", "b"],
            "become": true,
            "options": "-v --forks '10'"
        }));
        let env = env_of(&[("HOME", "/nonexistent")]);
        let inv = s.invocation(
            &env,
            Path::new("/nonexistent-cwd"),
            Some(Path::new("/t/vars.json")),
            Path::new("/t/cb"),
            Path::new("/t/ev.jsonl"),
        );
        assert_eq!(
            inv.args,
            [
                "-i",
                "inv/hosts",
                "-i",
                "localhost,",
                "-e",
                "@/t/vars.json",
                "--limit",
                "web",
                "--tags",
                "a,b",
                "--become",
                "-v",
                "--forks",
                "10",
                "site.yml"
            ]
        );
        let get = |k: &str| {
            inv.env
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("STEPWISE_ANSIBLE_EVENTS"), Some("/t/ev.jsonl"));
        assert_eq!(get("ANSIBLE_CALLBACKS_ENABLED"), Some("stepwise_events"));
        assert!(
            get("ANSIBLE_CALLBACK_PLUGINS")
                .unwrap()
                .starts_with("/t/cb:")
        );
        assert_eq!(
            get("ANSIBLE_PYTHON_INTERPRETER"),
            Some(CONTROLLER_INTERPRETER)
        );
    }

    #[test]
    fn python_interpreter_is_overridable_and_the_environment_is_respected() {
        let env = env_of(&[("ANSIBLE_PYTHON_INTERPRETER", "/opt/py")]);
        let interp = |s: &AnsiblePlaybook, env: &Env| {
            s.invocation(env, Path::new("/"), None, Path::new("/cb"), Path::new("/e"))
                .env
                .into_iter()
                .find(|(k, _)| k == "ANSIBLE_PYTHON_INTERPRETER")
                .map(|(_, v)| v)
        };
        let default = step(serde_json::json!({"playbook": "p.yml"}));
        assert_eq!(
            interp(&default, &env),
            None,
            "the environment's setting is kept"
        );
        let explicit = step(
            serde_json::json!({"playbook": "p.yml", "python_interpreter": "/usr/bin/python3"}),
        );
        assert_eq!(interp(&explicit, &env).as_deref(), Some("/usr/bin/python3"));
        let controller =
            step(serde_json::json!({"playbook": "p.yml", "python_interpreter": "controller"}));
        assert_eq!(
            interp(&controller, &env).as_deref(),
            Some(CONTROLLER_INTERPRETER)
        );
    }

    #[test]
    fn contradictory_or_bad_settings_are_config_errors() {
        let err = |props: serde_json::Value| {
            let config: AnsiblePlaybookConfig = step_core::parse_config(props).unwrap();
            AnsiblePlaybook::new(config).unwrap_err()
        };
        let e = err(
            serde_json::json!({"playbook": "p.yml", "syntax_check": true, "idempotence": true}),
        );
        assert_eq!(e.property.as_deref(), Some("syntax_check"));
        let e = err(serde_json::json!({"playbook": "p.yml", "check": true, "idempotence": true}));
        assert_eq!(e.property.as_deref(), Some("idempotence"));
        let e = err(serde_json::json!({"playbook": "p.yml", "options": "'unclosed"}));
        assert_eq!(e.property.as_deref(), Some("options"));
        let e = err(serde_json::json!({"playbook": "p.yml", "extra_vars_from_env": "_"}));
        assert_eq!(e.property.as_deref(), Some("extra_vars_from_env"));
        let unknown = step_core::parse_config::<AnsiblePlaybookConfig>(serde_json::json!({
            "playbook": "p.yml", "extravars": {}
        }))
        .unwrap_err();
        assert_eq!(unknown.property.as_deref(), Some("extravars"));
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("run_tests") && is_identifier("_x1"));
        assert!(!is_identifier("1x") && !is_identifier("a-b") && !is_identifier(""));
    }
}
