//! Variable precedence, end to end: `--var` > `--secret-file` >
//! `--var-file` (later wins) > the process environment > the pipeline's
//! `env:` > the file's `env:`; and which names are masked.

use super::*;

const FILE: &str = "env:\n  X: top\n  Y: top\n  Z: top\nbuild:\n  env:\n    X: pipeline\n    Y: pipeline\n  steps:\n    - script:\n        code: 'echo \"X=$X Y=$Y Z=$Z\" > seen.txt'\n";

fn seen(w: &Work, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = w.cmd(args);
    for k in ["X", "Y", "Z"] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    w.read("seen.txt").trim().to_string()
}

#[test]
fn the_pipeline_env_wins_over_the_top_level_env() {
    let w = Work::new(FILE);
    assert_eq!(seen(&w, &["run"], &[]), "X=pipeline Y=pipeline Z=top");
}

#[test]
fn the_process_environment_wins_over_env() {
    let w = Work::new(FILE);
    assert_eq!(
        seen(&w, &["run"], &[("X", "process"), ("Z", "process")]),
        "X=process Y=pipeline Z=process"
    );
}

#[test]
fn var_wins_over_the_process_environment_and_env() {
    let w = Work::new(FILE);
    assert_eq!(
        seen(
            &w,
            &["run", "--var", "X=cli", "--var", "Y=cli"],
            &[("X", "process")]
        ),
        "X=cli Y=cli Z=top"
    );
}

#[test]
fn var_files_join_the_command_line_layer() {
    let w = Work::new(FILE);
    std::fs::write(
        w.file("a.env"),
        "X=file-a\nY=file-a\n# a comment\nZ=\"file a\"\n",
    )
    .unwrap();
    std::fs::write(w.file("b.env"), "Y=file-b\n").unwrap();
    // A var file wins over the process environment and env:.
    assert_eq!(
        seen(&w, &["run", "--var-file", "a.env"], &[("X", "process")]),
        "X=file-a Y=file-a Z=file a"
    );
    // A later file wins over an earlier one; --var wins over both.
    assert_eq!(
        seen(
            &w,
            &[
                "run",
                "--var-file",
                "a.env",
                "--var-file",
                "b.env",
                "--var",
                "X=cli"
            ],
            &[]
        ),
        "X=cli Y=file-b Z=file a"
    );
}

#[test]
fn secret_files_and_secret_looking_names_are_masked_shell_names_are_not() {
    let w = Work::new(
        "build:\n  steps:\n    - script:\n        code: 'echo \"db=$DB_PASS auth=$GIT_AUTH pwd=$PWD\"'\n",
    );
    std::fs::write(w.file("db-secret"), "correct-horse-battery\n").unwrap();
    let out = w.run(&[
        "run",
        "--secret-file",
        "DB_PASS=db-secret",
        "--var",
        "GIT_AUTH=basic-auth-value",
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("db=*** auth=***"), "{t}");
    assert!(
        !t.contains("correct-horse-battery") && !t.contains("basic-auth-value"),
        "{t}"
    );
    let root = std::fs::canonicalize(w.path()).unwrap();
    assert!(t.contains(&format!("pwd={}", root.display())), "{t}");
}
