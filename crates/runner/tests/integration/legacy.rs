//! Legacy wercker steps: an `owner/name` step directory with
//! `wercker-step.yml` and `run.sh`, run as wercker ran it.

use super::*;

const MANIFEST: &str = "name: owner-check\nversion: 0.1.0\ndescription: checks a target\nproperties:\n  target:\n    type: string\n    required: true\n  mode:\n    type: string\n    default: fast\n";

const RUN_SH: &str = r#"target="$WERCKER_OWNER_CHECK_TARGET"
if [ -z "$target" ] || [ "$target" = bad ]; then
  fail "target must not be empty or bad (got '$target')"
fi
info "checking $target in $WERCKER_OWNER_CHECK_MODE mode from $WERCKER_STEP_ROOT as $WERCKER_STEP_NAME"
success "ok"
"#;

fn with_step(yaml: &str) -> Work {
    let w = Work::new(yaml);
    let dir = w.file(".wercker/steps/acme/owner-check");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("wercker-step.yml"), MANIFEST).unwrap();
    std::fs::write(dir.join("run.sh"), RUN_SH).unwrap();
    w
}

#[test]
fn a_legacy_step_passes_with_its_properties_and_defaults() {
    let w = with_step("build:\n  steps:\n    - acme/owner-check:\n        target: web\n");
    let out = w.run(&["run"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("info: checking web in fast mode from"), "{t}");
    assert!(t.contains("as owner-check"), "{t}");
}

#[test]
fn a_legacy_step_that_calls_fail_fails_with_its_message() {
    let w = with_step(
        "build:\n  steps:\n    - acme/owner-check:\n        target: bad\n        mode: slow\n",
    );
    let out = w.run(&["run"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("failed: target must not be empty or bad (got 'bad')"),
        "{t}"
    );
}

#[test]
fn an_undeclared_property_is_passed_on_with_a_warning_as_wercker_did() {
    let w = with_step(
        "build:\n  steps:\n    - acme/owner-check:\n        target: web\n        targt: x\n",
    );
    let out = w.run(&["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("stepwise.yml:5:9: warning: property `targt` is not declared")
            && t.contains("WERCKER_OWNER_CHECK_TARGT")
            && t.contains("did you mean `target`"),
        "{t}"
    );
    // The typo still leaves a required property missing: an error.
    let w = with_step("build:\n  steps:\n    - acme/owner-check:\n        targt: x\n");
    let out = w.run(&["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("needs the property `target`"), "{t}");
}

#[test]
fn an_unknown_step_id_is_one_line_with_a_hint_and_paths_only_when_verbose() {
    let w = Work::new("build:\n  steps:\n    - nobody/nothing\n");
    let out = w.run(&["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("stepwise.yml:3:7: error: step `nobody/nothing` is not installed\n  hint: runner step add nobody/nothing"),
        "{t}"
    );
    assert!(!t.contains(".wercker/steps/nobody/nothing"), "{t}");
    let out = w.run(&["validate", "--verbose"]);
    let t = text(&out);
    assert!(t.contains(".wercker/steps/nobody/nothing"), "{t}");
    assert!(t.contains(".stepwise/steps/nobody/nothing"), "{t}");
}

#[test]
fn validate_step_checks_the_manifest() {
    let w = with_step("build:\n  steps: []\n");
    let out = w.run(&["validate-step", ".wercker/steps/acme/owner-check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("valid step `owner-check` version 0.1.0"));
    let bad = w.file("bad-step");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("step.yml"),
        "name: \"bad name\"\nversion: one\nproperties:\n  n:\n    type: float\n  b:\n    type: bool\n    default: maybe\n",
    )
    .unwrap();
    let out = w.run(&["validate-step", "bad-step"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    for needle in [
        "step.yml:1:7",
        "`name: bad name`",
        "step.yml:2:10",
        "not a semantic version",
        "type `float`",
        "default `maybe`",
        "no run.sh",
    ] {
        assert!(t.contains(needle), "expected `{needle}` in\n{t}");
    }
}
