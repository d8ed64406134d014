//! `runner plan`: the Apollo example's resolved tree, with commands, and
//! nothing run.

use super::*;

/// A copy of examples/apollo whose pipelines start with a marker script
/// (without what a local run of the example left in it: `.stepwise`, …).
fn apollo() -> Work {
    let w = Work::new("");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/apollo");
    stepwise_tests::copy_tree(&src, w.path());
    std::fs::remove_file(w.file("stepwise.yml")).unwrap();
    let yaml = w.read("wercker.yml");
    let marker = "\n  steps:\n    - script:\n        name: marker\n        code: touch \"$WERCKER_ROOT/marker-ran\"\n";
    let marked = yaml.replace("\n  steps:\n", marker);
    assert_eq!(marked.matches("name: marker").count(), 2, "{marked}");
    std::fs::write(w.file("wercker.yml"), marked).unwrap();
    w
}

#[test]
fn plan_lists_both_targets_every_step_and_its_command_and_runs_nothing() {
    let w = apollo();
    let out = w
        .cmd(&["plan", "deploy"])
        .env_remove("CLOUDS")
        .env_remove("APOLLO_dockerbench_run_test")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    for target in ["target local-a:", "target local-b:"] {
        assert!(t.contains(target), "{t}");
    }
    assert!(t.contains("2 target(s): local-a, local-b"), "{t}");
    // Every step of a target, each followed by what it would run.
    let target_a = t
        .split("target local-a:")
        .nth(1)
        .unwrap()
        .split("target local-b:")
        .next()
        .unwrap();
    for step in [
        "select cloud (script)",
        "terraform apply (terraform-apply)",
        "converge (ansible-playbook)",
        "host checks (host-checks)",
        "container checks (host-checks)",
        "host checks over ssh (host-checks)",
        "export test environment (script)",
        "serverspec (serverspec)",
        "docker bench security (dockerbench)",
        "terraform destroy (terraform-destroy)",
    ] {
        let after = target_a
            .split(step)
            .nth(1)
            .unwrap_or_else(|| panic!("{step} missing:\n{t}"));
        let next = after.lines().nth(1).unwrap_or_default();
        assert!(
            next.trim_start().starts_with("$ "),
            "{step}: no command after it:\n{t}"
        );
    }
    assert!(
        t.contains("$ terraform apply -input=false -no-color -json -auto-approve"),
        "{t}"
    );
    assert!(
        t.contains("$ ansible-playbook -i '${{ outputs.tf.inventory }}'"),
        "{t}"
    );
    assert!(t.contains("registers teardown: terraform-destroy"), "{t}");
    assert!(t.contains("$ rspec --no-color"), "{t}");
    assert!(
        t.contains("[skipped: `when: APOLLO_dockerbench_run_test` does not hold"),
        "{t}"
    );
    assert!(
        t.contains("decided at run time (`CLOUD_KIND` is set by an earlier step)"),
        "{t}"
    );
    assert!(
        t.contains("$ touch \"$WERCKER_ROOT/marker-ran\"") || t.contains("| touch"),
        "{t}"
    );
    assert!(!w.file("marker-ran").exists(), "the marker ran:\n{t}");
    assert!(!w.file(".stepwise").exists(), "a run left state:\n{t}");
}

#[test]
fn plan_follows_the_selectors_and_shows_the_build_pipeline() {
    let w = apollo();
    let out = w
        .cmd(&[
            "plan",
            "deploy",
            "--only",
            "CLOUD=local-b",
            "--skip",
            "converge",
        ])
        .env_remove("CLOUDS")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("1 target(s): local-b") && !t.contains("target local-a:"),
        "{t}"
    );
    assert!(
        t.contains("converge (ansible-playbook)  [skipped: --skip]"),
        "{t}"
    );
    let out = w.run(&["plan"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("$ packer -machine-readable validate"), "{t}");
    assert!(t.contains("$ ansible-lint"), "{t}");
    assert!(!w.file("marker-ran").exists(), "the marker ran:\n{t}");
}

#[test]
fn plan_fails_like_run_before_starting() {
    let w = apollo();
    let out = w.run(&["plan", "deploy", "--only", "CLOUD=local-c"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("did you mean `local-a`?")
            || text(&out).contains("did you mean `local-b`?"),
        "{}",
        text(&out)
    );
    let out = w.run(&["plan", "deplyo"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("did you mean `deploy`?"),
        "{}",
        text(&out)
    );
    assert!(!w.file("marker-ran").exists());
}
