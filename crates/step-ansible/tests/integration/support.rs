//! Shared helpers: fixture copies, contexts, building steps the way the
//! runner does (through `kinds()`).

use std::path::{Path, PathBuf};

use serde_json::Value;
use step_core::event::MemoryListener;
use step_core::{Env, EventSink, Outcome, StepContext, StepError};

/// The crate's fixture directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A temp dir holding a copy of `fixtures/<name>`.
pub fn fixture_dir(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(&fixtures().join(name), dir.path());
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("fixture dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A context in `dir` with the process environment plus `vars`, recording events.
pub fn context(dir: &Path, vars: &[(&str, &str)]) -> (StepContext, MemoryListener) {
    let mut env = Env::from_process();
    for (k, v) in vars {
        env.set(*k, *v);
    }
    context_with_env(dir, env)
}

/// A context in `dir` with exactly this environment, recording events.
pub fn context_with_env(dir: &Path, env: Env) -> (StepContext, MemoryListener) {
    let events = EventSink::new();
    let memory = MemoryListener::new();
    events.add_listener(Box::new(memory.clone()));
    let cx = StepContext::for_dir(dir).with_env(env).with_events(events);
    (cx, memory)
}

/// Builds a step of `kind` from properties, as the runner's registry does.
pub fn build(kind: &str, properties: Value) -> Box<dyn step_core::Step> {
    let kinds = step_ansible::kinds();
    let Some(k) = kinds.iter().find(|k| k.description().kind == kind) else {
        panic!("no kind {kind}");
    };
    match k.build(properties) {
        Ok(step) => step,
        Err(e) => panic!("building {kind}: {e}"),
    }
}

/// Runs a step built from properties.
pub async fn run(kind: &str, properties: Value, cx: &StepContext) -> Result<Outcome, StepError> {
    build(kind, properties).run(cx).await
}
