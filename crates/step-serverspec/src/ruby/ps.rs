//! `ps` on this machine, from /proc: the process checks specinfra makes
//! (`ps aux | grep -w -- NAME | grep -v grep`, `ps -C NAME -o pid=`) and the
//! `ps` fallback of `be_running` where no init system answers.
//!
//! `ps aux` prints, per process, USER PID %CPU %MEM VSZ RSS TTY STAT START
//! TIME COMMAND, and `grep -w` looks for NAME anywhere on that line. The
//! in-process answer rebuilds the parts a name can match (the user as ps
//! shows it, the command line, `[comm]` for processes without one) and is
//! used only for names that cannot match the other columns (numbers, tty
//! names, state letters, start dates) nor `ps` or `grep` themselves.

use crate::facts::Accounts;

use super::local::{grep_word, plain_word};

/// One process as `ps aux` shows the columns a name can match.
#[derive(Clone, Debug)]
pub struct PsLine {
    /// The process id.
    pub pid: u32,
    /// `comm`, the kernel's short name (`ps -C` matches it).
    pub comm: String,
    /// The effective user's whole name (`ps -o user=` alone prints it
    /// uncut), or the uid when it has none.
    pub euser: String,
    /// The USER column (effective user; names over 8 characters cut to 7
    /// and a `+`, as procps prints them).
    pub user: String,
    /// The COMMAND column: the arguments, or `[comm]` when there are none.
    pub command: String,
}

impl PsLine {
    fn text(&self) -> String {
        format!("{} {}", self.user, self.command)
    }
}

/// The process table, read once.
pub fn read(accounts: &Accounts) -> Vec<PsLine> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut procs: Vec<(u32, PsLine)> = dir
        .filter_map(Result::ok)
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            // A process may end between listing and reading: skip it.
            let status = std::fs::read_to_string(e.path().join("status")).ok()?;
            let raw = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let mut line = line_of(&status, &raw, accounts)?;
            line.pid = pid;
            Some((pid, line))
        })
        .collect();
    procs.sort_by_key(|(pid, _)| *pid);
    procs.into_iter().map(|(_, l)| l).collect()
}

fn line_of(status: &str, cmdline: &[u8], accounts: &Accounts) -> Option<PsLine> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    let comm = field("Name:")?.to_string();
    let euid: u32 = field("Uid:")?.split_whitespace().nth(1)?.parse().ok()?;
    let zombie = field("State:").is_some_and(|s| s.starts_with('Z'));
    let euser = accounts
        .user_name(euid)
        .map_or_else(|| euid.to_string(), str::to_string);
    let user = match accounts.user_name(euid) {
        Some(n) if n.chars().count() > 8 => format!("{}+", n.chars().take(7).collect::<String>()),
        Some(n) => n.to_string(),
        None => euid.to_string(),
    };
    let args = String::from_utf8_lossy(cmdline)
        .trim_end_matches('\0')
        .replace('\0', " ");
    let command = match (args.is_empty(), zombie) {
        (true, true) => format!("[{comm}] <defunct>"),
        (true, false) => format!("[{comm}]"),
        (false, _) => args,
    };
    Some(PsLine {
        pid: 0,
        comm,
        euser,
        user,
        command,
    })
}

/// Whether `name` can only match the USER and COMMAND columns of `ps aux`.
pub fn safe_name(name: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    plain_word(name)
        && !name.bytes().all(|b| b"DIRSTtWXZNLsl".contains(&b))
        && !name.starts_with("pts")
        && !name.starts_with("tty")
        && !MONTHS.iter().any(|m| name.starts_with(m))
        && !matches!(name, "ps" | "aux" | "grep")
        && !super::local::synthesized(name)
}

/// `ps aux | grep -w -- NAME | grep -v grep | wc -l`.
pub fn count(procs: &[PsLine], name: &str) -> usize {
    procs
        .iter()
        .map(PsLine::text)
        .filter(|t| grep_word(t, name) && !t.contains("grep"))
        .count()
}

/// `ps -C NAME -o pid= | head -1` prints something: a process's `comm` is
/// NAME (procps compares at most 15 characters, the length of `comm`, so a
/// longer NAME matches on its first 15).
pub fn by_comm(procs: &[PsLine], name: &str) -> Option<bool> {
    let key = name.get(..name.len().min(15))?;
    plain_word(name).then(|| procs.iter().any(|p| p.comm == key))
}

/// `ps -C NAME -o COLUMN= | head -1` for the columns `pid`, `user` and
/// `args`: the first process by pid whose `comm` matches (empty when none).
pub fn column(procs: &[PsLine], name: &str, col: &str) -> Option<String> {
    let key = name.get(..name.len().min(15))?;
    if !plain_word(name) || !matches!(col, "pid" | "user" | "args") {
        return None;
    }
    Some(
        procs
            .iter()
            .find(|p| p.comm == key)
            .map(|p| match col {
                "pid" => p.pid.to_string(),
                "user" => p.euser.clone(),
                _ => p.command.clone(),
            })
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{parse_group, parse_passwd};

    fn accounts() -> Accounts {
        Accounts {
            users: parse_passwd(
                "root:x:0:0:root:/root:/bin/bash\nsystemd-resolve:x:990:990::/:/usr/sbin/nologin\n",
            ),
            groups: parse_group("root:x:0:\n"),
        }
    }

    #[test]
    fn lines_read_like_ps_aux() {
        let status = "Name:\tsshd\nState:\tS (sleeping)\nUid:\t0\t990\t0\t0\n";
        let l = line_of(status, b"/usr/sbin/sshd\0-D\0", &accounts()).expect("a line");
        assert_eq!(l.user, "systemd+");
        assert_eq!(l.euser, "systemd-resolve");
        assert_eq!(l.command, "/usr/sbin/sshd -D");
        let k = line_of("Name:\tkthreadd\nUid:\t0\t0\t0\t0\n", b"", &accounts()).expect("kernel");
        assert_eq!(
            (k.user.as_str(), k.command.as_str()),
            ("root", "[kthreadd]")
        );
        let procs = vec![l, k];
        assert_eq!(count(&procs, "sshd"), 1);
        assert_eq!(count(&procs, "systemd"), 1);
        assert_eq!(count(&procs, "kthreadd"), 1);
        assert_eq!(count(&procs, "ssh"), 0);
        assert_eq!(by_comm(&procs, "sshd"), Some(true));
        assert_eq!(by_comm(&procs, "ssh"), Some(false));
        assert_eq!(
            column(&procs, "sshd", "user").as_deref(),
            Some("systemd-resolve")
        );
        assert_eq!(
            column(&procs, "sshd", "args").as_deref(),
            Some("/usr/sbin/sshd -D")
        );
        assert_eq!(column(&procs, "nginx", "pid").as_deref(), Some(""));
        assert_eq!(column(&procs, "sshd", "rss"), None);
        assert_eq!(by_comm(&procs, "a-very-long-process-name"), Some(false));
        let long = line_of(
            "Name:\tabcdefghijklmno\nUid:\t0\t0\t0\t0\n",
            b"x",
            &accounts(),
        );
        let long = vec![long.expect("a line")];
        assert_eq!(by_comm(&long, "abcdefghijklmnopq"), Some(true));
        assert_eq!(by_comm(&long, "abcdefghijklmn"), Some(false));
    }

    #[test]
    fn names_that_could_match_other_columns_are_left_to_ps() {
        assert!(safe_name("nginx"));
        assert!(!safe_name("Ss"));
        assert!(!safe_name("pts/0"));
        assert!(!safe_name("Nov30"));
        assert!(!safe_name("1234"));
        assert!(!safe_name("grep"));
    }
}
