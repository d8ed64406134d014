//! The `script` step's two ways of running bash (issue #15): code that
//! cannot change an exported variable is bash's command string, with no
//! export dump; any other code is sourced and its exports read back. Both
//! must behave as one bash running the code.

use super::*;

/// Every way a script commonly changes the environment of later steps.
const EXPORTS: &str = r#"
build:
  steps:
    - script: {name: export, code: 'export A=1'}
    - script:
        name: source
        code: |
          printf 'export B=2\n' > env.sh
          . ./env.sh
    - script: {name: path, code: 'mkdir -p bin && PATH="$PWD/bin:$PATH"'}
    - script: {name: allexport, code: 'set -a; C=3; set +a'}
    - script: {name: eval, code: 'eval "$(echo export D=4)"'}
    - script: {name: quoted, code: 'ex"port" E=5'}
    - script:
        name: seen
        code: |
          case ":$PATH:" in *":$PWD/bin:"*) on=yes ;; *) on=no ;; esac
          printf '%s %s %s %s %s %s\n' "$A" "$B" "$C" "$D" "$E" "$on" > seen.txt
"#;

#[test]
fn exports_reach_later_steps_however_the_script_sets_them() {
    let w = Work::new(EXPORTS);
    let out = w.run(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.read("seen.txt"), "1 2 3 4 5 yes\n", "{}", text(&out));
}

/// A plain step: its code is bash's command string (visible to `ps`),
/// unless it holds a secret, when it is read from an anonymous file.
const CMDLINE: &str = r#"
secrets: [HIDDEN_TOKEN]
build:
  steps:
    - script:
        name: plain
        code: "tr '\\0' ' ' < /proc/$$/cmdline > plain.txt"
    - script:
        name: holding a secret
        code: ": tok-hidden-0123456789; tr '\\0' ' ' < /proc/$$/cmdline > secret.txt"
"#;

#[test]
fn code_holding_a_secret_never_appears_in_the_command_line() {
    let w = Work::new(CMDLINE);
    let out = w
        .cmd(&["run"])
        .env("HIDDEN_TOKEN", "tok-hidden-0123456789")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plain = w.read("plain.txt");
    assert!(plain.contains("plain.txt"), "the code is argv: {plain}");
    let secret = w.read("secret.txt");
    assert!(secret.contains("/dev/fd/"), "read from a file: {secret}");
    assert!(
        !secret.contains("tok-hidden"),
        "the secret is in argv: {secret}"
    );
}

/// The same script behaves the same on both paths: `-e`, the exit status,
/// `$0`, positional parameters, and the last command run in place.
const SAME: &str = r#"
build:
  steps:
    - script:
        name: plain
        code: |
          echo "$0 $#" > plain.txt
          false
          echo not reached >> plain.txt
"#;

#[test]
fn a_failing_command_stops_a_plain_script_as_it_does_a_sourced_one() {
    // The export makes the second one take the sourcing path.
    let sourced = SAME.replace("false", "false; export X=1");
    for yaml in [SAME, &sourced] {
        let w = Work::new(yaml);
        let out = w.run(&["run"]);
        assert_eq!(out.status.code(), Some(1), "{yaml}\n{}", text(&out));
        assert_eq!(w.read("plain.txt"), "script 0\n", "{yaml}");
    }
}

/// One simple command runs without bash, and sees what bash would have
/// given it; anything bash would decide otherwise goes to bash.
const SIMPLE: &str = r#"
build:
  steps:
    - script: {name: direct, code: "env"}
    - script: {name: through bash, code: "env | cat"}
    - script: {name: no shebang, code: "./plain.sh"}
    - script: {name: missing, code: "no-such-program-here --flag"}
"#;

#[test]
fn a_simple_command_sees_the_environment_bash_gives_it_and_bash_still_decides_the_rest() {
    let w = Work::new(SIMPLE);
    std::fs::write(w.file("plain.sh"), "echo ran without a shebang\n").unwrap();
    let mut perms = std::fs::metadata(w.file("plain.sh")).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(w.file("plain.sh"), perms).unwrap();
    let out = w.cmd(&["run"]).output().unwrap();
    let all = text(&out);
    let env_of = |step: &str| -> Vec<String> {
        let mut v: Vec<String> = all
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{step} | ")))
            .filter(|l| !l.contains("STEP_NAME="))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    let direct = env_of("direct");
    assert!(direct.iter().any(|l| l.starts_with("SHLVL=")), "{all}");
    assert!(direct.iter().any(|l| l.starts_with("PWD=")), "{all}");
    assert_eq!(direct, env_of("through bash"), "{all}");
    assert!(all.contains("ran without a shebang"), "{all}");
    assert!(all.contains("command not found"), "{all}");
    assert!(all.contains("exit code 127"), "{all}");
}
