//! Wires the reporters a `runner` command asked for onto the event sink.

use std::path::{Path, PathBuf};

use step_core::EventSink;

use crate::report::{JsonLinesReporter, JunitReporter, Shared, TerminalReporter};

/// The reporters of one command, kept so their files and errors can be
/// reported at the end.
#[derive(Debug)]
pub struct Reports {
    events_file: Option<(PathBuf, Shared<JsonLinesReporter>)>,
    junit_file: Option<(PathBuf, Shared<JunitReporter>)>,
}

impl Reports {
    /// Prints where the report files are (and any error writing them).
    pub fn print_locations(&self) {
        if let Some((path, r)) = &self.events_file {
            match r.lock().error() {
                Some(e) => eprintln!("error: writing events to {}: {e}", path.display()),
                None => eprintln!("events: {}", path.display()),
            }
        }
        if let Some((path, r)) = &self.junit_file {
            match r.lock().error() {
                Some(e) => eprintln!("error: writing JUnit to {}: {e}", path.display()),
                None => eprintln!("junit: {}", path.display()),
            }
        }
    }
}

/// Adds the terminal reporter (fancy on a TTY, plain in CI), and the JSON
/// lines and JUnit reporters when files are given.
pub fn attach(
    events: &EventSink,
    events_file: Option<&Path>,
    junit: Option<&Path>,
) -> Result<Reports, String> {
    events.add_listener(Box::new(TerminalReporter::auto()));
    let events_file = match events_file {
        Some(p) => {
            let r = JsonLinesReporter::create(p)
                .map_err(|e| format!("cannot write the events file {}: {e}", p.display()))?;
            let shared = Shared::new(r);
            events.add_listener(Box::new(shared.clone()));
            Some((p.to_path_buf(), shared))
        }
        None => None,
    };
    let junit_file = junit.map(|p| {
        let shared = Shared::new(JunitReporter::new(p));
        events.add_listener(Box::new(shared.clone()));
        (p.to_path_buf(), shared)
    });
    Ok(Reports {
        events_file,
        junit_file,
    })
}
