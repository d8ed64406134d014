//! The [`DockerBench`] step: run docker-bench-security once (or take an
//! existing log), read its log, and judge it with the [`WarnGate`](crate::gate::WarnGate).
//!
//! Running goes through a [`Backend`]: on this machine, on a host over ssh,
//! or in a container with `docker exec`. The script has to run from its own
//! directory (it sources `./functions/*.sh`), so the command is a fixed
//! `sh -c` wrapper that takes the directory, script name and log path as
//! positional parameters — config values are never spliced into shell code.

use std::path::Path;

use serde_json::Value;
use step_core::backend::Backend;
use step_core::{
    ConfigError, Outcome, Step, StepContext, StepError, ToolSpec, async_trait, parse_config,
};

use crate::config::DockerBenchConfig;
use crate::logs::{LoadedLog, LogError, LogHost, TEXT_LOG_NAME, text_log_path};

/// The script's file name in a clone of docker/docker-bench-security.
pub const SCRIPT_NAME: &str = "docker-bench-security.sh";

/// Output kept from the bench's own stdout/stderr, to explain a failure.
const CAPTURE_BYTES: usize = 1024 * 1024;

/// Runs the script from its directory after clearing the previous logs: the
/// bench appends to its text log, so an old run would otherwise be read as
/// part of this one, and a stale JSON log would be read instead of the new
/// text log of a version that writes no JSON.
const WRAPPER: &str = r#"dir=$1 script=$2 log=$3
shift 3
if [ ! -f "$dir/$script" ]; then
  echo "stepwise-dockerbench: script not found: $dir/$script" >&2
  exit 127
fi
case $log in /*) ;; *) log=$PWD/$log ;; esac
mkdir -p "${log%/*}" && rm -f "$log" "$log.json" || exit 126
cd "$dir" || exit 126
exec bash "./$script" -l "$log" "$@""#;

/// The `dockerbench` step. Build it with [`DockerBench::new`] (Rust) or
/// from properties with [`build`] (the runner).
#[derive(Clone, Debug)]
pub struct DockerBench {
    config: DockerBenchConfig,
}

/// Builds the step from its properties (the runner's entry point).
pub fn build(properties: Value) -> Result<Box<dyn Step>, ConfigError> {
    let config: DockerBenchConfig = parse_config(properties)?;
    Ok(Box::new(DockerBench::new(config)?))
}

impl DockerBench {
    /// A step from a validated config.
    pub fn new(config: DockerBenchConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(DockerBench { config })
    }

    /// Its config.
    pub fn config(&self) -> &DockerBenchConfig {
        &self.config
    }

    fn log_host(&self) -> LogHost<'_> {
        match (&self.config.backend, &self.config.host) {
            (Backend::Local, _) | (_, None) => LogHost::Local,
            (backend, Some(host)) => LogHost::Remote { backend, host },
        }
    }

    fn host(&self) -> &str {
        self.config.host.as_deref().unwrap_or("")
    }

    /// The tools this backend needs on this machine.
    // StepError is step-core's contract type; its size is step-core's call.
    fn require_tools(&self, cx: &StepContext) -> Result<(), StepError> {
        let tools: &[(&str, &str)] = match &self.config.backend {
            Backend::Local => &[
                (
                    "bash",
                    "install it with scripts/install-tools.sh (Debian package bash)",
                ),
                (
                    "docker",
                    "docker-bench-security needs the docker CLI; install it with scripts/install-tools.sh (Debian package docker.io)",
                ),
            ],
            Backend::Docker => &[(
                "docker",
                "the docker backend needs the docker CLI; install it with scripts/install-tools.sh (Debian package docker.io)",
            )],
            Backend::Ssh(_) => &[(
                "ssh",
                "the ssh backend needs the ssh client; install it with scripts/install-tools.sh (Debian package openssh-client)",
            )],
        };
        for (tool, hint) in tools {
            ToolSpec::new(*tool, *hint).find(cx.env(), cx.workdir())?;
        }
        Ok(())
    }

    /// Log mode: read the log named by `log`.
    async fn read_existing(&self, cx: &StepContext, log: &Path) -> Result<LoadedLog, StepError> {
        let host = self.log_host();
        let (given, is_dir) = match host {
            LogHost::Local => {
                let path = cx.resolve(log);
                let is_dir = path.is_dir();
                (path.to_string_lossy().into_owned(), is_dir)
            }
            LogHost::Remote { backend, host } => {
                self.require_tools(cx)?;
                let given = log.to_string_lossy().into_owned();
                let argv = ["test".to_string(), "-d".to_string(), given.clone()];
                let out = backend
                    .command(host, &argv)
                    .quiet()
                    .timeout(backend.default_timeout())
                    .run(cx)
                    .await?;
                (given, out.success())
            }
        };
        let files = host.read_pair(cx, &text_log_path(&given, is_dir)).await?;
        files.into_report().map_err(|e| match e {
            LogError::Missing { .. } => ConfigError::property("log", e.to_string()).into(),
            other => StepError::tool_output("docker-bench-security", other.to_string()),
        })
    }

    /// Run mode: run the script once and read the log it wrote.
    async fn run_bench(&self, cx: &StepContext, script: &Path) -> Result<LoadedLog, StepError> {
        let (dir, name, log_path) = self.locate(cx, script)?;
        self.require_tools(cx)?;
        let mut argv: Vec<String> = vec![
            "sh".into(),
            "-c".into(),
            WRAPPER.into(),
            "stepwise-dockerbench".into(),
            dir.clone(),
            name.clone(),
            log_path.clone(),
        ];
        argv.extend(self.config.script_args());
        let where_ = match &self.config.backend {
            Backend::Local => String::new(),
            b => format!(" on {} ({} backend)", self.host(), b.name()),
        };
        cx.info(format!(
            "running {dir}/{name}{where_} {}; logs: {log_path}[.json]",
            self.config.script_args().join(" ")
        ));
        let out = self
            .config
            .backend
            .command(self.host(), &argv)
            .capture(CAPTURE_BYTES)
            .run(cx)
            .await?;
        if !out.success() {
            let all = format!("{}\n{}", out.stdout, out.stderr);
            if all.contains("Error connecting to docker daemon") {
                return Err(StepError::tool_failed(
                    "docker-bench-security",
                    format!(
                        "the docker daemon is unreachable{where_}: docker-bench-security stopped with \"Error connecting to docker daemon (does docker ps work?)\" ({}); start dockerd (scripts/start-dockerd.sh) or fix DOCKER_HOST",
                        out.describe_status()
                    ),
                ));
            }
            if out
                .stderr
                .contains("stepwise-dockerbench: script not found")
            {
                return Err(ConfigError::property(
                    "script",
                    format!("{dir}/{name} does not exist{where_}"),
                )
                .into());
            }
            return Err(StepError::tool_failed(
                "docker-bench-security",
                format!(
                    "docker-bench-security{where_} failed ({}); its last lines:\n{}",
                    out.describe_status(),
                    last_lines(&all, 12)
                ),
            ));
        }
        let files = self.log_host().read_pair(cx, &log_path).await?;
        files.into_report().map_err(|e| {
            StepError::tool_output(
                "docker-bench-security",
                format!("docker-bench-security{where_} exited 0, but {e}"),
            )
        })
    }

    /// The script's directory, its file name and the text log's path.
    fn locate(
        &self,
        cx: &StepContext,
        script: &Path,
    ) -> Result<(String, String, String), StepError> {
        let lossy = |p: &Path| p.to_string_lossy().into_owned();
        match self.log_host() {
            LogHost::Local => {
                let path = cx.resolve(script);
                let (dir, name) = if path.is_dir() {
                    if !path.join(SCRIPT_NAME).is_file() {
                        return Err(ConfigError::property(
                            "script",
                            format!(
                                "{} holds no {SCRIPT_NAME}; point `script` at a clone of https://github.com/docker/docker-bench-security or at the script itself",
                                path.display()
                            ),
                        )
                        .into());
                    }
                    (path.clone(), SCRIPT_NAME.to_string())
                } else if path.is_file() {
                    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    (dir, name)
                } else {
                    return Err(ConfigError::property(
                        "script",
                        format!(
                            "{} does not exist; point `script` at docker-bench-security.sh or the directory holding it (a clone of https://github.com/docker/docker-bench-security)",
                            path.display()
                        ),
                    )
                    .into());
                };
                let log_dir = match &self.config.log_dir {
                    Some(d) => cx.resolve(d),
                    None => dir.join("log"),
                };
                Ok((lossy(&dir), name, lossy(&log_dir.join(TEXT_LOG_NAME))))
            }
            LogHost::Remote { .. } => {
                let given = lossy(script);
                let given = given.trim_end_matches('/');
                let (dir, name) = if given.ends_with(".sh") {
                    match given.rsplit_once('/') {
                        Some((d, n)) => (
                            if d.is_empty() { "/" } else { d }.to_string(),
                            n.to_string(),
                        ),
                        None => (".".to_string(), given.to_string()),
                    }
                } else {
                    (given.to_string(), SCRIPT_NAME.to_string())
                };
                let log_dir = match &self.config.log_dir {
                    Some(d) if d.is_absolute() => lossy(d),
                    Some(d) => format!("{dir}/{}", lossy(d)),
                    None => format!("{dir}/log"),
                };
                Ok((dir, name, format!("{log_dir}/{TEXT_LOG_NAME}")))
            }
        }
    }

    /// Judges a report and builds the outcome.
    fn judge(&self, cx: &StepContext, loaded: LoadedLog) -> Outcome {
        for note in &loaded.notes {
            cx.info(note.clone());
        }
        let report = &loaded.report;
        cx.info(format!(
            "read the {} log {}{}",
            report.format.as_str(),
            loaded.path,
            report
                .version
                .as_ref()
                .map(|v| format!(" (docker-bench-security {v})"))
                .unwrap_or_default()
        ));
        let verdict = self.config.gate().evaluate(report, &loaded.path);
        for line in &verdict.section_summaries {
            cx.info(line.clone());
        }
        if !verdict.score_from_log {
            cx.info(format!(
                "the log states no score; computed {} from the results (+1 per scored PASS, -1 per scored WARN)",
                verdict.score
            ));
        }
        let message = verdict.message();
        let mut outcome = if verdict.passed() {
            Outcome::passed().with_message(message)
        } else {
            Outcome::failed(message)
        };
        outcome.outputs = verdict.outputs();
        outcome
            .outputs
            .insert("log".into(), Value::String(loaded.path.clone()));
        outcome.outputs.insert(
            "format".into(),
            Value::String(report.format.as_str().into()),
        );
        outcome.warnings = loaded.warnings;
        outcome.warnings.extend(verdict.notes);
        outcome.findings = verdict.findings;
        outcome.checks = verdict.checks;
        outcome
    }
}

#[async_trait]
impl Step for DockerBench {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let loaded = match (&self.config.log, &self.config.script) {
            (Some(log), _) => self.read_existing(cx, log).await?,
            (None, Some(script)) => self.run_bench(cx, script).await?,
            (None, None) => {
                return Err(ConfigError::new(
                    "set `script` (run docker-bench-security) or `log` (gate an existing log)",
                )
                .into());
            }
        };
        Ok(self.judge(cx, loaded))
    }

    fn commands(&self) -> Vec<String> {
        match (&self.config.log, &self.config.script) {
            (Some(log), _) => vec![format!("(in-process) read the log {}", log.display())],
            (None, Some(script)) => {
                let mut args = self.config.script_args();
                args.extend(["-l".to_string(), "<log>".to_string()]);
                vec![step_core::command_line(
                    &script.display().to_string(),
                    &args,
                )]
            }
            (None, None) => Vec::new(),
        }
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
