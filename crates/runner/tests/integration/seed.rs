//! The seed's build-pipeline shape, failures, continue_on_error, timeouts.

use super::*;

#[test]
fn seed_build_pipeline_runs_with_exports_and_after_steps() {
    let w = Work::new(
        r#"
box: wercker/default
build:
  steps:
    - script:
        name: prepare
        cwd: packer/
        code: |
          echo "in $(basename "$PWD")"
          export GREETING="hello from step one"
          export MULTI="a
          b"
    - script:
        name: read the export
        code: |
          echo "second step sees: $GREETING"
          test "$GREETING" = "hello from step one"
          printf '%s\n' "$MULTI" | wc -l > lines.txt
    - script:
        name: scripts testing
        cwd: bootstrap/tests
        code: |
          /bin/bash test.sh
  after-steps:
    - script:
        name: report
        code: |
          echo "runner=$RUNNER_RESULT wercker=$WERCKER_RESULT" > ../result.txt
        cwd: packer
"#,
    );
    std::fs::create_dir_all(w.file("packer")).unwrap();
    std::fs::create_dir_all(w.file("bootstrap/tests")).unwrap();
    std::fs::write(
        w.file("bootstrap/tests/test.sh"),
        "echo tests ran; touch ran.txt\n",
    )
    .unwrap();
    let out = w.run(&["run", "build"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("in packer"), "{t}");
    assert!(t.contains("second step sees: hello from step one"), "{t}");
    assert!(
        t.contains("box"),
        "the ignored wercker key gets a notice: {t}"
    );
    assert_eq!(w.read("lines.txt").trim(), "2");
    assert!(w.file("bootstrap/tests/ran.txt").exists());
    assert_eq!(w.read("result.txt").trim(), "runner=passed wercker=passed");
}

#[test]
fn a_failing_step_stops_the_pipeline_but_after_steps_run() {
    let w = Work::new(
        r#"
build:
  steps:
    - script:
        name: breaks
        code: |
          echo about to fail
          false
          echo never printed
    - script:
        name: not reached
        code: touch reached
  after-steps:
    - script:
        code: echo "$RUNNER_RESULT $WERCKER_RESULT $RUNNER_FAILED_STEP" > result.txt
"#,
    );
    let out = w.run(&["run"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(!t.contains("never printed"), "{t}");
    assert!(!w.file("reached").exists());
    assert_eq!(w.read("result.txt").trim(), "failed failed breaks");
}

#[test]
fn continue_on_error_turns_a_failure_into_a_warning() {
    let w = Work::new(
        r#"
build:
  steps:
    - script:
        name: flaky lint
        continue_on_error: true
        code: exit 3
    - script:
        name: still runs
        code: touch reached
"#,
    );
    let out = w.run(&["run"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(w.file("reached").exists());
    assert!(t.contains("warning"), "{t}");
}

#[test]
fn a_timeout_stops_the_step_and_every_process_it_started() {
    let w = Work::new(
        r#"
build:
  steps:
    - script:
        name: sleeper
        timeout: 1s
        code: |
          bash -c 'sleep 30 & echo $! >> pids; sleep 30 & echo $! >> pids; wait'
"#,
    );
    let start = Instant::now();
    let out = w.run(&["run"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("timed out"), "{t}");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "took {:?}",
        start.elapsed()
    );
    let pids = pids_in(&w.file("pids"));
    assert_eq!(pids.len(), 2, "{t}");
    assert!(all_dead(&pids), "a sleep survived: {pids:?}");
}

#[test]
fn retries_run_a_failing_step_again() {
    let w = Work::new(
        r#"
build:
  steps:
    - script:
        retries: 2
        code: |
          echo x >> attempts
          test "$(wc -l < attempts)" -ge 3
"#,
    );
    let out = w.run(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.read("attempts").lines().count(), 3);
}

#[test]
fn when_and_skip_skip_steps_and_say_so() {
    let w = Work::new(
        r#"
build:
  steps:
    - script:
        name: dockerbench
        when: APOLLO_dockerbench_run_test
        code: touch ran-bench
    - script:
        name: other
        code: touch ran-other
"#,
    );
    let out = w.run(&["run", "--skip", "other"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(!w.file("ran-bench").exists() && !w.file("ran-other").exists());
    assert!(t.contains("APOLLO_dockerbench_run_test"), "{t}");
    let out = w
        .cmd(&["run"])
        .env("APOLLO_dockerbench_run_test", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(w.file("ran-bench").exists());
}

#[test]
fn outputs_and_variables_reach_later_properties() {
    let w = Work::new(
        r#"
build:
  steps:
    - script:
        name: exports
        code: export REGION=eu-west-1
    - script:
        name: uses
        cwd: ${SUBDIR:-.}
        code: |
          echo "region ${{ env.REGION }}" > out.txt
"#,
    );
    let out = w.run(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.read("out.txt").trim(), "region eu-west-1");
}

#[test]
fn validate_lists_pipelines_and_steps() {
    let w = Work::new(
        r#"
build:
  steps:
    - script:
        name: one
        code: "true"
    - parallel:
        steps:
          - script: {code: "true"}
deploy:
  steps:
    - script: {code: "true"}
"#,
    );
    let out = w.run(&["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("pipeline build") && t.contains("pipeline deploy"),
        "{t}"
    );
    assert!(t.contains("one (script)") && t.contains("parallel"), "{t}");
}

#[test]
fn steps_and_explain_describe_kinds() {
    let w = Work::new("build:\n  steps: []\n");
    let out = w.run(&["steps"]);
    let t = text(&out);
    assert!(
        t.contains("script") && t.contains("install-packages") && t.contains("pip-install"),
        "{t}"
    );
    let out = w.run(&["explain", "script"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        t.contains("code") && t.contains("required") && t.contains("teardown"),
        "{t}"
    );
    let out = w.run(&["explain", "scirpt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("did you mean `script`"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_file_a_property_names_that_does_not_exist_is_a_configuration_error() {
    let w = Work::new(
        "build:\n  steps:\n    - pip-install:\n        requirements_file: missing-requirements.txt\n",
    );
    let out = w.run(&["run"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("requirements_file") && t.contains("missing-requirements.txt"),
        "{t}"
    );
    assert!(!t.contains("panicked"), "{t}");
}

#[test]
fn a_closed_stdout_pipe_is_not_a_panic() {
    let w = Work::new("build:\n  steps:\n    - script: {code: 'seq 1 20000'}\n");
    for args in [
        &["explain", "terraform-apply"][..],
        &["steps"][..],
        &["run"][..],
    ] {
        let mut child = w.spawn(args);
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            matches!(out.status.code(), Some(0)),
            "{args:?}: {:?} {err}",
            out.status
        );
    }
}
