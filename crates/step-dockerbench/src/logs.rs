//! Finding, reading and choosing between the bench's two logs.
//!
//! The JSON log is preferred (structured: details, items, remediation). It
//! falls back to the text log, with a warning, when the JSON log is missing
//! (versions before 1.3.4), broken beyond [repair](crate::repair), or holds
//! no results. Logs are read from this machine or, for the ssh and docker
//! backends, with `cat` on the host / in the container.

use step_core::backend::Backend;
use step_core::{StepContext, StepError};

use crate::json_log::parse_json_log;
use crate::report::BenchReport;
use crate::text_log::parse_text_log;

/// The text log's file name; the JSON log is this plus `.json`.
pub const TEXT_LOG_NAME: &str = "docker-bench-security.log";

/// The most of a log that is read (the bench's logs are tens of kilobytes).
const MAX_LOG_BYTES: usize = 64 * 1024 * 1024;

/// The two logs of one run: their paths and contents (`None` when the file
/// does not exist).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFiles {
    /// Path of the JSON log, for messages.
    pub json_path: String,
    /// Its contents.
    pub json: Option<String>,
    /// Path of the text log, for messages.
    pub text_path: String,
    /// Its contents.
    pub text: Option<String>,
}

/// Why no report could be read from a run's logs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// Neither log exists.
    #[error("no docker-bench log: neither {json_path} nor {text_path} exists")]
    Missing {
        /// The JSON log looked for.
        json_path: String,
        /// The text log looked for.
        text_path: String,
    },
    /// The JSON log is unreadable and there is no text log to fall back to.
    #[error(
        "the JSON log {json_path} is unreadable ({reason}) and there is no text log {text_path} to fall back to"
    )]
    Broken {
        /// The JSON log.
        json_path: String,
        /// What is wrong with it.
        reason: String,
        /// The text log looked for.
        text_path: String,
    },
    /// A log was read but holds no check results: nothing to judge, so the
    /// gate refuses to pass.
    #[error("the docker-bench log {path} holds no check results (an empty or unfinished run?)")]
    NoResults {
        /// The log read.
        path: String,
    },
}

/// A report with the file it came from and what happened on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedLog {
    /// The report.
    pub report: BenchReport,
    /// The file it was read from.
    pub path: String,
    /// Things a person should know (fallbacks, skipped results).
    pub warnings: Vec<String>,
    /// Things worth a log line (the JSON needed repair).
    pub notes: Vec<String>,
}

impl LogFiles {
    /// Chooses and parses a log: the JSON one when it is usable, else the
    /// text one (with a warning saying why).
    pub fn into_report(self) -> Result<LoadedLog, LogError> {
        let mut warnings = Vec::new();
        let mut notes = Vec::new();
        let mut json_failure: Option<String> = None;
        if let Some(json) = &self.json {
            match parse_json_log(json) {
                Ok(parsed) if !parsed.report.checks.is_empty() => {
                    if let Some((error, stats)) = &parsed.repaired {
                        notes.push(format!(
                            "the JSON log {} is not valid JSON ({error}; docker-bench-security does not escape its values); read it after repairing {}",
                            self.json_path,
                            stats.describe()
                        ));
                    }
                    for s in &parsed.skipped {
                        warnings.push(format!("{}: skipped {s}", self.json_path));
                    }
                    return Ok(LoadedLog {
                        report: parsed.report,
                        path: self.json_path,
                        warnings,
                        notes,
                    });
                }
                Ok(_) => json_failure = Some("it holds no check results".to_string()),
                Err(e) => json_failure = Some(e.to_string()),
            }
        }
        let Some(text) = &self.text else {
            return Err(match json_failure {
                Some(reason) => LogError::Broken {
                    json_path: self.json_path,
                    reason,
                    text_path: self.text_path,
                },
                None => LogError::Missing {
                    json_path: self.json_path,
                    text_path: self.text_path,
                },
            });
        };
        warnings.push(match json_failure {
            Some(reason) => format!(
                "the JSON log {} is unusable ({reason}); falling back to the text log {}",
                self.json_path, self.text_path
            ),
            None => format!(
                "no JSON log at {} (docker-bench-security before 1.3.4 writes none); reading the text log {}",
                self.json_path, self.text_path
            ),
        });
        let report = parse_text_log(text);
        if report.checks.is_empty() {
            return Err(LogError::NoResults {
                path: self.text_path,
            });
        }
        Ok(LoadedLog {
            report,
            path: self.text_path,
            warnings,
            notes,
        })
    }
}

/// Where logs are read: this machine, or a host/container through a backend.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LogHost<'a> {
    /// This machine.
    Local,
    /// Through `cat` on a remote backend.
    Remote { backend: &'a Backend, host: &'a str },
}

impl LogHost<'_> {
    /// Reads a file; `Ok(None)` when it does not exist.
    pub(crate) async fn read(
        &self,
        cx: &StepContext,
        path: &str,
    ) -> Result<Option<String>, StepError> {
        match self {
            LogHost::Local => match tokio::fs::read(path).await {
                Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StepError::io(
                    format!("could not read the docker-bench log {path}"),
                    e,
                )),
            },
            LogHost::Remote { backend, host } => {
                let argv = ["cat".to_string(), "--".to_string(), path.to_string()];
                let out = backend
                    .command(host, &argv)
                    .capture(MAX_LOG_BYTES)
                    .quiet()
                    .timeout(backend.default_timeout())
                    .run(cx)
                    .await?;
                if out.success() {
                    if out.truncated {
                        return Err(StepError::other(format!(
                            "the docker-bench log {path} on {host} is larger than {} MiB",
                            MAX_LOG_BYTES / (1024 * 1024)
                        )));
                    }
                    return Ok(Some(out.stdout));
                }
                if out.stderr.contains("No such file") {
                    return Ok(None);
                }
                Err(StepError::other(format!(
                    "could not read the docker-bench log {path} on {host} ({} backend, {}): {}",
                    backend.name(),
                    out.describe_status(),
                    out.stderr.trim()
                )))
            }
        }
    }

    /// Reads both logs of a run.
    pub(crate) async fn read_pair(
        &self,
        cx: &StepContext,
        text_path: &str,
    ) -> Result<LogFiles, StepError> {
        let json_path = format!("{text_path}.json");
        let json = self.read(cx, &json_path).await?;
        let text = self.read(cx, text_path).await?;
        Ok(LogFiles {
            json_path,
            json,
            text_path: text_path.to_string(),
            text,
        })
    }
}

/// Splits the path a user gave in log mode into the text log's path:
/// `x.log.json` → `x.log`; a directory → `dir/docker-bench-security.log`;
/// anything else is taken as the text log.
pub(crate) fn text_log_path(given: &str, is_dir: bool) -> String {
    if is_dir {
        format!("{}/{TEXT_LOG_NAME}", given.trim_end_matches('/'))
    } else if let Some(stem) = given.strip_suffix(".json") {
        stem.to_string()
    } else {
        given.to_string()
    }
}
