//! Policies as wrappers around a step, the way tower wraps a service:
//! [`Timeout`] stops a step that runs too long, [`Retry`] runs a failing step
//! again, [`ContinueOnError`] reports a failure as a warning. Each wrapper is itself a [`Step`], so they nest
//! (`Retry::new(Timeout::new(step, d), 2)`) and an embedder gets the same
//! policies the runner applies, without the runner.
//!
//! ```
//! use std::time::Duration;
//! use step_core::policy::{Retry, Timeout};
//! use step_core::{Outcome, Step, StepContext, StepError};
//!
//! struct Flaky(std::sync::atomic::AtomicU32);
//!
//! #[step_core::async_trait]
//! impl Step for Flaky {
//!     async fn run(&self, _cx: &StepContext) -> Result<Outcome, StepError> {
//!         let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
//!         Ok(if n == 0 { Outcome::failed("first try fails") } else { Outcome::passed() })
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let step = Retry::new(Timeout::new(Flaky(0.into()), Duration::from_secs(5)), 2);
//! let cx = StepContext::for_dir(".");
//! let outcome = step.run(&cx).await.unwrap();
//! assert!(!outcome.is_failed());
//! # });
//! ```

use std::time::Duration;

use crate::cancel::CancelReason;
use crate::context::StepContext;
use crate::error::StepError;
use crate::event::Level;
use crate::outcome::Outcome;
use crate::step::{Step, StopPolicy, Teardown};

/// The `Step` methods a wrapper takes from the step it wraps: what the
/// wrapped step would undo, run and need to stop is the wrapper's too.
/// One list, so that a method added to `Step` reaches every wrapper.
macro_rules! forward_to_inner {
    () => {
        fn teardown(&self) -> Option<Teardown> {
            self.inner.teardown()
        }

        fn commands(&self) -> Vec<String> {
            self.inner.commands()
        }

        fn stop_policy(&self) -> StopPolicy {
            self.inner.stop_policy()
        }
    };
}

/// Stops the inner step when it runs longer than a limit.
///
/// On expiry the step's cancellation handle is cancelled with
/// [`CancelReason::TimedOut`]; the step stops its children through their
/// stop ladder and returns, and the wrapper turns its `Cancelled` into
/// [`StepError::TimedOut`]. A cancellation from outside (an interrupt) stays
/// [`StepError::Cancelled`].
#[derive(Debug)]
pub struct Timeout<S> {
    inner: S,
    after: Duration,
}

impl<S> Timeout<S> {
    /// Wraps `inner` with a limit of `after`.
    pub fn new(inner: S, after: Duration) -> Self {
        Timeout { inner, after }
    }

    /// The limit.
    pub fn limit(&self) -> Duration {
        self.after
    }

    /// The wrapped step.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait::async_trait]
impl<S: Step> Step for Timeout<S> {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let cancel = cx.cancel().child();
        let inner_cx = cx.clone().with_cancel(cancel.clone());
        let run = self.inner.run(&inner_cx);
        tokio::pin!(run);
        let result = tokio::select! {
            r = &mut run => r,
            _ = tokio::time::sleep(self.after) => {
                cancel.cancel(CancelReason::TimedOut);
                // The contract of `Step::run`: it returns promptly once
                // cancelled (its children get their grace period first).
                run.await
            }
        };
        match result {
            Err(StepError::Cancelled) if cancel.reason() == Some(CancelReason::TimedOut) => {
                Err(StepError::TimedOut {
                    what: "step".into(),
                    after: self.after,
                })
            }
            other => other,
        }
    }

    forward_to_inner!();
}

/// Runs the inner step again when it fails or errors, up to `retries` more
/// times, with a pause between tries that doubles each time (from
/// [`Retry::with_backoff`]'s first value, 0 by default).
///
/// A cancelled run, a configuration error or a timeout is not retried: none
/// of them would turn out differently the next time. Each retry is logged as
/// a warning with the reason of the failure.
#[derive(Debug)]
pub struct Retry<S> {
    inner: S,
    retries: u32,
    backoff: Duration,
}

impl<S> Retry<S> {
    /// Wraps `inner`, allowing `retries` tries after the first.
    pub fn new(inner: S, retries: u32) -> Self {
        Retry {
            inner,
            retries,
            backoff: Duration::ZERO,
        }
    }

    /// Waits `first` before the first retry, twice that before the second,
    /// and so on.
    pub fn with_backoff(mut self, first: Duration) -> Self {
        self.backoff = first;
        self
    }

    /// The wrapped step.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

/// Whether a result is worth another try, and why it failed.
fn retry_reason(result: &Result<Outcome, StepError>) -> Option<String> {
    match result {
        Ok(outcome) if outcome.is_failed() => {
            Some(outcome.message.clone().unwrap_or_else(|| "failed".into()))
        }
        Ok(_) => None,
        Err(StepError::Cancelled | StepError::Config(_) | StepError::TimedOut { .. }) => None,
        Err(e) => Some(e.to_string()),
    }
}

#[async_trait::async_trait]
impl<S: Step> Step for Retry<S> {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let mut attempt = 0;
        let backoff = crate::backoff::Backoff::doubling(self.backoff);
        loop {
            let result = self.inner.run(cx).await;
            let Some(reason) = retry_reason(&result) else {
                return result;
            };
            if attempt >= self.retries || cx.cancel().is_cancelled() {
                return result;
            }
            attempt += 1;
            cx.events().log(
                Level::Warn,
                format!("{reason}; retrying ({attempt}/{})", self.retries),
            );
            let pause = backoff.delay(attempt);
            if !pause.is_zero() {
                crate::backoff::sleep_unless_cancelled(cx.cancel(), pause).await?;
            }
        }
    }

    forward_to_inner!();
}

/// Reports a failure of the inner step as a warning: a failed outcome, or
/// an error other than a cancellation or a configuration error, becomes an outcome with status
/// [`OutcomeStatus::Warned`](crate::outcome::OutcomeStatus::Warned) that
/// keeps the message, findings, checks and outputs, but not the
/// environment changes (a failed step's environment is never applied).
/// The failure is added to the outcome's warnings.
#[derive(Debug)]
pub struct ContinueOnError<S> {
    inner: S,
}

impl<S> ContinueOnError<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        ContinueOnError { inner }
    }

    /// The wrapped step.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait::async_trait]
impl<S: Step> Step for ContinueOnError<S> {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let mut outcome = match self.inner.run(cx).await {
            Ok(outcome) if outcome.is_failed() => outcome,
            // A cancellation stops the run, and a configuration error is
            // the user's mistake, not a failure to tolerate: both pass.
            Err(e @ (StepError::Cancelled | StepError::Config(_))) => return Err(e),
            Err(e) => Outcome::failed(e.to_string()),
            ok => return ok,
        };
        let message = outcome.message.as_deref().unwrap_or("failed");
        let warning = format!("{message} (continue_on_error: reported as a warning)");
        outcome.warnings.push(warning);
        outcome.status = crate::outcome::OutcomeStatus::Warned;
        outcome.env.clear();
        Ok(outcome)
    }

    forward_to_inner!();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::event::MemoryListener;

    /// Fails (or errors) its first `bad` runs, then passes; counts runs.
    struct Flaky {
        runs: Arc<AtomicU32>,
        bad: u32,
        error: bool,
    }

    #[async_trait::async_trait]
    impl Step for Flaky {
        async fn run(&self, _cx: &StepContext) -> Result<Outcome, StepError> {
            let n = self.runs.fetch_add(1, Ordering::SeqCst);
            if n >= self.bad {
                return Ok(Outcome::passed());
            }
            if self.error {
                Err(StepError::Other(format!("boom {n}")))
            } else {
                Ok(Outcome::failed(format!("bad {n}")))
            }
        }
    }

    /// Sleeps until cancelled, or for `secs`.
    struct Sleeper(u64);

    #[async_trait::async_trait]
    impl Step for Sleeper {
        async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(self.0)) => Ok(Outcome::passed()),
                _ = cx.cancel().cancelled() => Err(StepError::Cancelled),
            }
        }
    }

    fn flaky(bad: u32, error: bool) -> (Flaky, Arc<AtomicU32>) {
        let runs = Arc::new(AtomicU32::new(0));
        let step = Flaky {
            runs: Arc::clone(&runs),
            bad,
            error,
        };
        (step, runs)
    }

    #[tokio::test]
    async fn retry_runs_again_until_it_passes_and_logs_each_retry() {
        let (step, runs) = flaky(2, false);
        let cx = StepContext::for_dir(".");
        let memory = MemoryListener::new();
        cx.events().add_listener(Box::new(memory.clone()));
        let outcome = Retry::new(step, 3).run(&cx).await.unwrap();
        assert!(!outcome.is_failed());
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let lines = memory.lines().join("\n");
        assert!(lines.contains("bad 0; retrying (1/3)"), "{lines}");
        assert!(lines.contains("bad 1; retrying (2/3)"), "{lines}");
    }

    #[tokio::test]
    async fn retry_gives_up_after_its_budget_and_keeps_the_last_result() {
        let (step, runs) = flaky(10, true);
        let cx = StepContext::for_dir(".");
        let err = Retry::new(step, 2).run(&cx).await.unwrap_err();
        assert_eq!(err.to_string(), "boom 2");
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_timeout_is_not_retried() {
        let cx = StepContext::for_dir(".");
        let step = Retry::new(Timeout::new(Sleeper(30), Duration::from_millis(50)), 5);
        let started = std::time::Instant::now();
        let err = step.run(&cx).await.unwrap_err();
        assert!(matches!(err, StepError::TimedOut { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn timeout_passes_a_quick_step_through() {
        let cx = StepContext::for_dir(".");
        let outcome = Timeout::new(Sleeper(0), Duration::from_secs(5))
            .run(&cx)
            .await
            .unwrap();
        assert!(!outcome.is_failed());
    }

    #[tokio::test]
    async fn continue_on_error_turns_failures_into_warnings_but_not_cancellations() {
        let cx = StepContext::for_dir(".");
        let (step, _) = flaky(1, true);
        let outcome = ContinueOnError::new(step).run(&cx).await.unwrap();
        assert_eq!(outcome.status, crate::outcome::OutcomeStatus::Warned);
        assert_eq!(outcome.message.as_deref(), Some("boom 0"));
        assert_eq!(
            outcome.warnings,
            ["boom 0 (continue_on_error: reported as a warning)"]
        );
        let (step, _) = flaky(0, false);
        let outcome = ContinueOnError::new(step).run(&cx).await.unwrap();
        assert_eq!(outcome.status, crate::outcome::OutcomeStatus::Passed);
        cx.cancel().cancel(CancelReason::Interrupted);
        let err = ContinueOnError::new(Sleeper(30))
            .run(&cx)
            .await
            .unwrap_err();
        assert!(matches!(err, StepError::Cancelled), "{err}");
    }

    struct Misconfigured;

    #[async_trait::async_trait]
    impl Step for Misconfigured {
        async fn run(&self, _cx: &StepContext) -> Result<Outcome, StepError> {
            Err(crate::ConfigError::property("dir", "`nope` does not exist").into())
        }
    }

    #[tokio::test]
    async fn continue_on_error_lets_a_configuration_error_through() {
        let cx = StepContext::for_dir(".");
        let err = ContinueOnError::new(Misconfigured)
            .run(&cx)
            .await
            .unwrap_err();
        assert!(matches!(err, StepError::Config(_)), "{err}");
    }

    #[tokio::test]
    async fn an_outside_cancel_stays_cancelled_not_timed_out() {
        let cx = StepContext::for_dir(".");
        let cancel = cx.cancel().clone();
        let step = Timeout::new(Sleeper(30), Duration::from_secs(20));
        let run = step.run(&cx);
        cancel.cancel(CancelReason::Interrupted);
        let err = run.await.unwrap_err();
        assert!(matches!(err, StepError::Cancelled), "{err}");
    }
}
