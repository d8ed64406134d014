//! Observing resources of a remote host (ssh) or a container (docker exec)
//! in batches: many checks become one POSIX `sh` script, run with one
//! invocation, whose output is a series of sections marked with a random
//! token. The script uses only what a minimal Linux (busybox included) has:
//! `cat`, `stat`, `grep`, `head`, `readlink`, `timeout` when present, curl or
//! wget for HTTP, bash or nc for TCP connects. Nothing is installed on the
//! target. The sections are parsed with the same parsers as local facts.
//!
//! Every value from a spec enters the script through
//! [`step_core::backend::shell_quote`], so it is data, never shell syntax —
//! except a `command:` written as one line, which is a shell command line by
//! definition (as serverspec's `command`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use step_core::StepContext;
use step_core::backend::{Backend, shell_quote};
use step_core::process::ProcessError;

use crate::check::{Check, Resource};
use crate::facts::{
    Accounts, HttpResponse, PackageInfo, parse_curl_response, parse_dpkg_query, parse_dpkg_status,
    parse_group, parse_passwd, parse_proc_net, parse_remote_processes, parse_stat, parse_wget_head,
};
use crate::local::{MAX_CONTENT, container_from_inspect};
use crate::observe::{
    CommandOutput, Observation, ServiceInfo, observe_group, observe_port, observe_process,
    observe_user,
};

/// Largest script sent in one invocation; the whole script is one argument
/// and Linux limits a single argument to 128 KiB.
pub const MAX_SCRIPT: usize = 60 * 1024;

/// How much of the batch's output is kept.
const OUTPUT_LIMIT: usize = 256 * 1024 * 1024;

/// Where remote checks run: a backend and a host (or container).
#[derive(Clone, Debug)]
pub struct RemoteTarget {
    /// ssh or docker.
    pub backend: Backend,
    /// Host name, address, or container.
    pub host: String,
}

/// Which host-wide tables a batch needs.
#[derive(Default)]
struct Needs {
    net: bool,
    procs: bool,
    accounts: bool,
    packages: Vec<String>,
}

/// A random marker that no honest output contains.
fn new_token() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    let a = h.finish();
    h.write_u64(a);
    format!("@@stepwise-{a:016x}{:016x}", h.finish())
}

/// The script fragment that observes check number `i`, and what it needs.
fn fragment(i: usize, check: &Check, needs: &mut Needs) -> String {
    let q = |s: &str| shell_quote(s);
    let secs = check.timeout.as_secs().max(1);
    let mut f = String::new();
    match &check.resource {
        Resource::Port { .. } => needs.net = true,
        Resource::Process(_) => {
            needs.procs = true;
            needs.accounts = true;
        }
        Resource::User(_) | Resource::Group(_) => needs.accounts = true,
        Resource::Package(name) => needs.packages.push(name.clone()),
        Resource::File {
            path,
            content,
            link,
        } => {
            let p = q(path);
            let _ = writeln!(
                f,
                "m c{i} stat; stat -c '%f %u %g %s %U %G' -- {p} 2>/dev/null"
            );
            if *link {
                let _ = writeln!(f, "m c{i} link; readlink -- {p} 2>/dev/null");
            }
            if *content {
                let _ = writeln!(
                    f,
                    "m c{i} content; head -c {MAX_CONTENT} < {p} 2>\"$d/e\"; s=$?; m c{i} content-exit; echo $s; cat \"$d/e\""
                );
            }
        }
        Resource::Command(line) => {
            let argv: Vec<String> = line.argv().iter().map(|a| q(a)).collect();
            let _ = writeln!(
                f,
                "lim {secs} {} >\"$d/o\" 2>\"$d/e\" </dev/null; s=$?\nm c{i} exit; echo $s\nm c{i} out; cat \"$d/o\"\nm c{i} err; cat \"$d/e\"",
                argv.join(" ")
            );
        }
        Resource::Service(name) => {
            needs.procs = true;
            let n = q(name);
            let init = q(&format!("/etc/init.d/{name}"));
            let _ = writeln!(
                f,
                "m c{i} svc; if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then echo systemd; \
                 systemctl is-active --quiet -- {n}; echo $?; systemctl is-enabled --quiet -- {n}; echo $?; \
                 elif [ -x {init} ]; then echo sysv; lim {secs} {init} status >/dev/null 2>&1 </dev/null; echo $?; \
                 if ls /etc/rc[2345].d/S[0-9][0-9]{n} >/dev/null 2>&1; then echo 0; else echo 1; fi; \
                 else echo none; fi"
            );
        }
        Resource::Http(req) => {
            let mut curl = format!("curl -sS -i -m {secs} -X {}", q(&req.method));
            // No `-T`: busybox 1.35's wget crashes with it; `lim` bounds it instead.
            let mut wget = format!("lim {secs} wget -S -O \"$d/o\"");
            if req.insecure {
                curl.push_str(" -k");
                wget.push_str(" --no-check-certificate");
            }
            for (k, v) in &req.headers {
                let h = q(&format!("{k}: {v}"));
                let _ = write!(curl, " -H {h}");
                let _ = write!(wget, " --header {h}");
            }
            if let Some(body) = &req.body {
                let _ = write!(curl, " --data-binary {}", q(body));
                let _ = write!(wget, " --post-data {}", q(body));
            }
            let url = q(&req.url);
            let _ = writeln!(
                f,
                "rm -f \"$d/o\" \"$d/e\"\nif command -v curl >/dev/null 2>&1; then {curl} {url} >\"$d/o\" 2>\"$d/e\"; s=\"curl $?\"; \
                 elif command -v wget >/dev/null 2>&1; then {wget} {url} 2>\"$d/e\"; s=\"wget $?\"; else s=none; fi\n\
                 m c{i} http; echo \"$s\"\nm c{i} out; cat \"$d/o\" 2>/dev/null\nm c{i} err; cat \"$d/e\" 2>/dev/null"
            );
        }
        Resource::DockerContainer(name) => {
            let _ = writeln!(
                f,
                "lim {secs} docker inspect --type container -- {} >\"$d/o\" 2>\"$d/e\" </dev/null; s=$?\n\
                 m c{i} docker; echo $s\nm c{i} out; cat \"$d/o\"\nm c{i} err; cat \"$d/e\"",
                q(name)
            );
        }
        Resource::Addr { host, port } => {
            let (h, p) = (q(host), port.to_string());
            let _ = writeln!(
                f,
                "if command -v bash >/dev/null 2>&1; then lim {secs} bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' {h} {p} >/dev/null 2>\"$d/e\" </dev/null; s=\"bash $?\"; \
                 elif command -v nc >/dev/null 2>&1; then lim {secs} nc -w {secs} {h} {p} >/dev/null 2>\"$d/e\" </dev/null; s=\"nc $?\"; else s=none; fi\n\
                 m c{i} addr; echo \"$s\"\nm c{i} err; cat \"$d/e\""
            );
        }
    }
    f
}

/// The whole script for `checks`.
fn script(token: &str, checks: &[&Check]) -> String {
    let mut needs = Needs::default();
    let fragments: Vec<String> = checks
        .iter()
        .enumerate()
        .map(|(i, c)| fragment(i, c, &mut needs))
        .collect();
    let mut s = String::new();
    let _ = writeln!(s, "T={token}");
    s.push_str(
        "m() { printf '\\n%s %s\\n' \"$T\" \"$*\"; }\n\
         d=$(mktemp -d 2>/dev/null) || { d=/tmp/.stepwise.$$; mkdir -p \"$d\"; }\n\
         trap 'rm -rf \"$d\"' EXIT\n\
         if command -v timeout >/dev/null 2>&1; then lim() { timeout \"$@\"; }; else lim() { shift; \"$@\"; }; fi\n\
         m begin\n",
    );
    if needs.net {
        for proto in ["tcp", "tcp6", "udp", "udp6"] {
            let _ = writeln!(s, "m net {proto}; cat /proc/net/{proto} 2>/dev/null");
        }
    }
    if needs.procs {
        s.push_str("m procs; grep -H -E '^(Name|Uid):' /proc/[0-9]*/status 2>/dev/null\n");
        s.push_str("m cmdlines; head -v -c 4096 /proc/[0-9]*/cmdline 2>/dev/null\n");
    }
    if needs.accounts {
        s.push_str("m passwd; cat /etc/passwd 2>/dev/null\nm group; cat /etc/group 2>/dev/null\n");
    }
    if !needs.packages.is_empty() {
        let names: Vec<String> = needs.packages.iter().map(|n| shell_quote(n)).collect();
        let _ = writeln!(
            s,
            "if command -v dpkg-query >/dev/null 2>&1; then m dpkg query; dpkg-query -W -f='${{Package}}\\t${{Status}}\\t${{Version}}\\n' {} 2>/dev/null; \
             elif [ -r /var/lib/dpkg/status ]; then m dpkg status; cat /var/lib/dpkg/status; else m dpkg none; fi",
            names.join(" ")
        );
    }
    for f in fragments {
        s.push_str(&f);
    }
    s.push_str("m end\n");
    s
}

/// Splits checks into batches (of indexes into `checks`) whose scripts stay
/// under [`MAX_SCRIPT`].
pub fn batches(checks: &[&Check]) -> Vec<Vec<usize>> {
    let mut all: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut size = 2048;
    for (i, c) in checks.iter().enumerate() {
        let len = fragment(i, c, &mut Needs::default()).len() + 64;
        if !cur.is_empty() && size + len > MAX_SCRIPT {
            all.push(std::mem::take(&mut cur));
            size = 2048;
        }
        size += len;
        cur.push(i);
    }
    if !cur.is_empty() {
        all.push(cur);
    }
    all
}

/// The sections of a batch's output, by key.
fn sections(token: &str, out: &str) -> HashMap<String, String> {
    let marker = format!("\n{token} ");
    let mut found = HashMap::new();
    let starts: Vec<usize> = out.match_indices(&marker).map(|(i, _)| i).collect();
    for (n, &start) in starts.iter().enumerate() {
        let after = &out[start + marker.len()..];
        let end = starts.get(n + 1).map_or(out.len(), |&e| e) - (start + marker.len());
        let body = &after[..end];
        let (key, content) = body.split_once('\n').unwrap_or((body, ""));
        found.insert(key.to_string(), content.to_string());
    }
    found
}

/// Observes `checks` on the target with one script invocation.
pub async fn observe_batch(
    target: &RemoteTarget,
    cx: &StepContext,
    checks: &[&Check],
) -> Vec<Result<Observation, String>> {
    let token = new_token();
    let text = script(&token, checks);
    let slow: Duration = checks
        .iter()
        .filter(|c| {
            !matches!(
                c.resource,
                Resource::Port { .. }
                    | Resource::File { .. }
                    | Resource::User(_)
                    | Resource::Group(_)
            )
        })
        .map(|c| c.timeout)
        .sum();
    let limit = slow + Duration::from_secs(60);
    let argv = ["sh".to_string(), "-c".to_string(), text];
    let cmd = target
        .backend
        .command(&target.host, &argv)
        .capture(OUTPUT_LIMIT)
        .quiet()
        .grace(Duration::from_secs(2))
        .timeout(limit);
    let fail_all = |why: String| checks.iter().map(|_| Err(why.clone())).collect();
    let out = match cmd.run(cx).await {
        Ok(out) => out,
        Err(ProcessError::Spawn {
            program, source, ..
        }) => {
            return fail_all(format!("cannot run `{program}`: {source}"));
        }
        Err(e) => return fail_all(e.to_string()),
    };
    let found = sections(&token, &out.stdout);
    if !found.contains_key("begin") {
        let stderr = out.stderr.trim();
        return fail_all(format!(
            "{} {} did not run the checks ({}){}",
            target.backend.name(),
            target.host,
            out.describe_status(),
            if stderr.is_empty() {
                String::new()
            } else {
                format!(": {}", crate::matcher::cut(stderr, 600))
            }
        ));
    }
    let ended = found.contains_key("end");
    let tables = Tables::from_sections(&found);
    checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            observation(i, c, &found, &tables).map_err(|why| {
                if ended {
                    why
                } else {
                    format!("{why}; the output ended early ({})", out.describe_status())
                }
            })
        })
        .collect()
}

/// Host-wide tables read from a batch's output.
struct Tables {
    sockets: Vec<crate::facts::Socket>,
    procs: Vec<crate::facts::ProcInfo>,
    accounts: Accounts,
    packages: HashMap<String, PackageInfo>,
}

impl Tables {
    fn from_sections(s: &HashMap<String, String>) -> Self {
        let get = |k: &str| s.get(k).map(String::as_str).unwrap_or("");
        let mut sockets = Vec::new();
        for proto in ["tcp", "tcp6", "udp", "udp6"] {
            sockets.extend(parse_proc_net(proto, get(&format!("net {proto}"))));
        }
        let packages = if let Some(t) = s.get("dpkg query") {
            parse_dpkg_query(t)
        } else if let Some(t) = s.get("dpkg status") {
            parse_dpkg_status(t)
        } else {
            HashMap::new()
        };
        Tables {
            sockets,
            procs: parse_remote_processes(get("procs"), get("cmdlines")),
            accounts: Accounts {
                users: parse_passwd(get("passwd")),
                groups: parse_group(get("group")),
            },
            packages,
        }
    }
}

fn observation(
    i: usize,
    check: &Check,
    s: &HashMap<String, String>,
    t: &Tables,
) -> Result<Observation, String> {
    let section = |name: &str| {
        s.get(&format!("c{i} {name}"))
            .map(String::as_str)
            .ok_or_else(|| format!("no `{name}` result from the target"))
    };
    let code = |name: &str| -> Result<i32, String> {
        let first = section(name)?.lines().next().unwrap_or("").trim();
        first
            .parse::<i32>()
            .map_err(|_| format!("unreadable exit status `{first}`"))
    };
    Ok(match &check.resource {
        Resource::Port { .. } => {
            if !s.contains_key("net tcp") {
                return Err("no socket table from the target".into());
            }
            observe_port(&check.resource, &t.sockets)
        }
        Resource::Process(name) => {
            if !s.contains_key("procs") {
                return Err("no process list from the target".into());
            }
            observe_process(name, &t.procs, &t.accounts)
        }
        Resource::User(name) => observe_user(name, &t.accounts),
        Resource::Group(name) => observe_group(name, &t.accounts),
        Resource::Package(name) => Observation::Package(Ok(t.packages.get(name).cloned())),
        Resource::File { content, link, .. } => {
            let Some(mut info) = parse_stat(section("stat")?.trim()) else {
                return Ok(Observation::File(None));
            };
            if *link && info.kind == "symlink" {
                info.link_target = Some(section("link")?.trim_end_matches('\n').to_string());
            }
            if *content {
                info.content = Some(match code("content-exit")? {
                    0 => Ok(section("content")?.to_string()),
                    _ => Err(format!(
                        "cannot read it: {}",
                        section("content-exit")?
                            .lines()
                            .skip(1)
                            .collect::<Vec<_>>()
                            .join(" ")
                    )),
                });
            }
            Observation::File(Some(info))
        }
        Resource::Command(_) => {
            let exit = code("exit")?;
            let secs = check.timeout.as_secs().max(1);
            Observation::Command(CommandOutput {
                exit_status: Some(exit),
                stdout: section("out")?.to_string(),
                stderr: section("err")?.to_string(),
                // GNU timeout exits 124, busybox's 143 (SIGTERM).
                note: matches!(exit, 124 | 143)
                    .then(|| format!("probably timed out after {secs}s")),
            })
        }
        Resource::Service(name) => {
            let text = section("svc")?;
            let mut lines = text.lines().map(str::trim);
            let manager = lines.next().unwrap_or("none").to_string();
            let mut flag = || {
                lines
                    .next()
                    .and_then(|l| l.parse::<i32>().ok())
                    .map(|c| c == 0)
            };
            match manager.as_str() {
                "systemd" | "sysv" => {
                    let running = flag();
                    let enabled = flag();
                    Observation::Service(ServiceInfo {
                        manager,
                        running,
                        enabled,
                    })
                }
                _ => Observation::Service(ServiceInfo {
                    manager: "none".into(),
                    running: Some(t.procs.iter().any(|p| p.is_named(name))),
                    enabled: None,
                }),
            }
        }
        Resource::Http(_) => {
            let how = section("http")?.trim().to_string();
            let out = section("out")?;
            let err = section("err")?;
            let tail = || crate::matcher::cut(err.trim(), 300);
            Observation::Http(match how.split_whitespace().next() {
                Some("curl") => parse_curl_response(out)
                    .ok_or_else(|| format!("no HTTP response (curl: {})", tail())),
                Some("wget") => match parse_wget_head(err) {
                    Some((status, headers)) => Ok(HttpResponse {
                        status,
                        headers,
                        body: out.to_string(),
                    }),
                    None => Err(format!("no HTTP response (wget: {})", tail())),
                },
                _ => return Err("neither curl nor wget is installed on the target".into()),
            })
        }
        Resource::DockerContainer(_) => Observation::Container(container_from_inspect(
            Some(code("docker")?),
            section("out")?,
            section("err")?,
        )?),
        Resource::Addr { .. } => {
            let how = section("addr")?.trim().to_string();
            let mut words = how.split_whitespace();
            let tool = words.next().unwrap_or("none");
            if tool == "none" {
                return Err("neither bash nor nc is installed on the target".into());
            }
            let exit = words
                .next()
                .and_then(|c| c.parse::<i32>().ok())
                .unwrap_or(-1);
            let err = section("err")?.trim().to_string();
            Observation::Addr(if exit == 0 {
                Ok(())
            } else if matches!(exit, 124 | 143) {
                Err(format!(
                    "no connection within {}s",
                    check.timeout.as_secs().max(1)
                ))
            } else if err.is_empty() {
                Err(format!("{tool} could not connect (exit {exit})"))
            } else {
                Err(crate::matcher::cut(&err, 300))
            })
        }
    })
}

/// Whether an assertion on this check needs the host-wide tables (for tests).
#[cfg(test)]
fn reads(check: &Check, p: crate::check::Property) -> bool {
    check.assertions.iter().any(|a| a.property == p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Defaults, parse_spec};

    #[test]
    fn sections_are_exact_including_missing_newlines() {
        let t = "@@T";
        let out = "\n@@T begin\n\n@@T c0 out\nhi\n@@T c0 err\nline\n\n@@T end\n";
        let s = sections(t, out);
        assert_eq!(s["c0 out"], "hi");
        assert_eq!(s["c0 err"], "line\n");
        assert!(s.contains_key("end"));
    }

    #[test]
    fn scripts_quote_spec_values() {
        let checks = parse_spec(
            "t.yml",
            "- file: \"/tmp/a b; rm -rf /\"\n  contains: x\n- command: [echo, \"$(id)\"]\n- package: openssh-server\n",
            &Defaults::default(),
        )
        .unwrap();
        let refs: Vec<&Check> = checks.iter().collect();
        assert!(reads(&checks[0], crate::check::Property::Content));
        let s = script("@@T", &refs);
        assert!(
            s.contains("stat -c '%f %u %g %s %U %G' -- '/tmp/a b; rm -rf /'"),
            "{s}"
        );
        assert!(s.contains("lim 30 echo '$(id)'"), "{s}");
        assert!(
            s.contains("dpkg-query -W -f='${Package}\\t${Status}\\t${Version}\\n' openssh-server"),
            "{s}"
        );
        assert_eq!(batches(&refs).len(), 1);
    }

    #[test]
    fn big_spec_sets_are_split_into_batches() {
        let yaml: String = (0..2000)
            .map(|i| format!("- file: /tmp/some/long/path/number/{i}\n"))
            .collect();
        let checks = parse_spec("t.yml", &yaml, &Defaults::default()).unwrap();
        let refs: Vec<&Check> = checks.iter().collect();
        let b = batches(&refs);
        assert!(b.len() > 1);
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 2000);
        for batch in &b {
            let part: Vec<&Check> = batch.iter().map(|&i| refs[i]).collect();
            assert!(script("@@T", &part).len() <= MAX_SCRIPT + 4096);
        }
    }
}
