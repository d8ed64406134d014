//! Helpers: fixtures, contexts that record events, running the step, and the
//! Docker daemon / container guards the run-mode tests use.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;
use step_core::event::MemoryListener;
use step_core::{Env, EventSink, Outcome, StepContext, StepError};

/// A fixture file.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A fixture's text.
pub fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Copies a fixture into `dir` under `as_name`.
pub fn copy_fixture(dir: &Path, name: &str, as_name: &str) -> PathBuf {
    let to = dir.join(as_name);
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).expect("create fixture dir");
    }
    std::fs::copy(fixture(name), &to).unwrap_or_else(|e| panic!("copy {name}: {e}"));
    to
}

/// A context in `dir` whose events are recorded.
pub fn context(dir: &Path) -> (StepContext, MemoryListener) {
    context_with_env(dir, Env::from_process())
}

/// The same with a given environment.
pub fn context_with_env(dir: &Path, env: Env) -> (StepContext, MemoryListener) {
    let sink = EventSink::new();
    let memory = MemoryListener::new();
    sink.add_listener(Box::new(memory.clone()));
    let cx = StepContext::for_dir(dir).with_events(sink).with_env(env);
    (cx, memory)
}

/// Builds the step from properties (as the runner does) and runs it.
pub async fn run_step(dir: &Path, props: Value) -> (Result<Outcome, StepError>, MemoryListener) {
    let (cx, memory) = context(dir);
    (run_in(&cx, props).await, memory)
}

/// Builds and runs the step in a given context.
pub async fn run_in(cx: &StepContext, props: Value) -> Result<Outcome, StepError> {
    let kinds = step_dockerbench::kinds();
    let step = kinds[0].build(props).map_err(StepError::from)?;
    step.run(cx).await
}

/// Runs the step and expects it to have run (passed or failed).
pub async fn outcome(dir: &Path, props: Value) -> (Outcome, MemoryListener) {
    let (result, memory) = run_step(dir, props).await;
    match result {
        Ok(o) => (o, memory),
        Err(e) => panic!("step errored: {e}\nevents: {:#?}", memory.lines()),
    }
}

/// An integer output.
pub fn out_int(outcome: &Outcome, name: &str) -> i64 {
    outcome
        .outputs
        .get(name)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("output {name} missing in {:?}", outcome.outputs))
}

/// Whether a docker daemon answers and the test image exists, starting the
/// daemon and building the image with the project's scripts when needed.
/// Skips (or, with STEPWISE_REQUIRE_TOOLS=1, fails) when that is impossible.
pub fn docker_ready() -> bool {
    if !stepwise_tests::tool_available("docker") {
        return false;
    }
    let root = stepwise_tests::workspace_root();
    let ok = |args: &[&str]| {
        Command::new("docker")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let script = |name: &str| {
        Command::new("bash")
            .arg(root.join("scripts").join(name))
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let daemon_up = ok(&["info"]) || (script("start-dockerd.sh") && ok(&["info"]));
    if !daemon_up {
        return stepwise_tests::skip_or_fail(
            "`docker info` fails and scripts/start-dockerd.sh could not start a daemon",
        );
    }
    let image_there = ok(&["image", "inspect", IMAGE])
        || (script("build-test-image.sh") && ok(&["image", "inspect", IMAGE]));
    if !image_there {
        return stepwise_tests::skip_or_fail(&format!(
            "image {IMAGE} is missing and scripts/build-test-image.sh could not build it"
        ));
    }
    true
}

/// The local test image.
pub const IMAGE: &str = "stepwise/busybox:latest";

/// A name no other test (or helper) uses.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A running container, removed (`docker rm -f`) when dropped.
pub struct Container {
    /// Its name.
    pub name: String,
}

impl Container {
    /// Starts `stepwise/busybox` with `sleep 300`, without network.
    pub fn start(prefix: &str, privileged: bool) -> Container {
        let name = unique_name(prefix);
        let mut args = vec!["run", "-d", "--network", "none", "--name", &name];
        if privileged {
            args.push("--privileged");
        }
        args.extend([IMAGE, "sleep", "300"]);
        let out = Command::new("docker")
            .args(&args)
            .output()
            .expect("run docker");
        let container = Container { name: name.clone() };
        assert!(
            out.status.success(),
            "docker run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        container
    }

    /// Copies a local file into the container.
    pub fn copy_in(&self, from: &Path, to: &str) {
        let status = Command::new("docker")
            .arg("cp")
            .arg(from)
            .arg(format!("{}:{to}", self.name))
            .status()
            .expect("docker cp");
        assert!(status.success(), "docker cp {} failed", from.display());
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Copies the stand-in script into `dir/docker-bench-security/` (it creates
/// `log/` in its working directory, as the real one does) and returns that
/// directory.
pub fn standin(dir: &Path) -> PathBuf {
    let to = dir.join("docker-bench-security");
    std::fs::create_dir_all(&to).expect("create stand-in dir");
    std::fs::copy(
        fixture("docker-bench-standin/docker-bench-security.sh"),
        to.join("docker-bench-security.sh"),
    )
    .expect("copy stand-in");
    to
}
