//! Panics in steps: a step that panics — while it is built or while it
//! runs — ends as a failed step with the panic's message, so the rest of
//! its target (`finally`, teardowns) and the run go on as after a failure.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::Poll;

use step_core::{Level, Status};
use tokio::task::JoinError;

use super::{Executor, Scope};

impl Executor {
    /// A spawned branch (a `parallel` entry, a `for_each` target) that
    /// ended without a result: it panicked outside any step, or was
    /// aborted. It is logged, counts as the run's failure, and makes its
    /// group fail.
    pub(super) fn lost_task(&self, scope: &Scope, error: JoinError) -> Status {
        let message = if error.is_panic() {
            panic_message(error.into_panic().as_ref())
        } else {
            format!("a branch of the group ended early: {error}")
        };
        let sink = self.inner.events.with_target(scope.target.clone());
        sink.log(Level::Error, message.clone());
        self.note_failure(scope.target.as_deref().unwrap_or("group"), &message);
        Status::Errored
    }
}

/// Runs a future to completion; a panic while it is polled becomes
/// `Err(message)`. The future is not polled again after it panicked.
pub(super) async fn catch_panic<F: Future>(fut: F) -> Result<F::Output, String> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(
        move |cx| match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        },
    )
    .await
}

/// Calls `f`; a panic becomes `Err(message)`.
pub(super) fn catch_panic_sync<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(p.as_ref()))
}

/// The text a step's record shows for a panic.
pub(super) fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    };
    format!("the step panicked: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_str_and_string_payloads() {
        let r = catch_panic_sync(|| panic!("plain"));
        assert_eq!(r.unwrap_err(), "the step panicked: plain");
        let n = 7;
        let r = catch_panic_sync(|| panic!("formatted {n}"));
        assert_eq!(r.unwrap_err(), "the step panicked: formatted 7");
        assert_eq!(catch_panic_sync(|| 3), Ok(3));
    }

    #[tokio::test]
    async fn a_panic_after_an_await_is_caught() {
        let r = catch_panic(async {
            tokio::task::yield_now().await;
            if true {
                panic!("later");
            }
            1
        })
        .await;
        assert_eq!(r.unwrap_err(), "the step panicked: later");
    }
}
