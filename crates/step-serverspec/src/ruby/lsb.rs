//! `lsb_release -ir` in-process, for the one implementation whose meaning
//! is known exactly: Debian's os-release-based shell script (package
//! lsb-release 12 and later), which prints `ID` (first letter capitalised,
//! or `NAME` when the two differ only in case) and `VERSION_ID` from the
//! os-release file it sources. Any other `lsb_release` (Ubuntu's Python one,
//! a local wrapper, whichever comes first on the `PATH` the command would
//! run with) or an os-release file needing a shell to read: `None`, and
//! the command runs.

use std::path::{Path, PathBuf};

/// A line that only Debian's os-release-based script has.
const MARKER: &str = "Mimic the output of Debian's Python-based lsb_release";

/// What `lsb_release -ir` prints on this machine when the command runs
/// with `PATH` set to `search_path`, when certain.
pub fn lsb_release_ir(search_path: &str) -> Option<String> {
    let cwd = std::env::current_dir().ok()?;
    let program = which::which_in("lsb_release", Some(search_path), cwd).ok()?;
    let script = std::fs::read_to_string(&program).ok()?;
    if !script.starts_with("#!/bin/sh") || !script.contains(MARKER) {
        return None;
    }
    let file = os_release_file(
        std::env::var_os("LSB_OS_RELEASE").map(PathBuf::from),
        Path::new("/etc/os-release"),
        Path::new("/usr/lib/os-release"),
    );
    let vars = match file {
        Some(f) => parse_os_release(&std::fs::read_to_string(f).ok()?)?,
        None => Vec::new(),
    };
    render(&vars)
}

/// The file the script sources: `$LSB_OS_RELEASE` when it names a file,
/// else `/etc/os-release`, else `/usr/lib/os-release`.
fn os_release_file(env: Option<PathBuf>, etc: &Path, usr: &Path) -> Option<PathBuf> {
    env.filter(|p| p.is_file())
        .or_else(|| etc.is_file().then(|| etc.to_path_buf()))
        .or_else(|| usr.is_file().then(|| usr.to_path_buf()))
}

/// `KEY=value` lines as `sh` reads them, for the plain forms os-release(5)
/// allows: unquoted words, `'single'`, `"double"` with `\` escapes.
/// `None` for anything a shell would expand or run.
fn parse_os_release(text: &str) -> Option<Vec<(String, String)>> {
    let mut vars = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, raw) = line.split_once('=')?;
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        vars.push((key.to_string(), unquote(raw)?));
    }
    Some(vars)
}

fn unquote(raw: &str) -> Option<String> {
    if let Some(inner) = raw.strip_prefix('\'') {
        let inner = inner.strip_suffix('\'')?;
        return (!inner.contains('\'')).then(|| inner.to_string());
    }
    if let Some(inner) = raw.strip_prefix('"') {
        let inner = inner.strip_suffix('"')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '$' | '`' | '"' => return None,
                '\\' => match chars.next()? {
                    e @ ('$' | '`' | '"' | '\\') => out.push(e),
                    e => {
                        out.push('\\');
                        out.push(e);
                    }
                },
                c => out.push(c),
            }
        }
        return Some(out);
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "._-+/:,@%".contains(c);
    raw.chars().all(plain).then(|| raw.to_string())
}

/// The script's two lines for `-i -r`.
fn render(vars: &[(String, String)]) -> Option<String> {
    let get = |k: &str| {
        vars.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let id = get("ID").unwrap_or("");
    if !id.is_ascii() {
        // `tr` and `cut` under C.UTF-8 on non-ASCII: not worth guessing.
        return None;
    }
    let mut shown = match id.split_at_checked(1) {
        Some((first, rest)) => format!("{}{rest}", first.to_ascii_uppercase()),
        None => String::new(),
    };
    if let Some(name) = get("NAME")
        && name.to_lowercase() == shown.to_lowercase()
    {
        shown = name.to_string();
    }
    let or_na = |v: &str| {
        if v.is_empty() {
            "n/a".to_string()
        } else {
            v.to_string()
        }
    };
    Some(format!(
        "Distributor ID:\t{}\nRelease:\t{}\n",
        or_na(&shown),
        or_na(get("VERSION_ID").unwrap_or(""))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lsb(text: &str) -> Option<String> {
        render(&parse_os_release(text)?)
    }

    #[test]
    fn prints_id_and_version_as_the_script_does() {
        let debian = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n";
        assert_eq!(
            lsb(debian).as_deref(),
            Some("Distributor ID:\tDebian\nRelease:\t12\n")
        );
        let same_name = "NAME=\"openSUSE\"\nID=opensuse\nVERSION_ID='15.5'\n";
        assert_eq!(
            lsb(same_name).as_deref(),
            Some("Distributor ID:\topenSUSE\nRelease:\t15.5\n")
        );
        assert_eq!(
            lsb("").as_deref(),
            Some("Distributor ID:\tn/a\nRelease:\tn/a\n")
        );
    }

    #[test]
    fn what_a_shell_would_expand_is_left_to_the_shell() {
        assert_eq!(lsb("ID=\"$(uname)\"\n"), None);
        assert_eq!(lsb("ID=a b\n"), None);
        assert_eq!(lsb("export ID=debian\n"), None);
    }

    #[test]
    fn this_machine_agrees_with_its_lsb_release() {
        let path = std::env::var("PATH").unwrap_or_default();
        let Some(ours) = lsb_release_ir(&path) else {
            eprintln!("lsb_release here is not the os-release script: nothing to compare");
            return;
        };
        let out = std::process::Command::new("lsb_release")
            .arg("-ir")
            .output();
        let out = out.expect("lsb_release was found, so it runs");
        assert_eq!(ours, String::from_utf8_lossy(&out.stdout));
    }
}
