//! The runner inside CI: GitHub and GitLab dialects picked from the
//! environment, root-relative finding paths and each step's `cwd` in the
//! events, outputs handed to `$GITHUB_OUTPUT`, report files written.

use crate::{Work, text};

/// Two packer templates in `packer/` (one broken), a secret, and a
/// `for_each` whose two targets print at the same time.
const PIPELINE: &str = r#"
build:
  steps:
    - packer-validate:
        id: good
        name: validate good
        cwd: packer
        template: good.json
        export_output: true
    - packer-validate:
        name: validate bad
        cwd: packer
        template: bad.json
        continue_on_error: true
    - script:
        name: use the token
        code: echo "token is $DEPLOY_TOKEN"
    - for_each:
        var: T
        values: a b
        steps:
          - script:
              name: count
              code: |
                for i in 1 2 3; do echo "$T line $i"; sleep 0.3; done
"#;

const GOOD: &str = r#"{"builders": [{"type": "null", "communicator": "none"}]}"#;
const BAD: &str = r#"{"builders": [{"type": "no-such-builder"}]}"#;
const TOKEN: &str = "tok-7f3a9c1e55";

fn work() -> Work {
    let w = Work::new(PIPELINE);
    std::fs::create_dir(w.file("packer")).unwrap();
    std::fs::write(w.file("packer/good.json"), GOOD).unwrap();
    std::fs::write(w.file("packer/bad.json"), BAD).unwrap();
    w
}

#[test]
fn github_actions_gets_masks_groups_annotations_summary_and_outputs() {
    if !stepwise_tests::tool_available("packer") {
        return;
    }
    let w = work();
    let out = w
        .cmd(&[
            "run",
            "--var",
            &format!("DEPLOY_TOKEN={TOKEN}"),
            "--events",
            "events.jsonl",
            "--sarif",
            "out.sarif",
            "--codequality",
            "cq.json",
            "--report",
            "run.html",
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", w.file("summary.md"))
        .env("GITHUB_OUTPUT", w.file("output.txt"))
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(&format!("::add-mask::{TOKEN}\n")),
        "{stdout}"
    );
    assert_eq!(all.matches(TOKEN).count(), 1, "{all}");
    assert!(stdout.contains("token is ***"), "{stdout}");
    assert!(stdout.contains("::group::validate bad (packer-validate)"));
    assert_eq!(
        stdout.matches("::group::").count(),
        stdout.matches("::endgroup::").count()
    );
    // The annotation points at the file from the repository root, and the
    // packer error is printed once.
    assert!(
        stdout.contains("::error file=packer/bad.json,title=error [packer-validate]::"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("Unknown builder no-such-builder").count(),
        1,
        "{stdout}"
    );
    // The lines of the target that was not live came out together.
    let lines: Vec<&str> = stdout.lines().collect();
    let b: Vec<usize> = (1..=3)
        .filter_map(|i| {
            lines
                .iter()
                .position(|l| l.ends_with(&format!("b line {i}")))
        })
        .collect();
    assert_eq!(b.len(), 3, "{stdout}");
    assert!(b[1] == b[0] + 1 && b[2] == b[1] + 1, "{stdout}");
    let summary = w.read("summary.md");
    assert!(
        summary.contains("| validate bad | packer-validate | ⚠️ warning |"),
        "{summary}"
    );
    assert!(summary.contains("packer/bad.json"), "{summary}");
    let outputs = w.read("output.txt");
    assert!(outputs.contains("good_templates=1\n"), "{outputs}");
    assert!(outputs.contains("good_failed=[]\n"), "{outputs}");
    let events = w.read("events.jsonl");
    assert!(events.contains(r#""step":"validate bad","event":"step_started","kind":"packer-validate","cwd":"packer""#), "{events}");
    assert!(events.contains(r#""file":"packer/bad.json""#), "{events}");
    for f in ["out.sarif", "cq.json", "run.html"] {
        assert!(!w.read(f).is_empty(), "{f} written");
        assert!(!w.read(f).contains(TOKEN), "{f} masked");
    }
    assert!(all.contains("html report: run.html"), "{all}");
}

#[test]
fn gitlab_ci_gets_sections_and_ci_none_the_terminal() {
    let w = Work::new(
        "build:\n  steps:\n    - script:\n        name: hello\n        code: echo hello\n",
    );
    let out = w.cmd(&["run"]).env("GITLAB_CI", "true").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout.matches("\x1b[0Ksection_start:").count(),
        1,
        "{stdout}"
    );
    assert_eq!(stdout.matches("\x1b[0Ksection_end:").count(), 1, "{stdout}");
    assert!(stdout.contains("hello | hello"));
    let out = w
        .cmd(&["run", "--ci", "none"])
        .env("GITLAB_CI", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("section_start"), "{stdout}");
    assert!(stdout.contains("==> hello (script)"), "{stdout}");
}

#[test]
fn color_follows_force_color_and_no_color() {
    let w = Work::new("build:\n  steps:\n    - script:\n        code: 'true'\n");
    let colored = |extra: &[(&str, &str)], args: &[&str]| {
        let mut cmd = w.cmd(&[&["run"], args].concat());
        cmd.env_remove("NO_COLOR").env_remove("FORCE_COLOR");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        String::from_utf8_lossy(&out.stdout).contains("\x1b[32m")
    };
    assert!(!colored(&[], &[]));
    assert!(colored(&[("FORCE_COLOR", "1")], &[]));
    assert!(!colored(&[("NO_COLOR", "1")], &[]));
    assert!(colored(&[("NO_COLOR", "1")], &["--color", "always"]));
    assert!(!colored(&[("FORCE_COLOR", "1")], &["--color", "never"]));
}

/// An example CI file of `examples/ci`, parsed.
fn example(name: &str) -> (std::path::PathBuf, serde_json::Value) {
    let path = stepwise_tests::workspace_root()
        .join("examples/ci")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let value: serde_json::Value = serde_saphyr::from_str(&text)
        .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
    (path, value)
}

/// The `run:` / `script:` text of a job, joined.
fn commands(steps: &serde_json::Value, key: &str) -> String {
    steps
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.get(key).or(Some(s)).and_then(|v| v.as_str()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_github_actions_recipe_is_a_valid_workflow() {
    let (path, wf) = example("github-actions.yml");
    let deploy = &wf["jobs"]["deploy"];
    let partitions = deploy["strategy"]["matrix"]["partition"]
        .as_array()
        .unwrap();
    assert_eq!(partitions.len(), 2);
    let steps = &deploy["steps"];
    let run = commands(steps, "run");
    assert!(
        run.contains("--partition \"${{ matrix.partition }}\""),
        "{run}"
    );
    assert!(run.contains("--state-dir \"$STEPWISE_STATE_DIR\""), "{run}");
    assert!(
        run.contains("STEPWISE_STATE_DIR=$RUNNER_TEMP/stepwise-state"),
        "{run}"
    );
    let cleanup = steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("runner cleanup"))
        })
        .expect("a cleanup step");
    assert_eq!(cleanup["if"], "always()");
    let artifact = steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["with"]["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("stepwise-state"))
        })
        .expect("the state kept as an artifact");
    assert_eq!(artifact["if"], "always()");
    assert!(
        artifact["uses"]
            .as_str()
            .unwrap()
            .starts_with("actions/upload-artifact@")
    );
    assert!(commands(&wf["jobs"]["cleanup"]["steps"], "run").contains("runner cleanup"));
    if !stepwise_tests::tool_available("actionlint") {
        return;
    }
    let out = std::process::Command::new("actionlint")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "actionlint: {}", text(&out));
}

#[test]
fn the_gitlab_recipe_wires_parallel_partitions_code_quality_and_junit() {
    let (_, ci) = example("gitlab-ci.yml");
    for job in ["build", "deploy"] {
        let reports = &ci[job]["artifacts"]["reports"];
        assert_eq!(reports["junit"], "reports/junit.xml", "{job}");
        assert_eq!(reports["codequality"], "reports/codequality.json", "{job}");
        assert_eq!(ci[job]["artifacts"]["when"], "always", "{job}");
        let script = commands(&ci[job]["script"], "");
        assert!(script.contains("--codequality \"$CI_PROJECT_DIR/reports/codequality.json\""));
        assert!(script.contains("--junit \"$CI_PROJECT_DIR/reports/junit.xml\""));
    }
    let deploy = &ci["deploy"];
    assert_eq!(deploy["parallel"], 2);
    let script = commands(&deploy["script"], "");
    assert!(
        script.contains("--partition \"$CI_NODE_INDEX/$CI_NODE_TOTAL\""),
        "{script}"
    );
    assert!(
        script.contains("--state-dir \"$STEPWISE_STATE_DIR\""),
        "{script}"
    );
    assert!(commands(&deploy["after_script"], "").contains("runner cleanup --state-dir"));
    let kept: Vec<&str> = deploy["artifacts"]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert!(kept.contains(&"stepwise-state/"), "{kept:?}");
    assert_eq!(
        ci["variables"]["STEPWISE_STATE_DIR"],
        "$CI_PROJECT_DIR/stepwise-state"
    );
}
