//! The `script` step: runs `code` with `bash -e` (or with its own
//! interpreter when it starts with `#!`), as wercker did. Variables the
//! script exports carry over to later steps: the code is sourced by a small
//! wrapper whose EXIT trap writes `export -p` to an anonymous file the step
//! reads back when the shell has exited.
//!
//! Code that cannot change an exported variable (it names none, and uses
//! no `export`, `source`, `eval`… — see [`may_change_exports`]) skips the
//! wrapper: it is bash's command string, so a trivial step costs what
//! `bash -c` costs. When that code is one simple command, bash would only
//! replace itself with the program: the step starts the program itself
//! ([`direct`]).
//!
//! Nothing touches the disk: the code is an anonymous in-memory file (or
//! the command string), inherited by the child as `/dev/fd/N` (the child's
//! stdin stays `/dev/null`).

use std::io::{Seek, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use step_core::Env;

use serde::Deserialize;
use serde_json::Value;
use step_core::process::Cmd;
use step_core::step::FnKind;
use step_core::{
    ConfigError, EnvChange, Outcome, PropertyDoc, PropertyType, Recorded, Step, StepContext,
    StepDescription, StepError, StepKind, Teardown, async_trait, parse_config,
};

/// Variables bash sets by itself; never carried over.
const SHELL_OWN: &[&str] = &["SHLVL", "PWD", "OLDPWD", "_"];

/// The `script` step's configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptConfig {
    /// The code. Runs with `bash -e` unless it starts with `#!`.
    pub code: String,
    /// Code that undoes what this step creates; recorded before the step
    /// starts and run when the enclosing target, group or pipeline ends.
    #[serde(default)]
    pub teardown: Option<String>,
}

/// The `script` step.
#[derive(Clone, Debug)]
pub struct Script {
    config: ScriptConfig,
}

impl Recorded for Script {
    const KIND: &'static str = "script";

    fn properties(&self) -> Value {
        let mut props = serde_json::json!({ "code": self.config.code });
        if let Some(t) = &self.config.teardown {
            props["teardown"] = t.clone().into();
        }
        props
    }
}

impl Script {
    /// A script step.
    pub fn new(config: ScriptConfig) -> Self {
        Script { config }
    }
}

/// The kind's description.
pub fn describe() -> StepDescription {
    StepDescription::new("script", "Run shell code (bash -e, or its own #! interpreter).")
        .open_outputs()
        .doc(
            "The code runs with `bash -e` in the step's working directory unless it starts \
             with `#!`, in which case its interpreter runs it (as `/dev/fd/N`). Variables \
             the code exports (bash only) are set for the following steps of the same pipeline \
             or target. `$VAR` in the code is expanded by the shell, not by the runner; \
             `${{ outputs.<id>.<name> }}` is expanded by the runner before the code runs. \
             One simple command (plain words, not a bash builtin, e.g. `make test`) is \
             started directly, as `bash -c` would replace itself with it, with the `PWD`, \
             `SHLVL` and `_` bash would give it.",
        )
        .property(PropertyDoc::required(
            "code",
            PropertyType::String,
            "The shell code to run.",
        ))
        .property(PropertyDoc::optional(
            "teardown",
            PropertyType::String,
            "Code that undoes what this step creates. Recorded before the step starts; runs when \
             the enclosing target, group or pipeline ends, whatever the outcome (see `runner cleanup`).",
        ))
        .example("- script:\n    name: unit tests\n    cwd: bootstrap/tests\n    code: |\n      bash test.sh\n")
}

fn build(properties: Value) -> Result<Box<dyn Step>, ConfigError> {
    let config: ScriptConfig = parse_config(properties)?;
    Ok(Box::new(Script::new(config)))
}

/// The kind.
pub fn kind() -> Box<dyn StepKind> {
    Box::new(FnKind::named("script", &[], describe, build))
}

#[async_trait]
impl Step for Script {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let code = &self.config.code;
        if code.starts_with("#!") {
            let (fd, path) = code_file(code)?;
            let (interpreter, arg) = shebang(code);
            let out = Cmd::new(interpreter)
                .args(arg)
                .arg(path)
                .inherit_fd(fd)
                .run(cx)
                .await?;
            return Ok(result(&out));
        }
        if !may_change_exports(code, cx.env()) {
            if let Some(cmd) = direct(code, cx) {
                match cmd.run(cx).await {
                    Ok(out) => return Ok(result(&out)),
                    // Not started (a script without `#!`, a program gone
                    // since it was found): bash, as before, decides.
                    Err(step_core::process::ProcessError::Spawn { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let out = plain_bash(code, cx)?.run(cx).await?;
            return Ok(result(&out));
        }
        let (fd, path) = code_file(code)?;
        // One open file, two descriptors: the child writes through its own,
        // this step reads back through the other.
        let (dump, child_end) = anonymous_file()
            .and_then(high_fd)
            .and_then(|d| Ok((d.try_clone()?, d)))
            .map_err(|e| StepError::io("creating the file the script's exports go to", e))?;
        let out = Cmd::new("bash")
            .args(["-e", "-c", WRAPPER, "script"])
            .arg(child_end.as_raw_fd().to_string())
            .arg(path)
            .inherit_fd(fd)
            .inherit_fd(child_end)
            .run(cx)
            .await?;
        let mut outcome = result(&out);
        if out.success() {
            let text = read_dump(&dump)
                .map_err(|e| StepError::io("reading the variables the script exported", e))?;
            for (name, value) in parse_export_p(&text) {
                if SHELL_OWN.contains(&name.as_str()) {
                    continue;
                }
                if cx.env().get(&name) != Some(value.as_str()) {
                    outcome.env.push(EnvChange::Set {
                        name,
                        value,
                        secret: false,
                    });
                }
            }
        }
        Ok(outcome)
    }

    fn teardown(&self) -> Option<Teardown> {
        let code = self.config.teardown.clone()?;
        Some(Teardown::of(Script::new(ScriptConfig {
            code,
            teardown: None,
        })))
    }

    fn commands(&self) -> Vec<String> {
        let code = self.config.code.trim_end();
        let program = if code.starts_with("#!") {
            code.lines().next().unwrap_or_default().to_string()
        } else {
            "bash -e".to_string()
        };
        let body: Vec<String> = code.lines().map(|l| format!("| {l}")).collect();
        vec![format!("{program}\n{}", body.join("\n"))]
    }
}

fn result(out: &step_core::process::ProcessOutput) -> Outcome {
    if out.success() {
        Outcome::passed()
    } else {
        Outcome::failed(format!("script failed with {}", out.describe_status()))
    }
}

/// Sources the code in this shell so its exports are visible to the EXIT
/// trap, which writes them to the inherited descriptor `$1` (an anonymous
/// file, read back once the shell has exited).
const WRAPPER: &str = r#"__stepwise_env=$1; __stepwise_code=$2; set --
trap 'export -p >&"$__stepwise_env"' EXIT
. "$__stepwise_code""#;

/// Sources the code, for code that is not passed as bash's command string.
const SOURCE: &str = r#"__stepwise_code=$1; set --
. "$__stepwise_code""#;

/// Code up to this size, holding no secret, is bash's command string; a
/// longer one is read from an anonymous file (one argument may hold
/// 128 KiB on Linux).
const ARGV_CODE_MAX: usize = 64 * 1024;

/// Words with which bash code exports a variable, assigns one it does not
/// name, runs code the runner does not see (a sourced file, an `eval`ed
/// string, a trap), or behaves differently sourced than as a command string.
const DYNAMIC_WORDS: &[&str] = &[
    "export",
    "declare",
    "typeset",
    "local",
    "readonly",
    "set",
    "shopt",
    "source",
    "eval",
    "trap",
    "printf",
    "read",
    "mapfile",
    "readarray",
    "let",
    "getopts",
    "select",
    "coproc",
    "wait",
    "enable",
    "return",
    "caller",
    "BASH_SOURCE",
    "BASH_LINENO",
    "BASH_ARGV",
    "BASH_ARGC",
    "FUNCNAME",
];

/// Variables that make bash run code or export on its own when it starts.
const SHELL_STARTUP: &[&str] = &["BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS"];

/// Whether running `code` may change an exported variable, so the exports
/// must be read back. It may unless it names no exported variable, uses
/// none of [`DYNAMIC_WORDS`], no `.` command and no arithmetic (`((`,
/// `$[`, `[[`, which can assign to a name held in a value), and the
/// environment starts nothing in bash. Quotes and backslashes are ignored,
/// so `ex"port"` and `\export` count; a name spelt through `$'\x..'`
/// escapes is not seen.
fn may_change_exports(code: &str, env: &Env) -> bool {
    if env
        .iter()
        .any(|(k, _)| SHELL_STARTUP.contains(&k) || k.starts_with("BASH_FUNC_"))
    {
        return true;
    }
    let plain: String = code
        .chars()
        .filter(|c| !matches!(c, '\'' | '"' | '\\'))
        .collect();
    if ["((", "$[", "[["].iter().any(|a| plain.contains(a)) || has_dot_command(&plain) {
        return true;
    }
    plain
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .any(|w| DYNAMIC_WORDS.contains(&w) || (!SHELL_OWN.contains(&w) && env.get(w).is_some()))
}

/// Whether `code` has a `.` word (the `source` builtin): a dot standing
/// alone between blanks or command separators.
fn has_dot_command(code: &str) -> bool {
    let bytes = code.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + 1).copied();
        b == b'.'
            && before.is_none_or(|c| c.is_ascii_whitespace() || b";&|({`".contains(&c))
            && after.is_none_or(|c| c.is_ascii_whitespace())
    })
}

/// bash's builtins and reserved words: a command naming one runs in bash.
const BASH_OWN: &[&str] = &[
    ".",
    ":",
    "[",
    "alias",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "cd",
    "command",
    "compgen",
    "complete",
    "compopt",
    "continue",
    "declare",
    "dirs",
    "disown",
    "echo",
    "enable",
    "eval",
    "exec",
    "exit",
    "export",
    "false",
    "fc",
    "fg",
    "getopts",
    "hash",
    "help",
    "history",
    "jobs",
    "kill",
    "let",
    "local",
    "logout",
    "mapfile",
    "popd",
    "printf",
    "pushd",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "return",
    "set",
    "shift",
    "shopt",
    "source",
    "suspend",
    "test",
    "times",
    "trap",
    "true",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "wait",
    "if",
    "then",
    "else",
    "elif",
    "fi",
    "case",
    "esac",
    "for",
    "select",
    "while",
    "until",
    "do",
    "done",
    "in",
    "function",
    "time",
    "coproc",
];

/// The words of `code` when it is one simple command bash would run
/// as-is: one line of plain words (letters, digits and `_ . / : , + = @ % -`,
/// so nothing to expand, quote, redirect or glob), the first neither an
/// assignment nor one of bash's own commands.
fn simple_command(code: &str) -> Option<Vec<&str>> {
    let line = code.trim();
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:,+=@%- \t".contains(c);
    if line.is_empty() || !line.chars().all(plain) {
        return None;
    }
    let words: Vec<&str> = line.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
    let first = *words.first()?;
    (!first.contains('=') && !BASH_OWN.contains(&first)).then_some(words)
}

/// A simple command (see [`simple_command`]) started without bash. For
/// one such command `bash -c` starts nothing else: it replaces itself with
/// the program, which sees `PWD`, `SHLVL` one up and `_`, as set here. Not
/// taken when the environment would make bash do more ([`SHELL_STARTUP`],
/// exported functions: checked by [`may_change_exports`] first) or the
/// program is not found (bash then says so).
fn direct(code: &str, cx: &StepContext) -> Option<Cmd> {
    let words = simple_command(code)?;
    let (first, args) = words.split_first()?;
    let path = cx.env().get("PATH").unwrap_or_default();
    let program = step_core::process::find_program(first, path, cx.workdir())?;
    let shlvl = cx
        .env()
        .get("SHLVL")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map_or(1, |n| n.saturating_add(1).max(1));
    // As bash does: an inherited absolute PWD naming the same directory
    // (same device and inode) is kept, else the physical path is taken.
    let pwd = match cx.env().get("PWD") {
        Some(p) if p.starts_with('/') && same_file(Path::new(p), cx.workdir()) => p.to_string(),
        _ => std::fs::canonicalize(cx.workdir())
            .ok()?
            .display()
            .to_string(),
    };
    Some(
        Cmd::new(&program)
            .args(args)
            .env("PWD", pwd)
            .env("SHLVL", shlvl.to_string())
            .env("_", program.display().to_string()),
    )
}

/// Whether two paths name the same file (device and inode).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// `bash -e` running code that cannot change exported variables: as the
/// command string when it is short and holds no secret (argv is visible to
/// `ps`), else sourced from an anonymous file. Without the EXIT trap bash
/// also runs the last command in its own process instead of forking.
fn plain_bash(code: &str, cx: &StepContext) -> Result<Cmd, StepError> {
    let masker = cx.events().masker();
    if code.len() <= ARGV_CODE_MAX && masker.ranges(code.as_bytes()).next().is_none() {
        return Ok(Cmd::new("bash").args(["-e", "-c", code, "script"]));
    }
    let (fd, path) = code_file(code)?;
    Ok(Cmd::new("bash")
        .args(["-e", "-c", SOURCE, "script"])
        .arg(path)
        .inherit_fd(fd))
}

/// What the EXIT trap wrote to the anonymous file.
fn read_dump(file: &OwnedFd) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::from(file.try_clone()?);
    file.rewind()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The code as an anonymous file for the child to inherit, and the
/// `/dev/fd/N` path it opens it by.
fn code_file(code: &str) -> Result<(OwnedFd, String), StepError> {
    let fd = code_fd(code).map_err(|e| StepError::io("passing the script's code to it", e))?;
    let path = format!("/dev/fd/{}", fd.as_raw_fd());
    Ok((fd, path))
}

/// The code as an anonymous file the child can open as `/dev/fd/N`.
fn code_fd(code: &str) -> std::io::Result<OwnedFd> {
    let mut file = std::fs::File::from(anonymous_file()?);
    file.write_all(code.as_bytes())?;
    file.rewind()?;
    high_fd(file.into())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn anonymous_file() -> std::io::Result<OwnedFd> {
    use rustix::fs::{MemfdFlags, memfd_create};
    match memfd_create("stepwise-script", MemfdFlags::CLOEXEC) {
        Ok(fd) => Ok(fd),
        // A sandbox without memfd: an unnamed temporary file.
        Err(_) => Ok(tempfile::tempfile()?.into()),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn anonymous_file() -> std::io::Result<OwnedFd> {
    Ok(tempfile::tempfile()?.into())
}

/// The descriptor moved above 2, so the child's stdio cannot replace it
/// (a runner started with a closed stdin hands out 0 for a new file).
fn high_fd(fd: OwnedFd) -> std::io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    Ok(rustix::io::fcntl_dupfd_cloexec(fd.as_fd(), 3)?)
}

/// The interpreter of a `#!` line and its one optional argument, as the
/// kernel reads them.
fn shebang(code: &str) -> (&str, Option<&str>) {
    let line = code.lines().next().unwrap_or_default();
    let line = line
        .trim_start_matches("#!")
        .trim_matches([' ', '\t', '\r']);
    match line.split_once([' ', '\t']) {
        Some((interpreter, arg)) => {
            let arg = arg.trim_matches([' ', '\t']);
            (interpreter, (!arg.is_empty()).then_some(arg))
        }
        None => (line, None),
    }
}

/// Parses bash's `export -p` output: `declare -x NAME="value"` lines, values
/// double-quoted with `\"`, `\\`, `\$` and `` \` `` escaped, newlines literal.
pub fn parse_export_p(text: &str) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("declare -") {
        rest = &rest[start..];
        // Skip "declare -x " (flags may be -x, -rx, -ix …).
        let Some(sp) = rest.find(' ') else { break };
        let after_decl = &rest[sp + 1..];
        let Some(sp2) = after_decl.find([' ', '\n']) else {
            break;
        };
        let body = &after_decl[sp2 + 1..];
        let name_end = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        let name = &body[..name_end];
        let tail = &body[name_end..];
        if let Some(q) = tail.strip_prefix("=\"") {
            let mut value = String::new();
            let mut chars = q.char_indices();
            let mut consumed = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            if !matches!(n, '"' | '\\' | '$' | '`') {
                                value.push('\\');
                            }
                            value.push(n);
                        }
                    }
                    '"' => {
                        consumed = i + 1;
                        break;
                    }
                    other => value.push(other),
                }
            }
            if !name.is_empty() {
                vars.push((name.to_string(), value));
            }
            rest = &q[consumed.min(q.len())..];
        } else if let Some(q) = tail.strip_prefix("=$'") {
            // ANSI-C quoting, which bash 5.2 uses for values with newlines,
            // tabs or other control characters.
            let (value, consumed) = parse_ansi_c(q);
            if !name.is_empty() {
                vars.push((name.to_string(), value));
            }
            rest = &q[consumed.min(q.len())..];
        } else {
            // `declare -x NAME` without a value: exported but unset.
            rest = tail;
        }
    }
    vars
}

/// Parses the body of a `$'…'` string up to its closing quote; returns the
/// value and the number of bytes consumed (closing quote included).
fn parse_ansi_c(q: &str) -> (String, usize) {
    let bytes = q.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => return (String::from_utf8_lossy(&out).into_owned(), i + 1),
            b'\\' if i + 1 < bytes.len() => {
                let c = bytes[i + 1];
                i += 2;
                match c {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'a' => out.push(0x07),
                    b'b' => out.push(0x08),
                    b'e' | b'E' => out.push(0x1b),
                    b'f' => out.push(0x0c),
                    b'v' => out.push(0x0b),
                    b'0'..=b'7' => {
                        let mut v: u32 = u32::from(c - b'0');
                        let mut n = 1;
                        while n < 3 && i < bytes.len() && (b'0'..=b'7').contains(&bytes[i]) {
                            v = v * 8 + u32::from(bytes[i] - b'0');
                            i += 1;
                            n += 1;
                        }
                        out.push(u8::try_from(v & 0xff).unwrap_or(0));
                    }
                    b'x' => {
                        let mut v: u32 = 0;
                        let mut n = 0;
                        while n < 2 && i < bytes.len() && bytes[i].is_ascii_hexdigit() {
                            v = v * 16 + char::from(bytes[i]).to_digit(16).unwrap_or(0);
                            i += 1;
                            n += 1;
                        }
                        out.push(u8::try_from(v).unwrap_or(0));
                    }
                    other => out.push(other),
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(names: &[&str]) -> Env {
        let mut env = Env::new();
        for n in names {
            env.set(*n, "x");
        }
        env
    }

    #[test]
    fn code_that_may_change_exports_is_recognised() {
        let e = env(&["PATH", "HOME", "PWD"]);
        for code in [
            "export A=1",
            "declare -x A=1",
            "typeset -x A",
            "set -a; A=1",
            "source env.sh",
            ". env.sh",
            "cd x && . ./env.sh",
            "eval \"$(ssh-agent -s)\"",
            "PATH=/opt/bin:$PATH",
            "HOME=/tmp make",
            "read -r REPLY",
            "printf -v NAME %s x",
            "(( n = 1 ))",
            "ex\"port\" A=1",
            "\\export A=1",
            "trap 'export A=1' EXIT",
            "return 0",
            "echo \"${BASH_SOURCE[0]}\"",
        ] {
            assert!(may_change_exports(code, &e), "{code}");
        }
        for code in [
            "true",
            "make test",
            "cd build && make -j4",
            "echo \"$PWD\"",
            "ls -la .. ./x",
            "terraform fmt -check",
            "sleep 1",
        ] {
            assert!(!may_change_exports(code, &e), "{code}");
        }
    }

    #[test]
    fn only_plain_words_naming_no_bash_command_are_a_simple_command() {
        assert_eq!(simple_command("sleep 1\n"), Some(vec!["sleep", "1"]));
        assert_eq!(
            simple_command("terraform fmt -check -recursive ./infra"),
            Some(vec!["terraform", "fmt", "-check", "-recursive", "./infra"])
        );
        for code in [
            "true",
            "echo hi",
            "cd build",
            "exit 3",
            "A=1 make",
            "make; make install",
            "make && make install",
            "ls *.txt",
            "echo $HOME",
            "cat < in",
            "ls > out",
            "ls ~",
            "echo 'q'",
            "make \\\n test",
            "a\nb",
            "ls {a,b}",
            "",
            "# comment",
        ] {
            assert_eq!(simple_command(code), None, "{code:?}");
        }
    }

    #[test]
    fn an_environment_that_starts_code_in_bash_always_reads_exports_back() {
        for name in ["BASH_ENV", "SHELLOPTS", "BASH_FUNC_f%%"] {
            assert!(may_change_exports("true", &env(&[name])), "{name}");
        }
    }

    #[test]
    fn export_p_is_parsed_with_escapes_and_newlines() {
        let text = "declare -x A=\"1\"\ndeclare -x B=\"x \\\"q\\\" \\$y \\\\ z\"\ndeclare -x C=\"line1\nline2\"\ndeclare -x EMPTY\ndeclare -rx R=\"ro\"\n";
        let vars = parse_export_p(text);
        assert_eq!(
            vars,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "x \"q\" $y \\ z".into()),
                ("C".into(), "line1\nline2".into()),
                ("R".into(), "ro".into()),
            ]
        );
    }

    #[test]
    fn ansi_c_quoted_values_are_decoded() {
        let text = "declare -x M=$'a\\nb'\ndeclare -x T=$'t\\tab \\'q\\' \\\\ \\033x'\n";
        assert_eq!(
            parse_export_p(text),
            vec![
                ("M".into(), "a\nb".into()),
                ("T".into(), "t\tab 'q' \\ \u{1b}x".into())
            ]
        );
    }
}
