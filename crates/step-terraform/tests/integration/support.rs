//! A sandbox per test: a temporary working directory with copies of the
//! fixtures (terraform writes state next to the configuration, so tests
//! never run in the source tree), an event sink that keeps every event, and
//! contexts for it.

use std::path::{Path, PathBuf};

use step_core::event::MemoryListener;
use step_core::{Cancel, Env, EventKind, EventSink, RunInfo, StepContext};

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub sink: EventSink,
    pub events: MemoryListener,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("a temp dir");
        let sink = EventSink::new();
        let events = MemoryListener::new();
        sink.add_listener(Box::new(events.clone()));
        Sandbox { dir, sink, events }
    }

    /// A sandbox with `tests/fixtures/<name>` copied to `<sandbox>/<name>`.
    pub fn with_fixture(name: &str) -> Sandbox {
        let sb = Sandbox::new();
        sb.add_fixture(name);
        sb
    }

    pub fn add_fixture(&self, name: &str) {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        copy_dir(&src, &self.path(name));
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The process's environment (TF_CLI_CONFIG_FILE included: it names a
    /// missing file on this machine), with the stepwise cache in the sandbox.
    pub fn env(&self) -> Env {
        let mut env = Env::from_process();
        env.set("STEPWISE_CACHE_DIR", self.path("cache").to_string_lossy());
        env
    }

    pub fn cx(&self) -> StepContext {
        self.cx_with(self.env(), None, Cancel::new())
    }

    pub fn cx_for_target(&self, target: &str) -> StepContext {
        self.cx_with(self.env(), Some(target), Cancel::new())
    }

    pub fn cx_with(&self, env: Env, target: Option<&str>, cancel: Cancel) -> StepContext {
        StepContext::new(
            self.dir.path().to_path_buf(),
            env,
            self.sink.with_target(target.map(str::to_string)),
            cancel,
        )
        .with_run(RunInfo {
            target: target.map(str::to_string),
            ..RunInfo::default()
        })
    }

    /// Every output line and log message so far.
    pub fn lines(&self) -> Vec<String> {
        self.events.lines()
    }

    /// Lines of one target.
    pub fn lines_of(&self, target: &str) -> Vec<String> {
        self.events
            .events()
            .into_iter()
            .filter(|e| e.target.as_deref() == Some(target))
            .filter_map(|e| match e.kind {
                EventKind::Output { line, .. } => Some(line),
                EventKind::Log { message, .. } => Some(message),
                _ => None,
            })
            .collect()
    }

    /// The shown lines must be readable: no raw JSON UI and no warning
    /// about the missing CLI config file.
    pub fn assert_clean_output(&self) {
        for line in self.lines() {
            assert!(!line.contains("\"@level\""), "raw JSON shown: {line}");
            assert!(
                !line.contains("CLI configuration"),
                "the TF_CLI_CONFIG_FILE warning leaked: {line}"
            );
        }
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("create fixture copy");
    for entry in std::fs::read_dir(src).expect("read fixture") {
        let entry = entry.expect("fixture entry");
        let target = dst.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy fixture file");
        }
    }
}

/// Whether terraform is here (skips loudly, or fails under
/// STEPWISE_REQUIRE_TOOLS=1, when it is not).
pub fn terraform() -> bool {
    stepwise_tests::tool_available("terraform")
}
