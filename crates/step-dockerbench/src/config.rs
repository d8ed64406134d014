//! The `dockerbench` step's configuration: the typed struct the YAML
//! properties and the Rust API share, and its validation.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};
use step_core::ConfigError;
use step_core::backend::{Backend, SshOptions};

use crate::gate::{IgnoredCheck, WarnGate};
use crate::report::normalize_check_id;

/// Properties of the `dockerbench` step.
///
/// Two modes: **run** (`script` set) runs docker-bench-security once through
/// a backend and gates its log; **log** (`log` set) gates a log the bench
/// wrote elsewhere, without running anything.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerBenchConfig {
    /// Run mode: `docker-bench-security.sh`, or the directory holding it (a
    /// clone of docker/docker-bench-security). With the ssh and docker
    /// backends this is a path on the host / in the container.
    #[serde(default)]
    pub script: Option<PathBuf>,
    /// Log mode: an existing log — the text log, its `.json` sibling, or the
    /// directory holding `docker-bench-security.log[.json]`.
    #[serde(default)]
    pub log: Option<PathBuf>,
    /// Run mode: where the bench writes its logs (passed as `-l
    /// <log_dir>/docker-bench-security.log`). Default: `log` next to the script.
    #[serde(default)]
    pub log_dir: Option<PathBuf>,
    /// Run mode: only these checks or groups (`-c`): `5.4`, `check_5_4`,
    /// `container_runtime`. A list or a comma-separated string.
    #[serde(default, deserialize_with = "string_list")]
    pub checks: Vec<String>,
    /// Run mode: checks or groups to skip (`-e`), written like `checks`.
    #[serde(default, deserialize_with = "string_list")]
    pub exclude: Vec<String>,
    /// Run mode: only containers and images whose name matches one of these
    /// patterns (`-i`).
    #[serde(default, deserialize_with = "string_list")]
    pub containers: Vec<String>,
    /// Run mode: containers and images to leave out (`-x`).
    #[serde(default, deserialize_with = "string_list")]
    pub exclude_containers: Vec<String>,
    /// Run mode: further arguments passed to the script as they are
    /// (`[-u, alice]`, `[-n, "10"]`).
    #[serde(default)]
    pub args: Vec<String>,
    /// Run mode: ask the bench for remediation measures (`-p`), which then
    /// appear in the findings. Versions before 1.3.6 lack `-p`: set false.
    #[serde(default = "yes")]
    pub remediation: bool,
    /// Where the bench runs: `local` (default), `docker` (`docker exec` into
    /// `host`), `ssh` or `{ssh: {user, port, identity_file, …}}`.
    #[serde(default = "local_backend", deserialize_with = "backend")]
    pub backend: Backend,
    /// The ssh host or the container (name or id) for the ssh and docker backends.
    #[serde(default)]
    pub host: Option<String>,
    /// Fail when more WARN results than this are counted (equal passes).
    /// Unset: no limit.
    #[serde(default)]
    pub max_warnings: Option<u64>,
    /// Fail when the score is below this. Unset: no limit.
    #[serde(default)]
    pub min_score: Option<i64>,
    /// Check ids that fail the step when they are WARN, whatever the count.
    #[serde(default, deserialize_with = "string_list")]
    pub fail_on: Vec<String>,
    /// WARN results to list but not count: `[{id: "2.1", reason: "…"}]`.
    #[serde(default)]
    pub ignore: Vec<IgnoredCheck>,
}

impl Default for DockerBenchConfig {
    fn default() -> Self {
        DockerBenchConfig {
            script: None,
            log: None,
            log_dir: None,
            checks: Vec::new(),
            exclude: Vec::new(),
            containers: Vec::new(),
            exclude_containers: Vec::new(),
            args: Vec::new(),
            remediation: true,
            backend: Backend::Local,
            host: None,
            max_warnings: None,
            min_score: None,
            fail_on: Vec::new(),
            ignore: Vec::new(),
        }
    }
}

impl DockerBenchConfig {
    /// Run mode: run the script at this path (the `.sh` or its directory).
    pub fn run(script: impl Into<PathBuf>) -> Self {
        DockerBenchConfig {
            script: Some(script.into()),
            ..DockerBenchConfig::default()
        }
    }

    /// Log mode: gate this existing log.
    pub fn log(log: impl Into<PathBuf>) -> Self {
        DockerBenchConfig {
            log: Some(log.into()),
            ..DockerBenchConfig::default()
        }
    }

    /// The gate these properties describe.
    pub fn gate(&self) -> WarnGate {
        WarnGate {
            max_warnings: self.max_warnings,
            min_score: self.min_score,
            fail_on: self.fail_on.clone(),
            ignore: self.ignore.clone(),
        }
    }

    /// Checks the properties make sense together; errors name the property.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match (&self.script, &self.log) {
            (None, None) => {
                return Err(ConfigError::new(
                    "set `script` (run docker-bench-security) or `log` (gate an existing log)",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(ConfigError::property(
                    "log",
                    "`script` runs the bench and `log` gates an existing log; set only one",
                ));
            }
            _ => {}
        }
        if self.log.is_some() {
            let run_only: [(&str, bool); 6] = [
                ("log_dir", self.log_dir.is_some()),
                ("checks", !self.checks.is_empty()),
                ("exclude", !self.exclude.is_empty()),
                ("containers", !self.containers.is_empty()),
                ("exclude_containers", !self.exclude_containers.is_empty()),
                ("args", !self.args.is_empty()),
            ];
            if let Some((name, _)) = run_only.iter().find(|(_, set)| *set) {
                return Err(ConfigError::property(
                    *name,
                    "only applies when the step runs the bench (`script`), not when it gates an existing `log`",
                ));
            }
        }
        match (&self.backend, &self.host) {
            (Backend::Local, Some(_)) => {
                return Err(ConfigError::property(
                    "host",
                    "only used with the ssh and docker backends (backend is local)",
                ));
            }
            (Backend::Ssh(_) | Backend::Docker, None) => {
                return Err(ConfigError::property(
                    "host",
                    format!(
                        "required with the {} backend: the {} to run on",
                        self.backend.name(),
                        if matches!(self.backend, Backend::Docker) {
                            "container (name or id)"
                        } else {
                            "host"
                        }
                    ),
                ));
            }
            (_, Some(h)) if h.trim().is_empty() => {
                return Err(ConfigError::property("host", "must not be empty"));
            }
            _ => {}
        }
        for (name, list) in [("checks", &self.checks), ("exclude", &self.exclude)] {
            for c in list {
                bench_check_name(c).map_err(|m| ConfigError::property(name, m.to_string()))?;
            }
        }
        for (name, list) in [
            ("containers", &self.containers),
            ("exclude_containers", &self.exclude_containers),
        ] {
            for p in list {
                if p.is_empty() || p.contains(',') {
                    return Err(ConfigError::property(
                        name,
                        format!(
                            "`{p}` is not a usable pattern: it must be non-empty and hold no comma (the bench joins patterns with commas)"
                        ),
                    ));
                }
            }
        }
        for id in &self.fail_on {
            check_id(id).map_err(|m| ConfigError::property("fail_on", m))?;
        }
        for (i, entry) in self.ignore.iter().enumerate() {
            check_id(&entry.id).map_err(|m| ConfigError::property(format!("ignore[{i}].id"), m))?;
            if entry.reason.trim().is_empty() {
                return Err(ConfigError::property(
                    format!("ignore[{i}].reason"),
                    "say why the check is accepted",
                ));
            }
            let id = normalize_check_id(&entry.id);
            if self.fail_on.iter().any(|f| normalize_check_id(f) == id) {
                return Err(ConfigError::property(
                    "fail_on",
                    format!("{id} is also in `ignore`; a check cannot be both ignored and fatal"),
                ));
            }
        }
        Ok(())
    }

    /// The arguments for the script (without `-l`, which the step adds):
    /// `-b`, `-p`, `-c`, `-e`, `-i`, `-x`, then `args`.
    pub fn script_args(&self) -> Vec<String> {
        let mut argv = vec!["-b".to_string()];
        if self.remediation {
            argv.push("-p".into());
        }
        let names = |list: &[String]| {
            list.iter()
                .filter_map(|c| bench_check_name(c).ok())
                .collect::<Vec<_>>()
                .join(",")
        };
        if !self.checks.is_empty() {
            argv.extend(["-c".to_string(), names(&self.checks)]);
        }
        if !self.exclude.is_empty() {
            argv.extend(["-e".to_string(), names(&self.exclude)]);
        }
        if !self.containers.is_empty() {
            argv.extend(["-i".to_string(), self.containers.join(",")]);
        }
        if !self.exclude_containers.is_empty() {
            argv.extend(["-x".to_string(), self.exclude_containers.join(",")]);
        }
        argv.extend(self.args.iter().cloned());
        argv
    }
}

/// A name that is not one of the bench's checks or groups.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{name}` is not a check or group name (expected e.g. 5.4, check_5_4 or container_runtime)"
)]
#[non_exhaustive]
pub struct CheckNameError {
    /// The name as given (trimmed).
    pub name: String,
}

/// The bench's name for a check or group: `5.4` → `check_5_4`;
/// `check_5_4` and `container_runtime` stay.
pub fn bench_check_name(name: &str) -> Result<String, CheckNameError> {
    let name = name.trim();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !valid {
        return Err(CheckNameError {
            name: name.to_string(),
        });
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        Ok(format!("check_{}", name.replace('.', "_")))
    } else {
        Ok(name.to_string())
    }
}

fn check_id(id: &str) -> Result<(), String> {
    let n = normalize_check_id(id);
    let valid = !n.is_empty()
        && n.split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{id}` is not a check id (expected e.g. 5.4 or check_5_4)"
        ))
    }
}

fn yes() -> bool {
    true
}

fn local_backend() -> Backend {
    Backend::Local
}

/// A list of strings, or one string of comma-separated values. Numbers are
/// refused with a hint: YAML reads `5.10` as the number 5.1, so an unquoted
/// check id would silently name another check.
fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    use serde::de::Error;
    let value = Option::<serde_json::Value>::deserialize(d)?;
    let one = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Ok(s.trim().to_string()),
        serde_json::Value::Number(n) => Err(D::Error::custom(number_hint(n))),
        other => Err(D::Error::custom(format!(
            "expected a string, found {other}"
        ))),
    };
    match value {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::String(s)) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()),
        Some(serde_json::Value::Array(items)) => items.iter().map(one).collect(),
        Some(other) => one(&other).map(|s| vec![s]),
    }
}

/// A check id that must be a string (see [`string_list`]).
pub(crate) fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Err(D::Error::custom(number_hint(&n))),
        other => Err(D::Error::custom(format!(
            "expected a check id, found {other}"
        ))),
    }
}

fn number_hint(n: &serde_json::Number) -> String {
    format!(
        "found the number {n}; quote check ids (\"5.10\", not 5.10, which YAML reads as the number 5.1)"
    )
}

/// `local`, `docker`, `ssh`, or the full form `{ssh: {user: …}}`.
fn backend<'de, D: Deserializer<'de>>(d: D) -> Result<Backend, D::Error> {
    use serde::de::Error;
    let value = serde_json::Value::deserialize(d)?;
    match &value {
        serde_json::Value::String(name) => match name.as_str() {
            "local" => Ok(Backend::Local),
            "docker" => Ok(Backend::Docker),
            "ssh" => Ok(Backend::Ssh(SshOptions::default())),
            other => Err(D::Error::custom(format!(
                "unknown backend `{other}`; expected local, docker, ssh or {{ssh: {{user: …, port: …}}}}"
            ))),
        },
        _ => Backend::deserialize(value).map_err(|e| {
            D::Error::custom(format!(
                "{e}; expected local, docker, ssh or {{ssh: {{user: …, port: …}}}}"
            ))
        }),
    }
}
