//! for_each fan-out, target prefixes, partitions.

use super::*;

#[test]
fn for_each_over_eight_values_runs_them_concurrently() {
    let w = Work::new(
        r#"
build:
  steps:
    - for_each:
        var: N
        values: [a, b, c, d, e, f, g, h]
        steps:
          - script:
              name: nap
              code: sleep 1; echo "done $N"
"#,
    );
    let out = w.run(&["run", "--events", "events.jsonl"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    for v in ["a", "b", "c", "d", "e", "f", "g", "h"] {
        assert!(t.contains(&format!("[{v}] nap | done {v}")), "{t}");
    }
    // Concurrent, told by the order of events rather than by a clock (a
    // loaded machine slows start-up, not the order): every target's step
    // started before the first one finished. One after the other, each
    // start would follow the previous finish a second later.
    let events: Vec<serde_json::Value> = w
        .read("events.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &serde_json::Value| e["step"] == "nap")
        .collect();
    let first_finish = events
        .iter()
        .position(|e| e["event"] == "step_finished")
        .expect("a step_finished event");
    let started_before: Vec<&str> = events[..first_finish]
        .iter()
        .filter(|e| e["event"] == "step_started")
        .filter_map(|e| e["target"].as_str())
        .collect();
    assert_eq!(
        started_before.len(),
        8,
        "started before the first finished: {started_before:?}"
    );
}

#[test]
fn outputs_are_scoped_to_their_target_and_one_failure_does_not_cancel_siblings() {
    let w = Work::new(
        r#"
build:
  steps:
    - for_each:
        var: CLOUD
        values: "$CLOUDS"
        steps:
          - script:
              id: make
              name: make
              code: |
                export ADDR="addr-$CLOUD"
                test "$CLOUD" != bad
          - script:
              name: use
              code: echo "$ADDR ${{ target }}" > "use-$CLOUD.txt"
"#,
    );
    let out = w
        .cmd(&["run", "--junit", "junit.xml"])
        .env("CLOUDS", "aws, bad gcp")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert_eq!(w.read("use-aws.txt").trim(), "addr-aws aws");
    assert_eq!(w.read("use-gcp.txt").trim(), "addr-gcp gcp");
    assert!(!w.file("use-bad.txt").exists());
    let junit = w.read("junit.xml");
    for target in ["aws", "gcp", "bad"] {
        assert!(junit.contains(&format!("name=\"{target}\"")), "{junit}");
    }
}

#[test]
fn partitions_cover_every_value_exactly_once() {
    let yaml = r#"
build:
  steps:
    - for_each:
        var: V
        values: [one, two, three, four, five]
        steps:
          - script:
              code: echo "$V" >> seen.txt
"#;
    let w = Work::new(yaml);
    for part in ["1/2", "2/2"] {
        let out = w.run(&["run", "--partition", part]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let mut seen: Vec<String> = w.read("seen.txt").lines().map(str::to_string).collect();
    seen.sort();
    assert_eq!(seen, vec!["five", "four", "one", "three", "two"]);
    let w2 = Work::new(yaml);
    let out = w2.run(&["run", "--only", "V=three"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(w2.read("seen.txt").trim(), "three");
    let out = w2.run(&["run", "--partition", "3/2"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn fail_fast_cancels_the_other_targets() {
    let w = Work::new(
        r#"
build:
  steps:
    - for_each:
        var: V
        values: [quick, slow]
        fail_fast: true
        steps:
          - script:
              code: |
                if [ "$V" = quick ]; then exit 1; fi
                sleep 20; touch slow-finished
"#,
    );
    let start = Instant::now();
    let out = w.run(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Cancelled, not left to finish: the slow target alone needs 20 s. The
    // bound leaves room for the stop ladder's 10 s grace, for the rare stop
    // that reaches bash while it starts up and is held until its command
    // ends (then SIGKILL ends it).
    assert!(start.elapsed() < Duration::from_secs(15));
    assert!(!w.file("slow-finished").exists());
    assert!(text(&out).contains("fail_fast"), "{}", text(&out));
}

#[test]
fn parallel_runs_steps_concurrently_and_finally_always_runs() {
    let w = Work::new(
        r#"
build:
  steps:
    - parallel:
        steps:
          - script: {name: a, code: "sleep 1; touch a"}
          - script: {name: b, code: "sleep 1; touch b; exit 1"}
        finally:
          - script: {name: cleanup, code: "touch cleaned"}
"#,
    );
    let start = Instant::now();
    let out = w.run(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(start.elapsed() < Duration::from_millis(1900));
    assert!(w.file("a").exists() && w.file("b").exists() && w.file("cleaned").exists());
}

#[test]
fn a_failing_finally_step_is_reported_and_fails_the_group() {
    let w = Work::new(
        r#"
build:
  steps:
    - for_each:
        var: T
        values: [one, two]
        steps:
          - script: {name: work, code: "touch work-$T"}
        finally:
          - script: {name: cleanup, code: "touch cleanup-$T; test $T != two"}
  after-steps:
    - script: {code: "echo $RUNNER_RESULT $RUNNER_FAILED_STEP > after.txt"}
"#,
    );
    let out = w.run(&["run"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    for f in ["work-one", "work-two", "cleanup-one", "cleanup-two"] {
        assert!(w.file(f).exists(), "{f} missing\n{t}");
    }
    assert_eq!(w.read("after.txt").trim(), "failed [two] cleanup");
}
