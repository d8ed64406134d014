//! In-process answers on this machine for the checks spec files make most
//! (accounts, dpkg packages), read from the same files the commands read.
//! They are used only where they cannot differ from specinfra's command:
//! name service lookups must come from files alone (`/etc/nsswitch.conf`),
//! and arguments must be plain words, so that `grep`'s pattern syntax and
//! `id`'s numeric lookups never come into play. Anything else runs the
//! command.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::facts::{Accounts, PackageInfo, parse_dpkg_status, parse_group, parse_passwd};

/// Account and package tables of this machine, read once per run.
#[derive(Default)]
pub struct LocalFacts {
    accounts: OnceLock<Option<Accounts>>,
    packages: OnceLock<Option<HashMap<String, PackageInfo>>>,
    processes: OnceLock<Option<Vec<super::ps::PsLine>>>,
}

/// Whether `text` is a plain word (no pattern syntax, not a number).
pub fn plain_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'/')
        && !text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `db` is looked up in files only. `systemd` counts as files when
/// no systemd user database runs (`/run/systemd/userdb` absent): nss-systemd
/// then only makes up `root` and `nobody`, which [`synthesized`] leaves to
/// the command.
fn files_only(db: &str, nsswitch: &str, userdb: bool) -> bool {
    nsswitch
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{db}:")))
        .is_some_and(|sources| {
            sources
                .split_whitespace()
                .all(|s| s == "files" || s == "compat" || (s == "systemd" && !userdb))
        })
}

/// Names nss-systemd answers for even without a user database.
pub fn synthesized(name: &str) -> bool {
    matches!(name, "root" | "nobody" | "nogroup")
}

impl LocalFacts {
    /// Users and groups, when the name service reads only files.
    pub fn accounts(&self) -> Option<&Accounts> {
        self.accounts
            .get_or_init(|| {
                let ns = std::fs::read_to_string("/etc/nsswitch.conf").ok()?;
                let userdb = std::path::Path::new("/run/systemd/userdb").exists();
                if !files_only("passwd", &ns, userdb) || !files_only("group", &ns, userdb) {
                    return None;
                }
                Some(Accounts {
                    users: parse_passwd(&std::fs::read_to_string("/etc/passwd").ok()?),
                    groups: parse_group(&std::fs::read_to_string("/etc/group").ok()?),
                })
            })
            .as_ref()
    }

    /// The process table as `ps aux` shows it, read once per run (as the
    /// per-run command cache would keep `ps`'s answer), when user names
    /// come from files alone.
    pub fn processes(&self) -> Option<&Vec<super::ps::PsLine>> {
        self.processes
            .get_or_init(|| self.accounts().map(super::ps::read))
            .as_ref()
    }

    /// dpkg's packages by name.
    pub fn packages(&self) -> Option<&HashMap<String, PackageInfo>> {
        self.packages
            .get_or_init(|| {
                std::fs::read_to_string("/var/lib/dpkg/status")
                    .ok()
                    .map(|t| parse_dpkg_status(&t))
            })
            .as_ref()
    }
}

/// `grep -w -- word`: `word` occurs in `text` between non-word characters.
pub fn grep_word(text: &str, word: &str) -> bool {
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    text.lines().any(|line| {
        line.match_indices(word).any(|(i, _)| {
            !is_word(line[..i].chars().next_back())
                && !is_word(line[i + word.len()..].chars().next())
        })
    })
}

/// `id USER`'s groups list (`0(root),4(adm)`): the primary group, then the
/// supplementary ones in file order.
pub fn id_groups(accounts: &Accounts, user: &str) -> Option<String> {
    let entry = accounts.user(user)?;
    let mut parts = vec![format!(
        "{}({})",
        entry.gid,
        accounts.group_name(entry.gid).unwrap_or("")
    )];
    for g in &accounts.groups {
        if g.gid != entry.gid && g.members.iter().any(|m| m == user) {
            parts.push(format!("{}({})", g.gid, g.name));
        }
    }
    Some(parts.join(","))
}

/// Whether a socket listens on `port` as `ss -tunl` (or `-tnl4`, `-unl6`, …)
/// lists it: TCP sockets in LISTEN, UDP sockets unconnected, from the
/// /proc/net tables of the protocols asked for (`None`: all four).
pub fn listening(port: u16, proto: Option<&str>) -> Option<bool> {
    let files: &[&str] = match proto {
        Some("tcp") => &["tcp"],
        Some("tcp6") => &["tcp6"],
        Some("udp") => &["udp"],
        Some("udp6") => &["udp6"],
        None => &["tcp", "tcp6", "udp", "udp6"],
        Some(_) => return None,
    };
    let mut found = false;
    let mut files = files.to_vec();
    // TCP from sock_diag (the listening table only), as ss does.
    if let Ok(tcp) = crate::netdiag::listening_tcp() {
        found = tcp
            .iter()
            .any(|s| s.port == port && files.contains(&s.proto));
        files.retain(|f| f.starts_with("udp"));
    }
    for f in files {
        // A missing table (no IPv6) lists nothing, as ss shows nothing.
        let Ok(text) = std::fs::read_to_string(format!("/proc/net/{f}")) else {
            continue;
        };
        let wanted = if f.starts_with("tcp") { "0A" } else { "07" };
        found |= text.lines().skip(1).any(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            cols.len() > 3
                && cols[3] == wanted
                && cols[1]
                    .rsplit_once(':')
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                    == Some(port)
        });
    }
    Some(found)
}

/// `ss -tnl4 | grep -E -- ' ADDR:PORT '` (with ` \*:PORT ` as well for
/// 0.0.0.0): an IPv4 TCP socket listens on that address and port, bound to
/// no device (ss would print `ADDR%dev:PORT`, which the pattern misses).
/// Only `tcp` with an IPv4 address; sock_diag must answer.
pub fn listening_on(port: u16, proto: Option<&str>, addr: &str) -> Option<bool> {
    if proto != Some("tcp") {
        return None;
    }
    let want: std::net::Ipv4Addr = addr.parse().ok()?;
    let sockets = crate::netdiag::listening_tcp4_with_device().ok()?;
    Some(
        sockets.iter().any(|(s, device)| {
            s.port == port && s.addr == std::net::IpAddr::V4(want) && *device == 0
        }),
    )
}

/// Whether `name` is a plain kernel name (`net.ipv4.ip_forward`, `lo`, `nf_nat`).
pub fn kernel_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && !name.starts_with('.')
        && !name.contains("..")
}

/// `/sbin/sysctl -q -n NAME`: the value under /proc/sys, trimmed (empty when
/// there is none, as sysctl then prints nothing on stdout).
pub fn sysctl(name: &str) -> Option<String> {
    if !kernel_name(name) {
        return None;
    }
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    Some(
        std::fs::read_to_string(path)
            .map(|v| v.trim().to_string())
            .unwrap_or_default(),
    )
}

/// `lsmod | grep ^NAME`: a line of lsmod's output (its header, then one
/// module per line from /proc/modules) starts with NAME.
pub fn module_loaded(name: &str) -> Option<bool> {
    if !kernel_name(name) || name.contains('.') {
        return None;
    }
    if "Module".starts_with(name) {
        return None;
    }
    // Without /proc/modules lsmod lists nothing (or is not installed).
    let modules = std::fs::read_to_string("/proc/modules").unwrap_or_default();
    Some(modules.lines().any(|l| l.starts_with(name)))
}

/// `mount | grep -- 'on PATH '`: PATH is a mount point.
pub fn mounted(path: &str) -> Option<bool> {
    if path.bytes().any(|b| b.is_ascii_whitespace() || b == b'\\') {
        return None;
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    Some(
        mounts
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(path)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_matches_follow_grep_w() {
        assert!(grep_word("/bin/bash", "/bin/bash"));
        assert!(grep_word("/usr/bin/bash", "bash"));
        assert!(!grep_word("/bin/bashful", "bash"));
        assert!(plain_word("daemon"));
        assert!(!plain_word("0"));
        assert!(!plain_word("a.b"));
        let ns = "passwd: files\ngroup: files systemd\n";
        assert!(files_only("passwd", ns, true));
        assert!(!files_only("group", ns, true));
        assert!(files_only("group", ns, false));
        assert!(!files_only("hosts", ns, false));
    }
}
