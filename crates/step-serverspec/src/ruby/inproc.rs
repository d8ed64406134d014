//! In-process answers on this machine for the specinfra commands below,
//! each giving what the command would print or how it would end, or `None`
//! where that is not certain (then the command runs):
//!
//! - `stat -c %s|%a|%U|%G FILE`, `readlink FILE` (file attributes), and
//!   `test x"$(readlink FILE)" = xTARGET` (`be_linked_to`);
//! - `grep -qs`/`sed -n A,Bp | grep` (`contain`, with `.from`/`.to`) and
//!   `grep -w` over a file (`have_authorized_key`, `be_resolvable.by('hosts')`)
//!   for the simple patterns of [`super::grep`];
//! - `ps` (see [`super::ps`]), and `systemctl is-active` where systemd is
//!   not the init system (it then exits 1 without asking anything, and
//!   specinfra falls back to `ps`);
//! - `getent group NAME | cut -f 3 -d ':'` from the account files;
//! - checks whose tool is not installed (`crontab`, `getenforce`,
//!   `openssl` on a missing file): the pipeline fails the same way whatever
//!   it asked.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::grep::{Addr, SimpleBre, contains, lines, sed_range};
use super::host::Host;
use super::local::{plain_word, synthesized};
use super::value::Value;

/// `stat -c FORMAT` (or `readlink`) of a local file, trimmed as specinfra
/// reads it: `None` when the answer needs the name service beyond files.
pub fn file_attr(host: &Host, path: &str, attr: &str) -> Option<Value> {
    let facts = host.local_facts()?;
    let meta = std::fs::symlink_metadata(path);
    let text = match (attr, &meta) {
        ("link_target", _) => std::fs::read_link(path)
            .map(|t| t.to_string_lossy().trim().to_string())
            .unwrap_or_default(),
        (_, Err(_)) => String::new(),
        ("size", Ok(m)) => return Some(Value::Int(i64::try_from(m.len()).unwrap_or(i64::MAX))),
        ("mode", Ok(m)) => format!("{:o}", m.permissions().mode() & 0o7777),
        ("owner", Ok(m)) => name_or_unknown(facts.accounts()?.user_name(m.uid()), m.uid())?,
        ("group", Ok(m)) => name_or_unknown(facts.accounts()?.group_name(m.gid()), m.gid())?,
        _ => return None,
    };
    Some(match attr {
        "size" => Value::Int(0),
        _ => Value::Str(text),
    })
}

/// stat's `%U`/`%G`: the name, or `UNKNOWN` (ids nss-systemd would name
/// are left to the command).
fn name_or_unknown(name: Option<&str>, id: u32) -> Option<String> {
    match name {
        Some(n) => Some(n.to_string()),
        None if id == 0 || id == 65534 => None,
        None => Some("UNKNOWN".into()),
    }
}

/// `test x"$(readlink FILE)" = xTARGET`.
pub fn linked_to(host: &Host, path: &str, target: &str) -> Option<bool> {
    host.local_facts()?;
    let link = std::fs::read_link(path)
        .map(|t| t.to_string_lossy().into_owned())
        .unwrap_or_default();
    Some(link.trim_end_matches('\n') == target)
}

/// `contain(PATTERN)` with its optional `from`/`to` sed addresses.
pub fn file_contains(
    host: &Host,
    path: &str,
    pattern: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Option<bool> {
    host.local_facts()?;
    let re = SimpleBre::new(pattern)?;
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(_) => return Some(false),
    };
    // grep's `.` never matches a byte that is not UTF-8: leave that to grep.
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => return None,
    };
    let all = lines(&text);
    let (from_s, to_s) = (from.unwrap_or("1"), to.unwrap_or("$"));
    if from.is_none() && to.is_none() {
        return Some(contains(&all, &re, pattern));
    }
    let (from_a, to_a) = (Addr::parse(from_s)?, Addr::parse(to_s)?);
    let mut picked = sed_range(&all, &from_a, &to_a);
    if from_s != "1" && to_s != "$" {
        picked = sed_range(&picked, &Addr::Line(1), &to_a);
    }
    Some(contains(&picked, &re, pattern))
}

/// `grep -w -- PATTERN FILE` succeeds.
pub fn file_has_word(host: &Host, path: &str, pattern: &str) -> Option<bool> {
    host.local_facts()?;
    let re = SimpleBre::new(pattern)?;
    let Ok(text) = std::fs::read_to_string(path) else {
        // Missing or unreadable: grep fails. Not UTF-8: leave it to grep.
        return std::fs::metadata(path).is_err().then_some(false);
    };
    let mut any = false;
    for line in lines(&text) {
        any |= re.is_word_match(line)?;
    }
    Some(any)
}

/// `grep -w -- KEY ~USER/.ssh/authorized_keys`.
pub fn authorized_key(host: &Host, user: &str, key: &str) -> Option<bool> {
    let acc = host.local_facts()?.accounts()?;
    if !plain_word(user) {
        return None;
    }
    let home = &acc.user(user)?.home;
    file_has_word(host, &format!("{home}/.ssh/authorized_keys"), key)
}

/// `getent group NAME | cut -f 3 -d ':'`, as Ruby's `to_i` of it.
pub fn group_gid(host: &Host, name: &str) -> Option<Value> {
    let acc = host.local_facts()?.accounts()?;
    if !plain_word(name) {
        return None;
    }
    match acc.group(name) {
        Some(g) => Some(Value::Int(i64::from(g.gid))),
        None if synthesized(name) => None,
        None => Some(Value::Int(0)),
    }
}

/// `ps aux | grep -w -- NAME | grep -v grep | wc -l`.
pub fn process_count(host: &Host, name: &str) -> Option<usize> {
    let procs = host.local_facts()?.processes()?;
    super::ps::safe_name(name).then(|| super::ps::count(procs, name))
}

/// `ps -C NAME -o COLUMN= | head -1`, trimmed (`pid`, `user`, `args`).
pub fn process_column(host: &Host, name: &str, col: &str) -> Option<String> {
    super::ps::column(host.local_facts()?.processes()?, name, col)
}

/// `ps -C NAME -o pid= | head -1` prints something.
pub fn process_running(host: &Host, name: &str) -> Option<bool> {
    super::ps::by_comm(host.local_facts()?.processes()?, name)
}

/// `systemctl is-active NAME` where systemd is not the init system (no
/// `/run/systemd/system`): systemctl cannot reach a manager and exits 1
/// (127 from the shell when it is not installed).
pub fn systemctl_is_active_status(host: &Host, name: &str) -> Option<i64> {
    host.local_facts()?;
    if !plain_word(name) || std::path::Path::new("/run/systemd/system").exists() {
        return None;
    }
    Some(if host.has_program("systemctl") {
        1
    } else {
        127
    })
}

/// `ls /etc/rc[S5].d/S??NAME`: an entry of either directory is `S`, two
/// characters, then NAME.
pub fn rc_link(host: &Host, name: &str) -> Option<bool> {
    host.local_facts()?;
    if !plain_word(name) || name.contains('/') {
        return None;
    }
    Some(["/etc/rcS.d", "/etc/rc5.d"].iter().any(|dir| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let f = e.file_name();
                let f = f.to_string_lossy();
                let mut chars = f.chars();
                chars.next() == Some('S')
                    && chars.next().is_some()
                    && chars.next().is_some()
                    && chars.as_str() == name
            })
        })
    }))
}

/// A check that needs `program` fails when it is not installed.
pub fn fails_without(host: &Host, program: &str) -> Option<bool> {
    host.local_facts()?;
    (!host.has_program(program)).then_some(false)
}

/// `openssl x509 -in FILE …` fails on a file that does not exist.
pub fn certificate_missing(host: &Host, path: &str) -> Option<bool> {
    host.local_facts()?;
    if std::fs::metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        return Some(false);
    }
    fails_without(host, "openssl")
}
