//! The spinner line of the terminal reporter's fancy mode: the running
//! steps with their elapsed time, redrawn on stderr by a ticker thread.
//!
//! Drawing needs indicatif, which belongs to the command line: without the
//! `cli` feature the line is tracked but never drawn, so an embedder's
//! library build does not pull a terminal toolkit.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use step_core::sync::lock;

use super::format_duration;

/// Where the spinner line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DrawTarget {
    /// On stderr (not at all when stderr is not a terminal).
    Stderr,
    /// Nowhere: the line is kept but not drawn (tests).
    #[cfg_attr(not(test), allow(dead_code))]
    Hidden,
}

/// A step shown on the spinner line.
pub(crate) struct RunningStep {
    pub(crate) label: String,
    pub(crate) since: Instant,
}

/// The spinner line and, with the `cli` feature, the thread that keeps its
/// elapsed times current.
pub(crate) struct Progress {
    running: Arc<Mutex<Vec<RunningStep>>>,
    #[cfg(feature = "cli")]
    drawn: draw::Drawn,
}

impl Progress {
    /// Starts drawing on `target`.
    pub(crate) fn start(target: DrawTarget) -> Self {
        let running: Arc<Mutex<Vec<RunningStep>>> = Arc::default();
        #[cfg(not(feature = "cli"))]
        let _ = target;
        Progress {
            #[cfg(feature = "cli")]
            drawn: draw::Drawn::start(target, running.clone()),
            running,
        }
    }

    /// The steps on the line, to add or remove one.
    pub(crate) fn running(&self) -> MutexGuard<'_, Vec<RunningStep>> {
        lock(&self.running)
    }

    /// Runs `f` (which prints lines) with the spinner line cleared, and
    /// draws it again below them.
    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "cli")]
        return self.drawn.bar.suspend(f);
        #[cfg(not(feature = "cli"))]
        f()
    }

    /// Stops the ticker thread and clears the spinner line.
    pub(crate) fn stop(self) {
        #[cfg(feature = "cli")]
        self.drawn.stop();
    }
}

#[cfg(feature = "cli")]
mod draw {
    use std::sync::mpsc::{self, RecvTimeoutError};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;
    use std::time::Duration;

    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

    use step_core::sync::lock;

    use super::{DrawTarget, RunningStep, running_message};

    /// How often the spinner line is redrawn.
    const TICK: Duration = Duration::from_millis(120);

    /// The indicatif bar and its ticker thread.
    pub(super) struct Drawn {
        pub(super) bar: ProgressBar,
        ticker: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
    }

    impl Drawn {
        pub(super) fn start(target: DrawTarget, running: Arc<Mutex<Vec<RunningStep>>>) -> Self {
            let target = match target {
                DrawTarget::Stderr => ProgressDrawTarget::stderr(),
                DrawTarget::Hidden => ProgressDrawTarget::hidden(),
            };
            let bar = ProgressBar::with_draw_target(None, target);
            // The template is a constant: it cannot fail to parse, but a
            // spinner is not worth a panic either.
            if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4} {wide_msg}") {
                bar.set_style(style);
            }
            let (stop, stopped) = mpsc::channel::<()>();
            let ticker = {
                let bar = bar.clone();
                std::thread::Builder::new()
                    .name("stepwise-progress".into())
                    .spawn(move || {
                        // The lock on `running` is released before the bar is
                        // touched: the event thread takes them in the other
                        // order (running, then the bar to print above it).
                        while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                            let message = running_message(&lock(&running));
                            bar.set_message(message);
                            bar.tick();
                        }
                    })
                    .ok()
            };
            Drawn {
                bar,
                ticker: ticker.map(|handle| (stop, handle)),
            }
        }

        pub(super) fn stop(mut self) {
            if let Some((stop, handle)) = self.ticker.take() {
                drop(stop);
                // A panicked ticker only loses the spinner.
                let _ = handle.join();
            }
            self.bar.finish_and_clear();
        }
    }
}

/// The spinner line's message: `running: [aws] deploy 3.2s, [gcp] deploy 1.0s`.
#[cfg_attr(not(any(test, feature = "cli")), allow(dead_code))]
fn running_message(running: &[RunningStep]) -> String {
    if running.is_empty() {
        return String::new();
    }
    let steps: Vec<String> = running
        .iter()
        .map(|r| format!("{} {}", r.label, format_duration(r.since.elapsed())))
        .collect();
    format!("running: {}", steps.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spinner_lists_running_steps() {
        let since = Instant::now();
        let running = vec![
            RunningStep {
                label: "[aws] deploy".into(),
                since,
            },
            RunningStep {
                label: "[gcp] deploy".into(),
                since,
            },
        ];
        let message = running_message(&running);
        assert!(message.starts_with("running: [aws] deploy 0."), "{message}");
        assert!(message.contains(", [gcp] deploy 0."), "{message}");
        assert_eq!(running_message(&[]), "");
    }
}
