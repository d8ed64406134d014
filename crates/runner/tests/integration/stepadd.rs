//! `runner step add` / `runner step list` with local git repositories
//! (`file://` URLs): nothing reaches the network.

use super::*;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=stepwise",
            "-c",
            "user.email=stepwise@localhost",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bare repository holding a wercker step (`files`), as a file:// URL.
fn step_repo(root: &Path, name: &str, files: &[(&str, &str)]) -> String {
    let src = root.join(format!("{name}-src"));
    std::fs::create_dir_all(&src).unwrap();
    for (path, text) in files {
        std::fs::write(src.join(path), text).unwrap();
    }
    git(&src, &["init", "-q"]);
    git(&src, &["add", "."]);
    git(&src, &["commit", "-q", "-m", "step"]);
    git(&src, &["tag", "v0.1.0"]);
    let bare = root.join(format!("{name}.git"));
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            src.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    format!("file://{}", bare.display())
}

const MANIFEST: &str = "name: hello\nversion: 0.1.0\ndescription: says hello\nproperties:\n  who:\n    type: string\n    required: true\n";
const RUN_SH: &str =
    "info \"hello $WERCKER_HELLO_WHO\"\necho \"$WERCKER_HELLO_WHO\" > greeted.txt\n";

#[test]
fn a_step_added_from_a_local_repo_runs_and_a_second_add_says_it_is_there() {
    if !stepwise_tests::tool_available("git") {
        return;
    }
    let w = Work::new("build:\n  steps:\n    - acme/hello@0.1.0:\n        who: world\n");
    let repos = tempfile::tempdir().unwrap();
    let url = step_repo(
        repos.path(),
        "hello",
        &[("wercker-step.yml", MANIFEST), ("run.sh", RUN_SH)],
    );
    // Before: validate names the step and the command that gets it.
    let t = text(&w.run(&["validate"]));
    assert!(t.contains("hint: runner step add acme/hello"), "{t}");
    let out = w.run(&[
        "step",
        "add",
        "acme/hello",
        "--from",
        &url,
        "--ref",
        "v0.1.0",
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("added acme/hello 0.1.0"), "{t}");
    assert!(w.file(".wercker/steps/acme/hello/run.sh").is_file());
    let out = w.run(&["run"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(w.read("greeted.txt").trim(), "world");
    let out = w.run(&["step", "add", "acme/hello", "--from", &url]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("acme/hello is already there"), "{t}");
    let out = w.run(&["step", "list"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.lines().any(|l| l.starts_with("acme/hello")
            && l.contains("0.1.0")
            && l.contains(".wercker/steps/acme/hello")),
        "{t}"
    );
}

#[test]
fn a_bad_url_or_a_repo_without_a_step_leaves_nothing_behind() {
    if !stepwise_tests::tool_available("git") {
        return;
    }
    let w = Work::new("build:\n  steps: []\n");
    let repos = tempfile::tempdir().unwrap();
    let missing = format!("file://{}/nope.git", repos.path().display());
    let out = w.run(&["step", "add", "acme/hello", "--from", &missing]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("cannot clone") && t.contains("nope.git"), "{t}");
    assert!(!w.file(".wercker").exists(), "half-written: {t}");
    // A repository that is not a wercker step (no manifest, no run.sh).
    let url = step_repo(repos.path(), "readme", &[("README.md", "not a step\n")]);
    let out = w.run(&["step", "add", "acme/readme", "--from", &url]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("is not a valid wercker step") && t.contains("wercker-step.yml"),
        "{t}"
    );
    assert!(!w.file(".wercker").exists(), "half-written: {t}");
    // A ref that does not exist.
    let url = step_repo(
        repos.path(),
        "hello",
        &[("wercker-step.yml", MANIFEST), ("run.sh", RUN_SH)],
    );
    let out = w.run(&["step", "add", "acme/hello", "--from", &url, "--ref", "v9"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("cannot check out `v9`"), "{t}");
    assert!(!w.file(".wercker").exists(), "half-written: {t}");
    let out = w.run(&["step", "add", "../escape"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
