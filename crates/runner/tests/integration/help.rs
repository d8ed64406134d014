//! `--help` is written for users: what the runner does, examples, exit
//! codes and the environment it reads.

use super::*;

#[test]
fn top_level_help_lists_exit_codes_and_environment() {
    let w = Work::new("");
    let out = w.run(&["--help"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("Run CI/CD pipelines for infrastructure"), "{t}");
    assert!(
        !t.contains("YAML loader, step registry"),
        "crate internals in --help:\n{t}"
    );
    for needle in [
        "Exit codes:",
        "130",
        "usage or configuration error",
        "CI ",
        "NO_COLOR",
        "STEPWISE_TMPDIR",
        "RUNNER_RESULT",
        "WERCKER_ROOT",
        "runner plan deploy",
    ] {
        assert!(t.contains(needle), "`{needle}` missing:\n{t}");
    }
}

#[test]
fn each_subcommand_has_examples() {
    let w = Work::new("");
    for (cmd, needle) in [
        ("run", "runner run deploy --only CLOUD=aws"),
        ("validate", "runner validate -f wercker.yml"),
        ("plan", "runner plan deploy"),
        ("explain", "runner explain terraform-apply"),
        ("cleanup", "runner cleanup --run RUN_ID"),
    ] {
        let out = w.run(&[cmd, "--help"]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(0), "{cmd}: {t}");
        assert!(t.contains("Examples:") && t.contains(needle), "{cmd}:\n{t}");
    }
    let out = w.run(&["run", "--help"]);
    let t = text(&out);
    assert!(
        t.contains("--var-file") && t.contains("--secret-file"),
        "{t}"
    );
    assert!(t.contains("Variable precedence"), "{t}");
}
