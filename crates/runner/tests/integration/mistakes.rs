//! Mistakes a new user makes, each caught before anything runs: `runner
//! validate` and `runner run` exit 2 with file:line:col at the value (and
//! a did-you-mean where one fits), and a marker step placed first never
//! runs. The marker is a legacy wercker step (not a `script`, which would
//! make a missing path only a notice: a script may create it).

use super::*;

const HEAD: &str = "build:\n  steps:\n    - acme/marker\n";

/// A workspace whose `build` pipeline starts with the marker step, then
/// `rest`; `files` are created next to the pipeline file.
fn work(rest: &str, files: &[(&str, &str)]) -> (Work, String) {
    let yaml = format!("{HEAD}{rest}");
    let w = Work::new(&yaml);
    let dir = w.file(".wercker/steps/acme/marker");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("wercker-step.yml"),
        "name: marker\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("run.sh"),
        "touch \"$WERCKER_ROOT/marker-ran\"\nsuccess ran\n",
    )
    .unwrap();
    for (name, content) in files {
        let path = w.file(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    (w, yaml)
}

/// `file:line:col` of the first occurrence of `needle` in `text`.
fn at(file: &str, text: &str, needle: &str) -> String {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in {text}"));
    at_offset(file, text, offset)
}

/// `file:line:col` of the byte `offset` of `text`.
fn at_offset(file: &str, text: &str, offset: usize) -> String {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    format!("{file}:{line}:{col}")
}

/// Runs `runner validate --strict` and `runner run` (with `run_args`): both exit 2,
/// both say every fragment, and the marker never ran.
fn caught(w: &Work, run_args: &[&str], fragments: &[&str]) {
    // `--strict`: validate reports unset variables as warnings otherwise
    // (a wercker file must load without its CI's environment).
    for args in [
        [&["validate", "--strict"][..], run_args].concat(),
        [&["run"][..], run_args].concat(),
    ] {
        let out = w.run(&args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        for f in fragments {
            assert!(t.contains(f), "{args:?}: expected `{f}` in:\n{t}");
        }
        assert!(
            !w.file("marker-ran").exists(),
            "{args:?}: the marker ran: {t}"
        );
    }
}

/// `runner run` and `runner plan` with a selector: exit 2, the fragments,
/// the marker never ran. (`validate` checks the file, which is fine.)
fn selector_caught(w: &Work, args: &[&str], fragments: &[&str]) {
    for cmd in ["run", "plan"] {
        let full = [&[cmd][..], args].concat();
        let out = w.run(&full);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{full:?}: {t}");
        for f in fragments {
            assert!(t.contains(f), "{full:?}: expected `{f}` in:\n{t}");
        }
        assert!(
            !w.file("marker-ran").exists(),
            "{full:?}: the marker ran: {t}"
        );
    }
}

#[test]
fn the_marker_runs_when_nothing_is_wrong() {
    let (w, _) = work(
        "    - ansible-playbook:\n        playbook: site.yml\n        syntax_check: true\n",
        &[("site.yml", "- hosts: localhost\n  tasks: []\n")],
    );
    let out = w.run(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = w.run(&["run", "--skip", "ansible-playbook"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(w.file("marker-ran").exists(), "{}", text(&out));
}

// --- The mistakes of the issue ---------------------------------------------

#[test]
fn a_misspelled_playbook_path() {
    let rest = "    - ansible-playbook:\n        playbook: sitee.yml\n";
    let (w, yaml) = work(rest, &[("site.yml", "- hosts: all\n")]);
    let pos = at("stepwise.yml", &yaml, "sitee.yml");
    caught(
        &w,
        &[],
        &[
            &pos,
            "`sitee.yml` does not exist",
            "did you mean `site.yml`?",
        ],
    );
}

#[test]
fn a_misspelled_spec_path() {
    let rest = "    - host-checks:\n        spec: spec/platfrom.yml\n";
    let (w, yaml) = work(rest, &[("spec/platform.yml", "- user: root\n")]);
    let pos = at("stepwise.yml", &yaml, "spec/platfrom.yml");
    caught(
        &w,
        &[],
        &[&pos, "does not exist", "did you mean `platform.yml`?"],
    );
}

#[test]
fn a_typo_in_an_output_id() {
    let rest = "    - host-checks:\n        id: smoke\n        spec: checks.yml\n    - script:\n        code: echo \"${{ outputs.smoek.total }} checks\"\n";
    let (w, yaml) = work(rest, &[("checks.yml", "- user: root\n")]);
    let pos = at("stepwise.yml", &yaml, "outputs.smoek");
    caught(
        &w,
        &[],
        &[
            &pos,
            "`outputs.smoek` names no step id",
            "did you mean `smoke`?",
        ],
    );
}

#[test]
fn a_typo_in_an_output_name() {
    let rest = "    - host-checks:\n        id: smoke\n        spec: checks.yml\n    - script:\n        code: echo \"${{ outputs.smoke.totl }} checks\"\n";
    let (w, yaml) = work(rest, &[("checks.yml", "- user: root\n")]);
    let pos = at("stepwise.yml", &yaml, "outputs.smoke.totl");
    caught(
        &w,
        &[],
        &[&pos, "has no output `totl`", "did you mean `total`?"],
    );
}

#[test]
fn two_steps_with_the_same_id() {
    let rest = "    - host-checks:\n        id: smoke\n        spec: checks.yml\n    - host-checks:\n        id: smoke\n        spec: checks.yml\n";
    let (w, yaml) = work(rest, &[("checks.yml", "- user: root\n")]);
    let second = at_offset("stepwise.yml", &yaml, yaml.rfind("smoke").unwrap());
    let first = at_offset("stepwise.yml", &yaml, yaml.find("smoke").unwrap());
    let first_line_col = first.trim_start_matches("stepwise.yml:");
    caught(
        &w,
        &[],
        &[
            &second,
            "duplicate id `smoke`",
            &format!("line {first_line_col} already has it"),
        ],
    );
}

#[test]
fn a_misspelled_key_in_a_host_checks_spec() {
    let rest = "    - host-checks:\n        spec: spec\n";
    let spec = "- port: 22\n  listning: true\n";
    let (w, _) = work(rest, &[("spec/base.yml", spec)]);
    caught(
        &w,
        &[],
        &[
            "spec/base.yml:2:3",
            "unknown key `listning`",
            "did you mean `listening`?",
        ],
    );
}

#[test]
fn only_with_a_name_that_is_no_for_each_variable() {
    let rest = "    - for_each:\n        var: ENV_NAME\n        values: [qa, prod]\n        steps:\n          - script: {code: 'touch deployed-$ENV_NAME'}\n";
    let (w, _) = work(rest, &[]);
    selector_caught(
        &w,
        &["--only", "ENVNAME=prod"],
        &[
            "`ENVNAME` is not a for_each variable",
            "did you mean `ENV_NAME`?",
        ],
    );
    assert!(!w.file("deployed-prod").exists() && !w.file("deployed-qa").exists());
}

#[test]
fn only_with_a_value_that_is_not_among_the_values() {
    let rest = "    - for_each:\n        var: ENV_NAME\n        values: $ENVS\n        steps:\n          - script: {code: 'touch deployed-$ENV_NAME'}\n";
    let (w, _) = work(rest, &[]);
    selector_caught(
        &w,
        &["--var", "ENVS=staging prod", "--only", "ENV_NAME=qa"],
        &["`qa` is not among the values of `ENV_NAME` (staging, prod)"],
    );
    selector_caught(
        &w,
        &["--var", "ENVS=staging prod", "--only", "ENV_NAME=prd"],
        &["did you mean `prod`?"],
    );
}

#[test]
fn skip_with_a_name_that_matches_nothing() {
    let rest = "    - script:\n        name: unit tests\n        code: 'true'\n";
    let (w, _) = work(rest, &[]);
    selector_caught(
        &w,
        &["--skip", "unit-tests"],
        &[
            "--skip `unit-tests` matches no step",
            "did you mean `unit tests`?",
        ],
    );
}

#[test]
fn a_when_with_and_is_two_comparisons_not_a_literal() {
    let rest = "    - script:\n        when: CLOUD == aws && REGION == eu\n        code: touch both-held\n";
    let (w, _) = work(rest, &[]);
    let out = w.run(&["run", "--var", "CLOUD=aws", "--var", "REGION=eu"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(w.file("both-held").exists(), "{}", text(&out));
    std::fs::remove_file(w.file("both-held")).unwrap();
    let out = w.run(&["run", "--var", "CLOUD=aws", "--var", "REGION=us"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!w.file("both-held").exists(), "{}", text(&out));
    assert!(
        text(&out).contains("`when: CLOUD == \"aws\" && REGION == \"eu\"` does not hold"),
        "{}",
        text(&out)
    );
}

// --- Ten more ----------------------------------------------------------------

#[test]
fn a_when_with_a_single_equals_sign() {
    let rest = "    - script:\n        when: CLOUD = aws\n        code: 'true'\n";
    let (w, yaml) = work(rest, &[]);
    let pos = at("stepwise.yml", &yaml, "= aws");
    caught(&w, &[], &[&pos, "a single `=`; write `==` to compare"]);
}

#[test]
fn a_when_with_an_unclosed_parenthesis() {
    let rest = "    - script:\n        when: \"(A || B\"\n        code: 'true'\n";
    let (w, yaml) = work(rest, &[]);
    // The error is at the end of the condition, just before the closing quote.
    let pos = at("stepwise.yml", &yaml, "\"\n        code");
    caught(&w, &[], &[&pos, "expected `)`"]);
}

#[test]
fn a_wrong_type_in_a_host_checks_spec() {
    let rest = "    - host-checks:\n        spec: checks.yml\n";
    let spec = "- process: nginx\n  count: {ge: one}\n";
    let (w, _) = work(rest, &[("checks.yml", spec)]);
    caught(
        &w,
        &[],
        &["checks.yml:2:15", "expected a number, found `one`"],
    );
}

#[test]
fn a_for_each_without_values() {
    let rest = "    - for_each:\n        var: CLOUD\n        values: []\n        steps:\n          - script: {code: 'true'}\n";
    let (w, yaml) = work(rest, &[]);
    let pos = at("stepwise.yml", &yaml, "[]");
    caught(&w, &[], &[&pos, "has no values", "allow_empty: true"]);
    let allowed = rest.replace("values: []", "values: []\n        allow_empty: true");
    let (w, _) = work(&allowed, &[]);
    let out = w.run(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(w.file("marker-ran").exists());
}

#[test]
fn a_for_each_whose_variable_is_empty() {
    let rest = "    - for_each:\n        var: CLOUD\n        values: $CLOUDS\n        steps:\n          - script: {code: 'true'}\n";
    let (w, yaml) = work(rest, &[]);
    let pos = at("stepwise.yml", &yaml, "$CLOUDS");
    caught(&w, &["--var", "CLOUDS="], &[&pos, "has no values"]);
}

#[test]
fn a_partition_beyond_its_count() {
    let rest = "    - for_each:\n        var: CLOUD\n        values: [a, b]\n        steps:\n          - script: {code: 'true'}\n";
    let (w, _) = work(rest, &[]);
    selector_caught(
        &w,
        &["--partition", "3/2"],
        &["--partition `3/2`", "1 ≤ K ≤ N"],
    );
}

#[test]
fn an_unset_variable_in_cwd_points_at_the_cwd_value() {
    let rest =
        "    - script:\n        name: build\n        cwd: services/$SERVCE\n        code: 'true'\n";
    let (w, yaml) = work(rest, &[]);
    let pos = at("stepwise.yml", &yaml, "services/$SERVCE");
    caught(&w, &[], &[&pos, "variable `SERVCE` is not set"]);
}

#[test]
fn an_output_typo_inside_a_block_scalar_points_at_its_line() {
    let rest = "    - host-checks:\n        id: smoke\n        spec: checks.yml\n    - script:\n        code: |\n          echo start\n          echo \"${{ outputs.smoke.pased }} passed\"\n";
    let (w, yaml) = work(rest, &[("checks.yml", "- user: root\n")]);
    let pos = at("stepwise.yml", &yaml, "outputs.smoke.pased");
    caught(
        &w,
        &[],
        &[&pos, "has no output `pased`", "did you mean `passed`?"],
    );
}

#[test]
fn a_misspelled_packer_template() {
    let rest = "    - packer-validate:\n        cwd: packer\n        template: ubuntu.jsn\n";
    let (w, yaml) = work(rest, &[("packer/ubuntu.json", "{}\n")]);
    let pos = at("stepwise.yml", &yaml, "ubuntu.jsn");
    caught(
        &w,
        &[],
        &[&pos, "does not exist", "did you mean `ubuntu.json`?"],
    );
}

#[test]
fn a_misspelled_terraform_dir_per_target() {
    let rest = "    - for_each:\n        var: CLOUD\n        values: [local, aws]\n        steps:\n          - terraform-apply:\n              dir: terraform/$CLOUD\n";
    let (w, yaml) = work(rest, &[("terraform/local/main.tf", "\n")]);
    let pos = at("stepwise.yml", &yaml, "terraform/$CLOUD");
    caught(&w, &[], &[&pos, "`terraform/aws` does not exist"]);
}

#[test]
fn an_output_of_a_step_that_comes_later() {
    let rest = "    - script:\n        code: echo \"${{ outputs.smoke.total }}\"\n    - host-checks:\n        id: smoke\n        spec: checks.yml\n";
    let (w, yaml) = work(rest, &[("checks.yml", "- user: root\n")]);
    let pos = at("stepwise.yml", &yaml, "outputs.smoke");
    caught(&w, &[], &[&pos, "names no step id defined before it"]);
}

#[test]
fn a_misspelled_top_level_key_in_a_spec() {
    let rest = "    - host-checks:\n        spec: checks.yml\n";
    let spec = "default:\n  timeout: 5\nchecks:\n  - user: root\n";
    let (w, _) = work(rest, &[("checks.yml", spec)]);
    caught(&w, &[], &["checks.yml:1:1", "did you mean `defaults`?"]);
}

#[test]
fn a_missing_inventory() {
    let rest =
        "    - ansible-playbook:\n        playbook: site.yml\n        inventory: inventroy\n";
    let (w, yaml) = work(
        rest,
        &[("site.yml", "- hosts: all\n"), ("inventory", "localhost\n")],
    );
    let pos = at("stepwise.yml", &yaml, "inventroy");
    caught(&w, &[], &[&pos, "did you mean `inventory`?"]);
}

#[test]
fn a_missing_var_file_or_a_bad_secret_file() {
    let rest = "    - script: {code: 'true'}\n";
    let (w, _) = work(rest, &[]);
    caught(
        &w,
        &["--var-file", "staging.env"],
        &["--var-file staging.env: cannot read it"],
    );
    caught(&w, &["--var-file", "staging.env"], &["No such file"]);
    let out = w.run(&["run", "--secret-file", "DB_PASS"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is not NAME=PATH"), "{}", text(&out));
    assert!(!w.file("marker-ran").exists());
}

// --- What is not a mistake ---------------------------------------------------

#[test]
fn a_path_an_earlier_script_may_create_is_a_notice_and_creates_silences_it() {
    let rest = "    - script:\n        code: \"echo '- hosts: all' > gen.yml\"\n    - ansible-playbook:\n        playbook: gen.yml\n        syntax_check: true\n";
    let (w, _) = work(rest, &[]);
    let out = w.run(&["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("notice: property `playbook`") && t.contains("does not exist yet"),
        "{t}"
    );
    let declared = rest.replace(
        "    - script:\n",
        "    - script:\n        creates: gen.yml\n",
    );
    let (w, _) = work(&declared, &[]);
    let out = w.run(&["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(!t.contains("does not exist"), "{t}");
}

#[test]
fn an_unset_variable_inside_a_block_scalar_points_at_its_line() {
    let rest = "    - ansible-playbook:\n        playbook: site.yml\n        options: |\n          -v\n          --forks $FORKS\n";
    let (w, yaml) = work(rest, &[("site.yml", "- hosts: all\n")]);
    let pos = at("stepwise.yml", &yaml, "$FORKS");
    caught(&w, &[], &[&pos, "variable `FORKS` is not set"]);
}
