//! A corpus of broken pipeline files: each gives exit 2 and a message
//! naming the file (with line:column where there is a position) and saying
//! what was expected; none makes the runner panic.

use super::*;

/// (file, fragments the message must contain, whether it has a line:col).
const CORPUS: &[(&str, &[&str], bool)] = &[
    ("01-yaml-syntax.yml", &["invalid YAML"], true),
    (
        "02-unknown-kind.yml",
        &["unknown step kind `scirpt`", "did you mean `script`"],
        true,
    ),
    (
        "03-unknown-property.yml",
        &["unknown property `cod`", "did you mean `code`"],
        true,
    ),
    (
        "04-wrong-type-retries.yml",
        &["`retries`", "whole number"],
        true,
    ),
    (
        "05-unset-variable.yml",
        &["STEPWISE_SURELY_UNSET_DIR", "not set"],
        true,
    ),
    ("06-bad-timeout.yml", &["timeout", "not a duration"], true),
    ("07-empty.yml", &["empty"], false),
    ("08-binary.yml", &["not UTF-8"], true),
    (
        "09-missing-required.yml",
        &["needs the property `code`"],
        true,
    ),
    ("10-steps-not-list.yml", &["must be a list of steps"], true),
    ("11-top-level-scalar.yml", &["expected a mapping"], true),
    ("12-pipeline-not-map.yml", &["should be a pipeline"], true),
    ("13-no-steps.yml", &["has no `steps:`"], true),
    (
        "14-unknown-pipeline-key.yml",
        &["unknown key `stpes`", "did you mean `steps`"],
        true,
    ),
    ("15-props-not-map.yml", &["must be a mapping"], true),
    ("16-bad-when.yml", &["`when`", "not a condition"], true),
    ("17-for-each-no-var.yml", &["`for_each` needs `var:`"], true),
    (
        "18-bad-continue.yml",
        &["continue_on_error", "true or false"],
        true,
    ),
    ("19-duplicate-key.yml", &["invalid YAML"], true),
    ("20-tab-indent.yml", &["invalid YAML"], true),
    ("21-bad-id.yml", &["`id`", "identifier"], true),
    (
        "22-group-unknown-key.yml",
        &["unknown key `stepz`", "did you mean `steps`"],
        true,
    ),
    (
        "23-bad-teardown-policy.yml",
        &["always, on_success or never"],
        true,
    ),
    ("24-unterminated-expansion.yml", &["malformed"], false),
    (
        "25-install-packages-option.yml",
        &["not a package name"],
        true,
    ),
    ("26-unclosed-quote.yml", &["invalid YAML"], true),
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/broken")
        .join(name)
}

#[test]
fn every_broken_file_gives_exit_2_a_located_message_and_no_panic() {
    assert!(CORPUS.len() >= 20);
    let w = Work::new("build:\n  steps: []\n");
    for (name, fragments, has_pos) in CORPUS {
        let path = fixture(name);
        let path_str = path.to_str().unwrap();
        // `--strict`: an unset variable is an error for validate too.
        for cmd in [&["run"][..], &["validate", "--strict"][..]] {
            let out = w.run(&[cmd, &["-f", path_str]].concat());
            let t = text(&out);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{name} ({cmd:?}): exit {:?}\n{t}",
                out.status.code()
            );
            assert!(!t.contains("panicked"), "{name} ({cmd:?}) panicked:\n{t}");
            assert!(
                t.contains(path_str),
                "{name} ({cmd:?}): the message does not name the file:\n{t}"
            );
            if *has_pos {
                let located = t.contains(&format!("{path_str}:"))
                    && t.split(&format!("{path_str}:")).nth(1).is_some_and(|rest| {
                        let mut parts = rest.splitn(3, ':');
                        parts.next().is_some_and(|l| l.parse::<u32>().is_ok())
                            && parts.next().is_some_and(|c| c.parse::<u32>().is_ok())
                    });
                assert!(located, "{name} ({cmd:?}): no file:line:col in\n{t}");
            }
            for f in *fragments {
                assert!(t.contains(f), "{name} ({cmd:?}): expected `{f}` in\n{t}");
            }
        }
    }
}

#[test]
fn a_pipeline_that_does_not_exist_is_a_usage_error_with_a_suggestion() {
    let w = Work::new("build:\n  steps: []\ndeploy:\n  steps: []\n");
    let out = w.run(&["run", "deplyo"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("no pipeline `deplyo`") && t.contains("did you mean `deploy`"),
        "{t}"
    );
}

#[test]
fn validate_reports_every_error_not_only_the_first() {
    let w = Work::new(
        "build:\n  steps:\n    - scirpt: {code: echo}\n    - script: {cod: echo}\n    - script: {code: echo, retries: x}\n",
    );
    let out = w.run(&["validate"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("stepwise.yml:3:7")
            && t.contains("stepwise.yml:4:16")
            && t.contains("stepwise.yml:5:"),
        "{t}"
    );
    // `{cod: echo}` is one error: the missing `code` follows from the typo.
    assert!(t.contains("3 error(s)"), "{t}");
    assert!(!t.contains("needs the property `code`"), "{t}");
}

#[test]
fn a_missing_file_and_a_bad_var_are_usage_errors() {
    let w = Work::new("build:\n  steps: []\n");
    let out = w.run(&["run", "-f", "nope.yml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("nope.yml"), "{}", text(&out));
    let out = w.run(&["run", "--var", "no-equals"]);
    assert_eq!(out.status.code(), Some(2));
}
