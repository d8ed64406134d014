//! Waiting between retries: doubling delays with a cap, and a sleep that a
//! cancellation cuts short.
//!
//! Every tool step that retries (terraform's transient errors, Slack's
//! webhook) waits the same way; this is the one copy.

use std::time::Duration;

use crate::cancel::Cancel;
use crate::error::StepError;

/// Delays that double from a first value: `first`, `2 × first`,
/// `4 × first`…, never more than the cap when one is set.
///
/// ```
/// use std::time::Duration;
/// use step_core::backoff::Backoff;
///
/// let b = Backoff::doubling(Duration::from_secs(2)).capped(Duration::from_secs(5));
/// assert_eq!(b.delay(1), Duration::from_secs(2));
/// assert_eq!(b.delay(2), Duration::from_secs(4));
/// assert_eq!(b.delay(3), Duration::from_secs(5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    cap: Duration,
}

impl Backoff {
    /// Delays starting at `first`, doubling each time, without a cap.
    pub fn doubling(first: Duration) -> Self {
        Backoff {
            first,
            cap: Duration::MAX,
        }
    }

    /// No delay is longer than `cap`.
    pub fn capped(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// The wait before retry number `retry` (1-based; 0 counts as 1).
    /// Saturates instead of overflowing, however many retries.
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.first.saturating_mul(factor).min(self.cap)
    }
}

/// A wait cut short because the run was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cancelled while waiting to retry")]
pub struct Cancelled;

impl From<Cancelled> for StepError {
    fn from(_: Cancelled) -> Self {
        StepError::Cancelled
    }
}

/// Sleeps for `wait`, or less when `cancel` fires first (then
/// `Err(Cancelled)`). A cancellation that already happened wins over a
/// zero wait.
pub async fn sleep_unless_cancelled(cancel: &Cancel, wait: Duration) -> Result<(), Cancelled> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Cancelled),
        _ = tokio::time::sleep(wait) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::CancelReason;

    #[test]
    fn delays_double_saturate_and_respect_the_cap() {
        let b = Backoff::doubling(Duration::from_millis(100));
        assert_eq!(b.delay(0), Duration::from_millis(100));
        assert_eq!(b.delay(1), Duration::from_millis(100));
        assert_eq!(b.delay(4), Duration::from_millis(800));
        let huge = b.delay(200);
        assert!(
            huge >= Duration::from_secs(86_400 * 365),
            "saturates, no overflow panic: {huge:?}"
        );
        let capped = b.capped(Duration::from_secs(30));
        assert_eq!(capped.delay(200), Duration::from_secs(30));
        assert_eq!(capped.delay(2), Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_cancellation_cuts_the_wait_short() {
        let cancel = Cancel::new();
        let started = std::time::Instant::now();
        let waiter = {
            let cancel = cancel.clone();
            tokio::spawn(
                async move { sleep_unless_cancelled(&cancel, Duration::from_secs(60)).await },
            )
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel(CancelReason::Interrupted);
        assert_eq!(waiter.await.ok(), Some(Err(Cancelled)));
        assert!(started.elapsed() < Duration::from_secs(10));
        let err: StepError = Cancelled.into();
        assert!(matches!(err, StepError::Cancelled));
    }

    #[tokio::test]
    async fn an_uncancelled_wait_runs_to_its_end() {
        let cancel = Cancel::new();
        let started = std::time::Instant::now();
        let r = sleep_unless_cancelled(&cancel, Duration::from_millis(30)).await;
        assert_eq!(r, Ok(()));
        assert!(started.elapsed() >= Duration::from_millis(30));
        cancel.cancel(CancelReason::Interrupted);
        assert_eq!(
            sleep_unless_cancelled(&cancel, Duration::ZERO).await,
            Err(Cancelled),
            "an earlier cancellation wins over a zero wait"
        );
    }
}
