//! wercker fidelity: the seed's own wercker.yml, step ids as wercker
//! parsed them, pipeline-scoped checks, deploy targets, workflows, and the
//! messages (sorted, deduplicated, one wercker-keys notice, suggestions).

use super::*;

const SEED: &str = include_str!("../fixtures/seed/wercker.yml");

/// Variables the seed uses, removed so no test depends on the machine.
const SEED_VARS: &[&str] = &[
    "CLOUD",
    "ARTIFACT_NAME",
    "ARTIFACT_VERSION",
    "SLACK_WEBHOOK_URL",
    "PACKER_DOWNLOAD_URL",
];

/// A workspace holding `yaml` as `wercker.yml` (and no stepwise.yml).
fn wercker_work(yaml: &str) -> Work {
    let w = Work::new("");
    std::fs::remove_file(w.file("stepwise.yml")).unwrap();
    std::fs::write(w.file("wercker.yml"), yaml).unwrap();
    w
}

fn run_clean(w: &Work, args: &[&str]) -> Output {
    let mut c = w.cmd(args);
    for v in SEED_VARS {
        c.env_remove(v);
    }
    c.output().unwrap()
}

/// The seed's wercker.yml in a workspace with the files its repository
/// had beside it (the pip requirements and the playbook).
fn seed_work() -> Work {
    let w = wercker_work(SEED);
    std::fs::write(w.file("requirements.txt"), "ansible-lint\n").unwrap();
    std::fs::write(w.file("site.yml"), "- hosts: all\n  roles: []\n").unwrap();
    w
}

/// A step directory in `.wercker/steps/OWNER/NAME`.
fn step_dir(w: &Work, id: &str, manifest: &str, run_sh: &str) {
    let dir = w.file(&format!(".wercker/steps/{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("wercker-step.yml"), manifest).unwrap();
    std::fs::write(dir.join("run.sh"), run_sh).unwrap();
}

/// A step directory written like the seed's apollo-deploy: required
/// properties, a run.sh that uses wercker's `fail`.
fn apollo_deploy(w: &Work) {
    step_dir(
        w,
        "capgemini/apollo-deploy",
        "name: apollo-deploy\nversion: 0.1.0\ndescription: deploys Apollo\nproperties:\n  cloud:\n    type: string\n    required: true\n  artifact_name:\n    type: string\n    required: true\n  artifact_version:\n    type: string\n    required: true\n  terraform_version:\n    type: string\n    default: 0.5.3\n  run_tests:\n    type: bool\n    default: false\n",
        "if [ -z \"$WERCKER_APOLLO_DEPLOY_CLOUD\" ]; then\n  fail \"cloud must be set\"\nfi\ninfo \"deploying to $WERCKER_APOLLO_DEPLOY_CLOUD\"\n",
    );
}

#[test]
fn seed_build_runs_without_step_dirs_and_fails_where_packer_fails() {
    if !stepwise_tests::tool_available("packer") {
        return;
    }
    let w = seed_work();
    let packer = stepwise_tests::which("packer").unwrap();
    std::fs::create_dir_all(w.file("packer")).unwrap();
    std::os::unix::fs::symlink(&packer, w.file("packer/packer")).unwrap();
    std::fs::write(
        w.file("packer/ubuntu-14.04_amd64-amis.json"),
        r#"{"builders": [{"type": "no-such-builder"}]}"#,
    )
    .unwrap();
    let out = run_clean(
        &w,
        &[
            "run",
            "build",
            "--skip",
            "install-packages",
            "--skip",
            "install packer",
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("1 problem(s) in other pipelines (deploy)") && t.contains("runner validate"),
        "{t}"
    );
    assert!(t.contains("no-such-builder"), "packer itself ran: {t}");
    assert!(
        t.lines()
            .any(|l| l.contains("validate packer template for AMI") && l.contains("failed")),
        "{t}"
    );
    assert!(!t.contains("error: step `capgemini/apollo-deploy`"), "{t}");
}

#[test]
fn seed_validate_names_apollo_deploy_with_the_step_add_hint() {
    let w = seed_work();
    let out = run_clean(&w, &["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("wercker.yml:33:7: error: step `capgemini/apollo-deploy` is not installed\n  hint: runner step add capgemini/apollo-deploy"),
        "{t}"
    );
    assert!(t.contains("1 error(s)"), "{t}");
}

#[test]
fn seed_validates_with_an_apollo_deploy_step_dir_and_warns_about_unset_variables() {
    let w = seed_work();
    apollo_deploy(&w);
    let out = run_clean(&w, &["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    for v in SEED_VARS.iter().take(4) {
        assert!(
            t.contains(&format!("warning: variable `{v}` is not set")),
            "{v}: {t}"
        );
    }
    let out = run_clean(&w, &["validate", "--strict"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("error: variable `CLOUD` is not set"), "{t}");
}

#[test]
fn seed_deploy_runs_its_step_dir_and_skips_slack_without_a_webhook() {
    let w = seed_work();
    apollo_deploy(&w);
    let skip = ["--skip", "install-packages", "--skip", "pip-install"];
    // An unset variable in a step of the pipeline stops it before it runs.
    let out = run_clean(&w, &[&["run", "deploy"][..], &skip].concat());
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("error: variable `CLOUD` is not set"), "{t}");
    // In after-steps it is only a warning.
    assert!(!t.contains("error: variable `SLACK_WEBHOOK_URL`"), "{t}");
    assert!(
        t.contains("warning: variable `SLACK_WEBHOOK_URL` is not set"),
        "{t}"
    );
    let vars = [
        "--var",
        "CLOUD=",
        "--var",
        "ARTIFACT_NAME=apollo",
        "--var",
        "ARTIFACT_VERSION=1",
    ];
    let out = run_clean(&w, &[&["run", "deploy"][..], &skip, &vars].concat());
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("cloud must be set"), "{t}");
    assert!(
        t.contains("after-steps: variable `SLACK_WEBHOOK_URL` is not set; it expands to empty"),
        "{t}"
    );
    assert!(
        t.contains("skipped: webhook_url is empty (`SLACK_WEBHOOK_URL` is not set or empty)"),
        "{t}"
    );
}

#[test]
fn deploy_targets_run_by_name_with_the_target_variable() {
    let w = wercker_work(
        "deploy:\n  steps:\n    - script:\n        code: echo \"default $WERCKER_DEPLOYTARGET_NAME\" > out.txt\n  production:\n    - script:\n        code: echo \"prod $WERCKER_DEPLOYTARGET_NAME\" > out.txt\nrelease:\n  staging:\n    - script:\n        code: echo staged > staged.txt\n  after-steps:\n    - script:\n        code: echo after >> staged.txt\nnotify:\n  after-steps:\n    - script:\n        code: echo only-after > after.txt\n",
    );
    let out = w.run(&["run", "deploy", "--target", "production"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.read("out.txt").trim(), "prod production");
    let out = w.run(&["run", "deploy", "--target", "qa"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.read("out.txt").trim(), "default qa");
    // Only target lists: a target must be chosen.
    let out = w.run(&["run", "release"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("only deploy targets (staging)") && t.contains("--target"),
        "{t}"
    );
    let out = w.run(&["run", "release", "--target", "staging"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.read("staged.txt"), "staged\nafter\n");
    // Only after-steps.
    let out = w.run(&["run", "notify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.read("after.txt").trim(), "only-after");
}

#[test]
fn workflows_run_pipelines_in_order_and_stop_at_a_failure() {
    let w = wercker_work(
        "workflows:\n  - name: ship\n    pipelines: [build, deploy]\n  - name: broken\n    pipelines:\n      - name: fail\n      - name: deploy\nbuild:\n  steps:\n    - script:\n        code: echo built >> log.txt\ndeploy:\n  steps:\n    - script:\n        code: echo \"deployed after $(cat log.txt)\" >> log.txt\nfail:\n  steps:\n    - script:\n        code: exit 3\n",
    );
    let out = w.run(&["run", "--workflow", "ship"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.read("log.txt"), "built\ndeployed after built\n");
    std::fs::remove_file(w.file("log.txt")).unwrap();
    let out = w.run(&["run", "--workflow", "broken"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("the workflow stops here"), "{t}");
    assert!(
        !w.file("log.txt").exists(),
        "deploy ran after a failure: {t}"
    );
    let out = w.run(&["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("workflow ship: build → deploy"), "{t}");
    let bad = std::fs::read_to_string(w.file("wercker.yml"))
        .unwrap()
        .replace("[build, deploy]", "[build, deplyo]");
    std::fs::write(w.file("wercker.yml"), bad).unwrap();
    let out = w.run(&["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("workflow `ship` names pipeline `deplyo`")
            && t.contains("did you mean `deploy`"),
        "{t}"
    );
    let out = w.run(&["run", "--workflow", "shp"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("no workflow `shp`") && t.contains("did you mean `ship`"),
        "{t}"
    );
}

#[test]
fn run_checks_only_its_pipeline_and_validate_checks_all() {
    let w = wercker_work(
        "build:\n  steps:\n    - script:\n        code: touch built\ndeploy:\n  steps:\n    - scirpt:\n        code: echo\n    - npm-install\n",
    );
    let out = w.run(&["run", "build"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(w.file("built").exists());
    assert!(
        t.contains("2 problem(s) in other pipelines (deploy)"),
        "{t}"
    );
    let out = w.run(&["run", "deploy"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = w.run(&["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("2 error(s)"), "{t}");
}

#[test]
fn errors_are_sorted_not_staged_and_free_of_library_wording() {
    // An unknown step (line 9), an unset variable (line 4), a wrong type
    // (line 6): all reported, in file order.
    let w = wercker_work(
        "build:\n  steps:\n    - terraform-install:\n        version: $STEPWISE_SURELY_UNSET_V\n    - script:\n        retries: many\n        code: echo\n    - script: {code: echo}\n    - nobody/nothing\n",
    );
    let out = w.run(&["validate", "--strict"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    let lines: Vec<u64> = t
        .lines()
        .filter(|l| l.contains(": error: "))
        .filter_map(|l| l.split(':').nth(1)?.parse().ok())
        .collect();
    assert_eq!(lines, vec![4, 6, 9], "{t}");
    let w = wercker_work("build:\n  steps: []\nbuild:\n  steps: []\n");
    let t = text(&w.run(&["validate"]));
    assert!(t.contains("the key `build` appears twice"), "{t}");
    for word in ["DuplicateKeyPolicy", "Options", "at line"] {
        assert!(!t.contains(word), "library wording `{word}` in {t}");
    }
}

#[test]
fn an_error_is_reported_once_even_when_several_checks_see_it() {
    // The variable is used twice in one property and in both a target and
    // the pipeline's steps via finally: one line per place.
    let w = wercker_work(
        "deploy:\n  steps:\n    - script: {code: echo}\n  production:\n    - script: {code: echo}\n  finally:\n    - terraform-install:\n        version: $NOPE_NOT_SET-$NOPE_NOT_SET\n",
    );
    let out = w.run(&["validate", "--strict"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert_eq!(
        t.matches("variable `NOPE_NOT_SET` is not set").count(),
        1,
        "{t}"
    );
}

#[test]
fn wercker_keys_get_one_notice() {
    let w = wercker_work(
        "box:\n  id: python:3.11\n  username: me\nservices:\n  - id: postgres\n    env:\n      POSTGRES_PASSWORD: x\n  - redis\nno-response-timeout: 10\ncommand-timeout: 30\nsource-dir: src\nignore-file: .gitignore\nbuild:\n  box: debian\n  services: [mongo]\n  steps:\n    - script:\n        checkpoint: one\n        code: echo hi\n    - script:\n        checkpoint: two\n        code: echo hi\n",
    );
    let out = w.run(&["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(t.matches("notice:").count(), 1, "{t}");
    for key in [
        "`box` (line 1, 2×)",
        "`services` (line 4, 2×)",
        "`no-response-timeout`",
        "`command-timeout`",
        "`source-dir`",
        "`ignore-file`",
        "`checkpoint` (line 18, 2×)",
    ] {
        assert!(t.contains(key), "{key} missing in {t}");
    }
}

#[test]
fn suggestions_are_close_and_say_when_properties_differ() {
    let w = wercker_work(
        "build:\n  steps:\n    - npm-install\n    - capgemini/terraform-install:\n        terraform_version: 0.5.3\n    - internal/docker-push:\n        repository: x\n    - scirpt: {code: echo}\n",
    );
    let out = w.run(&["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("step `npm-install` (`wercker/npm-install`) is not installed\n  hint: runner step add wercker/npm-install"),
        "{t}"
    );
    assert!(!t.contains("pip-install"), "{t}");
    // A near-miss of a built-in is a typo: a suggestion, no `step add` hint.
    assert!(
        t.contains("unknown step kind `scirpt` (did you mean `script`?)"),
        "{t}"
    );
    assert!(!t.contains("runner step add wercker/scirpt"), "{t}");
    assert!(
        t.contains("step `capgemini/terraform-install` is not installed; `terraform-install` takes other properties (it has no `terraform_version`; it needs `version`) (did you mean `terraform-install`?)"),
        "{t}"
    );
    assert!(
        t.contains("`internal/docker-push` is a wercker built-in with no stepwise equivalent; use a `script` step that runs `docker push`"),
        "{t}"
    );
}

#[test]
fn versions_and_bare_names_resolve_as_wercker_resolved_them() {
    let w = wercker_work(
        "build:\n  steps:\n    - hello@1.0.0:\n        who: world\n        greeting: hi\n    - acme/owner-check@0.2.0\n  after-steps:\n    - wantedly/pretty-slack-notify@0.2.7:\n        webhook_url: $SLACK_WEBHOOK_URL\n",
    );
    step_dir(
        &w,
        "wercker/hello",
        "name: hello\nversion: 1.0.0\nproperties:\n  who:\n    type: string\n",
        "echo \"$WERCKER_HELLO_GREETING $WERCKER_HELLO_WHO\" > hello.txt\n",
    );
    step_dir(
        &w,
        "acme/owner-check",
        "name: owner-check\nversion: 0.1.0\n",
        "echo checked > checked.txt\n",
    );
    let out = run_clean(&w, &["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("- wercker/hello@1.0.0"), "{t}");
    assert!(t.contains("- wantedly/pretty-slack-notify@0.2.7"), "{t}");
    assert!(
        t.contains("warning: `acme/owner-check@0.2.0`: the step directory holds version 0.1.0"),
        "{t}"
    );
    let out = run_clean(&w, &["run"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    // The undeclared `greeting` reached the step, as on wercker.
    assert_eq!(w.read("hello.txt").trim(), "hi world");
    assert_eq!(w.read("checked.txt").trim(), "checked");
}

#[test]
fn pip_install_takes_wercker_properties_and_defaults_to_requirements_txt() {
    let w = wercker_work(
        "build:\n  steps:\n    - pip-install:\n        packages_list: \"requests six\"\n        pip_command: pip2\n        extra_args: \"--no-cache-dir --quiet\"\n        auto_run_wheel: true\n        cleanup_wheel_cache: false\n        extra_wheel_args: \"--no-deps\"\n    - pip-install:\n        pip_command: pip2\n",
    );
    let bin = w.file("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let pip = bin.join("pip2");
    std::fs::write(
        &pip,
        "#!/bin/sh\necho \"$*\" >> \"$WERCKER_ROOT/pip-args.txt\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pip, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(w.file("requirements.txt"), "six\n").unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = w.cmd(&["run"]).env("PATH", path).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let log = w.read("pip-args.txt");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines[0], "install requests six --no-cache-dir --quiet",
        "{log}"
    );
    assert!(
        lines[1].starts_with("install -r ") && lines[1].ends_with("/requirements.txt"),
        "{log}"
    );
}

#[test]
fn the_old_slack_form_without_a_token_is_skipped_with_a_notice() {
    let w = wercker_work(
        "build:\n  steps:\n    - script: {code: echo ok}\n  after-steps:\n    - wantedly/pretty-slack-notify:\n        team: acme\n        token: $SLACK_TOKEN\n        channel: ci\n",
    );
    let out = w.cmd(&["run"]).env_remove("SLACK_TOKEN").output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("skipped: token is empty (`SLACK_TOKEN` is not set or empty)"),
        "{t}"
    );
}

#[test]
fn run_reports_structural_and_variable_errors_of_its_pipeline_together() {
    let w = wercker_work(
        "build:\n  steps:\n    - terraform-install:\n        version: $STEPWISE_SURELY_UNSET_V\n    - scirpt: {code: echo}\n",
    );
    let out = w.run(&["run"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    let v = t
        .find("STEPWISE_SURELY_UNSET_V` is not set")
        .expect("the variable error");
    let k = t
        .find("unknown step kind `scirpt`")
        .expect("the structural error");
    assert!(v < k, "sorted by position: {t}");
}
