//! Finding a tool on `PATH` and checking its version against a
//! requirement. A missing or wrong tool is an error that says what was
//! found, what is required and how to install it.

use std::path::{Path, PathBuf};
use std::process::Command;

use semver::{Version, VersionReq};

use crate::context::StepContext;
use crate::env::Env;
use crate::error::StepError;
use crate::process::{Cmd, ProcessError};

/// How much of a version command's output is kept (the version is on its
/// first lines).
const VERSION_OUTPUT_LIMIT: usize = 64 * 1024;

/// Why a tool cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// Not on `PATH`.
    #[error("`{tool}` was not found on PATH ({path}); {hint}")]
    Missing {
        /// The tool's name.
        tool: String,
        /// The `PATH` searched.
        path: String,
        /// How to install it.
        hint: String,
    },
    /// Found, but the version does not meet the requirement.
    #[error("`{tool}` at {} is version {found}, but {required} is required; {hint}", location.display())]
    WrongVersion {
        /// The tool's name.
        tool: String,
        /// Where it was found.
        location: PathBuf,
        /// The version found (boxed: keeps the error small).
        found: Box<Version>,
        /// The requirement.
        required: VersionReq,
        /// How to install a matching one.
        hint: String,
    },
    /// Found, but its version could not be read.
    #[error("`{tool}` at {} did not report a version we could read ({output}); {hint}", location.display())]
    UnreadableVersion {
        /// The tool's name.
        tool: String,
        /// Where it was found.
        location: PathBuf,
        /// What it printed (first line).
        output: String,
        /// How to install it.
        hint: String,
    },
}

/// A tool that was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundTool {
    /// Its full path.
    pub path: PathBuf,
    /// Its version, when asked for.
    pub version: Option<Version>,
}

/// What tool a step needs: its name, how to ask its version, the required
/// version and an install hint.
#[derive(Clone, Debug)]
pub struct ToolSpec {
    name: String,
    version_args: Vec<String>,
    requirement: Option<VersionReq>,
    hint: String,
}

impl ToolSpec {
    /// A tool by name with an install hint ("install it with scripts/install-tools.sh").
    pub fn new(name: impl Into<String>, hint: impl Into<String>) -> Self {
        ToolSpec {
            name: name.into(),
            version_args: vec!["--version".into()],
            requirement: None,
            hint: hint.into(),
        }
    }

    /// Arguments that make the tool print its version (default `--version`).
    pub fn version_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.version_args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Requires a version.
    pub fn require(mut self, requirement: Option<VersionReq>) -> Self {
        self.requirement = requirement;
        self
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Finds the tool on the environment's `PATH` and, when a requirement is
    /// set, checks its version.
    ///
    /// Reading the version runs the tool and blocks until it exits: inside
    /// a step (async code) use [`ToolSpec::locate`] instead.
    pub fn find(&self, env: &Env, cwd: &Path) -> Result<FoundTool, ToolError> {
        let location = self.which(env, cwd)?;
        let Some(required) = &self.requirement else {
            return Ok(FoundTool {
                path: location,
                version: None,
            });
        };
        let version = self.read_version(&location, env)?;
        self.check(location, version, required)
    }

    /// Finds the tool like [`ToolSpec::find`], but runs its version command
    /// through [`Cmd`]: without blocking the async runtime, with the step's
    /// environment, and stopped when the step is cancelled (then
    /// [`StepError::Cancelled`]). What a step calls from `run`.
    pub async fn locate(&self, cx: &StepContext) -> Result<FoundTool, StepError> {
        let location = self.which(cx.env(), cx.workdir())?;
        let Some(required) = &self.requirement else {
            return Ok(FoundTool {
                path: location,
                version: None,
            });
        };
        let output = Cmd::new(&location)
            .args(&self.version_args)
            .quiet()
            .capture(VERSION_OUTPUT_LIMIT)
            .run(cx)
            .await;
        let text = match output {
            Ok(o) => format!("{}{}", o.stdout, o.stderr),
            Err(ProcessError::Cancelled { .. }) => return Err(StepError::Cancelled),
            Err(e) => e.to_string(),
        };
        let version = self.version_in(&location, &text)?;
        Ok(self.check(location, version, required)?)
    }

    /// The tool's path on the environment's `PATH` (no process is run).
    fn which(&self, env: &Env, cwd: &Path) -> Result<PathBuf, ToolError> {
        let path_var = env.get("PATH").unwrap_or_default().to_string();
        which::which_in(&self.name, Some(&path_var), cwd).map_err(|_| ToolError::Missing {
            tool: self.name.clone(),
            path: path_var.clone(),
            hint: self.hint.clone(),
        })
    }

    /// `found` if `version` meets `required`.
    fn check(
        &self,
        location: PathBuf,
        version: Version,
        required: &VersionReq,
    ) -> Result<FoundTool, ToolError> {
        if !required.matches(&version) {
            return Err(ToolError::WrongVersion {
                tool: self.name.clone(),
                location,
                found: Box::new(version),
                required: required.clone(),
                hint: self.hint.clone(),
            });
        }
        Ok(FoundTool {
            path: location,
            version: Some(version),
        })
    }

    /// Runs the tool's version command and parses the first version in it.
    /// Blocks until the tool exits: in async code use [`ToolSpec::locate`].
    pub fn read_version(&self, location: &Path, env: &Env) -> Result<Version, ToolError> {
        let output = Command::new(location)
            .args(&self.version_args)
            .env_clear()
            .envs(env.iter())
            .stdin(std::process::Stdio::null())
            .output();
        let text = match output {
            Ok(o) => format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => e.to_string(),
        };
        self.version_in(location, &text)
    }

    /// The version in the output of the version command.
    fn version_in(&self, location: &Path, text: &str) -> Result<Version, ToolError> {
        parse_version(text).ok_or_else(|| ToolError::UnreadableVersion {
            tool: self.name.clone(),
            location: location.to_path_buf(),
            output: text.lines().next().unwrap_or_default().to_string(),
            hint: self.hint.clone(),
        })
    }
}

/// The first version number in a tool's output: `Terraform v1.11.4` → 1.11.4,
/// `1.6.6` → 1.6.6, `ansible [core 2.19.2]` → 2.19.2; `2.19` → 2.19.0.
pub fn parse_version(text: &str) -> Option<Version> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"(\d+)\.(\d+)(?:\.(\d+))?(-[0-9A-Za-z.-]+)?").expect("a literal pattern")
    });
    let caps = re.captures(text)?;
    let major = caps.get(1)?.as_str().parse().ok()?;
    let minor = caps.get(2)?.as_str().parse().ok()?;
    let patch = caps
        .get(3)
        .map(|m| m.as_str().parse().unwrap_or(0))
        .unwrap_or(0);
    let mut v = Version::new(major, minor, patch);
    if let Some(pre) = caps.get(4) {
        v.pre = semver::Prerelease::new(&pre.as_str()[1..]).unwrap_or_default();
    }
    Some(v)
}

/// Parses a requirement the way users write it: `1.6.6` means exactly that
/// version (`=1.6.6`), `~> 1.11` is terraform's pessimistic operator
/// (`>=1.11, <2`), anything else is a semver requirement.
pub fn parse_requirement(text: &str) -> Result<VersionReq, RequirementError> {
    let t = text.trim();
    let exact = t.trim_start_matches('v');
    if Version::parse(exact).is_ok() {
        return Ok(VersionReq::parse(&format!("={exact}"))?);
    }
    if let Some(rest) = t.strip_prefix("~>") {
        let rest = rest.trim();
        let parts: Vec<&str> = rest.split('.').collect();
        let req = match parts.len() {
            2 => format!(">={rest}, <{}", bump(parts[0])?),
            3 => format!(">={rest}, <{}.{}", parts[0], bump(parts[1])?),
            _ => {
                return Err(RequirementError::Malformed {
                    text: text.to_string(),
                });
            }
        };
        return Ok(VersionReq::parse(&req)?);
    }
    VersionReq::parse(t).map_err(|source| RequirementError::NotSemver {
        text: text.to_string(),
        source,
    })
}

/// Why a version requirement could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequirementError {
    /// `~>` followed by something other than two or three dotted parts.
    #[error("`{text}` is not a version requirement")]
    Malformed {
        /// The requirement as written.
        text: String,
    },
    /// A part of a `~>` requirement is not a number.
    #[error("`{part}` is not a number")]
    NotANumber {
        /// The part.
        part: String,
    },
    /// Not a semver requirement either.
    #[error(
        "`{text}` is not a version requirement ({source}); expected e.g. 1.11.4, ~> 1.11 or >=1.6, <2"
    )]
    NotSemver {
        /// The requirement as written.
        text: String,
        /// What semver found wrong.
        #[source]
        source: semver::Error,
    },
    /// A requirement built from a version or `~>` that semver rejects.
    #[error(transparent)]
    Semver(#[from] semver::Error),
}

fn bump(part: &str) -> Result<u64, RequirementError> {
    part.parse::<u64>()
        .map(|n| n + 1)
        .map_err(|_| RequirementError::NotANumber {
            part: part.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake `faketool` in a temp dir whose version command runs `body`.
    fn fake_tool(body: &str) -> (tempfile::TempDir, StepContext) {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("faketool");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write the tool");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut env = Env::new();
        env.set("PATH", format!("{}:/usr/bin:/bin", dir.path().display()));
        let cx = StepContext::for_dir(dir.path()).with_env(env);
        (dir, cx)
    }

    #[tokio::test]
    async fn locate_reads_the_version_without_blocking_and_checks_it() {
        let (_dir, cx) = fake_tool("echo faketool v1.2.3");
        let spec = ToolSpec::new("faketool", "make one");
        let found = spec.locate(&cx).await.expect("found");
        assert_eq!(found.version, None, "no requirement, no version read");
        let found = spec
            .clone()
            .require(Some(parse_requirement(">=1.2").expect("a requirement")))
            .locate(&cx)
            .await
            .expect("found");
        assert_eq!(found.version, Some(Version::new(1, 2, 3)));
        let err = spec
            .require(Some(parse_requirement("2.0.0").expect("a requirement")))
            .locate(&cx)
            .await
            .expect_err("too old");
        assert!(
            matches!(&err, StepError::Tool(t) if matches!(**t, ToolError::WrongVersion { .. })),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_cancelled_step_stops_a_hanging_version_command() {
        let (_dir, cx) = fake_tool("sleep 60");
        let cancel = crate::Cancel::new();
        let cx = cx.with_cancel(cancel.clone());
        let started = std::time::Instant::now();
        let spec = ToolSpec::new("faketool", "make one")
            .require(Some(parse_requirement(">=1").expect("a requirement")));
        let task = tokio::spawn(async move { spec.locate(&cx).await });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        cancel.cancel(crate::CancelReason::Interrupted);
        let result = task.await.expect("the task ends");
        assert!(matches!(result, Err(StepError::Cancelled)), "{result:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }

    #[test]
    fn versions_are_read_from_typical_outputs() {
        assert_eq!(
            parse_version("Terraform v1.11.4\non linux"),
            Some(Version::new(1, 11, 4))
        );
        assert_eq!(parse_version("1.6.6"), Some(Version::new(1, 6, 6)));
        assert_eq!(
            parse_version("ansible [core 2.19]"),
            Some(Version::new(2, 19, 0))
        );
        assert_eq!(parse_version("no version"), None);
    }

    #[test]
    fn requirements_accept_exact_pessimistic_and_semver() {
        assert!(
            parse_requirement("0.5.3")
                .unwrap()
                .matches(&Version::new(0, 5, 3))
        );
        assert!(
            !parse_requirement("0.5.3")
                .unwrap()
                .matches(&Version::new(0, 5, 4))
        );
        let r = parse_requirement("~> 1.11").unwrap();
        assert!(r.matches(&Version::new(1, 12, 0)) && !r.matches(&Version::new(2, 0, 0)));
        let r = parse_requirement("~> 1.11.2").unwrap();
        assert!(r.matches(&Version::new(1, 11, 9)) && !r.matches(&Version::new(1, 12, 0)));
        assert!(parse_requirement("banana").is_err());
    }

    #[test]
    fn missing_tool_error_names_tool_and_hint() {
        let mut env = Env::new();
        env.set("PATH", "/nonexistent");
        let err = ToolSpec::new("no-such-tool-xyz", "install it with apt-get")
            .find(&env, Path::new("/"))
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("no-such-tool-xyz") && msg.contains("apt-get"),
            "{msg}"
        );
    }
}
