//! Guaranteed teardown: interrupts at random moments, a crashed runner
//! cleaned up afterwards, --keep, corrupt state files.

use super::*;
use rustix::process::Signal;

/// Two targets; each creates a marker and starts a long-lived process,
/// with a teardown that kills the process and marks the marker torn down.
const TWO_TARGETS: &str = r#"
build:
  steps:
    - for_each:
        var: T
        values: [aws, gcp]
        steps:
          - script:
              name: create
              code: |
                sleep 0.$((RANDOM % 3))
                touch "created-$T"
                sleep 300 &
                echo $! > "proc-$T.pid"
                sleep 0.$((RANDOM % 4))
              teardown: |
                if [ -f "proc-$T.pid" ]; then kill "$(cat "proc-$T.pid")" 2>/dev/null || true; fi
                touch "torndown-$T"
          - script:
              name: work
              code: sleep 2
  after-steps:
    - script:
        name: after
        code: echo "$RUNNER_RESULT" > after.txt
"#;

fn check_trial(w: &Work, label: &str) {
    for t in ["aws", "gcp"] {
        if w.file(&format!("created-{t}")).exists() {
            assert!(
                w.file(&format!("torndown-{t}")).exists(),
                "{label}: target {t} was created but not torn down"
            );
        }
        for pid in pids_in(&w.file(&format!("proc-{t}.pid"))) {
            assert!(all_dead(&[pid]), "{label}: process {pid} of {t} survived");
        }
    }
    assert!(
        !w.read("after.txt").is_empty(),
        "{label}: after-steps did not run"
    );
}

fn trials(sig: Signal, seed: u64) {
    // A small LCG: reproducible "random" moments between 0 and 1.6 s.
    let mut state = seed;
    for i in 0..20 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(50 + (state >> 33) % 1550);
        let w = Work::new(TWO_TARGETS);
        let child = w.spawn(&["run"]);
        std::thread::sleep(delay);
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        let label = format!("trial {i} ({sig:?} after {delay:?})");
        let code = out.status.code();
        assert!(
            code == Some(130) || code == Some(0),
            "{label}: exit {code:?}\n{}",
            text(&out)
        );
        check_trial(&w, &label);
        if code == Some(130) {
            assert_eq!(w.read("after.txt").trim(), "cancelled", "{label}");
        }
        assert!(
            !w.file(".stepwise/state").exists()
                || std::fs::read_dir(w.file(".stepwise/state"))
                    .unwrap()
                    .next()
                    .is_none(),
            "{label}: state left behind although every teardown ran"
        );
    }
}

#[test]
fn interrupt_trials_with_sigint_leave_nothing_behind() {
    trials(Signal::INT, 7);
}

#[test]
fn interrupt_trials_with_sigterm_leave_nothing_behind() {
    trials(Signal::TERM, 11);
}

const CRASH: &str = r#"
build:
  steps:
    - for_each:
        var: T
        values: [aws]
        steps:
          - script:
              name: create
              code: |
                touch "created-$T"
                sleep 300 &
                echo $! > "proc-$T.pid"
              teardown: |
                kill "$(cat "proc-$T.pid")" 2>/dev/null || true
                echo once >> "torndown-$T"
          - script:
              name: hold
              code: echo $$ > hold.pid; touch holding; exec sleep 300
"#;

#[test]
fn a_killed_runner_is_cleaned_up_later_exactly_once_and_live_runs_are_untouched() {
    let w = Work::new(CRASH);
    let mut child = w.spawn(&["run"]);
    assert!(wait_for(Duration::from_secs(10), || w
        .file("holding")
        .exists()));
    // While it runs, cleanup must not touch it.
    let out = w.run(&["cleanup"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("still running"), "{}", text(&out));
    assert!(!w.file("torndown-aws").exists());
    let out = w.run(&["state"]);
    assert!(text(&out).contains("create"), "{}", text(&out));
    signal(&child, Signal::KILL);
    let _ = child.wait();
    let pid = pids_in(&w.file("proc-aws.pid"))[0];
    assert!(
        alive(pid),
        "the resource should still be up after the crash"
    );
    let out = w.run(&["state"]);
    assert!(text(&out).contains("not running"), "{}", text(&out));
    let out = w.run(&["cleanup"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.read("torndown-aws").trim(), "once");
    assert!(all_dead(&[pid]));
    let out = w.run(&["cleanup"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("nothing to clean up"), "{}", text(&out));
    assert_eq!(
        w.read("torndown-aws").trim(),
        "once",
        "a second cleanup ran the teardown again"
    );
    // The killed runner's hold step is an orphan now: end it.
    for pid in pids_in(&w.file("hold.pid")) {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).unwrap(),
            Signal::KILL,
        );
    }
}

#[test]
fn keep_leaves_targets_up_until_cleanup() {
    let w = Work::new(
        CRASH
            .replace("echo $$ > hold.pid; touch holding; exec sleep 300", "true")
            .as_str(),
    );
    let out = w.run(&["run", "--keep"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!w.file("torndown-aws").exists());
    let pid = pids_in(&w.file("proc-aws.pid"))[0];
    assert!(alive(pid));
    let out = w.run(&["state"]);
    let t = text(&out);
    assert!(t.contains("[aws] create") && t.contains("Kept"), "{t}");
    let out = w.run(&["cleanup"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(w.file("torndown-aws").exists());
    assert!(all_dead(&[pid]));
}

#[test]
fn a_corrupt_state_file_is_an_error_naming_it_and_is_kept() {
    let w = Work::new("build:\n  steps: []\n");
    std::fs::create_dir_all(w.file(".stepwise/state")).unwrap();
    let bad = w.file(".stepwise/state/123-1.json");
    std::fs::write(
        &bad,
        "{\"version\": 1, \"run_id\": \"123-1\", \"pid\": 1, \"tear",
    )
    .unwrap();
    for cmd in ["state", "cleanup"] {
        let out = w.run(&[cmd]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {t}");
        assert!(
            t.contains("123-1.json") && t.contains("corrupted"),
            "{cmd}: {t}"
        );
    }
    assert!(bad.exists(), "the corrupt file was discarded");
}

#[test]
fn teardown_policies_keep_or_run_teardowns() {
    let w = Work::new(
        r#"
build:
  steps:
    - group:
        name: kept on failure
        teardown: on_success
        steps:
          - script:
              name: make-a
              code: touch made-a; false
              teardown: touch gone-a
    - group:
        name: never torn down
        teardown: never
        steps:
          - script:
              name: make-b
              code: touch made-b
              teardown: touch gone-b
    - group:
        name: always
        steps:
          - script:
              name: make-c
              code: touch made-c
              teardown: touch gone-c
"#,
    );
    let out = w.run(&["run"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        w.file("made-a").exists() && !w.file("gone-a").exists(),
        "{t}"
    );
    // The later groups did not run after the failure, so nothing of theirs exists.
    assert!(
        !w.file("made-b").exists() && !w.file("made-c").exists(),
        "{t}"
    );
    let out = w.run(&["state"]);
    assert!(
        text(&out).contains("make-a") && text(&out).contains("Kept"),
        "{}",
        text(&out)
    );
    let out = w.run(&["cleanup"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(w.file("gone-a").exists());

    let w = Work::new(
        r#"
build:
  steps:
    - group:
        teardown: never
        steps:
          - script: {name: make-b, code: touch made-b, teardown: touch gone-b}
    - group:
        steps:
          - script: {name: make-c, code: touch made-c, teardown: touch gone-c}
"#,
    );
    let out = w.run(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!w.file("gone-b").exists() && w.file("gone-c").exists());
    assert!(text(&w.run(&["state"])).contains("make-b"));
}
