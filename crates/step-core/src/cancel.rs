//! Cancellation with two levels: a graceful stop (signal the child's process
//! group, wait a grace period, then kill it) and a hard stop (kill now), and
//! a reason so the runner can tell a timeout from an interrupt.

use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

/// Why something was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReason {
    /// Ctrl-C, SIGTERM or SIGHUP.
    Interrupted,
    /// The step's or group's timeout passed.
    TimedOut,
    /// A sibling target failed and the group is `fail_fast`.
    FailFast,
}

/// A cancellation handle. Clones share state; [`Cancel::child`] makes a
/// handle that is cancelled with its parent but can also be cancelled alone.
#[derive(Clone, Debug)]
pub struct Cancel {
    graceful: CancellationToken,
    hard: CancellationToken,
    reason: Arc<OnceLock<CancelReason>>,
    parent: Option<Arc<Cancel>>,
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel::new()
    }
}

impl Cancel {
    /// A fresh, uncancelled handle.
    pub fn new() -> Self {
        Cancel {
            graceful: CancellationToken::new(),
            hard: CancellationToken::new(),
            reason: Arc::new(OnceLock::new()),
            parent: None,
        }
    }

    /// A child handle: cancelled when this one is.
    pub fn child(&self) -> Cancel {
        Cancel {
            graceful: self.graceful.child_token(),
            hard: self.hard.child_token(),
            reason: Arc::new(OnceLock::new()),
            parent: Some(Arc::new(self.clone())),
        }
    }

    /// Starts a graceful stop.
    pub fn cancel(&self, reason: CancelReason) {
        let _ = self.reason.set(reason);
        self.graceful.cancel();
    }

    /// Kills everything now (second Ctrl-C).
    pub fn kill_now(&self) {
        let _ = self.reason.set(CancelReason::Interrupted);
        self.graceful.cancel();
        self.hard.cancel();
    }

    /// Whether a stop was requested.
    pub fn is_cancelled(&self) -> bool {
        self.graceful.is_cancelled()
    }

    /// Whether a hard stop was requested.
    pub fn is_killed(&self) -> bool {
        self.hard.is_cancelled()
    }

    /// Why it was cancelled: this handle's own reason, else its parent's.
    pub fn reason(&self) -> Option<CancelReason> {
        if let Some(r) = self.reason.get() {
            return Some(*r);
        }
        if !self.is_cancelled() {
            return None;
        }
        self.parent.as_ref().and_then(|p| p.reason())
    }

    /// Resolves when a stop is requested.
    pub async fn cancelled(&self) {
        self.graceful.cancelled().await
    }

    /// Resolves when a hard stop is requested.
    pub async fn killed(&self) {
        self.hard.cancelled().await
    }
}
