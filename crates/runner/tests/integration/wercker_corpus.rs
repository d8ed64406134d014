//! A corpus of wercker.yml files written in the forms people used with
//! wercker (deploy targets, workflows, `@version`, bare registry names,
//! boxes and services as maps, after-steps only, `checkpoint`, the old
//! Slack form, pip-install's wercker properties). Each validates with
//! exit 0 when its registry steps are present as step directories
//! (`fixtures/wercker-corpus/steps`) and no variable is set.

use super::*;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wercker-corpus")
}

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_validates_with_its_step_dirs_and_no_variables() {
    let files = corpus_files();
    assert!(files.len() >= 25, "only {} files", files.len());
    let home = tempfile::tempdir().unwrap();
    let steps = corpus_dir().join("steps");
    for file in &files {
        let out = Command::new(env!("CARGO_BIN_EXE_runner"))
            .args(["validate", "-f"])
            .arg(file)
            .arg("--steps-dir")
            .arg(&steps)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let t = text(&out);
        let name = file.file_name().unwrap().to_string_lossy();
        assert_eq!(out.status.code(), Some(0), "{name}:\n{t}");
        assert!(!t.contains(": error: "), "{name}:\n{t}");
        assert!(t.contains(": valid"), "{name}:\n{t}");
        // Registry steps resolved to their step directories, not skipped.
        let yaml = std::fs::read_to_string(file).unwrap();
        for id in ["npm-install", "s3sync", "apollo-deploy", "golint"] {
            if yaml.contains(&format!("- {id}")) || yaml.contains(&format!("/{id}")) {
                assert!(
                    t.contains(&format!("/{id}")),
                    "{name}: {id} not listed:\n{t}"
                );
            }
        }
    }
}

#[test]
fn the_corpus_covers_every_wercker_form() {
    let all: String = corpus_files()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for form in [
        "  production:\n",         // a deploy target
        "workflows:\n  ship:",     // workflows as a mapping
        "workflows:\n  - name:",   // workflows as a list
        "npm-install@0.1.2",       // @version on a bare name
        "wercker/npm-test@0.1.0",  // @version on owner/name
        "    - npm-install\n",     // a bare registry name
        "services:\n  - id: ",     // services as maps
        "box:\n  id: ",            // box as a map
        "notify:\n  after-steps:", // a pipeline of after-steps only
        "checkpoint: ",
        "team: acme", // the old Slack form
        "packages_list:",
        "pip_command:",
        "extra_args: \"",
        "auto_run_wheel:",
        "cleanup_wheel_cache:",
        "extra_wheel_args:",
        "no-response-timeout:",
        "source-dir:",
        "ignore-file:",
    ] {
        assert!(all.contains(form), "no corpus file uses `{form}`");
    }
}
