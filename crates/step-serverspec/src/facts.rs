//! Facts about a host and the parsers that read them from the formats the
//! host itself uses: `/proc/net/{tcp,tcp6,udp,udp6}`, `/proc/<pid>/status`
//! and `cmdline`, `/etc/passwd`, `/etc/group`, dpkg's status database,
//! `stat -c`, `docker inspect` JSON and HTTP response heads from curl or
//! wget. Local checks read the same files in-process; remote checks fetch
//! their text over ssh or docker exec; both end up here, so a spec means
//! the same thing on every backend.
//!
//! Everything here parses untrusted text: malformed lines are skipped, never
//! a panic.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::Value;

/// A socket that listens (TCP) or is bound (UDP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    /// `tcp`, `tcp6`, `udp` or `udp6` (the /proc/net file it came from).
    pub proto: &'static str,
    /// The local address (IPv4-mapped IPv6 addresses as IPv4).
    pub addr: IpAddr,
    /// The local port.
    pub port: u16,
}

/// TCP_LISTEN in /proc/net/tcp's `st` column.
const TCP_LISTEN: &str = "0A";

/// Parses one `/proc/net/<proto>` table. TCP sockets count when they listen;
/// UDP sockets when they are bound (UDP has no listen state). Addresses are
/// read as the little-endian words every common Linux architecture prints.
pub fn parse_proc_net(proto: &'static str, text: &str) -> Vec<Socket> {
    let udp = proto.starts_with("udp");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split_whitespace();
            let _slot = cols.next()?;
            let local = cols.next()?;
            let _remote = cols.next()?;
            let state = cols.next()?;
            if !udp && state != TCP_LISTEN {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            Some(Socket {
                proto,
                addr: parse_hex_addr(addr)?,
                port: u16::from_str_radix(port, 16).ok()?,
            })
        })
        .collect()
}

fn parse_hex_addr(hex: &str) -> Option<IpAddr> {
    let word = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::to_le_bytes);
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(hex)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(hex.get(i * 8..i * 8 + 8)?)?);
            }
            let v6 = Ipv6Addr::from(bytes);
            Some(match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            })
        }
        _ => None,
    }
}

/// One process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcInfo {
    /// Its id.
    pub pid: u32,
    /// The kernel's short name (`Name:` in status; at most 15 characters).
    pub name: String,
    /// Real user id.
    pub uid: Option<u32>,
    /// The command line, arguments separated by spaces.
    pub args: String,
}

impl ProcInfo {
    /// Whether this process is "called" `name`: its short name, the base
    /// name of its program, or (for names the kernel cut to 15 characters)
    /// a prefix match.
    pub fn is_named(&self, name: &str) -> bool {
        if self.name == name {
            return true;
        }
        let program = self.args.split(' ').next().unwrap_or("");
        let base = program.rsplit('/').next().unwrap_or(program);
        if base == name || base.trim_end_matches(':') == name {
            return true;
        }
        name.len() > 15 && self.name.len() == 15 && name.starts_with(&self.name)
    }
}

/// Reads `Name:` and `Uid:` from a `/proc/<pid>/status` text.
pub fn parse_status(text: &str) -> (Option<String>, Option<u32>) {
    let mut name = None;
    let mut uid = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Name:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Uid:") {
            uid = v.split_whitespace().next().and_then(|u| u.parse().ok());
        }
        if name.is_some() && uid.is_some() {
            break;
        }
    }
    (name, uid)
}

/// A `/proc/<pid>/cmdline` (NUL-separated) as one line.
pub fn cmdline_text(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.trim_end_matches('\0').replace('\0', " ")
}

/// Parses the remote process listing: `grep -H '^(Name|Uid):' /proc/*/status`
/// lines, plus `head -v -c N /proc/*/cmdline` output.
pub fn parse_remote_processes(status_lines: &str, cmdlines: &str) -> Vec<ProcInfo> {
    let mut procs: std::collections::BTreeMap<u32, ProcInfo> = Default::default();
    for line in status_lines.lines() {
        let Some(rest) = line.strip_prefix("/proc/") else {
            continue;
        };
        let Some((pid, rest)) = rest.split_once("/status:") else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let entry = procs.entry(pid).or_insert_with(|| ProcInfo {
            pid,
            name: String::new(),
            uid: None,
            args: String::new(),
        });
        let (name, uid) = parse_status(rest);
        if let Some(n) = name {
            entry.name = n;
        }
        if uid.is_some() {
            entry.uid = uid;
        }
    }
    // head's separators: "==> /proc/<pid>/cmdline <==\n", preceded by "\n"
    // for every file after the first.
    let mut rest = cmdlines;
    while let Some(start) = rest.find("==> /proc/") {
        let after = &rest[start + "==> /proc/".len()..];
        let Some((pid, after)) = after.split_once("/cmdline <==\n") else {
            break;
        };
        let end = after.find("\n==> /proc/").unwrap_or(after.len());
        if let Some(entry) = pid.parse::<u32>().ok().and_then(|pid| procs.get_mut(&pid)) {
            entry.args = cmdline_text(&after.as_bytes()[..end]);
        }
        rest = &after[end..];
    }
    procs.into_values().filter(|p| !p.name.is_empty()).collect()
}

/// A line of `/etc/passwd`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswdEntry {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
}

/// Parses `/etc/passwd`.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 || f[0].starts_with('#') {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
                shell: f[6].to_string(),
            })
        })
        .collect()
}

/// A line of `/etc/group`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEntry {
    /// Group name.
    pub name: String,
    /// Group id.
    pub gid: u32,
    /// Supplementary members.
    pub members: Vec<String>,
}

/// Parses `/etc/group`.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 4 || f[0].starts_with('#') {
                return None;
            }
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(String::from)
                    .collect(),
            })
        })
        .collect()
}

/// Users and groups of a host, with lookups.
#[derive(Clone, Debug, Default)]
pub struct Accounts {
    /// `/etc/passwd`.
    pub users: Vec<PasswdEntry>,
    /// `/etc/group`.
    pub groups: Vec<GroupEntry>,
}

impl Accounts {
    /// The user with this name.
    pub fn user(&self, name: &str) -> Option<&PasswdEntry> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The name of a user id.
    pub fn user_name(&self, uid: u32) -> Option<&str> {
        self.users
            .iter()
            .find(|u| u.uid == uid)
            .map(|u| u.name.as_str())
    }

    /// The group with this name.
    pub fn group(&self, name: &str) -> Option<&GroupEntry> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The name of a group id.
    pub fn group_name(&self, gid: u32) -> Option<&str> {
        self.groups
            .iter()
            .find(|g| g.gid == gid)
            .map(|g| g.name.as_str())
    }

    /// Names of every group a user belongs to: the primary one, then the
    /// supplementary ones in file order.
    pub fn groups_of(&self, user: &PasswdEntry) -> Vec<String> {
        let mut names = Vec::new();
        if let Some(g) = self.group_name(user.gid) {
            names.push(g.to_string());
        }
        for g in &self.groups {
            if g.members.iter().any(|m| m == &user.name) && !names.contains(&g.name) {
                names.push(g.name.clone());
            }
        }
        names
    }
}

/// A package in dpkg's database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageInfo {
    /// Its name.
    pub name: String,
    /// The `Status:` field ("install ok installed").
    pub status: String,
    /// Its version.
    pub version: String,
}

impl PackageInfo {
    /// Whether it is installed (not merely known or half-configured).
    pub fn installed(&self) -> bool {
        self.status.split_whitespace().last() == Some("installed")
    }
}

/// Parses `/var/lib/dpkg/status` into packages by name (an installed
/// architecture wins over one that is only known).
pub fn parse_dpkg_status(text: &str) -> HashMap<String, PackageInfo> {
    let mut all: HashMap<String, PackageInfo> = HashMap::new();
    let mut add = |p: PackageInfo| {
        let keep_old = all
            .get(&p.name)
            .is_some_and(|old| old.installed() && !p.installed());
        if !keep_old {
            all.insert(p.name.clone(), p);
        }
    };
    let mut cur: Option<PackageInfo> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            if let Some(p) = cur.take() {
                add(p);
            }
            continue;
        }
        if let Some(v) = line.strip_prefix("Package:") {
            if let Some(p) = cur.take() {
                add(p);
            }
            cur = Some(PackageInfo {
                name: v.trim().to_string(),
                status: String::new(),
                version: String::new(),
            });
        } else if let Some(p) = cur.as_mut() {
            if let Some(v) = line.strip_prefix("Status:") {
                p.status = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("Version:") {
                p.version = v.trim().to_string();
            }
        }
    }
    if let Some(p) = cur.take() {
        add(p);
    }
    all
}

/// Parses `dpkg-query -W -f '${Package}\t${Status}\t${Version}\n'` output.
pub fn parse_dpkg_query(text: &str) -> HashMap<String, PackageInfo> {
    let mut all: HashMap<String, PackageInfo> = HashMap::new();
    for line in text.lines() {
        let mut f = line.split('\t');
        let (Some(name), Some(status), version) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let p = PackageInfo {
            name: name.trim().to_string(),
            status: status.trim().to_string(),
            version: version.unwrap_or("").trim().to_string(),
        };
        let keep_old = all
            .get(&p.name)
            .is_some_and(|old| old.installed() && !p.installed());
        if !keep_old && !p.name.is_empty() {
            all.insert(p.name.clone(), p);
        }
    }
    all
}

/// What `stat` knows about a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// file, directory, symlink, socket, pipe, block_device, character_device.
    pub kind: &'static str,
    /// Permission bits including setuid/setgid/sticky (`0o7777` part of the mode).
    pub mode: u32,
    /// Owner's user id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Owner's name, when the host knows it.
    pub owner: Option<String>,
    /// Group's name, when the host knows it.
    pub group: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// The content, when asked for (or why it could not be read).
    pub content: Option<Result<String, String>>,
    /// A symlink's target, when asked for.
    pub link_target: Option<String>,
}

/// The type name of a raw `st_mode`.
pub fn kind_of_mode(mode: u32) -> &'static str {
    match mode & 0o170000 {
        0o040000 => "directory",
        0o120000 => "symlink",
        0o140000 => "socket",
        0o010000 => "pipe",
        0o060000 => "block_device",
        0o020000 => "character_device",
        _ => "file",
    }
}

/// Parses `stat -c '%f %u %g %s %U %G'` output (raw mode in hex first).
pub fn parse_stat(line: &str) -> Option<FileInfo> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 4 {
        return None;
    }
    let raw = u32::from_str_radix(f[0], 16).ok()?;
    let name = |s: Option<&&str>| {
        s.filter(|s| **s != "UNKNOWN" && !s.is_empty())
            .map(|s| s.to_string())
    };
    Some(FileInfo {
        kind: kind_of_mode(raw),
        mode: raw & 0o7777,
        uid: f[1].parse().ok()?,
        gid: f[2].parse().ok()?,
        size: f[3].parse().ok()?,
        owner: name(f.get(4)),
        group: name(f.get(5)),
        content: None,
        link_target: None,
    })
}

/// What `docker inspect` says about a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerInfo {
    /// `State.Running`.
    pub running: bool,
    /// `State.Status` (running, exited, …).
    pub status: String,
    /// `Config.Image`: the image as it was named when the container started.
    pub image: String,
    /// Mounts: (container path, host path).
    pub mounts: Vec<(String, String)>,
}

/// Why `docker inspect`'s output could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DockerInspectError {
    /// The output is not JSON.
    #[error("docker inspect printed no JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    /// JSON, but not a list with at least one object.
    #[error("docker inspect printed an empty list")]
    Empty,
}

/// Parses `docker inspect` output (a JSON array with one object).
pub fn parse_docker_inspect(text: &str) -> Result<ContainerInfo, DockerInspectError> {
    let v: Value = serde_json::from_str(text)?;
    let c = v
        .as_array()
        .and_then(|a| a.first())
        .ok_or(DockerInspectError::Empty)?;
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let mounts = c
        .get("Mounts")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .map(|m| (s(m.get("Destination")), s(m.get("Source"))))
                .collect()
        })
        .unwrap_or_default();
    Ok(ContainerInfo {
        running: c
            .pointer("/State/Running")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        status: s(c.pointer("/State/Status")),
        image: s(c.pointer("/Config/Image")),
        mounts,
    })
}

/// An HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl HttpResponse {
    /// A header's value (several are joined with ", ").
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

/// Parses an HTTP head: status line and headers (lines may end in CRLF).
fn parse_head(head: &str) -> Option<(u16, Vec<(String, String)>)> {
    let mut lines = head.lines().map(|l| l.trim_end_matches('\r'));
    let status_line = lines.next()?.trim();
    if !status_line.starts_with("HTTP/") {
        return None;
    }
    let status = status_line.split_whitespace().nth(1)?.parse::<u16>().ok()?;
    let headers = lines
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    Some((status, headers))
}

/// Parses `curl -sS -i` output: one or more heads (1xx heads first), then the body.
pub fn parse_curl_response(out: &str) -> Option<HttpResponse> {
    let mut rest = out;
    loop {
        let (head, body) = match rest.find("\r\n\r\n") {
            Some(i) => (&rest[..i], &rest[i + 4..]),
            None => match rest.find("\n\n") {
                Some(i) => (&rest[..i], &rest[i + 2..]),
                None => (rest, ""),
            },
        };
        let (status, headers) = parse_head(head)?;
        if (100..200).contains(&status) && body.starts_with("HTTP/") {
            rest = body;
            continue;
        }
        return Some(HttpResponse {
            status,
            headers,
            body: body.to_string(),
        });
    }
}

/// Parses busybox or GNU `wget -S` stderr (heads indented by two spaces);
/// the last head wins (redirects).
pub fn parse_wget_head(stderr: &str) -> Option<(u16, Vec<(String, String)>)> {
    let mut last: Option<(u16, Vec<(String, String)>)> = None;
    for line in stderr.lines() {
        let Some(l) = line.strip_prefix("  ") else {
            continue;
        };
        let l = l.trim_end_matches('\r');
        if l.starts_with("HTTP/") {
            let status = l
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<u16>().ok());
            if let Some(status) = status {
                last = Some((status, Vec::new()));
            }
        } else if let (Some((_, headers)), Some((n, v))) = (last.as_mut(), l.split_once(':')) {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_tables() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:A2B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0\n";
        let s = parse_proc_net("tcp", tcp);
        assert_eq!(
            s,
            vec![Socket {
                proto: "tcp",
                addr: "127.0.0.1".parse().unwrap(),
                port: 8080
            }]
        );
        let tcp6 = "hdr\n   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A x\n   1: 0000000000000000FFFF00000100007F:0050 00000000000000000000000000000000:0000 0A x\n   2: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 0A x\n";
        let s = parse_proc_net("tcp6", tcp6);
        assert_eq!(s[0].addr, "::".parse::<IpAddr>().unwrap());
        assert_eq!(s[0].port, 22);
        assert_eq!(s[1].addr, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(s[2].addr, "::1".parse::<IpAddr>().unwrap());
        let udp = "hdr\n  1: 00000000:0044 00000000:0000 07 x\n";
        assert_eq!(parse_proc_net("udp", udp)[0].port, 68);
        assert!(parse_proc_net("tcp", "hdr\ngarbage\n  0: zz:zz 0 0A\n").is_empty());
    }

    #[test]
    fn remote_process_listing() {
        let status = "/proc/1/status:Name:\tsh\n/proc/1/status:Uid:\t0\t0\t0\t0\n/proc/9/status:Name:\thttpd\n/proc/9/status:Uid:\t33\t33\t33\t33\n";
        let cmd = "==> /proc/1/cmdline <==\nsh\0-c\0sleep 1\0\n==> /proc/9/cmdline <==\n/usr/sbin/httpd\0-p\08080\0";
        let p = parse_remote_processes(status, cmd);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].args, "sh -c sleep 1");
        assert_eq!(p[1].uid, Some(33));
        assert_eq!(p[1].args, "/usr/sbin/httpd -p 8080");
        assert!(p[1].is_named("httpd"));
        let long = ProcInfo {
            pid: 1,
            name: "marathon-server".into(),
            uid: None,
            args: "java".into(),
        };
        assert!(long.is_named("marathon-server-main"));
    }

    #[test]
    fn accounts_and_packages() {
        let acc = Accounts {
            users: parse_passwd(
                "root:x:0:0:root:/root:/bin/bash\n# c\nbad\nwww:x:33:33::/var/www:/usr/sbin/nologin\n",
            ),
            groups: parse_group("root:x:0:\nwww:x:33:\ndocker:x:999:www,root\n"),
        };
        assert_eq!(acc.users.len(), 2);
        let www = acc.user("www").unwrap();
        assert_eq!(acc.groups_of(www), vec!["www", "docker"]);
        let dpkg = parse_dpkg_status(
            "Package: a\nStatus: install ok installed\nVersion: 1.0\n\nPackage: b\nStatus: deinstall ok config-files\nVersion: 2\n",
        );
        assert!(dpkg["a"].installed());
        assert!(!dpkg["b"].installed());
        let q = parse_dpkg_query("a\tinstall ok installed\t1.0\nb\tunknown ok not-installed\t\n");
        assert!(q["a"].installed() && !q["b"].installed());
    }

    #[test]
    fn stat_inspect_and_http_heads() {
        let f = parse_stat("81a4 0 0 30 root root").unwrap();
        assert_eq!((f.kind, f.mode, f.size), ("file", 0o644, 30));
        assert_eq!(
            parse_stat("41ed 1000 1000 4096 UNKNOWN UNKNOWN")
                .unwrap()
                .owner,
            None
        );
        assert!(parse_stat("garbage").is_none());
        let c = parse_docker_inspect(r#"[{"State":{"Running":true,"Status":"running"},"Config":{"Image":"busybox"},"Mounts":[{"Source":"/h","Destination":"/store"}]}]"#).unwrap();
        assert_eq!(c.mounts, vec![("/store".into(), "/h".into())]);
        assert!(matches!(
            parse_docker_inspect("[]"),
            Err(DockerInspectError::Empty)
        ));
        assert!(matches!(
            parse_docker_inspect("nope"),
            Err(DockerInspectError::NotJson(_))
        ));
        let r = parse_curl_response("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}").unwrap();
        assert_eq!(
            (
                r.status,
                r.header("content-type").as_deref(),
                r.body.as_str()
            ),
            (200, Some("application/json"), "{\"a\":1}")
        );
        let (s, h) = parse_wget_head("  HTTP/1.1 301 Moved\n  Location: /x\n  HTTP/1.1 404 Not Found\n  Server: b\nwget: server returned error").unwrap();
        assert_eq!((s, h.len()), (404, 1));
    }
}
