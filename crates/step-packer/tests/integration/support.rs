//! Shared helpers: a temp copy of the fixture templates and a context that
//! records every event.

use std::path::{Path, PathBuf};

use step_core::event::MemoryListener;
use step_core::{EventKind, EventSink, StepContext};

/// The fixture templates shipped with the crate.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates")
}

/// A temp directory holding a copy of the fixture templates
/// (`valid/`, `broken/`, `build/`).
pub fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixtures(), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read fixtures") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy fixture");
        }
    }
}

/// A context in `dir` whose events are kept in the returned listener.
pub fn context(dir: &Path) -> (StepContext, MemoryListener) {
    let events = EventSink::new();
    let memory = MemoryListener::new();
    events.add_listener(Box::new(memory.clone()));
    (StepContext::for_dir(dir).with_events(events), memory)
}

/// The output lines (child output only, not log messages) seen so far.
pub fn output_lines(memory: &MemoryListener) -> Vec<String> {
    memory
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Output { line, .. } => Some(line),
            _ => None,
        })
        .collect()
}

/// Skips the test (or fails it in CI) when packer is missing.
pub fn have_packer() -> bool {
    stepwise_tests::tool_available("packer")
}
