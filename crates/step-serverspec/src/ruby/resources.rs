//! serverspec resource types: how each prints in example names
//! (`File "/etc/hosts"`), which specinfra command answers each predicate
//! and attribute for the detected OS family, and the in-process shortcuts
//! on this machine that give the same answer without a process.
//!
//! The command lines are written from specinfra's command classes (Debian
//! and Ubuntu, Red Hat, Alpine): same tool, same flags, same grep, so a
//! verdict means what it means under serverspec. Only the quoting differs
//! (single quotes instead of backslashes), which the shell reads the same.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use step_core::backend::shell_quote as q;

use std::sync::Arc;

use super::host::{CmdOut, Host};
use super::inproc;
use super::value::Value;

/// A serverspec resource: its type (the DSL word, e.g. `file`) and name.
#[derive(Clone, Debug)]
pub struct Resource {
    /// The DSL word: `file`, `service`, `docker_container`, …
    pub kind: String,
    /// The name as given (`to_s` of the first argument), if any.
    pub name: Option<String>,
}

/// The resource words the engine knows.
pub const KINDS: &[&str] = &[
    "file",
    "service",
    "package",
    "command",
    "port",
    "user",
    "group",
    "process",
    "interface",
    "kernel_module",
    "docker_container",
    "docker_image",
    "cron",
    "host",
    "default_gateway",
    "routing_table",
    "bridge",
    "linux_kernel_parameter",
    "x509_certificate",
    "iptables",
    "selinux",
];

/// The start of a "no such method" answer: a Ruby error, not an unsupported construct.
pub const NO_METHOD: &str = "undefined method ";

/// Why a predicate or attribute has no native answer.
pub type Unsupported = String;

impl Resource {
    /// Ruby's `to_s` of the serverspec type.
    pub fn to_s(&self) -> String {
        match self.kind.as_str() {
            "cron" => return "Cron".into(),
            "default_gateway" => return "Default Gateway".into(),
            "routing_table" => return "Routing Table".into(),
            "selinux" => return "SELinux".into(),
            "iptables" => return "iptables".into(),
            _ => {}
        }
        let words: Vec<&str> = self.kind.split('_').collect();
        let mut type_name = words.join(" ");
        if let Some(first) = type_name.get(..1) {
            type_name = format!("{}{}", first.to_uppercase(), &type_name[1..]);
        }
        format!("{type_name} \"{}\"", self.name.as_deref().unwrap_or(""))
    }

    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// An attribute (`its(:stdout)`, `file(...).content`).
    pub fn attribute(&self, host: &Host, attr: &str) -> Result<Value, Unsupported> {
        if let Some(v) = self.attribute_in_process(host, attr) {
            return Ok(v);
        }
        let n = self.name();
        let s = |line: String| Value::Str(host.run(&line).stdout.clone());
        let strip = |line: String| Value::Str(host.run(&line).stdout.trim().to_string());
        let int = |line: String| Value::Int(ruby_to_i(&host.run(&line).stdout));
        let int_or_str = |line: String| {
            let v = host.run(&line).stdout.trim().to_string();
            if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                Value::Int(ruby_to_i(&v))
            } else {
                Value::Str(v)
            }
        };
        Ok(match (self.kind.as_str(), attr) {
            ("command", "stdout") => s(n.to_string()),
            ("command", "stderr") => Value::Str(host.run(n).stderr.clone()),
            ("command", "exit_status") => Value::Int(host.run(n).exit_status),
            ("file", "content") => self.file_content(host),
            ("file", "md5sum") => strip(format!("md5sum {} | cut -d ' ' -f 1", q(n))),
            ("file", "sha256sum") => strip(format!("sha256sum {} | cut -d ' ' -f 1", q(n))),
            ("file", "size") => int(format!("stat -c %s {}", q(n))),
            ("file", "mode") => strip(format!("stat -c %a {}", q(n))),
            ("file", "owner") => strip(format!("stat -c %U {}", q(n))),
            ("file", "group") => strip(format!("stat -c %G {}", q(n))),
            ("file", "link_target") => strip(format!("readlink {}", q(n))),
            ("user", "uid") => match host.local_facts().and_then(|f| f.accounts()) {
                Some(acc) if super::local::plain_word(n) && acc.user(n).is_some() => {
                    Value::Int(acc.user(n).map_or(0, |u| i64::from(u.uid)))
                }
                _ => int(format!("id -u {}", q(n))),
            },
            ("user", "gid" | "home_directory" | "login_shell") => {
                return Err(format!("{NO_METHOD}`{attr}' for {}", self.to_s()));
            }
            ("user", "encrypted_password") => {
                strip(format!("getent shadow {} | cut -f 2 -d ':'", q(n)))
            }
            ("group", "gid") => int(format!("getent group {} | cut -f 3 -d ':'", q(n))),
            ("process", "count") => int(format!(
                "ps aux | grep -w -- {} | grep -v grep | wc -l",
                q(n)
            )),
            ("process", col) if col.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                let out = host.run(&format!("ps -C {} -o {col}= | head -1", q(n)));
                let v = out.stdout.trim().to_string();
                if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    Value::Int(ruby_to_i(&v))
                } else {
                    Value::Str(v)
                }
            }
            ("package", "version") => strip(self.package_version_cmd(host)?),
            ("linux_kernel_parameter", "value") => {
                match host.local_facts().and_then(|_| super::local::sysctl(n)) {
                    Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                        Value::Int(ruby_to_i(&v))
                    }
                    Some(v) => Value::Str(v),
                    None => int_or_str(format!("/sbin/sysctl -q -n {n}")),
                }
            }
            ("interface", "speed" | "mtu") if host.is_local() && super::local::kernel_name(n) => {
                let text = std::fs::read_to_string(format!("/sys/class/net/{n}/{attr}"));
                Value::Int(ruby_to_i(&text.unwrap_or_default()))
            }
            ("interface", "speed") => int(format!("cat /sys/class/net/{n}/speed")),
            ("interface", "mtu") => int(format!("cat /sys/class/net/{n}/mtu")),
            ("interface", "ipv4_address") => strip(format!(
                "ip -4 addr show {n} | grep {n}$ | awk '{{print $2}}'"
            )),
            ("host", "ipaddress") => strip(format!("getent hosts {} | awk '{{print $1}}'", q(n))),
            ("host", "ipv4_address") => strip(format!(
                "getent ahostsv4 {} | awk '{{print $1; exit}}'",
                q(n)
            )),
            ("default_gateway", "ipaddress") => self.default_gateway(host, true),
            ("default_gateway", "interface") => self.default_gateway(host, false),
            (kind, attr) => return Err(format!("`{attr}` of {kind}")),
        })
    }

    /// Attributes answered on this machine without a process ([`inproc`]).
    fn attribute_in_process(&self, host: &Host, attr: &str) -> Option<Value> {
        let n = self.name();
        match (self.kind.as_str(), attr) {
            ("file", "size" | "mode" | "owner" | "group" | "link_target") => {
                inproc::file_attr(host, n, attr)
            }
            ("group", "gid") => inproc::group_gid(host, n),
            ("process", "count") => inproc::process_count(host, n)
                .map(|c| Value::Int(i64::try_from(c).unwrap_or(i64::MAX))),
            ("process", col) => inproc::process_column(host, n, col).map(|v| {
                let v = v.trim().to_string();
                if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    Value::Int(ruby_to_i(&v))
                } else {
                    Value::Str(v)
                }
            }),
            _ => None,
        }
    }

    /// Predicates answered on this machine without a process ([`inproc`]).
    fn predicate_in_process(
        &self,
        host: &Host,
        name: &str,
        args: &[Value],
        chain: &dyn Fn(&str) -> Option<Value>,
    ) -> Option<bool> {
        let n = self.name();
        let arg = args.first().map(Value::to_s).unwrap_or_default();
        match (self.kind.as_str(), name) {
            ("file", "linked_to") => inproc::linked_to(host, n, &arg),
            ("file", "contain") => {
                let from = chain("from").or(chain("after")).map(|v| sed_address(&v));
                let to = chain("to").or(chain("before")).map(|v| sed_address(&v));
                inproc::file_contains(host, n, &arg, from.as_deref(), to.as_deref())
            }
            ("process", "running") => inproc::process_running(host, n),
            ("user", "have_authorized_key") => {
                inproc::authorized_key(host, n, &authorized_key_text(&arg))
            }
            ("host", "resolvable") if chain("by").is_some_and(|b| b.to_s() == "hosts") => {
                inproc::file_has_word(host, "/etc/hosts", n)
            }
            ("cron", "have_entry") => inproc::fails_without(host, "crontab"),
            ("selinux", "disabled") if host.is_local() => {
                if !std::path::Path::new("/etc/selinux/config").is_file() {
                    return Some(true);
                }
                inproc::fails_without(host, "getenforce")
            }
            ("selinux", "enforcing" | "permissive") => inproc::fails_without(host, "getenforce"),
            ("x509_certificate", "certificate") => inproc::certificate_missing(host, n),
            _ => None,
        }
    }

    fn file_content(&self, host: &Host) -> Value {
        if host.is_local() {
            return Value::Str(
                std::fs::read(self.name())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default(),
            );
        }
        Value::Str(
            host.run(&format!("cat {} 2> /dev/null || echo -n", q(self.name())))
                .stdout
                .clone(),
        )
    }

    fn default_gateway(&self, host: &Host, gateway: bool) -> Value {
        let out = host.run("ip route show 0.0.0.0/0");
        if !out.success() {
            return Value::Bool(false);
        }
        static ROUTE: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
            regex::Regex::new(r"(?m)^(\S+)(?: via (\S+))? dev (\S+).+\n(?:default via (\S+))?").ok()
        });
        let caps = ROUTE.as_ref().and_then(|re| re.captures(&out.stdout));
        let pick = |i: usize| {
            caps.as_ref()
                .and_then(|c| c.get(i))
                .map_or(Value::Nil, |m| Value::Str(m.as_str().to_string()))
        };
        if gateway {
            match pick(2) {
                Value::Nil => pick(4),
                v => v,
            }
        } else {
            pick(3)
        }
    }

    /// `be_listening` answered from sock_diag and /proc/net where `ss`
    /// would be used (with an address: IPv4 TCP only, see
    /// [`super::local::listening_on`]).
    fn local_listening(&self, host: &Host, chains: &[(String, Vec<Value>)]) -> Option<bool> {
        host.local_facts()?;
        if chains.iter().any(|(c, _)| c != "with" && c != "on") {
            return None;
        }
        let os = host.os();
        let major = host.major_release().unwrap_or(0);
        if !(os.family == "debian" && major >= 8 || os.family == "redhat" && major >= 7) {
            return None;
        }
        let port: u16 = self.name().parse().ok()?;
        let proto = chains
            .iter()
            .find(|(c, _)| c == "with")
            .and_then(|(_, a)| a.first())
            .map(|v| v.to_s().to_lowercase());
        match chains.iter().find(|(c, _)| c == "on") {
            Some((_, a)) => super::local::listening_on(port, proto.as_deref(), &a.first()?.to_s()),
            None => super::local::listening(port, proto.as_deref()),
        }
    }

    fn family(host: &Host) -> String {
        host.os().family
    }

    fn package_version_cmd(&self, host: &Host) -> Result<String, Unsupported> {
        let n = self.name();
        match Self::family(host).as_str() {
            "debian" | "ubuntu" => Ok(format!(
                "dpkg-query -f '${{Status}} ${{Version}}' -W {n} | sed -n 's/^install ok installed //p'"
            )),
            "redhat" => Ok(format!("rpm -q --qf '%{{VERSION}}-%{{RELEASE}}' {n}")),
            f => Err(format!("package version on {f}")),
        }
    }

    /// A predicate matcher (`be_running`, `have_uid 0`) with its arguments
    /// and chained options (`with_version`, `with`, `by`, …).
    pub fn predicate(
        &self,
        host: &Host,
        name: &str,
        args: &[Value],
        chains: &[(String, Vec<Value>)],
    ) -> Result<bool, Unsupported> {
        let chain = |c: &str| {
            chains
                .iter()
                .find(|(n, _)| n == c)
                .and_then(|(_, a)| a.first().cloned())
        };
        if let Some(v) = self.predicate_in_process(host, name, args, &chain) {
            return Ok(v);
        }
        let n = self.name();
        let unsupported = || Err(format!("`{name}` on {}", self.kind));
        match self.kind.as_str() {
            "file" => self.file_predicate(host, name, args, &chain),
            "service" => match name {
                "running" => Ok(self.service_running(host, chain("under"))),
                "enabled" => self.service_enabled(host, chain("with_level")),
                _ => unsupported(),
            },
            "package" | "user" | "group"
                if fast_predicate(host, &self.kind, n, name, args, chains).is_some() =>
            {
                Ok(fast_predicate(host, &self.kind, n, name, args, chains).unwrap_or(false))
            }
            "package" => match name {
                "installed" => {
                    if chain("by").is_some() {
                        return unsupported();
                    }
                    Ok(host.check(&package_installed_cmd(
                        host,
                        n,
                        chain("with_version").map(|v| v.to_s()),
                    )?))
                }
                _ => unsupported(),
            },
            "port" => match name {
                "listening" if self.local_listening(host, chains).is_some() => {
                    Ok(self.local_listening(host, chains).unwrap_or(false))
                }
                "listening" => Ok(host.check(&port_cmd(
                    host,
                    n,
                    chain("with").map(|v| v.to_s()),
                    chain("on").map(|v| v.to_s()),
                )?)),
                _ => unsupported(),
            },
            "docker_container" | "docker_image" => self.docker_predicate(host, name, args),
            "user" | "group" => self.account_predicate(host, name, args),
            _ => self.system_predicate(host, name, args, chains),
        }
    }

    /// Users and groups.
    fn account_predicate(
        &self,
        host: &Host,
        name: &str,
        args: &[Value],
    ) -> Result<bool, Unsupported> {
        let arg = |i: usize| args.get(i).map(Value::to_s).unwrap_or_default();
        let n = self.name();
        let unsupported = || Err(format!("`{name}` on {}", self.kind));
        match self.kind.as_str() {
            "user" => match name {
                "exist" => Ok(host.check(&format!("id {}", q(n)))),
                "belong_to_group" => Ok(host.check(&format!(
                    "id {} | sed 's/ context=.*//g' | cut -f 4 -d '=' | grep -- {}",
                    q(n),
                    q(&arg(0))
                ))),
                "belong_to_primary_group" => {
                    Ok(host.check(&format!("id -gn {}| grep ^{}$", q(n), q(&arg(0)))))
                }
                "have_uid" => Ok(host.check(&format!(
                    "id {} | grep -- {}",
                    q(n),
                    q(&format!("^uid={}(", arg(0)))
                ))),
                "have_home_directory" => Ok(host.check(&format!(
                    "getent passwd {} | cut -f 6 -d ':' | grep -w -- {}",
                    q(n),
                    q(&arg(0))
                ))),
                "have_login_shell" => Ok(host.check(&format!(
                    "getent passwd {} | cut -f 7 -d ':' | grep -w -- {}",
                    q(n),
                    q(&arg(0))
                ))),
                "have_authorized_key" => {
                    let key = authorized_key_text(&arg(0));
                    Ok(host.check(&format!(
                        "grep -w -- {} ~{}/.ssh/authorized_keys",
                        q(&key),
                        q(n)
                    )))
                }
                _ => unsupported(),
            },
            "group" => match name {
                "exist" => Ok(host.check(&format!("getent group {}", q(n)))),
                "have_gid" => Ok(host.check(&format!(
                    "getent group {} | cut -f 3 -d ':' | grep -w -- {}",
                    q(n),
                    q(&arg(0))
                ))),
                _ => unsupported(),
            },
            _ => unsupported(),
        }
    }

    /// Processes, interfaces and bridges, kernel modules.
    fn system_predicate(
        &self,
        host: &Host,
        name: &str,
        args: &[Value],
        chains: &[(String, Vec<Value>)],
    ) -> Result<bool, Unsupported> {
        let arg = |i: usize| args.get(i).map(Value::to_s).unwrap_or_default();
        let n = self.name();
        let unsupported = || Err(format!("`{name}` on {}", self.kind));
        match self.kind.as_str() {
            "process" => match name {
                "running" => Ok(!host
                    .run(&format!("ps -C {} -o pid= | head -1", q(n)))
                    .stdout
                    .is_empty()),
                _ => unsupported(),
            },
            "interface" | "bridge" => match name {
                "exist" if host.is_local() && super::local::kernel_name(n) => {
                    Ok(std::path::Path::new(&format!("/sys/class/net/{n}")).exists())
                }
                "exist" => Ok(host.check(&format!("ip link show {n}"))),
                "up" if self.kind == "interface" => Ok(host
                    .run(&format!("cat /sys/class/net/{n}/operstate"))
                    .stdout
                    .trim()
                    == "up"),
                "have_ipv4_address" => {
                    let mut ip = arg(0);
                    let has_prefix = ip.rsplit_once('/').is_some_and(|(_, p)| {
                        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
                    });
                    ip.push(if has_prefix { ' ' } else { '/' });
                    let ip = ip.replace('.', "\\.");
                    Ok(host.check(&format!("ip -4 addr show {n} | grep 'inet {ip}'")))
                }
                "have_interface" => Ok(host.check(&format!("brctl show {n} | grep -o {}", arg(0)))),
                _ => unsupported(),
            },
            "kernel_module" => match name {
                "loaded" => match host
                    .local_facts()
                    .and_then(|_| super::local::module_loaded(n))
                {
                    Some(v) => Ok(v),
                    None => Ok(host.check(&format!("lsmod | grep ^{n}"))),
                },
                _ => unsupported(),
            },
            _ => self.admin_predicate(host, name, args, chains),
        }
    }

    /// Cron, name resolution, routes, firewall, SELinux, certificates.
    fn admin_predicate(
        &self,
        host: &Host,
        name: &str,
        args: &[Value],
        chains: &[(String, Vec<Value>)],
    ) -> Result<bool, Unsupported> {
        let chain = |c: &str| {
            chains
                .iter()
                .find(|(n, _)| n == c)
                .and_then(|(_, a)| a.first().cloned())
        };
        let arg = |i: usize| args.get(i).map(Value::to_s).unwrap_or_default();
        let n = self.name();
        let unsupported = || Err(format!("`{name}` on {}", self.kind));
        match self.kind.as_str() {
            "cron" => match name {
                "have_entry" => {
                    let entry = arg(0)
                        .replace('\\', "\\\\")
                        .replace('*', "\\*")
                        .replace('[', "\\[")
                        .replace(']', "\\]");
                    let grep = format!(
                        "grep -v '^[[:space:]]*#' | grep -- {}",
                        q(&format!("^{entry}$"))
                    );
                    Ok(host.check(&match chain("with_user") {
                        Some(u) => format!("crontab -u {} -l | {grep}", q(&u.to_s())),
                        None => format!("crontab -l | {grep}"),
                    }))
                }
                _ => unsupported(),
            },
            "host" => match name {
                "resolvable" => match chain("by").map(|v| v.to_s()).as_deref() {
                    Some("hosts") => Ok(host.check(&format!(
                        "sed 's/#.*$//' /etc/hosts | grep -w -- {} /etc/hosts",
                        q(n)
                    ))),
                    Some("dns") => unsupported(),
                    _ => Ok(host.check(&format!("getent hosts {}", q(n)))),
                },
                _ => unsupported(),
            },
            "linux_kernel_parameter" | "default_gateway" => unsupported(),
            "routing_table" => match name {
                "have_entry" => self.routing_entry(host, args),
                _ => unsupported(),
            },
            "iptables" => match name {
                "have_rule" => {
                    let mut cmd = "iptables".to_string();
                    if let Some(t) = chain("with_table") {
                        cmd += &format!(" -t {}", q(&t.to_s()));
                    }
                    cmd += " -S";
                    if let Some(c) = chain("with_chain") {
                        cmd += &format!(" {}", q(&c.to_s()));
                    }
                    cmd += &format!(" | grep -- {}", q(&arg(0)));
                    Ok(host.check(&cmd))
                }
                _ => unsupported(),
            },
            "selinux" => match name {
                "disabled" | "enforcing" | "permissive" => {
                    Ok(host.check(&selinux_cmd(name, chain("with_policy").map(|v| v.to_s()))))
                }
                _ => unsupported(),
            },
            "x509_certificate" => match name {
                "certificate" => Ok(host
                    .run(&format!("openssl x509 -in {} -text -noout", q(n)))
                    .success()),
                _ => unsupported(),
            },
            _ => unsupported(),
        }
    }

    fn file_predicate(
        &self,
        host: &Host,
        name: &str,
        args: &[Value],
        chain: &dyn Fn(&str) -> Option<Value>,
    ) -> Result<bool, Unsupported> {
        let n = self.name();
        let arg = |i: usize| args.get(i).map(Value::to_s).unwrap_or_default();
        if host.is_local()
            && let Some(v) = local_file_predicate(n, name, args)
        {
            return Ok(v);
        }
        let test = |flag: &str| Ok(host.check(&format!("test -{flag} {}", q(n))));
        match name {
            "file" => test("f"),
            "directory" => test("d"),
            "symlink" => test("L"),
            "socket" => test("S"),
            "pipe" => test("p"),
            "block_device" => test("b"),
            "character_device" => test("c"),
            "exist" => test("e"),
            "mode" => Ok(host.check(&format!(
                "stat -c %a {} | grep -- {}",
                q(n),
                q(&format!("^{}$", arg(0)))
            ))),
            "owned_by" | "grouped_into" => {
                let who = arg(0);
                let numeric = !who.is_empty() && who.bytes().all(|b| b.is_ascii_digit());
                let fmt = match (name, numeric) {
                    ("owned_by", true) => "%u",
                    ("owned_by", false) => "%U",
                    (_, true) => "%g",
                    _ => "%G",
                };
                Ok(host.check(&format!(
                    "stat -c {fmt} {} | grep -- {}",
                    q(n),
                    q(&format!("^{who}$"))
                )))
            }
            "linked_to" => {
                Ok(host.check(&format!("test x\"$(readlink {})\" = x{}", q(n), q(&arg(0)))))
            }
            "readable" | "writable" | "executable" => {
                if let Some(user) = chain("by_user") {
                    let flag = &name[..1].replace('e', "x");
                    return Ok(host.check(&format!("sudo -u {} test -{flag} {n}", user.to_s())));
                }
                let mode = match std::fs::symlink_metadata(n) {
                    Ok(m) if host.is_local() => format!("{:o}", m.permissions().mode() & 0o7777),
                    _ => host
                        .run(&format!("stat -c %a {}", q(n)))
                        .stdout
                        .trim()
                        .to_string(),
                };
                Ok(mode_allows(
                    &mode,
                    name,
                    chain("by").map(|v| v.to_s()).as_deref(),
                ))
            }
            "contain" => Ok(host.check(&contain_cmd(
                n,
                &arg(0),
                chain("from").or(chain("after")).map(|v| sed_address(&v)),
                chain("to").or(chain("before")).map(|v| sed_address(&v)),
            ))),
            "mounted" => {
                if !args.is_empty() || chain("with").is_some() || chain("only_with").is_some() {
                    return Err("`be_mounted.with` on file".into());
                }
                if let Some(v) = host.local_facts().and_then(|_| super::local::mounted(n)) {
                    return Ok(v);
                }
                Ok(host.check(&format!("mount | grep -- {}", q(&format!("on {n} ")))))
            }
            _ => Err(format!("`{name}` on file")),
        }
    }

    fn service_running(&self, host: &Host, under: Option<Value>) -> bool {
        let n = self.name();
        let cmd = match under.map(|u| u.to_s()) {
            Some(u) if u == "systemd" => format!("systemctl is-active {}", q(n)),
            Some(u) if u == "supervisor" => {
                format!("supervisorctl status {} | grep RUNNING", q(n))
            }
            Some(_) => format!("service {} status", q(n)),
            None => service_running_cmd(host, n),
        };
        let no_init = cmd
            .starts_with("systemctl is-active ")
            .then(|| inproc::systemctl_is_active_status(host, n))
            .flatten();
        let out = match no_init {
            Some(status) => Arc::new(CmdOut {
                exit_status: status,
                ..CmdOut::default()
            }),
            None => host.run(&cmd),
        };
        if out.stdout.contains("stop/waiting") || out.stdout.contains("stopped/waiting") {
            return false;
        }
        if out.exit_status == 1 {
            if let Some(count) = inproc::process_count(host, n) {
                return count > 0;
            }
            return host.check(&format!("ps aux | grep -w -- {} | grep -qv grep", q(n)));
        }
        out.success()
    }

    /// `be_enabled`; on systemd Debian, `systemctl is-enabled` runs alone
    /// and the `ls /etc/rc[S5].d/S??NAME` that follows it is answered here.
    fn service_enabled(&self, host: &Host, level: Option<Value>) -> Result<bool, Unsupported> {
        let n = self.name();
        let cmd = self.service_enabled_cmd(host, level)?;
        let systemctl = format!("systemctl --quiet is-enabled {}", q(n));
        if cmd.starts_with(&format!("{systemctl}||ls "))
            && let Some(linked) = inproc::rc_link(host, n)
        {
            return Ok(host.check(&systemctl) || linked);
        }
        Ok(host.check(&cmd))
    }

    fn service_enabled_cmd(
        &self,
        host: &Host,
        level: Option<Value>,
    ) -> Result<String, Unsupported> {
        let n = self.name();
        let os = host.os();
        let major = host.major_release().unwrap_or(0);
        let systemd_debian = matches!(os.family.as_str(), "debian")
            && (major >= 8 || matches!(os.release.as_deref(), Some("testing" | "unstable")));
        Ok(match os.family.as_str() {
            "debian" if systemd_debian => format!(
                "systemctl --quiet is-enabled {}||ls /etc/rc[S5].d/S??{} >/dev/null 2>/dev/null",
                q(n),
                q(n)
            ),
            "debian" | "ubuntu" => {
                let level = level.map_or("3".to_string(), |l| l.to_s());
                format!(
                    "ls /etc/rc{level}.d/ | grep -- '^S..{n}$' || grep '^\\s*start on' /etc/init/{n}.conf"
                )
            }
            "redhat" if major >= 7 => format!("systemctl --quiet is-enabled {}", q(n)),
            "redhat" => {
                let level = level.map_or("3".to_string(), |l| l.to_s());
                format!("chkconfig --list {} | grep {level}:on", q(n))
            }
            "alpine" => format!("rc-status -a | grep -- {}", q(n)),
            f => return Err(format!("`be_enabled` on {f}")),
        })
    }

    fn docker_predicate(
        &self,
        host: &Host,
        name: &str,
        args: &[Value],
    ) -> Result<bool, Unsupported> {
        let out = host.docker_inspect(self.name());
        let inspection = serde_json::from_str::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v.get(0).cloned());
        match name {
            "exist" => Ok(out.success()),
            "running" if self.kind == "docker_container" => {
                let Some(i) = inspection else {
                    return Err("`be_running` of a container docker cannot inspect".into());
                };
                let running = i.pointer("/State/Running").and_then(|v| v.as_bool());
                let restarting = i.pointer("/State/Restarting").and_then(|v| v.as_bool());
                Ok(running == Some(true) && restarting != Some(true))
            }
            "have_volume" if self.kind == "docker_container" => {
                let Some(i) = inspection else {
                    return Err("`have_volume` of a container docker cannot inspect".into());
                };
                let dest = args.first().map(Value::to_s).unwrap_or_default();
                let src = args.get(1).map(Value::to_s).unwrap_or_default();
                Ok(i.get("Mounts")
                    .and_then(|m| m.as_array())
                    .is_some_and(|mounts| {
                        mounts.iter().any(|m| {
                            m.get("Destination").and_then(|v| v.as_str()) == Some(dest.as_str())
                                && m.get("Source").and_then(|v| v.as_str()) == Some(src.as_str())
                        })
                    }))
            }
            _ => Err(format!("`{name}` on {}", self.kind)),
        }
    }

    fn routing_entry(&self, host: &Host, args: &[Value]) -> Result<bool, Unsupported> {
        let Some(Value::Hash(pairs)) = args.first() else {
            return Err("`have_entry` on routing_table without a hash".into());
        };
        let mut dest = None;
        for (k, v) in pairs {
            match k.to_s().as_str() {
                "destination" => dest = Some(v.to_s()),
                other => return Err(format!("routing_table entry `{other}`")),
            }
        }
        let Some(mut dest) = dest else {
            return Err("routing_table entry without destination".into());
        };
        if dest == "default" {
            dest = "0.0.0.0/0".into();
        }
        let out = host.run(&format!("ip route show {dest}"));
        Ok(out.success() && !out.stdout.trim().is_empty())
    }
}

fn service_running_cmd(host: &Host, n: &str) -> String {
    let os = host.os();
    let major = host.major_release().unwrap_or(0);
    let systemd = match os.family.as_str() {
        "debian" => major >= 8 || matches!(os.release.as_deref(), Some("testing" | "unstable")),
        "ubuntu" => major >= 15,
        "redhat" => major >= 7,
        _ => false,
    };
    if systemd {
        format!("systemctl is-active {}", q(n))
    } else if os.family == "alpine" {
        format!("rc-service {} status", q(n))
    } else {
        format!("service {} status", q(n))
    }
}

fn package_installed_cmd(
    host: &Host,
    n: &str,
    version: Option<String>,
) -> Result<String, Unsupported> {
    let family = host.os().family;
    Ok(match (family.as_str(), version) {
        ("debian" | "ubuntu", Some(v)) => format!(
            "dpkg-query -f '${{Status}} ${{Version}}' -W {} | grep -E {}",
            q(n),
            q(&format!(
                "^(install|hold) ok installed {}$",
                regex::escape(&v)
            ))
        ),
        ("debian" | "ubuntu", None) => format!(
            "dpkg-query -f '${{Status}}' -W {} | grep -E '^(install|hold) ok installed$'",
            q(n)
        ),
        ("redhat", Some(v)) => format!("rpm -q {} | grep -w -- {}", q(n), q(&format!("{n}-{v}"))),
        ("redhat", None) => format!("rpm -q {}", q(n)),
        ("alpine", Some(v)) => format!("apk version {} | grep -- {}", q(n), q(&format!("{n}-{v}"))),
        ("alpine", None) => format!("apk info -qe {}", q(n)),
        (f, _) => return Err(format!("`be_installed` on {f}")),
    })
}

fn port_cmd(
    host: &Host,
    port: &str,
    proto: Option<String>,
    addr: Option<String>,
) -> Result<String, Unsupported> {
    let os = host.os();
    let major = host.major_release().unwrap_or(0);
    let ss = match os.family.as_str() {
        "debian" => major >= 8 || matches!(os.release.as_deref(), Some("testing" | "unstable")),
        "redhat" => major >= 7,
        _ => false,
    };
    let proto = proto.map(|p| p.to_lowercase());
    if let Some(p) = &proto
        && !["tcp", "tcp6", "udp", "udp6"].contains(&p.as_str())
    {
        return Err(format!("`be_listening.with({p})`"));
    }
    if ss {
        let pattern = match &addr {
            Some(a) => {
                let alts: Vec<String> = if a == "0.0.0.0" {
                    vec!["\\*".into(), "0\\.0\\.0\\.0".into()]
                } else if a.contains(':') {
                    vec![format!("\\[{a}\\]")]
                } else {
                    vec![a.clone()]
                };
                alts.iter()
                    .map(|l| format!(" {l}:{port} "))
                    .collect::<Vec<_>>()
                    .join("|")
            }
            None => format!(":{port} "),
        };
        let opts = match proto.as_deref() {
            Some("tcp") => "-tnl4",
            Some("tcp6") => "-tnl6",
            Some("udp") => "-unl4",
            Some("udp6") => "-unl6",
            _ => "-tunl",
        };
        Ok(format!("ss {opts} | grep -E -- {}", q(&pattern)))
    } else {
        let mut pattern = format!(":{port} ");
        if let Some(a) = &addr {
            pattern = format!(" {a}{pattern}");
        }
        if let Some(p) = &proto {
            pattern = format!("^{p} .*{pattern}");
        }
        Ok(format!("netstat -tunl | grep -- {}", q(&pattern)))
    }
}

fn contain_cmd(file: &str, pattern: &str, from: Option<String>, to: Option<String>) -> String {
    if from.is_none() && to.is_none() {
        return format!(
            "grep -qs -- {p} {f} || grep -qFs -- {p} {f}",
            p = q(pattern),
            f = q(file)
        );
    }
    let from = from.unwrap_or_else(|| "1".into());
    let to = to.unwrap_or_else(|| "$".into());
    let mut sed = format!("sed -n {},{}p {}", q(&from), q(&to), q(file));
    if from != "1" && to != "$" {
        sed += &format!(" | sed -n 1,{}p", q(&to));
    }
    format!(
        "{sed} | grep -qs -- {p} - || {sed} | grep -qFs -- {p} -",
        p = q(pattern)
    )
}

/// serverspec turns a Regexp `from`/`to` into a sed address `/source/`.
fn sed_address(v: &Value) -> String {
    match v {
        Value::Regex(r) => format!("/{}/", r.source.replace('/', "\\/")),
        other => other.to_s(),
    }
}

fn selinux_cmd(mode: &str, policy: Option<String>) -> String {
    let mut cmd = String::new();
    if mode == "disabled" {
        cmd += "test ! -f /etc/selinux/config || ( ( ";
    }
    cmd += &format!("(getenforce | grep -i -- {})", q(mode));
    if mode == "disabled" {
        cmd += " || (getenforce | grep -i -- permissive) )";
    }
    cmd += &format!(" && grep -iE -- '^\\s*SELINUX={mode}\\>' /etc/selinux/config");
    if let Some(p) = policy {
        cmd += &format!(" && grep -iE -- '^\\s*SELINUXTYPE={p}\\>' /etc/selinux/config");
    }
    if mode == "disabled" {
        cmd += ")";
    }
    cmd
}

fn mode_allows(mode: &str, what: &str, by: Option<&str>) -> bool {
    let padded = format!("{mode:>4}");
    let digits: Vec<u32> = padded
        .chars()
        .map(|c| c.to_digit(10).unwrap_or(0))
        .collect();
    let octal = digits.iter().fold(0u32, |acc, d| acc * 8 + d);
    let bit = match what {
        "readable" => 4,
        "writable" => 2,
        _ => 1,
    };
    let mask = match by.unwrap_or("") {
        "" => bit * 0o111,
        "owner" => bit * 0o100,
        "group" => bit * 0o10,
        "others" => bit,
        _ => return false,
    };
    octal & mask != 0
}

/// This machine, in-process: the same answers as `test -X`/`stat -c` give.
fn local_file_predicate(path: &str, name: &str, args: &[Value]) -> Option<bool> {
    let follow = std::fs::metadata(path);
    let is = |f: &dyn Fn(&std::fs::Metadata) -> bool| follow.as_ref().is_ok_and(f);
    match name {
        "file" => Some(is(&|m| m.is_file())),
        "directory" => Some(is(&|m| m.is_dir())),
        "exist" => Some(follow.is_ok()),
        "socket" => Some(is(&|m| m.file_type().is_socket())),
        "pipe" => Some(is(&|m| m.file_type().is_fifo())),
        "block_device" => Some(is(&|m| m.file_type().is_block_device())),
        "character_device" => Some(is(&|m| m.file_type().is_char_device())),
        "symlink" => {
            Some(std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()))
        }
        "mode" => {
            let m = std::fs::symlink_metadata(path).ok()?;
            let perm = m.permissions().mode() & 0o7777;
            let want = args.first()?.to_s();
            Some(format!("{perm:o}") == want)
        }
        "owned_by" | "grouped_into" => {
            let m = std::fs::symlink_metadata(path).ok()?;
            let want = args.first()?.to_s();
            let id = if name == "owned_by" { m.uid() } else { m.gid() };
            if want.bytes().all(|b| b.is_ascii_digit()) && !want.is_empty() {
                return Some(id.to_string() == want);
            }
            let table = if name == "owned_by" {
                "/etc/passwd"
            } else {
                "/etc/group"
            };
            let text = std::fs::read_to_string(table).ok()?;
            let found = text.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == id.to_string()).then(|| f[0].to_string())
            })?;
            Some(found == want)
        }
        _ => None,
    }
}

/// In-process answers for users, groups and dpkg packages on this machine,
/// where they cannot differ from the command (see [`super::local`]).
fn fast_predicate(
    host: &Host,
    kind: &str,
    n: &str,
    name: &str,
    args: &[Value],
    chains: &[(String, Vec<Value>)],
) -> Option<bool> {
    use super::local::{grep_word, id_groups, plain_word};
    let facts = host.local_facts()?;
    let arg = args.first().map(Value::to_s).unwrap_or_default();
    if !plain_word(n) {
        return None;
    }
    if kind == "package" {
        let family = host.os().family;
        if name != "installed" || !matches!(family.as_str(), "debian" | "ubuntu") {
            return None;
        }
        if chains.iter().any(|(c, _)| c != "with_version") {
            return None;
        }
        let version = chains
            .iter()
            .find(|(c, _)| c == "with_version")
            .and_then(|(_, a)| a.first())
            .map(Value::to_s);
        let pkg = facts.packages()?.get(n);
        let ok = |st: &str| st == "install ok installed" || st == "hold ok installed";
        return Some(pkg.is_some_and(|p| match &version {
            Some(v) => ok(&p.status) && &p.version == v,
            None => ok(&p.status),
        }));
    }
    let acc = facts.accounts()?;
    // A name missing from the files that nss-systemd makes up: ask the command.
    let missing = |found: bool| !found && super::local::synthesized(n);
    if missing(acc.user(n).is_some()) || missing(acc.group(n).is_some()) {
        return None;
    }
    let numeric = !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_digit());
    match (kind, name) {
        ("user", "exist") => Some(acc.user(n).is_some()),
        ("user", "have_uid") if numeric => {
            Some(acc.user(n).is_some_and(|u| u.uid.to_string() == arg))
        }
        ("user", "belong_to_group") if plain_word(&arg) => {
            Some(id_groups(acc, n).is_some_and(|g| g.contains(arg.as_str())))
        }
        ("user", "belong_to_primary_group") if plain_word(&arg) => Some(
            acc.user(n)
                .and_then(|u| acc.group_name(u.gid))
                .is_some_and(|g| g == arg),
        ),
        ("user", "have_home_directory") if plain_word(&arg) => {
            Some(acc.user(n).is_some_and(|u| grep_word(&u.home, &arg)))
        }
        ("user", "have_login_shell") if plain_word(&arg) => {
            Some(acc.user(n).is_some_and(|u| grep_word(&u.shell, &arg)))
        }
        ("group", "exist") => Some(acc.group(n).is_some()),
        ("group", "have_gid") if numeric => Some(
            acc.group(n)
                .is_some_and(|g| grep_word(&g.gid.to_string(), &arg)),
        ),
        _ => None,
    }
}

/// The key `have_authorized_key` looks for: type and key, without a comment.
fn authorized_key_text(key: &str) -> String {
    let parts: Vec<&str> = key.split_whitespace().collect();
    if parts.len() == 3 {
        format!("{} {}", parts[0], parts[1])
    } else {
        key.to_string()
    }
}

/// Ruby's `String#to_i`: leading digits (with sign), else 0.
pub fn ruby_to_i(text: &str) -> i64 {
    let t = text.trim_start();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<i64>().map_or(0, |v| sign * v)
}
