//! The process helper against real processes: streaming, capture bounds,
//! timeouts and cancellation that reach the whole process group.

use std::time::{Duration, Instant};

use step_core::event::MemoryListener;
use step_core::process::Cmd;
use step_core::{Cancel, CancelReason, Env, EventSink, StepContext};

fn context() -> (StepContext, MemoryListener, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let sink = EventSink::new();
    let mem = MemoryListener::new();
    sink.add_listener(Box::new(mem.clone()));
    let cx = StepContext::new(
        dir.path().to_path_buf(),
        Env::from_process(),
        sink,
        Cancel::new(),
    );
    (cx, mem, dir)
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !matches!(
                s.rsplit_once(") ").and_then(|(_, r)| r.chars().next()),
                Some('Z') | None
            )
        })
        .unwrap_or(false)
}

fn pids(path: &std::path::Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[tokio::test]
async fn lines_stream_as_events_and_capture_is_bounded() {
    let (cx, mem, _dir) = context();
    let out = Cmd::new("bash")
        .args([
            "-c",
            "printf 'one\\ntwo'; echo err >&2; head -c 5000 /dev/zero | tr '\\0' x",
        ])
        .capture(100)
        .run(&cx)
        .await
        .expect("runs");
    assert!(out.success());
    assert!(out.truncated);
    assert_eq!(out.stdout.len(), 100);
    let lines = mem.lines();
    assert!(
        lines.contains(&"one".to_string()) && lines.contains(&"err".to_string()),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("twoxxx")), "{lines:?}");
}

#[tokio::test]
async fn a_timeout_kills_the_whole_group() {
    let (cx, _mem, dir) = context();
    let pidfile = dir.path().join("pids");
    let start = Instant::now();
    let err = Cmd::new("bash")
        .arg("-c")
        .arg(format!(
            "sleep 30 & echo $! >> {0}; sleep 30 & echo $! >> {0}; wait",
            pidfile.display()
        ))
        .timeout(Duration::from_millis(500))
        .grace(Duration::from_secs(2))
        .run(&cx)
        .await
        .expect_err("times out");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(200));
    let p = pids(&pidfile);
    assert_eq!(p.len(), 2);
    assert!(p.iter().all(|p| !alive(*p)), "{p:?}");
}

#[tokio::test]
async fn cancellation_escalates_to_sigkill_after_the_grace_period() {
    let (cx, _mem, dir) = context();
    let cancel = Cancel::new();
    let cx = cx.with_cancel(cancel.clone());
    let pidfile = dir.path().join("pids");
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c2.cancel(CancelReason::Interrupted);
    });
    let start = Instant::now();
    let err = Cmd::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' TERM; sleep 30 & echo $! >> {0}; echo $$ >> {0}; wait",
            pidfile.display()
        ))
        .grace(Duration::from_millis(700))
        .run(&cx)
        .await
        .expect_err("cancelled");
    let elapsed = start.elapsed();
    assert!(err.to_string().contains("cancelled"), "{err}");
    assert!(
        elapsed >= Duration::from_millis(900),
        "SIGKILL came before the grace period: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(pids(&pidfile).iter().all(|p| !alive(*p)));
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error_naming_it() {
    let (cx, _mem, _dir) = context();
    let err = Cmd::new("no-such-program-xyz")
        .run(&cx)
        .await
        .expect_err("fails");
    assert!(err.to_string().contains("no-such-program-xyz"), "{err}");
}
