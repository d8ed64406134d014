//! [`RunFacts`]: what a notification says about the run — the result from
//! the context's [`RunInfo`](step_core::RunInfo), the branch, commit, repository,
//! author and build link from the environment — and the template variables
//! made from them.
//!
//! The environment is read in a fixed order: stepwise's own variables first,
//! then wercker's (so a wercker.yml's setup keeps working), then those of
//! common CI systems (GitHub Actions, GitLab CI). Empty values count as unset.

use std::time::Duration;

use serde_json::{Map, Value};
use step_core::{Env, RunResult, StepContext, StepError};

/// Variables holding the branch, in the order they are read.
pub const BRANCH_VARS: &[&str] = &[
    "STEPWISE_GIT_BRANCH",
    "WERCKER_GIT_BRANCH",
    "GITHUB_HEAD_REF",
    "GITHUB_REF_NAME",
    "CI_COMMIT_REF_NAME",
];
/// Variables holding the commit id, in the order they are read.
pub const COMMIT_VARS: &[&str] = &[
    "STEPWISE_GIT_COMMIT",
    "WERCKER_GIT_COMMIT",
    "GITHUB_SHA",
    "CI_COMMIT_SHA",
];
/// Variables holding the repository owner.
pub const OWNER_VARS: &[&str] = &["STEPWISE_GIT_OWNER", "WERCKER_GIT_OWNER"];
/// Variables holding the repository name (without owner).
pub const REPOSITORY_VARS: &[&str] = &["STEPWISE_GIT_REPOSITORY", "WERCKER_GIT_REPOSITORY"];
/// Variables holding `owner/name` in one value (read when owner and name are not set separately).
pub const FULL_REPOSITORY_VARS: &[&str] = &["GITHUB_REPOSITORY", "CI_PROJECT_PATH"];
/// Variables holding who started the run.
pub const STARTED_BY_VARS: &[&str] = &[
    "STEPWISE_STARTED_BY",
    "WERCKER_STARTED_BY",
    "GITHUB_ACTOR",
    "GITLAB_USER_LOGIN",
];
/// Variables holding a link to the run, in the order they are read (GitHub
/// Actions' link is built from `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY` and
/// `GITHUB_RUN_ID` after these).
pub const BUILD_URL_VARS: &[&str] = &[
    "STEPWISE_BUILD_URL",
    "WERCKER_RUN_URL",
    "WERCKER_BUILD_URL",
    "WERCKER_DEPLOY_URL",
    "CI_JOB_URL",
];
/// Variables the result is read from when the context carries none.
pub const RESULT_VARS: &[&str] = &["RUNNER_RESULT", "WERCKER_RESULT"];
/// Variables the failed step's name is read from when the context carries none.
pub const FAILED_STEP_VARS: &[&str] = &["RUNNER_FAILED_STEP", "WERCKER_FAILED_STEP_DISPLAY_NAME"];
/// Variables the failed step's message is read from when the context carries none.
pub const FAILED_MESSAGE_VARS: &[&str] = &["RUNNER_FAILED_MESSAGE", "WERCKER_FAILED_STEP_MESSAGE"];

/// Everything a notification says about the run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunFacts {
    /// Passed, failed or cancelled.
    pub result: RunResult,
    /// The pipeline's name (`build`, `deploy`); empty when unknown.
    pub pipeline: String,
    /// The parallel target the step ran for.
    pub target: Option<String>,
    /// The git branch.
    pub branch: Option<String>,
    /// The full commit id.
    pub commit: Option<String>,
    /// The repository owner.
    pub owner: Option<String>,
    /// The repository name.
    pub repository: Option<String>,
    /// Who started the run.
    pub started_by: Option<String>,
    /// A link to the run.
    pub build_url: Option<String>,
    /// The step that failed.
    pub failed_step: Option<String>,
    /// What it said.
    pub failed_message: Option<String>,
    /// How long the run took so far; `None` when no runner supplied run info.
    pub elapsed: Option<Duration>,
    /// The run's id.
    pub run_id: String,
}

impl RunFacts {
    /// Gathers the facts from the context: result, pipeline, target, failed
    /// step and elapsed time from [`StepContext::run`] (falling back to
    /// `RUNNER_RESULT`/`WERCKER_RESULT` and friends in the environment), the
    /// rest from the environment.
    ///
    /// Fails when no result is known at all: a notification that guesses
    /// "passed" would be worse than none.
    pub fn from_context(cx: &StepContext) -> Result<RunFacts, StepError> {
        let env = cx.env();
        let run = cx.run();
        let result = match run.result {
            Some(r) => r,
            None => match first(env, RESULT_VARS) {
                Some(text) => parse_result(&text).ok_or_else(|| {
                    StepError::other(format!(
                        "the run's result `{text}` (from {}) is not passed, failed or cancelled",
                        RESULT_VARS.join("/")
                    ))
                })?,
                None => {
                    return Err(StepError::other(format!(
                        "the run's result is unknown: run this step as an after-step, or set the \
                         context's RunInfo::result (or {}) when embedding it",
                        RESULT_VARS.join("/")
                    )));
                }
            },
        };
        let (owner, repository) = match (first(env, OWNER_VARS), first(env, REPOSITORY_VARS)) {
            (None, None) => match first(env, FULL_REPOSITORY_VARS) {
                Some(full) => match full.split_once('/') {
                    Some((o, r)) => (Some(o.to_string()), Some(r.to_string())),
                    None => (None, Some(full)),
                },
                None => (None, None),
            },
            pair => pair,
        };
        let build_url = first(env, BUILD_URL_VARS).or_else(|| {
            let server = first(env, &["GITHUB_SERVER_URL"])?;
            let repo = first(env, &["GITHUB_REPOSITORY"])?;
            let id = first(env, &["GITHUB_RUN_ID"])?;
            Some(format!(
                "{}/{repo}/actions/runs/{id}",
                server.trim_end_matches('/')
            ))
        });
        Ok(RunFacts {
            result,
            pipeline: run.pipeline.clone(),
            target: run.target.clone().filter(|t| !t.is_empty()),
            branch: first(env, BRANCH_VARS),
            commit: first(env, COMMIT_VARS),
            owner,
            repository,
            started_by: first(env, STARTED_BY_VARS),
            build_url,
            failed_step: run
                .failed_step
                .clone()
                .filter(|s| !s.is_empty())
                .or_else(|| first(env, FAILED_STEP_VARS)),
            failed_message: run
                .failed_message
                .clone()
                .filter(|s| !s.trim().is_empty())
                .or_else(|| first(env, FAILED_MESSAGE_VARS)),
            elapsed: run.result.map(|_| Duration::from_secs(run.elapsed_secs)),
            run_id: run.run_id.clone(),
        })
    }

    /// `owner/name`, or whichever part is known.
    pub fn repo(&self) -> Option<String> {
        match (&self.owner, &self.repository) {
            (Some(o), Some(r)) => Some(format!("{o}/{r}")),
            (None, Some(r)) => Some(r.clone()),
            (Some(o), None) => Some(o.clone()),
            (None, None) => None,
        }
    }

    /// The first eight characters of the commit id, as the seed printed it.
    pub fn commit_short(&self) -> Option<String> {
        self.commit.as_ref().map(|c| c.chars().take(8).collect())
    }

    /// The elapsed time as `1h 2m 3s`, `4m 5s` or `6s`.
    pub fn duration_text(&self) -> Option<String> {
        self.elapsed.map(format_duration)
    }

    /// `Passed`, `Failed` or `Cancelled`.
    pub fn result_title(&self) -> &'static str {
        match self.result {
            RunResult::Passed => "Passed",
            RunResult::Failed => "Failed",
            RunResult::Cancelled => "Cancelled",
        }
    }

    /// The variables message templates see. Unknown values are empty strings
    /// (so `{% if branch %}` works and nothing renders as `none`). Values are
    /// escaped for Slack (`&`, `<`, `>`), so a template may use Slack's own
    /// `<url|text>` links around them. Beside these, templates see `env`,
    /// `outputs` and `run` as every stepwise template does.
    pub fn template_variables(&self, cx: &StepContext) -> Value {
        let mut root = match cx.template_context() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let text = |v: Option<String>| Value::String(v.as_deref().map(escape).unwrap_or_default());
        root.insert("result".into(), self.result.as_str().into());
        root.insert("result_title".into(), self.result_title().into());
        root.insert("pipeline".into(), escape(&self.pipeline).into());
        root.insert("target".into(), text(self.target.clone()));
        root.insert("branch".into(), text(self.branch.clone()));
        root.insert("commit".into(), text(self.commit.clone()));
        root.insert("commit_short".into(), text(self.commit_short()));
        root.insert("repo".into(), text(self.repo()));
        root.insert("owner".into(), text(self.owner.clone()));
        root.insert("repository".into(), text(self.repository.clone()));
        root.insert("started_by".into(), text(self.started_by.clone()));
        root.insert("build_url".into(), text(self.build_url.clone()));
        root.insert("failed_step".into(), text(self.failed_step.clone()));
        root.insert("failed_message".into(), text(self.failed_message.clone()));
        root.insert("duration".into(), text(self.duration_text()));
        root.insert(
            "elapsed_secs".into(),
            self.elapsed.map(|d| d.as_secs()).unwrap_or(0).into(),
        );
        root.insert("run_id".into(), escape(&self.run_id).into());
        Value::Object(root)
    }
}

/// The first of `names` that is set to a non-empty value.
fn first(env: &Env, names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|n| env.get(n))
        .map(str::trim)
        .find(|v| !v.is_empty())
        .map(str::to_string)
}

fn parse_result(text: &str) -> Option<RunResult> {
    match text.trim().to_ascii_lowercase().as_str() {
        "passed" => Some(RunResult::Passed),
        "failed" => Some(RunResult::Failed),
        "cancelled" | "canceled" | "aborted" => Some(RunResult::Cancelled),
        _ => None,
    }
}

/// Escapes the three characters Slack's message formatting reserves.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use step_core::RunInfo;

    fn cx(vars: &[(&str, &str)], run: RunInfo) -> StepContext {
        let mut env = Env::new();
        for (k, v) in vars {
            env.set(*k, *v);
        }
        StepContext::for_dir(std::env::temp_dir())
            .with_env(env)
            .with_run(run)
    }

    fn passed() -> RunInfo {
        RunInfo {
            result: Some(RunResult::Passed),
            pipeline: "build".into(),
            elapsed_secs: 65,
            ..RunInfo::default()
        }
    }

    #[test]
    fn stepwise_variables_win_over_wercker_and_empty_values_do_not_count() {
        let facts = RunFacts::from_context(&cx(
            &[
                ("STEPWISE_GIT_BRANCH", ""),
                ("WERCKER_GIT_BRANCH", "wercker-branch"),
                ("STEPWISE_GIT_COMMIT", "0123456789abcdef"),
                ("WERCKER_GIT_COMMIT", "ffffffffffffffff"),
                ("STEPWISE_BUILD_URL", "https://ci.example/runs/7"),
                ("WERCKER_BUILD_URL", "https://app.wercker.com/x"),
                ("WERCKER_GIT_OWNER", "wantedly"),
                ("WERCKER_GIT_REPOSITORY", "apollo"),
            ],
            passed(),
        ))
        .unwrap();
        assert_eq!(facts.branch.as_deref(), Some("wercker-branch"));
        assert_eq!(facts.commit_short().as_deref(), Some("01234567"));
        assert_eq!(
            facts.build_url.as_deref(),
            Some("https://ci.example/runs/7")
        );
        assert_eq!(facts.repo().as_deref(), Some("wantedly/apollo"));
        assert_eq!(facts.duration_text().as_deref(), Some("1m 5s"));
    }

    #[test]
    fn github_actions_variables_are_understood() {
        let facts = RunFacts::from_context(&cx(
            &[
                ("GITHUB_HEAD_REF", ""),
                ("GITHUB_REF_NAME", "main"),
                ("GITHUB_REPOSITORY", "acme/platform"),
                ("GITHUB_SERVER_URL", "https://github.com"),
                ("GITHUB_RUN_ID", "42"),
            ],
            passed(),
        ))
        .unwrap();
        assert_eq!(facts.branch.as_deref(), Some("main"));
        assert_eq!(facts.repo().as_deref(), Some("acme/platform"));
        assert_eq!(
            facts.build_url.as_deref(),
            Some("https://github.com/acme/platform/actions/runs/42")
        );
    }

    #[test]
    fn result_falls_back_to_the_environment_and_is_never_guessed() {
        let facts =
            RunFacts::from_context(&cx(&[("WERCKER_RESULT", "failed")], RunInfo::default()))
                .unwrap();
        assert_eq!(facts.result, RunResult::Failed);
        assert_eq!(facts.elapsed, None);
        let err = RunFacts::from_context(&cx(&[], RunInfo::default())).unwrap_err();
        assert!(err.to_string().contains("result is unknown"), "{err}");
        let err = RunFacts::from_context(&cx(&[("RUNNER_RESULT", "meh")], RunInfo::default()))
            .unwrap_err();
        assert!(err.to_string().contains("`meh`"), "{err}");
    }

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(format_duration(Duration::from_secs(0)), "0s");
        assert_eq!(format_duration(Duration::from_secs(59)), "59s");
        assert_eq!(format_duration(Duration::from_secs(3723)), "1h 2m 3s");
    }

    #[test]
    fn template_values_are_escaped_for_slack() {
        let mut run = passed();
        run.result = Some(RunResult::Failed);
        run.failed_message = Some("exit <1> & more".into());
        let c = cx(&[], run);
        let facts = RunFacts::from_context(&c).unwrap();
        let vars = facts.template_variables(&c);
        assert_eq!(vars["failed_message"], "exit &lt;1&gt; &amp; more");
        assert_eq!(vars["branch"], "");
        assert!(vars.get("env").is_some() && vars.get("run").is_some());
    }
}
