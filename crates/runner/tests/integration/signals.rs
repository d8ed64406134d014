//! SIGINT / SIGTERM: running steps are cancelled through the ladder, the
//! after-steps still run with RUNNER_RESULT=cancelled, exit 130, and no
//! process of the step survives.

use super::*;
use rustix::process::Signal;

const PIPELINE: &str = r#"
build:
  steps:
    - script:
        name: long
        code: |
          bash -c 'sleep 100 & echo $! >> pids; sleep 100 & echo $! >> pids; wait'
    - script:
        name: never
        code: touch never
  after-steps:
    - script:
        name: after
        code: echo "$RUNNER_RESULT" > result.txt
"#;

fn interrupt_with(sig: Signal) {
    let w = Work::new(PIPELINE);
    let child = w.spawn(&["run"]);
    assert!(
        wait_for(Duration::from_secs(10), || pids_in(&w.file("pids")).len()
            == 2),
        "the step did not start its processes"
    );
    let pids = pids_in(&w.file("pids"));
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(130), "{t}");
    assert_eq!(w.read("result.txt").trim(), "cancelled", "{t}");
    assert!(!w.file("never").exists());
    assert!(all_dead(&pids), "a process of the step survived: {pids:?}");
}

#[test]
fn sigint_cancels_runs_after_steps_and_exits_130() {
    interrupt_with(Signal::INT);
}

#[test]
fn sigterm_cancels_runs_after_steps_and_exits_130() {
    interrupt_with(Signal::TERM);
}

#[test]
fn a_second_signal_kills_a_stubborn_step_at_once() {
    let w = Work::new(
        r#"
build:
  steps:
    - script:
        name: ignores term
        code: |
          trap '' TERM
          bash -c 'trap "" TERM; sleep 100 & echo $! >> pids; wait' &
          echo $! >> pids
          wait
"#,
    );
    let child = w.spawn(&["run"]);
    assert!(wait_for(Duration::from_secs(10), || pids_in(
        &w.file("pids")
    )
    .len()
        == 2));
    let pids = pids_in(&w.file("pids"));
    let start = Instant::now();
    signal(&child, Signal::INT);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, Signal::INT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "the second signal did not kill at once"
    );
    assert!(all_dead(&pids), "{pids:?}");
}
