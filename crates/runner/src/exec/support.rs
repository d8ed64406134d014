//! The executor's small helpers: running a step under a timeout, turning
//! its result into a status, combining statuses, scopes and templates,
//! and the git facts wercker scripts read.

use std::time::Duration;

use serde_json::{Map, Value};
use step_core::step::StopPolicy;
use step_core::{Cancel, CancelReason, Outcome, Status, Step, StepContext, StepError};

use super::Scope;
use crate::diag::Pos;

/// How long after its grace period a cancelled step may take to return
/// (its children are killed when the grace period ends).
pub(super) const RETURN_MARGIN: Duration = Duration::from_secs(5);

/// The executor's innermost wrapper around a step: a panic while it runs
/// is a failed outcome with the panic's message. A cancelled step gets
/// the grace period of its [`Step::stop_policy`] (plus
/// [`RETURN_MARGIN`]) to return, and is then abandoned: its future is
/// dropped, which kills its process groups. A hard stop (the second
/// interrupt) abandons it at once.
pub(super) struct Guarded<S> {
    step: S,
}

impl<S> Guarded<S> {
    /// Guards `step`.
    pub(super) fn new(step: S) -> Self {
        Guarded { step }
    }
}

#[async_trait::async_trait]
impl<S: Step> Step for Guarded<S> {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let cancel = cx.cancel();
        // A panic in the step is a failed step with the panic's message.
        let fut = super::panic::catch_panic(self.step.run(cx));
        tokio::pin!(fut);
        let grace = self.step.stop_policy().grace;
        let mut abandon_at: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                r = &mut fut => return r.unwrap_or_else(|m| Ok(Outcome::failed(m))),
                _ = cancel.cancelled(), if abandon_at.is_none() => {
                    let wait = grace.saturating_add(RETURN_MARGIN);
                    abandon_at = Some(tokio::time::Instant::now() + wait);
                }
                _ = sleep_until(abandon_at) => return Err(StepError::Cancelled),
                _ = cancel.killed() => return Err(StepError::Cancelled),
            }
        }
    }

    fn teardown(&self) -> Option<step_core::Teardown> {
        self.step.teardown()
    }

    fn stop_policy(&self) -> StopPolicy {
        self.step.stop_policy()
    }
}

pub(super) async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

pub(super) fn classify(
    result: Result<Outcome, StepError>,
    cancel: &Cancel,
    timeout: Option<Duration>,
) -> (Status, Option<Outcome>, Option<String>) {
    match result {
        Ok(outcome) => {
            let status: Status = outcome.status.into();
            let message = outcome.message.clone();
            (status, Some(outcome), message)
        }
        Err(StepError::Cancelled) => match cancel.reason() {
            Some(CancelReason::TimedOut) => (
                Status::TimedOut,
                None,
                Some(format!(
                    "timed out after {}",
                    humantime::format_duration(timeout.unwrap_or_default())
                )),
            ),
            Some(CancelReason::FailFast) => (
                Status::Cancelled,
                None,
                Some("cancelled: another target failed (fail_fast)".into()),
            ),
            _ => (Status::Cancelled, None, Some("cancelled".into())),
        },
        // The `Timeout` wrapper around the whole step.
        Err(StepError::TimedOut { what, after }) if what == "step" => (
            Status::TimedOut,
            None,
            Some(format!(
                "timed out after {}",
                humantime::format_duration(after)
            )),
        ),
        Err(e @ StepError::TimedOut { .. }) => (Status::TimedOut, None, Some(e.to_string())),
        Err(e) => (Status::Errored, None, Some(e.to_string())),
    }
}

/// The worse of two statuses (failures win; the first failure kind is kept).
pub(super) fn combine(a: Status, b: Status) -> Status {
    if a.is_failure() {
        return a;
    }
    if b.is_failure() {
        return b;
    }
    if a == Status::Warned || b == Status::Warned {
        return Status::Warned;
    }
    Status::Passed
}

pub(super) fn merge_scope(into: &mut Scope, base: &Scope, child: &Scope) {
    for (k, v) in child.env.iter() {
        if base.env.get(k) != Some(v) {
            into.env
                .insert(k.to_string(), v.to_string(), child.env.is_secret(k));
        }
    }
    for (k, v) in &child.outputs {
        if base.outputs.get(k) != Some(v) {
            into.outputs.insert(k.clone(), v.clone());
        }
    }
}

pub(super) fn template_context(scope: &Scope) -> Value {
    let env: Map<String, Value> = scope
        .env
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let mut root = scope.vars.clone();
    root.insert("env".into(), Value::Object(env));
    root.insert("outputs".into(), Value::Object(scope.outputs.clone()));
    root.insert(
        "target".into(),
        scope
            .target
            .clone()
            .map(Value::String)
            .unwrap_or(Value::Null),
    );
    Value::Object(root)
}

/// Replaces `from` with `to` in every string of a JSON value; true if any changed.
pub(super) fn replace_in_json(v: &mut Value, from: &str, to: &str) -> bool {
    match v {
        Value::String(s) if s.contains(from) => {
            *s = s.replace(from, to);
            true
        }
        Value::Array(items) => {
            // Every element is visited: no short-circuit.
            let mut changed = false;
            for i in items {
                changed |= replace_in_json(i, from, to);
            }
            changed
        }
        Value::Object(m) => {
            let mut changed = false;
            for i in m.values_mut() {
                changed |= replace_in_json(i, from, to);
            }
            changed
        }
        _ => false,
    }
}

pub(super) fn location(path: &std::path::Path, pos: Pos) -> String {
    if pos.is_known() {
        format!("{}:{}:{}", path.display(), pos.line, pos.column)
    } else {
        path.display().to_string()
    }
}

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Branch and commit of the repository at `root`, as wercker's variables:
/// read from `.git`'s files, asking `git` only when they are in a form the
/// reader does not know.
pub(super) async fn git_facts(
    root: &std::path::Path,
    cancel: &step_core::Cancel,
) -> Vec<(&'static str, String)> {
    let mut facts = Vec::new();
    let Some(read) = super::git::read(root) else {
        // Outside any checkout git has nothing to say either (unless told
        // where the repository is): no process to start.
        if !super::git::in_checkout(root) && std::env::var_os("GIT_DIR").is_none() {
            return facts;
        }
        return git_facts_from_git(root, cancel).await;
    };
    facts.push(("WERCKER_GIT_BRANCH", read.branch.clone()));
    facts.push(("STEPWISE_GIT_BRANCH", read.branch));
    if let Some(c) = read.commit {
        facts.push(("WERCKER_GIT_COMMIT", c.clone()));
        facts.push(("STEPWISE_GIT_COMMIT", c));
    }
    if let Some(name) = read.top.file_name() {
        facts.push((
            "WERCKER_GIT_REPOSITORY",
            name.to_string_lossy().into_owned(),
        ));
    }
    facts
}

/// The same facts from `git rev-parse`, run without blocking the runtime
/// (a cancelled run stops waiting, and the child is killed when dropped).
async fn git_facts_from_git(
    root: &std::path::Path,
    cancel: &step_core::Cancel,
) -> Vec<(&'static str, String)> {
    let git = async |args: &[&str]| -> Option<String> {
        let out = tokio::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::select! {
            out = out => out.ok()?,
            _ = cancel.cancelled() => return None,
        };
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let mut facts = Vec::new();
    if let Some(b) = git(&["rev-parse", "--abbrev-ref", "HEAD"]).await {
        facts.push(("WERCKER_GIT_BRANCH", b.clone()));
        facts.push(("STEPWISE_GIT_BRANCH", b));
    }
    if let Some(c) = git(&["rev-parse", "HEAD"]).await {
        facts.push(("WERCKER_GIT_COMMIT", c.clone()));
        facts.push(("STEPWISE_GIT_COMMIT", c));
    }
    if let Some(top) = git(&["rev-parse", "--show-toplevel"]).await
        && let Some(name) = std::path::Path::new(&top).file_name()
    {
        facts.push((
            "WERCKER_GIT_REPOSITORY",
            name.to_string_lossy().into_owned(),
        ));
    }
    facts
}
