//! One terraform session: the binary, the configuration directory, the
//! isolated environment (`TF_DATA_DIR`, workspace, plugin cache), the
//! variables — and the commands run in it (init, validate, plan, apply,
//! destroy, output), each with terraform's flags for automation, its JSON
//! output parsed, retries on transient errors and SIGINT on cancellation.
//!
//! The step kinds are thin compositions of these commands.

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use semver::Version;
use serde_json::{Map, Value};
use step_core::backoff::{Backoff, sleep_unless_cancelled};
use step_core::event::{Level, Stream};
use step_core::paths::{PathKind, require_path};
use step_core::process::{Cmd, ProcessError, StopSignal};
use step_core::scratch::PrivateDir;
use step_core::{ConfigError, Finding, StepContext, StepError, ToolSpec};

use crate::isolation::{Isolation, lock_for_init};
use crate::json_ui::{
    ChangeSummary, Diagnostic, UiCollector, ValidateReport, parse_plain_diagnostics,
};
use crate::options::{BackendConfig, TerraformOptions};

/// How to get terraform when it is missing.
pub(crate) const INSTALL_HINT: &str = "install it with scripts/install-tools.sh (HashiCorp's release zip), or add a `terraform-install` step before this one";

/// Bound on captured stderr (error messages) per command.
const STDERR_CAPTURE: usize = 1024 * 1024;
/// Bound on captured JSON documents (`validate -json`, `output -json`).
const DOCUMENT_CAPTURE: usize = 32 * 1024 * 1024;

/// How a command's output is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The JSON UI stream: shown as readable lines, diagnostics collected.
    Stream,
    /// One JSON document on stdout (hidden, captured); stderr shown.
    Document,
    /// Plain text, shown as it is.
    Plain,
    /// Nothing shown; stdout captured (outputs, which may be sensitive).
    Quiet,
}

/// One terraform invocation.
#[derive(Clone, Debug)]
pub(crate) struct Invocation {
    /// `plan`, or `state list` (a command with its own subcommand).
    pub command: Vec<String>,
    /// Flags stepwise adds (`-input=false -no-color …`).
    pub flags: Vec<String>,
    /// The user's extra arguments, after the flags.
    pub args: Vec<String>,
    /// Output handling.
    pub mode: Mode,
    /// Limit for one attempt.
    pub timeout: Option<Duration>,
    /// Exit codes that mean success (`plan -detailed-exitcode` exits 2 for
    /// "changes present").
    pub ok_codes: Vec<i32>,
}

impl Invocation {
    pub(crate) fn new(command: &str, mode: Mode) -> Self {
        Invocation {
            command: vec![command.to_string()],
            flags: Vec::new(),
            args: Vec::new(),
            mode,
            timeout: None,
            ok_codes: vec![0],
        }
    }

    fn name(&self) -> String {
        self.command.join(" ")
    }
}

/// What a command left.
#[derive(Clone, Debug)]
pub(crate) struct CommandResult {
    /// `plan`, `init`, …
    pub command: String,
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// "exit code 1", for messages.
    pub status: String,
    /// Whether the exit code is one of the command's success codes.
    pub ok: bool,
    /// Diagnostics from the JSON stream or document, and from plain text.
    pub diagnostics: Vec<Diagnostic>,
    /// The change summary of a plan/apply/destroy.
    pub changes: Option<ChangeSummary>,
    /// Captured stdout (documents and quiet commands only).
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
}

impl CommandResult {
    /// Diagnostics as findings, files relative to the working directory.
    pub fn findings(&self, session: &Session<'_>) -> Vec<Finding> {
        self.diagnostics
            .iter()
            .map(|d| d.to_finding(&session.config_dir, session.cx.workdir()))
            .collect()
    }

    /// "terraform init failed (exit code 1): Failed to query available
    /// provider packages: Could not retrieve …": terraform's own words, first
    /// error first.
    pub fn failure_message(&self, session: &Session<'_>) -> String {
        let what = format!("terraform {} failed ({})", self.command, self.status);
        let errors: Vec<&Diagnostic> = self.diagnostics.iter().filter(|d| d.is_error()).collect();
        if let Some(first) = errors.first() {
            let finding = first.to_finding(&session.config_dir, session.cx.workdir());
            let mut msg = format!("{what}: {}", first.summary);
            if let Some(loc) = &finding.location {
                msg.push_str(&format!(" at {loc}"));
            }
            let detail = crate::json_ui::collapse(&first.detail);
            if !detail.is_empty() {
                msg.push_str(": ");
                msg.push_str(&truncate(&detail, 400));
            }
            if errors.len() > 1 {
                msg.push_str(&format!(" (and {} more errors)", errors.len() - 1));
            }
            return msg;
        }
        let tail: Vec<&str> = self
            .stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let tail = tail[tail.len().saturating_sub(3)..].join(" ");
        if tail.is_empty() {
            what
        } else {
            format!("{what}: {}", truncate(&tail, 400))
        }
    }

    /// The text transient-error patterns are matched against.
    fn error_text(&self) -> String {
        let mut text = self.stderr.clone();
        for d in &self.diagnostics {
            text.push('\n');
            text.push_str(&d.summary);
            text.push('\n');
            text.push_str(&d.detail);
        }
        text
    }
}

/// A prepared terraform session (see the module docs).
pub(crate) struct Session<'a> {
    pub cx: &'a StepContext,
    pub opts: &'a TerraformOptions,
    retry_on: &'a [Regex],
    /// The terraform binary.
    pub binary: PathBuf,
    /// Its version, when it could be read.
    pub version: Option<Version>,
    /// The configuration directory (absolute).
    pub config_dir: PathBuf,
    /// Where this run keeps its data.
    pub isolation: Isolation,
    env: Vec<(String, String)>,
    env_remove: Vec<String>,
    var_files: Vec<PathBuf>,
    backend_flags: Vec<String>,
    /// The generated var file holding `vars`, in `scratch`.
    generated_vars: Option<PathBuf>,
    /// A private directory (0700) for generated files that may hold
    /// secrets (var file, backend settings); removed when the session ends.
    scratch: PrivateDir,
}

impl<'a> Session<'a> {
    /// Checks the properties against the file system, finds terraform and
    /// prepares the isolated environment.
    pub async fn prepare(
        cx: &'a StepContext,
        opts: &'a TerraformOptions,
        retry_on: &'a [Regex],
    ) -> Result<Session<'a>, StepError> {
        let config_dir = cx.resolve(&opts.dir);
        require_path("dir", &opts.dir, &config_dir, PathKind::Dir)?;
        let mut var_files = Vec::new();
        for (i, f) in opts.var_files.iter().enumerate() {
            let path = cx.resolve(f);
            require_path(format!("var_files[{i}]"), f, &path, PathKind::File)?;
            var_files.push(path);
        }
        let scratch = PrivateDir::new(cx, "stepwise-terraform-")?;
        let backend_flags = backend_flags(cx, &opts.backend_config, &scratch)?;

        let mut env: Vec<(String, String)> = Vec::new();
        let mut secrets = Vec::new();
        for (name, var) in &opts.secret_vars {
            let value = cx.env().get(var).ok_or_else(|| {
                ConfigError::property(
                    format!("secret_vars.{name}"),
                    format!("environment variable `{var}` is not set"),
                )
            })?;
            secrets.push(value.to_string());
            env.push((format!("TF_VAR_{name}"), value.to_string()));
        }
        cx.events().add_secrets(secrets);

        let binary = ToolSpec::new("terraform", INSTALL_HINT)
            .find(cx.env(), cx.workdir())?
            .path;

        let mut env_remove = Vec::new();
        for name in ["TF_CLI_CONFIG_FILE", "TERRAFORM_CONFIG"] {
            if let Some(path) = cx.env().get(name).filter(|p| !p.is_empty())
                && !cx.resolve(path).exists()
            {
                cx.events().log(
                    Level::Debug,
                    format!(
                        "{name} names {path}, which does not exist; unsetting it for terraform (it would only print a warning)"
                    ),
                );
                env_remove.push(name.to_string());
            }
        }

        let isolation = Isolation::for_run(cx, opts, &config_dir);
        std::fs::create_dir_all(&isolation.data_dir)
            .map_err(|e| StepError::io(format!("creating {}", isolation.data_dir.display()), e))?;
        env.push(("TF_DATA_DIR".into(), path_string(&isolation.data_dir)));
        env.push(("TF_IN_AUTOMATION".into(), "1".into()));
        env.push(("TF_INPUT".into(), "0".into()));
        env.push(("CHECKPOINT_DISABLE".into(), "1".into()));
        if let Some(ws) = &isolation.workspace {
            env.push(("TF_WORKSPACE".into(), ws.clone()));
        }
        if let Some(cache) = &isolation.plugin_cache {
            std::fs::create_dir_all(cache)
                .map_err(|e| StepError::io(format!("creating {}", cache.display()), e))?;
            env.push(("TF_PLUGIN_CACHE_DIR".into(), path_string(cache)));
        }

        let generated_vars = if opts.vars.is_empty() {
            None
        } else {
            Some(scratch.write_var_file("stepwise-vars.tfvars.json", &opts.vars)?)
        };

        let mut session = Session {
            cx,
            opts,
            retry_on,
            binary,
            version: None,
            config_dir,
            isolation,
            env,
            env_remove,
            var_files,
            backend_flags,
            generated_vars,
            scratch,
        };
        session.version = session.read_version().await;
        cx.events().log(
            Level::Debug,
            format!(
                "terraform {} at {}; TF_DATA_DIR={}; workspace {}",
                session
                    .version
                    .as_ref()
                    .map(Version::to_string)
                    .unwrap_or_else(|| "(version unknown)".into()),
                session.binary.display(),
                session.isolation.data_dir.display(),
                session.isolation.workspace.as_deref().unwrap_or("default"),
            ),
        );
        Ok(session)
    }

    /// The workspace in use, for messages.
    pub fn workspace(&self) -> &str {
        self.isolation.workspace.as_deref().unwrap_or("default")
    }

    async fn read_version(&self) -> Option<Version> {
        let out = self
            .base_cmd(&["version".to_string(), "-json".to_string()])
            .quiet()
            .capture(64 * 1024)
            .timeout(Duration::from_secs(30))
            .run(self.cx)
            .await
            .ok()?;
        serde_json::from_str::<Value>(&out.stdout)
            .ok()
            .and_then(|v| v.get("terraform_version")?.as_str().map(str::to_string))
            .and_then(|v| Version::parse(&v).ok())
            .or_else(|| step_core::tool::parse_version(&out.stdout))
    }

    fn base_cmd(&self, argv: &[String]) -> Cmd {
        self.with_env(Cmd::new(&self.binary).args(argv))
    }

    /// terraform through the relay ([`crate::relay`]): output via files
    /// in the private directory, so it survives the runner's death.
    fn relayed_cmd(
        &self,
        argv: &[String],
    ) -> Result<(Cmd, tempfile::NamedTempFile, tempfile::NamedTempFile), StepError> {
        let file = |suffix: &str| {
            tempfile::Builder::new()
                .prefix("terraform-")
                .suffix(suffix)
                .tempfile_in(self.scratch.path())
                .map_err(|e| StepError::io("creating terraform's output file", e))
        };
        let (out, err) = (file(".out")?, file(".err")?);
        let args = crate::relay::relay_args(out.path(), err.path(), &self.binary, argv);
        let cmd = self.with_env(Cmd::new("sh").args(args)).outlives_runner();
        Ok((cmd, out, err))
    }

    fn with_env(&self, cmd: Cmd) -> Cmd {
        let mut cmd = cmd
            .cwd(&self.config_dir)
            // terraform alone: its running provisioners finish and are
            // recorded in the state (see StopSignal::IntChildOnly).
            .stop_signal(StopSignal::IntChildOnly)
            .grace(self.opts.stop_grace);
        for (k, v) in &self.env {
            cmd = cmd.env(k.clone(), v.clone());
        }
        for k in &self.env_remove {
            cmd = cmd.env_remove(k.clone());
        }
        cmd
    }

    /// `-var-file` flags: the user's files, then the generated one (so
    /// `vars` override them).
    pub fn var_flags(&self) -> Vec<String> {
        let mut flags: Vec<String> = self
            .var_files
            .iter()
            .map(|f| format!("-var-file={}", f.display()))
            .collect();
        if let Some(generated) = &self.generated_vars {
            flags.push(format!("-var-file={}", generated.display()));
        }
        flags
    }

    fn lock_flags(&self) -> Vec<String> {
        self.opts
            .lock_timeout
            .map(|t| vec![format!("-lock-timeout={}s", t.as_secs().max(1))])
            .unwrap_or_default()
    }

    fn parallelism_flags(&self) -> Vec<String> {
        self.opts
            .parallelism
            .map(|p| vec![format!("-parallelism={p}")])
            .unwrap_or_default()
    }

    /// Runs an invocation, retrying transient failures.
    pub async fn run(&self, inv: &Invocation) -> Result<CommandResult, StepError> {
        let backoff = Backoff::doubling(self.opts.retry_delay);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let result = self.run_once(inv).await?;
            if result.ok || attempt > self.opts.retry_attempts {
                return Ok(result);
            }
            let text = result.error_text();
            let Some(pattern) = self.retry_on.iter().find(|re| re.is_match(&text)) else {
                return Ok(result);
            };
            let delay = backoff.delay(attempt);
            self.cx.warn(format!(
                "terraform {} failed with a transient error (matched `{}`); retrying in {} (attempt {} of {})",
                inv.name(),
                pattern.as_str(),
                display_duration(delay),
                attempt + 1,
                self.opts.retry_attempts + 1,
            ));
            sleep_unless_cancelled(self.cx.cancel(), delay).await?;
        }
    }

    async fn run_once(&self, inv: &Invocation) -> Result<CommandResult, StepError> {
        // Flags go right after the command; for `state list` & co. after the
        // nested subcommand, which must come first.
        let mut argv = inv.command.clone();
        argv.extend(inv.flags.iter().cloned());
        argv.extend(inv.args.iter().cloned());
        // apply and destroy write state: they must survive the runner.
        let relayed = matches!(
            inv.command.first().map(String::as_str),
            Some("apply" | "destroy")
        );
        let (mut cmd, _files) = if relayed {
            let (cmd, out, err) = self.relayed_cmd(&argv)?;
            (cmd, Some((out, err)))
        } else {
            (self.base_cmd(&argv), None)
        };
        if let Some(t) = inv.timeout {
            cmd = cmd.timeout(t);
        }
        let collector = UiCollector::new();
        cmd = match inv.mode {
            Mode::Stream => cmd.filter(collector.filter()).capture(STDERR_CAPTURE),
            Mode::Document => cmd
                .filter(std::sync::Arc::new(|stream: Stream, line: &str| {
                    (stream == Stream::Stderr).then(|| line.to_string())
                }))
                .capture(DOCUMENT_CAPTURE),
            Mode::Plain => cmd.capture(STDERR_CAPTURE),
            Mode::Quiet => cmd.quiet().capture(DOCUMENT_CAPTURE),
        };
        let out = cmd.run(self.cx).await.map_err(|e| match e {
            ProcessError::TimedOut { after, .. } => StepError::TimedOut {
                what: format!("terraform {}", inv.name()),
                after,
            },
            other => StepError::from(other),
        })?;
        let code = out.code();
        let ok = code.is_some_and(|c| inv.ok_codes.contains(&c));
        let mut diagnostics = Vec::new();
        let mut changes = None;
        match inv.mode {
            Mode::Stream => {
                let summary = collector.summary();
                diagnostics = summary.diagnostics;
                changes = summary.changes;
            }
            Mode::Document => {
                if let Ok(report) = ValidateReport::parse(&out.stdout) {
                    diagnostics = report.diagnostics;
                }
            }
            Mode::Plain => diagnostics = parse_plain_diagnostics(&out.stdout),
            Mode::Quiet => {}
        }
        // Errors terraform prints before its JSON UI starts (bad flags, an
        // unreadable config) arrive as plain text on stderr.
        diagnostics.extend(parse_plain_diagnostics(&out.stderr));
        if out.truncated && inv.mode == Mode::Document {
            return Err(StepError::tool_output(
                "terraform",
                format!(
                    "terraform {} printed more than {} MiB; its output could not be read",
                    inv.name(),
                    DOCUMENT_CAPTURE / (1024 * 1024)
                ),
            ));
        }
        Ok(CommandResult {
            command: inv.name(),
            code,
            status: out.describe_status(),
            ok,
            diagnostics,
            changes,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// `terraform init`, holding the init lock (see [`crate::isolation`]).
    pub async fn init(&self, extra: &[String]) -> Result<CommandResult, StepError> {
        let _lock = lock_for_init(self.cx, &self.isolation.init_lock).await?;
        // `init -json` exists since terraform 1.9; older versions get text.
        let json = self
            .version
            .as_ref()
            .is_some_and(|v| *v >= Version::new(1, 9, 0));
        let mut inv = Invocation::new("init", if json { Mode::Stream } else { Mode::Plain });
        inv.flags = vec!["-input=false".into(), "-no-color".into()];
        if json {
            inv.flags.push("-json".into());
        }
        inv.flags.extend(self.lock_flags());
        inv.flags.extend(self.backend_flags.iter().cloned());
        inv.args = extra.to_vec();
        inv.timeout = Some(self.opts.init_timeout);
        self.run(&inv).await
    }

    /// `terraform validate -json`.
    pub async fn validate(&self, extra: &[String]) -> Result<CommandResult, StepError> {
        let mut inv = Invocation::new("validate", Mode::Document);
        inv.flags = vec!["-no-color".into(), "-json".into()];
        inv.args = extra.to_vec();
        self.run(&inv).await
    }

    /// `terraform plan -detailed-exitcode` (exit 2 = changes present).
    pub async fn plan(&self, extra: &[String]) -> Result<CommandResult, StepError> {
        let mut inv = Invocation::new("plan", Mode::Stream);
        inv.flags = vec![
            "-input=false".into(),
            "-no-color".into(),
            "-json".into(),
            "-detailed-exitcode".into(),
        ];
        inv.flags.extend(self.lock_flags());
        inv.flags.extend(self.parallelism_flags());
        inv.flags.extend(self.var_flags());
        inv.args = extra.to_vec();
        inv.ok_codes = vec![0, 2];
        self.run(&inv).await
    }

    /// `terraform apply -auto-approve` (or `destroy -auto-approve`).
    pub async fn apply(&self, destroy: bool, extra: &[String]) -> Result<CommandResult, StepError> {
        let mut inv = Invocation::new(if destroy { "destroy" } else { "apply" }, Mode::Stream);
        inv.flags = vec![
            "-input=false".into(),
            "-no-color".into(),
            "-json".into(),
            "-auto-approve".into(),
        ];
        inv.flags.extend(self.lock_flags());
        inv.flags.extend(self.parallelism_flags());
        inv.flags.extend(self.var_flags());
        inv.args = extra.to_vec();
        self.run(&inv).await
    }

    /// Any other command: `-no-color` (and, for commands that read
    /// variables or lock state, those flags), output shown as text.
    pub async fn other(&self, command: &str, extra: &[String]) -> Result<CommandResult, StepError> {
        let mut inv = Invocation::new(command, Mode::Plain);
        let mut args = extra.to_vec();
        if matches!(command, "state" | "workspace" | "providers") && !args.is_empty() {
            inv.command.push(args.remove(0));
        }
        inv.flags = vec!["-no-color".into()];
        if matches!(command, "refresh" | "import") {
            inv.flags.insert(0, "-input=false".into());
            inv.flags.extend(self.lock_flags());
            inv.flags.extend(self.var_flags());
        }
        inv.args = args;
        self.run(&inv).await
    }

    /// `terraform output -json`: the outputs, name → value. Sensitive values
    /// are registered as secrets before they are returned, so no event can
    /// show them; nothing of this command is streamed.
    pub async fn outputs(&self) -> Result<Result<Map<String, Value>, CommandResult>, StepError> {
        let mut inv = Invocation::new("output", Mode::Quiet);
        inv.flags = vec!["-no-color".into(), "-json".into()];
        inv.timeout = Some(Duration::from_secs(300));
        let result = self.run(&inv).await?;
        if !result.ok {
            return Ok(Err(result));
        }
        let (outputs, secrets) = parse_outputs(&result.stdout).map_err(|e| {
            StepError::tool_output(
                "terraform",
                format!("could not read `terraform output -json`: {e}"),
            )
        })?;
        self.cx.events().add_secrets(secrets);
        Ok(Ok(outputs))
    }
}

/// Parses `terraform output -json` into name → value, and the strings a
/// sensitive output could be printed as (to mask them).
pub(crate) fn parse_outputs(text: &str) -> Result<(Map<String, Value>, Vec<String>), String> {
    let doc: Value = serde_json::from_str(text.trim()).map_err(|e| format!("not JSON ({e})"))?;
    let Value::Object(entries) = doc else {
        return Err("expected a JSON object of outputs".into());
    };
    let mut outputs = Map::new();
    let mut secrets = Vec::new();
    for (name, entry) in entries {
        let sensitive = entry
            .get("sensitive")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let value = entry.get("value").cloned().unwrap_or(Value::Null);
        if sensitive {
            secret_forms(&value, &mut secrets);
        }
        outputs.insert(name, value);
    }
    Ok((outputs, secrets))
}

/// Every string a sensitive value could appear as: its scalars and, for
/// lists and maps, their JSON text.
fn secret_forms(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => {
            out.push(value.to_string());
            items.iter().for_each(|v| secret_forms(v, out));
        }
        Value::Object(map) => {
            out.push(value.to_string());
            map.values().for_each(|v| secret_forms(v, out));
        }
        Value::Bool(_) | Value::Null => {}
    }
}

/// `-backend-config` flags. Settings (`key: value`, or `key=value`
/// entries) go into a generated backend file in the private directory, so
/// credentials never reach the command line; file entries are passed as is.
fn backend_flags(
    cx: &StepContext,
    config: &BackendConfig,
    scratch: &PrivateDir,
) -> Result<Vec<String>, StepError> {
    let mut settings: Vec<(String, Value)> = Vec::new();
    let mut flags = Vec::new();
    match config {
        BackendConfig::Settings(map) => {
            settings.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        BackendConfig::Entries(entries) => {
            for (i, entry) in entries.iter().enumerate() {
                if let Some((k, v)) = entry.split_once('=') {
                    settings.push((k.trim().to_string(), Value::String(v.to_string())));
                    continue;
                }
                let path = cx.resolve(entry);
                require_path(format!("backend_config[{i}]"), entry, &path, PathKind::File)
                    .map_err(|mut e| {
                        e.message
                            .push_str("; entries are key=value settings or backend config files");
                        e
                    })?;
                flags.push(format!("-backend-config={}", path.display()));
            }
        }
    }
    if !settings.is_empty() {
        let mut text = String::new();
        for (k, v) in &settings {
            let v = match v {
                Value::String(s) => hcl_string(s),
                other => other.to_string(),
            };
            text.push_str(&format!("{k} = {v}\n"));
        }
        let file = scratch.write("backend.tfbackend", text.as_bytes())?;
        flags.insert(0, format!("-backend-config={}", file.display()));
    }
    Ok(flags)
}

/// A quoted HCL string: JSON escapes, and `${`/`%{` doubled so terraform
/// does not read them as templates.
fn hcl_string(s: &str) -> String {
    let json = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    json.replace("${", "$${").replace("%{", "%%{")
}

/// `5s`, `1m30s`, `250ms`: short durations for messages.
pub(crate) fn display_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

fn path_string(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_values_and_sensitive_ones_become_secrets() {
        let text = r#"{
          "path": {"sensitive": false, "type": "string", "value": "/tmp/m"},
          "pw": {"sensitive": true, "type": "string", "value": "hunter22"},
          "creds": {"sensitive": true, "type": ["object", {}], "value": {"user": "admin", "port": 5432}}
        }"#;
        let (outputs, secrets) = parse_outputs(text).unwrap();
        assert_eq!(outputs["path"], "/tmp/m");
        assert_eq!(outputs["pw"], "hunter22");
        assert_eq!(outputs["creds"]["user"], "admin");
        assert!(secrets.contains(&"hunter22".to_string()));
        assert!(secrets.contains(&"admin".to_string()));
        assert!(secrets.contains(&"5432".to_string()));
        assert!(!secrets.contains(&"/tmp/m".to_string()));
        assert!(parse_outputs("[1]").is_err());
        assert!(parse_outputs("nope").is_err());
        assert!(parse_outputs("{}").unwrap().0.is_empty());
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
