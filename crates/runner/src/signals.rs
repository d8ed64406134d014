//! The runner's signal handlers, installed by `main` before anything else
//! runs (right after the async runtime starts), so a SIGINT, SIGTERM or
//! SIGHUP in the first milliseconds is not fatal: it waits in the streams
//! until the run attaches its interrupter, and the run then ends as
//! cancelled (after-steps run, exit 130).

use std::sync::Mutex;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// The three signals the runner owns.
#[derive(Debug)]
pub struct RunnerSignals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

static EARLY: Mutex<Option<RunnerSignals>> = Mutex::new(None);

impl RunnerSignals {
    /// Registers the handlers (inside a tokio runtime).
    pub fn register() -> std::io::Result<RunnerSignals> {
        Ok(RunnerSignals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The next signal's name (signals received before this call count).
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}

/// Installs the handlers now; call it first thing in the runtime.
pub fn install_early() {
    if let Ok(s) = RunnerSignals::register() {
        *step_core::sync::lock(&EARLY) = Some(s);
    }
}

/// The handlers installed early, or new ones when none were.
pub fn take() -> std::io::Result<RunnerSignals> {
    let early = step_core::sync::lock(&EARLY).take();
    match early {
        Some(s) => Ok(s),
        None => RunnerSignals::register(),
    }
}
