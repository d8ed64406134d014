//! The `host-checks` step kind: render native spec files with the
//! pipeline's values, run their checks on each host (locally, over ssh, or
//! in a container) and report one result per assertion.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::{Map, Value};
use step_core::backend::{Backend, SshOptions};
use step_core::process::Cmd;
use step_core::{
    CheckResult, ConfigError, Outcome, PropertyDoc, PropertyType, Status, Step, StepContext,
    StepDescription, StepError, ToolSpec, async_trait,
};

use crate::check::Check;
use crate::engine::{Engine, Observer};
use crate::local::HttpClients;
use crate::remote::RemoteTarget;
use crate::spec::{Defaults, parse_spec, spec_files};

/// Names the template context already uses; `vars` may not take them.
const RESERVED: &[&str] = &["env", "outputs", "run", "host", "backend"];

/// Failed checks named in the step's message before "and N more".
const NAMED_FAILURES: usize = 5;

/// Where the checks run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// This machine (in-process where possible).
    #[default]
    Local,
    /// Each host in `hosts`, over the system `ssh`.
    Ssh,
    /// Each container in `hosts`, with `docker exec`.
    Docker,
}

impl BackendKind {
    fn name(self) -> &'static str {
        match self {
            BackendKind::Local => "local",
            BackendKind::Ssh => "ssh",
            BackendKind::Docker => "docker",
        }
    }
}

/// Configuration of a `host-checks` step.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostChecksConfig {
    /// A spec file, or a directory whose `*.yml` / `*.yaml` files (recursively) are specs.
    pub spec: PathBuf,
    /// Extra template variables, at the top level of the template context.
    #[serde(default)]
    pub vars: Map<String, Value>,
    /// `local` (default), `ssh` or `docker`.
    #[serde(default)]
    pub backend: BackendKind,
    /// Hosts (ssh) or containers (docker): a list, or one string holding a
    /// JSON list or names separated by commas or spaces (what an output
    /// expanded into a property looks like).
    #[serde(default, deserialize_with = "de_hosts")]
    pub hosts: Vec<String>,
    /// ssh: remote user.
    #[serde(default)]
    pub user: Option<String>,
    /// ssh: port.
    #[serde(default, deserialize_with = "de_opt_u16")]
    pub port: Option<u16>,
    /// ssh: private key file.
    #[serde(default)]
    pub identity_file: Option<PathBuf>,
    /// ssh: a known_hosts file; unset, host keys are accepted on first use
    /// into a run-local file.
    #[serde(default)]
    pub known_hosts_file: Option<PathBuf>,
    /// ssh: extra `-o` options (`Name=value`).
    #[serde(default)]
    pub ssh_options: Vec<String>,
    /// How many checks (or remote batches, or hosts) run at once.
    #[serde(default = "default_concurrency", deserialize_with = "de_usize")]
    pub concurrency: usize,
    /// Default limit for one attempt of a check (a spec's `timeout` wins).
    #[serde(
        default = "default_check_timeout",
        with = "step_core::config::duration"
    )]
    pub check_timeout: Duration,
}

fn default_concurrency() -> usize {
    16
}

fn default_check_timeout() -> Duration {
    Duration::from_secs(30)
}

/// A number that may arrive as text (after `$VAR` expansion).
#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Num(u64),
    Text(String),
}

impl NumOrText {
    fn to_u64<E: de::Error>(&self) -> Result<u64, E> {
        match self {
            NumOrText::Num(n) => Ok(*n),
            NumOrText::Text(t) => t
                .trim()
                .parse::<u64>()
                .map_err(|_| E::custom(format!("`{t}` is not a whole number"))),
        }
    }
}

fn de_opt_u16<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    match Option::<NumOrText>::deserialize(d)? {
        None => Ok(None),
        Some(v) => {
            let n = v.to_u64::<D::Error>()?;
            u16::try_from(n)
                .map(Some)
                .map_err(|_| de::Error::custom(format!("{n} is not a port number")))
        }
    }
}

fn de_usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = NumOrText::deserialize(d)?.to_u64::<D::Error>()?;
    usize::try_from(n).map_err(|_| de::Error::custom("too large"))
}

fn de_hosts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<Value>),
        Text(String),
    }
    let scalar = |v: Value| match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(de::Error::custom(format!(
            "a host must be a string, not {other}"
        ))),
    };
    let hosts: Vec<String> = match Raw::deserialize(d)? {
        Raw::List(items) => items
            .into_iter()
            .map(scalar)
            .collect::<Result<_, D::Error>>()?,
        Raw::Text(text) => {
            let t = text.trim();
            if t.starts_with('[') {
                let items: Vec<Value> = serde_json::from_str(t)
                    .map_err(|e| de::Error::custom(format!("`{t}` is not a JSON list: {e}")))?;
                items
                    .into_iter()
                    .map(scalar)
                    .collect::<Result<_, D::Error>>()?
            } else {
                t.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            }
        }
    };
    Ok(hosts
        .into_iter()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .collect())
}

impl HostChecksConfig {
    /// A config for one spec file or directory, run locally, with defaults.
    pub fn new(spec: impl Into<PathBuf>) -> Self {
        HostChecksConfig {
            spec: spec.into(),
            vars: Map::new(),
            backend: BackendKind::Local,
            hosts: Vec::new(),
            user: None,
            port: None,
            identity_file: None,
            known_hosts_file: None,
            ssh_options: Vec::new(),
            concurrency: default_concurrency(),
            check_timeout: default_check_timeout(),
        }
    }
}

/// The `host-checks` step.
#[derive(Clone, Debug)]
pub struct HostChecks {
    config: HostChecksConfig,
}

impl HostChecks {
    /// Builds the step, checking that the properties fit together.
    pub fn new(config: HostChecksConfig) -> Result<Self, ConfigError> {
        for name in config.vars.keys() {
            if RESERVED.contains(&name.as_str()) {
                return Err(ConfigError::property(
                    format!("vars.{name}"),
                    format!(
                        "`{name}` is a name the template context already uses ({}); pick another",
                        RESERVED.join(", ")
                    ),
                ));
            }
        }
        match config.backend {
            BackendKind::Local => {
                if !config.hosts.is_empty() {
                    return Err(ConfigError::property(
                        "hosts",
                        "hosts are for the ssh and docker backends; set `backend: ssh` or `backend: docker`",
                    ));
                }
            }
            BackendKind::Ssh | BackendKind::Docker => {
                if config.hosts.is_empty() {
                    return Err(ConfigError::property(
                        "hosts",
                        format!(
                            "the {} backend needs at least one host",
                            config.backend.name()
                        ),
                    ));
                }
            }
        }
        if config.backend != BackendKind::Ssh {
            let ssh_only = [
                ("user", config.user.is_some()),
                ("port", config.port.is_some()),
                ("identity_file", config.identity_file.is_some()),
                ("known_hosts_file", config.known_hosts_file.is_some()),
                ("ssh_options", !config.ssh_options.is_empty()),
            ];
            if let Some((name, _)) = ssh_only.iter().find(|(_, set)| *set) {
                return Err(ConfigError::property(
                    *name,
                    "only applies to `backend: ssh`",
                ));
            }
        }
        if config.concurrency == 0 {
            return Err(ConfigError::property("concurrency", "must be at least 1"));
        }
        Ok(HostChecks { config })
    }

    /// Builds the step from properties.
    pub fn from_properties(properties: Value) -> Result<Self, ConfigError> {
        HostChecks::new(step_core::parse_config(properties)?)
    }

    /// The config.
    pub fn config(&self) -> &HostChecksConfig {
        &self.config
    }

    /// Renders and parses every spec for one host.
    // StepError is step-core's; its size is not ours to change.
    fn load_checks(
        &self,
        cx: &StepContext,
        files: &[PathBuf],
        context: &Value,
        host: &str,
    ) -> Result<Vec<Arc<Check>>, StepError> {
        let mut ctx = context.clone();
        if let Value::Object(map) = &mut ctx {
            map.insert("host".into(), Value::String(host.to_string()));
        }
        let defaults = Defaults {
            timeout: self.config.check_timeout,
            ..Defaults::default()
        };
        let mut checks = Vec::new();
        for path in files {
            let name = display_path(cx, path);
            let source = std::fs::read_to_string(path)
                .map_err(|e| StepError::io(format!("reading spec {name}"), e))?;
            let rendered = step_core::template::render(&name, &source, &ctx)?;
            let parsed = parse_spec(&name, &rendered, &defaults)
                .map_err(|e| ConfigError::property("spec", e.to_string()))?;
            checks.extend(parsed.into_iter().map(Arc::new));
        }
        Ok(checks)
    }
}

fn display_path(cx: &StepContext, path: &std::path::Path) -> String {
    path.strip_prefix(cx.workdir())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The description of `host-checks`.
pub fn describe() -> StepDescription {
    StepDescription::new(
        "host-checks",
        "Check hosts against native YAML specs (ports, files, processes, HTTP, containers…), locally, over ssh or in containers",
    )
    .reads(&["spec", "identity_file"])
    .doc(
        "Renders each spec file as a minijinja template (variables: `vars` at the top level, `env`, `outputs`, \
         `run`, `host`, `backend`), then runs its checks concurrently: in-process on the local backend, as one \
         batched shell script per host over ssh (one ControlMaster connection per host) or docker exec. Each \
         assertion is reported as a check (\"Port 8080 should be listening\"); failures show expected vs actual. \
         The step fails when any check fails. See the crate README for the spec format.",
    )
    .property(PropertyDoc::required("spec", PropertyType::Path, "A spec file, or a directory of `*.yml` / `*.yaml` specs."))
    .property(PropertyDoc::optional("vars", PropertyType::Map, "Template variables, at the top level of the spec's template context."))
    .property(PropertyDoc::with_default("backend", PropertyType::String, "local", "`local`, `ssh` or `docker`."))
    .property(PropertyDoc::optional(
        "hosts",
        PropertyType::StringOrList,
        "Hosts (ssh) or containers (docker); a list, a JSON list in a string (an expanded output) or names separated by commas.",
    ))
    .property(PropertyDoc::optional("user", PropertyType::String, "ssh: remote user."))
    .property(PropertyDoc::optional("port", PropertyType::Integer, "ssh: port."))
    .property(PropertyDoc::optional("identity_file", PropertyType::Path, "ssh: private key file."))
    .property(PropertyDoc::optional(
        "known_hosts_file",
        PropertyType::Path,
        "ssh: known_hosts file; when unset, host keys are accepted on first use into a run-local file.",
    ))
    .property(PropertyDoc::optional("ssh_options", PropertyType::List, "ssh: extra `-o Name=value` options."))
    .property(PropertyDoc::with_default("concurrency", PropertyType::Integer, "16", "Checks, batches or hosts in flight at once."))
    .property(PropertyDoc::with_default(
        "check_timeout",
        PropertyType::Duration,
        "30s",
        "Default limit for one attempt of a check; a check's own `timeout` wins.",
    ))
    .output("passed", "Number of checks that passed.")
    .output("failed", "Number of checks that failed (or could not be checked).")
    .output("total", "Number of checks.")
    .example(
        "- host-checks:\n    id: smoke\n    spec: tests/specs\n    backend: ssh\n    hosts: ${{ outputs.cluster.addresses }}\n    user: admin\n    identity_file: ~/.ssh/ci\n    vars:\n      marathon_peers: [\"10.0.0.1:2181\", \"10.0.0.2:2181\"]\n",
    )
}

/// Builds a `host-checks` step from properties.
pub fn build(properties: Value) -> Result<Box<dyn Step>, ConfigError> {
    Ok(Box::new(HostChecks::from_properties(properties)?))
}

#[async_trait]
impl Step for HostChecks {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let cfg = &self.config;
        let spec_path = cx.resolve(&cfg.spec);
        let files = spec_files(&spec_path).map_err(|e| {
            ConfigError::property("spec", format!("cannot read {}: {e}", spec_path.display()))
        })?;
        if files.is_empty() {
            return Err(ConfigError::property(
                "spec",
                format!(
                    "{} holds no *.yml or *.yaml spec files",
                    spec_path.display()
                ),
            )
            .into());
        }

        let mut context = cx.template_context();
        if let Value::Object(map) = &mut context {
            for (k, v) in &cfg.vars {
                map.insert(k.clone(), v.clone());
            }
            map.insert("backend".into(), Value::String(cfg.backend.name().into()));
        }

        // Where the checks run, and any connection state to clean up after.
        let control_dir = match cfg.backend {
            BackendKind::Ssh => Some(
                tempfile::Builder::new()
                    .prefix("stepwise-ssh-")
                    .tempdir()
                    .map_err(|e| {
                        StepError::io("creating a directory for ssh control sockets", e)
                    })?,
            ),
            _ => None,
        };
        let backend = match cfg.backend {
            BackendKind::Local => Backend::Local,
            BackendKind::Docker => Backend::Docker,
            BackendKind::Ssh => {
                let mut options = cfg.ssh_options.clone();
                if let (None, Some(dir)) = (&cfg.known_hosts_file, &control_dir) {
                    // step-core's backend accepts unknown host keys on first
                    // use (right for ephemeral CI machines); keep them in a
                    // run-local file rather than the user's ~/.ssh/known_hosts.
                    options.push(format!(
                        "UserKnownHostsFile={}/known_hosts",
                        dir.path().display()
                    ));
                }
                Backend::Ssh(SshOptions {
                    user: cfg.user.clone(),
                    port: cfg.port,
                    identity_file: cfg.identity_file.as_ref().map(|p| cx.resolve(p)),
                    known_hosts_file: cfg.known_hosts_file.as_ref().map(|p| cx.resolve(p)),
                    options,
                    control_dir: control_dir.as_ref().map(|d| d.path().to_path_buf()),
                })
            }
        };
        match cfg.backend {
            BackendKind::Local => {}
            BackendKind::Ssh => {
                ToolSpec::new(
                    "ssh",
                    "install it with scripts/install-tools.sh (Debian package openssh-client)",
                )
                .find(cx.env(), cx.workdir())?;
            }
            BackendKind::Docker => {
                ToolSpec::new(
                    "docker",
                    "install it with scripts/install-tools.sh (Debian package docker.io)",
                )
                .find(cx.env(), cx.workdir())?;
            }
        }
        let hosts: Vec<String> = match cfg.backend {
            BackendKind::Local => vec!["localhost".into()],
            _ => cfg.hosts.clone(),
        };

        // Every host's spec is rendered (and errors reported) before anything runs.
        let mut plans = Vec::new();
        for host in &hosts {
            plans.push((host.clone(), self.load_checks(cx, &files, &context, host)?));
        }
        if plans.iter().all(|(_, c)| c.is_empty()) {
            return Err(ConfigError::property(
                "spec",
                format!("no checks found in {}", spec_path.display()),
            )
            .into());
        }

        let count: usize = plans
            .iter()
            .flat_map(|(_, c)| c.iter())
            .map(|c| c.assertions.len())
            .sum();
        cx.info(format!(
            "{count} checks from {} spec file{} on {} ({})",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            if cfg.backend == BackendKind::Local {
                "this machine".to_string()
            } else {
                hosts.join(", ")
            },
            cfg.backend.name()
        ));

        let http = match cfg.backend {
            BackendKind::Local => Some(HttpClients::new().map_err(StepError::other)?),
            _ => None,
        };
        let host_limit = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency));
        let mut runs = tokio::task::JoinSet::new();
        for (n, (host, checks)) in plans.into_iter().enumerate() {
            let observer = match &http {
                Some(http) => Observer::Local(http.clone()),
                None => Observer::Remote(RemoteTarget {
                    backend: backend.clone(),
                    host: host.clone(),
                }),
            };
            let engine = Engine::new(observer, cx.clone(), cfg.concurrency);
            let limit = host_limit.clone();
            runs.spawn(async move {
                let _permit = limit.acquire_owned().await;
                (n, engine.run(&checks).await)
            });
        }
        let mut per_host: Vec<(usize, Vec<CheckResult>)> = Vec::new();
        while let Some(done) = runs.join_next().await {
            match done {
                Ok(r) => per_host.push(r),
                Err(e) => return Err(StepError::other(format!("a check task failed: {e}"))),
            }
        }
        per_host.sort_by_key(|(n, _)| *n);

        if let (Backend::Ssh(opts), Some(_)) = (&backend, &control_dir) {
            for host in &hosts {
                close_master(cx, opts, host).await;
            }
        }
        drop(control_dir);
        if cx.cancel().is_cancelled() {
            return Err(StepError::Cancelled);
        }

        let checks: Vec<CheckResult> = per_host.into_iter().flat_map(|(_, r)| r).collect();
        Ok(summarize(
            checks,
            cfg.backend != BackendKind::Local,
            hosts.len(),
        ))
    }

    fn commands(&self) -> Vec<String> {
        let c = &self.config;
        // A run-time expression (`${{ outputs.x.hosts }}`) was split like a
        // host list; show it as it was written.
        let sep = if c.hosts.iter().any(|h| h.contains("{{") || h.contains("}}")) {
            " "
        } else {
            ", "
        };
        let on = if c.hosts.is_empty() {
            String::new()
        } else {
            format!(" on {}", c.hosts.join(sep))
        };
        vec![format!(
            "(in-process) check the specs in {} with the {} backend{on}",
            c.spec.display(),
            format!("{:?}", c.backend).to_lowercase()
        )]
    }
}

/// Stops the ssh master connection of one host (it would linger for ControlPersist otherwise).
async fn close_master(cx: &StepContext, opts: &SshOptions, host: &str) {
    let Some(dir) = &opts.control_dir else { return };
    let mut cmd = Cmd::new("ssh")
        .arg("-o")
        .arg(format!("ControlPath={}/%C", dir.display()))
        .args(["-O", "exit"]);
    if let Some(port) = opts.port {
        cmd = cmd.arg("-p").arg(port.to_string());
    }
    let dest = match &opts.user {
        Some(u) => format!("{u}@{host}"),
        None => host.to_string(),
    };
    let _ = cmd
        .arg(dest)
        .quiet()
        .capture(4096)
        .timeout(Duration::from_secs(10))
        .run(cx)
        .await;
}

/// The outcome for a set of results: passed/failed/total outputs and a
/// message naming the failed checks.
pub fn summarize(checks: Vec<CheckResult>, remote: bool, hosts: usize) -> Outcome {
    let total = checks.len();
    let failed: Vec<&CheckResult> = checks
        .iter()
        .filter(|c| c.status != Status::Passed)
        .collect();
    let passed = total - failed.len();
    let where_ = if remote {
        format!(" on {hosts} host{}", if hosts == 1 { "" } else { "s" })
    } else {
        String::new()
    };
    let outcome = if failed.is_empty() {
        Outcome::passed().with_message(format!("{total} checks passed{where_}"))
    } else {
        let mut names: Vec<String> = failed
            .iter()
            .take(NAMED_FAILURES)
            .map(|c| match (&c.group, remote) {
                (Some(g), true) => format!("{} ({})", c.name, g.split(':').next().unwrap_or(g)),
                _ => c.name.clone(),
            })
            .collect();
        if failed.len() > NAMED_FAILURES {
            names.push(format!("and {} more", failed.len() - NAMED_FAILURES));
        }
        Outcome::failed(format!(
            "{} of {total} checks failed{where_}: {}",
            failed.len(),
            names.join("; ")
        ))
    };
    let failed_count = failed.len();
    outcome
        .with_output("passed", passed)
        .with_output("failed", failed_count)
        .with_output("total", total)
        .with_checks(checks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hosts_accept_lists_json_text_and_separated_names() {
        let cfg: HostChecksConfig = step_core::parse_config(json!({
            "spec": "s.yml", "backend": "ssh", "hosts": "[\"10.0.0.1\", \"10.0.0.2\"]", "port": "2222"
        }))
        .unwrap();
        assert_eq!(cfg.hosts, vec!["10.0.0.1", "10.0.0.2"]);
        assert_eq!(cfg.port, Some(2222));
        let cfg: HostChecksConfig =
            step_core::parse_config(json!({"spec": "s", "hosts": "a, b c"})).unwrap();
        assert_eq!(cfg.hosts, vec!["a", "b", "c"]);
        let cfg: HostChecksConfig =
            step_core::parse_config(json!({"spec": "s", "hosts": ["x"]})).unwrap();
        assert_eq!(cfg.hosts, vec!["x"]);
    }

    #[test]
    fn properties_that_do_not_fit_are_named() {
        let err = HostChecks::from_properties(json!({"spec": "s", "backend": "ssh"})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("hosts"));
        let err = HostChecks::from_properties(json!({"spec": "s", "port": 22})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("port"));
        let err =
            HostChecks::from_properties(json!({"spec": "s", "vars": {"env": 1}})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("vars.env"));
        let err =
            HostChecks::from_properties(json!({"spec": "s", "backend": "telnet"})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("backend"));
        let err = HostChecks::from_properties(json!({"spec": "s", "sepc": 1})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("sepc"));
    }

    #[test]
    fn summary_names_failures_and_counts() {
        let checks = vec![
            CheckResult::new("Port 1 should be listening", Status::Failed).in_group("h1: s.yml"),
            CheckResult::new("File /x should exist", Status::Passed),
            CheckResult::new("User u should exist", Status::Errored).in_group("h2: s.yml"),
        ];
        let o = summarize(checks, true, 2);
        assert!(o.is_failed());
        assert_eq!(
            o.message.as_deref(),
            Some(
                "2 of 3 checks failed on 2 hosts: Port 1 should be listening (h1); User u should exist (h2)"
            )
        );
        assert_eq!(o.outputs["passed"], json!(1));
        assert_eq!(o.outputs["failed"], json!(2));
        assert_eq!(o.outputs["total"], json!(3));
    }
}
