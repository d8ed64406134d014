//! The properties every terraform kind shares (`terraform`, `terraform-apply`,
//! `terraform-destroy`): where the configuration is, its variables, its
//! workspace and backend, how runs are isolated, retried and stopped.
//!
//! They are one struct so a `terraform-apply` can hand exactly its own
//! settings to the `terraform-destroy` it registers as teardown: the destroy
//! then targets the same directory, variables, workspace and data directory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use step_core::config::duration;
use step_core::process::StopSignal;
use step_core::{ConfigError, PropertyDoc, PropertyType, StopPolicy};

/// Errors that are worth another attempt by default: network hiccups and
/// cloud API throttling. A failing run whose output matches one of these is
/// retried (see [`TerraformOptions::retry_on`]).
pub const DEFAULT_RETRY_ON: &[&str] = &[
    r"(?i)connection reset by peer",
    r"(?i)TLS handshake timeout",
    r"(?i)i/o timeout",
    r"(?i)timeout awaiting response headers",
    r"RequestLimitExceeded",
    r"(?i)\bThrottl(ed|ing)\b",
    r"(?i)rate exceeded",
    r"(?i)too many requests",
    r"(?i)503 Service Unavailable",
];

/// Settings shared by the `terraform`, `terraform-apply` and
/// `terraform-destroy` kinds.
///
/// Every field has a default, so `TerraformOptions::default()` targets the
/// working directory itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformOptions {
    /// The configuration directory, relative to the step's working directory.
    #[serde(default = "default_dir")]
    pub dir: PathBuf,
    /// Input variables, name → value (string, number, bool, list or map).
    /// Passed to terraform in a generated `-var-file` (mode 0600, removed
    /// afterwards), never on the command line. They override `var_files`.
    /// A `terraform-apply` records them in its teardown: put secrets in
    /// [`secret_vars`](Self::secret_vars) instead.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, Value>,
    /// Input variables whose values come from environment variables, name →
    /// environment variable name (`db_password: DB_PASSWORD`). The value is
    /// read when the step runs, registered as a secret and passed as
    /// `TF_VAR_<name>`, so only the variable's *name* is ever recorded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_vars: BTreeMap<String, String>,
    /// Variable files (`-var-file`), relative to the working directory, in
    /// order (later files win).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub var_files: Vec<PathBuf>,
    /// The terraform workspace. Default: the parallel target's name when the
    /// step runs for one (so targets never share state), else `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Backend settings for `init`: a map (`bucket: my-state` →
    /// `-backend-config=bucket=my-state`) or a list of `key=value` strings and
    /// backend config files.
    #[serde(default, skip_serializing_if = "BackendConfig::is_empty")]
    pub backend_config: BackendConfig,
    /// Limits concurrent operations (`-parallelism`) of plan/apply/destroy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    /// How long to wait for the state lock (`-lock-timeout`).
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub lock_timeout: Option<Duration>,
    /// `TF_DATA_DIR`. Default: `.stepwise/terraform/<target>/<dir>-<hash>`
    /// under the working directory, one per target and configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// A provider plugin cache shared between runs (`TF_PLUGIN_CACHE_DIR`;
    /// the environment's value is used when this is unset). `init`s that use
    /// it are serialized with a file lock, because terraform's cache is not
    /// safe for concurrent writers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_cache_dir: Option<PathBuf>,
    /// What isolates this run from parallel ones (data directory and default
    /// workspace). Default: the parallel target's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation_key: Option<String>,
    /// Regular expressions matched against a failed run's errors; a match
    /// makes the run transient and retried. Default: [`DEFAULT_RETRY_ON`].
    #[serde(default = "default_retry_on")]
    pub retry_on: Vec<String>,
    /// How many times a transient failure is retried (0 = never).
    #[serde(default = "default_retry_attempts")]
    pub retry_attempts: u32,
    /// The pause before the first retry; it doubles for each further one.
    #[serde(default = "default_retry_delay", with = "duration")]
    pub retry_delay: Duration,
    /// After SIGINT (terraform's graceful stop, which writes state), how
    /// long to wait before the process group is killed.
    #[serde(default = "default_stop_grace", with = "duration")]
    pub stop_grace: Duration,
    /// A limit for each `init` (provider and module downloads).
    #[serde(default = "default_init_timeout", with = "duration")]
    pub init_timeout: Duration,
}

impl Default for TerraformOptions {
    fn default() -> Self {
        TerraformOptions {
            dir: default_dir(),
            vars: BTreeMap::new(),
            secret_vars: BTreeMap::new(),
            var_files: Vec::new(),
            workspace: None,
            backend_config: BackendConfig::default(),
            parallelism: None,
            lock_timeout: None,
            data_dir: None,
            plugin_cache_dir: None,
            isolation_key: None,
            retry_on: default_retry_on(),
            retry_attempts: default_retry_attempts(),
            retry_delay: default_retry_delay(),
            stop_grace: default_stop_grace(),
            init_timeout: default_init_timeout(),
        }
    }
}

impl TerraformOptions {
    /// How a terraform step is stopped: SIGINT to terraform alone (its
    /// running provisioners finish and it writes its state), then SIGKILL
    /// to the group after `stop_grace`.
    pub fn stop_policy(&self) -> StopPolicy {
        StopPolicy::new(StopSignal::IntChildOnly, self.stop_grace)
    }

    /// Options for the configuration in `dir`, everything else default.
    pub fn for_dir(dir: impl Into<PathBuf>) -> Self {
        TerraformOptions {
            dir: dir.into(),
            ..TerraformOptions::default()
        }
    }

    /// Checks what can be checked without running anything, the retry
    /// patterns included (compiled when a step first runs).
    pub fn validate(&self) -> Result<RetryPatterns, ConfigError> {
        if let Some(ws) = &self.workspace
            && !is_valid_workspace(ws)
        {
            return Err(ConfigError::property(
                "workspace",
                format!(
                    "`{ws}` is not a valid workspace name; use letters, digits, `-`, `_` and `.`"
                ),
            ));
        }
        let names = self.vars.keys().map(|n| ("vars", n));
        let secret_names = self.secret_vars.keys().map(|n| ("secret_vars", n));
        for (property, name) in names.chain(secret_names) {
            if !is_identifier(name) {
                return Err(ConfigError::property(
                    format!("{property}.{name}"),
                    "a terraform variable name must start with a letter or `_` and hold only letters, digits, `_` and `-`",
                ));
            }
        }
        for (name, env) in &self.secret_vars {
            if env.is_empty() || env.contains('=') || env.starts_with('$') {
                return Err(ConfigError::property(
                    format!("secret_vars.{name}"),
                    format!(
                        "expected the *name* of an environment variable (like DB_PASSWORD), got `{env}`"
                    ),
                ));
            }
        }
        if self.parallelism == Some(0) {
            return Err(ConfigError::property("parallelism", "must be at least 1"));
        }
        // The default patterns are known to compile (a unit test compiles
        // them); only the ones a user wrote are compiled to check them.
        for (i, pattern) in self.retry_on.iter().enumerate() {
            if DEFAULT_RETRY_ON.contains(&pattern.as_str()) {
                continue;
            }
            compile_cached(pattern).map_err(|e| {
                ConfigError::property(
                    format!("retry_on[{i}]"),
                    format!("not a regular expression: {e}"),
                )
            })?;
        }
        Ok(RetryPatterns {
            patterns: self.retry_on.clone(),
            compiled: OnceLock::new(),
        })
    }
}

/// A step's `retry_on` patterns, compiled the first time the step runs:
/// compiling the case-insensitive default set cost about a millisecond of
/// every `runner validate`, which builds steps but never runs them.
#[derive(Clone, Debug)]
pub struct RetryPatterns {
    patterns: Vec<String>,
    compiled: OnceLock<Vec<Regex>>,
}

impl RetryPatterns {
    /// The compiled patterns. Every pattern was checked by
    /// [`TerraformOptions::validate`], so none is left out.
    pub fn regexes(&self) -> &[Regex] {
        self.compiled.get_or_init(|| {
            self.patterns
                .iter()
                .filter_map(|p| compile_cached(p).ok())
                .collect()
        })
    }
}

/// Compiles a `retry_on` pattern once per process: the default set is the
/// same for every terraform step, and compiling its case-insensitive
/// patterns costs about a millisecond per step (it showed in `runner
/// validate`). `Regex` clones share the compiled program.
fn compile_cached(pattern: &str) -> Result<Regex, regex::Error> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static CACHE: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(map) = cache.lock()
        && let Some(re) = map.get(pattern)
    {
        return Ok(re.clone());
    }
    let re = Regex::new(pattern)?;
    if let Ok(mut map) = cache.lock() {
        map.insert(pattern.to_string(), re.clone());
    }
    Ok(re)
}

/// Parses the properties of a config that flattens [`TerraformOptions`]
/// into its own fields (`own` names them). serde loses the property path of
/// errors inside a flattened struct, so the shared part is checked on its
/// own first: a bad `lock_timeout` is reported as `lock_timeout`.
pub(crate) fn parse_with_options<T: serde::de::DeserializeOwned>(
    properties: Value,
    own: &[&str],
) -> Result<T, ConfigError> {
    let properties = match properties {
        Value::Null => Value::Object(Default::default()),
        other => other,
    };
    if let Value::Object(map) = &properties {
        let shared: serde_json::Map<String, Value> = map
            .iter()
            .filter(|(k, _)| !own.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        step_core::parse_config::<TerraformOptions>(Value::Object(shared))?;
    }
    step_core::parse_config(properties)
}

/// Backend settings for `terraform init`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BackendConfig {
    /// `key: value` pairs, each passed as `-backend-config=key=value`.
    Settings(BTreeMap<String, Value>),
    /// `key=value` strings and paths of backend config files (relative to
    /// the working directory).
    Entries(Vec<String>),
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig::Settings(BTreeMap::new())
    }
}

impl BackendConfig {
    /// Whether there is nothing to pass.
    pub fn is_empty(&self) -> bool {
        match self {
            BackendConfig::Settings(m) => m.is_empty(),
            BackendConfig::Entries(v) => v.is_empty(),
        }
    }
}

fn default_dir() -> PathBuf {
    PathBuf::from(".")
}

fn default_retry_on() -> Vec<String> {
    DEFAULT_RETRY_ON.iter().map(|s| s.to_string()).collect()
}

fn default_retry_attempts() -> u32 {
    2
}

fn default_retry_delay() -> Duration {
    Duration::from_secs(5)
}

/// The steps' stop policy ([`TerraformOptions::stop_policy`]) tells the
/// runner to wait this long for terraform to stop gracefully.
fn default_stop_grace() -> Duration {
    Duration::from_secs(25)
}

fn default_init_timeout() -> Duration {
    Duration::from_secs(300)
}

/// Terraform accepts URL-safe workspace names without path separators.
pub(crate) fn is_valid_workspace(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 90
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && name != "."
        && name != ".."
}

fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Documentation of the shared properties, for the kinds' descriptions.
pub(crate) fn property_docs() -> Vec<PropertyDoc> {
    vec![
        PropertyDoc::with_default(
            "dir",
            PropertyType::Path,
            ".",
            "The terraform configuration directory, relative to the working directory.",
        ),
        PropertyDoc::optional(
            "vars",
            PropertyType::Map,
            "Input variables (name: value; strings, numbers, bools, lists, maps). Passed in a generated var file, never on the command line; they override var_files. Recorded in a teardown: use secret_vars for secrets.",
        ),
        PropertyDoc::optional(
            "secret_vars",
            PropertyType::Map,
            "Input variables read from environment variables at run time (name: ENV_VAR_NAME), passed as TF_VAR_<name> and masked; only the variable's name is recorded.",
        ),
        PropertyDoc::optional(
            "var_files",
            PropertyType::List,
            "Variable files (-var-file), relative to the working directory; later files win.",
        ),
        PropertyDoc::optional(
            "workspace",
            PropertyType::String,
            "The terraform workspace. Default: the parallel target's name when the step runs for one, else `default`.",
        ),
        PropertyDoc::optional(
            "backend_config",
            PropertyType::Any,
            "Backend settings for init: a map (key: value) or a list of key=value strings and backend config files.",
        ),
        PropertyDoc::optional(
            "parallelism",
            PropertyType::Integer,
            "Concurrent operations of plan/apply/destroy (-parallelism).",
        ),
        PropertyDoc::optional(
            "lock_timeout",
            PropertyType::Duration,
            "How long to wait for the state lock (-lock-timeout).",
        ),
        PropertyDoc::optional(
            "data_dir",
            PropertyType::Path,
            "TF_DATA_DIR. Default: .stepwise/terraform/<target>/<dir>-<hash> under the working directory (one per target and configuration).",
        ),
        PropertyDoc::optional(
            "plugin_cache_dir",
            PropertyType::Path,
            "A shared provider plugin cache (TF_PLUGIN_CACHE_DIR; the environment's value when unset). Inits using it are serialized with a file lock.",
        ),
        PropertyDoc::optional(
            "isolation_key",
            PropertyType::String,
            "What isolates this run from parallel ones (data directory, default workspace). Default: the parallel target's name.",
        ),
        PropertyDoc::with_default(
            "retry_on",
            PropertyType::List,
            "network and throttling errors",
            "Regular expressions matched against a failed run's errors; a match retries the run.",
        ),
        PropertyDoc::with_default(
            "retry_attempts",
            PropertyType::Integer,
            "2",
            "How many times a transient failure (one matching retry_on) is retried.",
        ),
        PropertyDoc::with_default(
            "retry_delay",
            PropertyType::Duration,
            "5s",
            "Pause before the first retry; doubles for each further one.",
        ),
        PropertyDoc::with_default(
            "stop_grace",
            PropertyType::Duration,
            "25s",
            "On cancellation terraform gets SIGINT (it stops gracefully and writes state); after this long its process group is killed.",
        ),
        PropertyDoc::with_default(
            "init_timeout",
            PropertyType::Duration,
            "5m",
            "Limit for each terraform init (provider and module downloads).",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_retry_patterns_compile_and_every_one_reaches_the_step() {
        for pattern in DEFAULT_RETRY_ON {
            assert!(Regex::new(pattern).is_ok(), "{pattern}");
        }
        let mut opts = TerraformOptions::for_dir("infra");
        opts.retry_on.push("custom (error|failure)".into());
        let patterns = opts.validate().unwrap();
        assert_eq!(patterns.regexes().len(), DEFAULT_RETRY_ON.len() + 1);
        assert!(
            patterns
                .regexes()
                .iter()
                .any(|re| re.is_match("custom failure"))
        );
    }

    #[test]
    fn defaults_round_trip_through_properties() {
        let opts: TerraformOptions = step_core::parse_config(serde_json::json!({})).unwrap();
        assert_eq!(opts, TerraformOptions::default());
        let value = serde_json::to_value(&opts).unwrap();
        let back: TerraformOptions = step_core::parse_config(value).unwrap();
        assert_eq!(back, opts);
    }

    #[test]
    fn bad_values_name_their_property() {
        let err = step_core::parse_config::<TerraformOptions>(
            serde_json::json!({"lock_timeout": "soon"}),
        )
        .unwrap_err();
        assert_eq!(err.property.as_deref(), Some("lock_timeout"));
        let opts = TerraformOptions {
            retry_on: vec!["ok".into(), "(".into()],
            ..TerraformOptions::default()
        };
        assert_eq!(
            opts.validate().unwrap_err().property.as_deref(),
            Some("retry_on[1]")
        );
        let opts = TerraformOptions {
            workspace: Some("a/b".into()),
            ..TerraformOptions::default()
        };
        assert_eq!(
            opts.validate().unwrap_err().property.as_deref(),
            Some("workspace")
        );
        let mut opts = TerraformOptions::default();
        opts.secret_vars.insert("pw".into(), "$PW".into());
        assert_eq!(
            opts.validate().unwrap_err().property.as_deref(),
            Some("secret_vars.pw")
        );
    }

    #[test]
    fn backend_config_takes_a_map_or_a_list() {
        let opts: TerraformOptions =
            step_core::parse_config(serde_json::json!({"backend_config": {"bucket": "b"}}))
                .unwrap();
        assert!(matches!(opts.backend_config, BackendConfig::Settings(ref m) if m.len() == 1));
        let opts: TerraformOptions = step_core::parse_config(
            serde_json::json!({"backend_config": ["key=v", "backend.hcl"]}),
        )
        .unwrap();
        assert!(matches!(opts.backend_config, BackendConfig::Entries(ref v) if v.len() == 2));
    }
}
