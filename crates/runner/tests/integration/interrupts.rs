//! Signals are honoured everywhere: during after-steps (the run still
//! exits 130 and the after-step stops through the ladder) and in the first
//! milliseconds of the runner's life (issue #14 findings 10 and 11); a
//! pipeline file that is a device or a FIFO is refused at once (finding 15).

use super::*;
use rustix::process::Signal;

const SLOW_AFTER: &str = r#"
build:
  steps:
    - script:
        name: quick
        code: "true"
  after-steps:
    - script:
        name: hung notification
        code: |
          sleep 60 &
          echo $! > after.pid
          touch after-started
          wait
    - script:
        name: second after-step
        code: echo "$RUNNER_RESULT" > second.txt
"#;

#[test]
fn sigint_during_after_steps_stops_them_and_exits_130() {
    for sig in [Signal::INT, Signal::TERM] {
        let w = Work::new(SLOW_AFTER);
        let child = w.spawn(&["run"]);
        assert!(wait_for(Duration::from_secs(10), || w
            .file("after-started")
            .exists()));
        let started = Instant::now();
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(130), "{sig:?}: {t}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{sig:?}: the after-step ran on for {:?}",
            started.elapsed()
        );
        assert!(all_dead(&pids_in(&w.file("after.pid"))), "{sig:?}: {t}");
        // Later after-steps still run: they are cleanup, not the thing cancelled.
        assert_eq!(w.read("second.txt").trim(), "passed", "{sig:?}: {t}");
    }
}

/// Whether `pid` catches `sig` (its handler is installed), from
/// `/proc/PID/status`.
fn catches(pid: u32, sig: i32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (sig - 1)) != 0)
}

#[test]
fn a_signal_in_the_first_milliseconds_is_handled_and_exits_130() {
    // A big pipeline file keeps the runner busy loading it: today's
    // handler comes only after that.
    let mut yaml = String::from("build:\n  steps:\n");
    for i in 0..4000 {
        yaml += &format!("    - script:\n        name: step {i}\n        code: echo {i}\n");
    }
    yaml += "  after-steps:\n    - script:\n        code: echo \"$RUNNER_RESULT\" > after.txt\n";
    for sig in [Signal::TERM, Signal::INT] {
        let w = Work::new(&yaml);
        let child = w.spawn(&["run"]);
        // Send it as soon as the handler is there, or after 200 ms at the latest.
        wait_for(Duration::from_millis(200), || {
            catches(child.id(), sig.as_raw())
        });
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        let t = text(&out);
        assert_eq!(
            out.status.code(),
            Some(130),
            "{sig:?}: {}",
            &t[t.len().saturating_sub(2000)..]
        );
        assert!(!w.read("after.txt").contains("passed"), "{sig:?}");
    }
}

#[test]
fn a_device_or_fifo_as_pipeline_file_is_a_clear_error_not_a_hang() {
    let w = Work::new("build:\n  steps: []\n");
    let fifo = w.file("pipe.yml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    for (file, what) in [
        ("/dev/zero", "a device"),
        (fifo.to_str().unwrap(), "a FIFO"),
    ] {
        let mut child = w
            .cmd(&["validate", "-f", file])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let done = wait_for(Duration::from_secs(10), || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        if !done {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        assert!(done, "`validate -f {file}` did not finish");
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains(what) && t.contains("regular"), "{t}");
    }
}
