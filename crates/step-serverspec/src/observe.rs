//! What was seen of one resource ([`Observation`]), and judging a check's
//! assertions against it. Observations are built the same way whether the
//! facts came from this machine or from a remote batch, which is what makes
//! one spec mean the same on every backend.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;
use step_core::{CheckResult, Status};

use crate::check::{Assertion, Check, Property, Protocol, Resource};
use crate::facts::{
    Accounts, ContainerInfo, FileInfo, GroupEntry, HttpResponse, PackageInfo, PasswdEntry,
    ProcInfo, Socket,
};
use crate::matcher::{Matcher, cut, show_actual};

/// A command's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit code; `None` when it was killed or timed out.
    pub exit_status: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Why there is no exit code, or a caveat about it.
    pub note: Option<String>,
}

/// What the init system says about a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceInfo {
    /// `systemd`, `sysv`, or `none` (then "running" means a process of that name runs).
    pub manager: String,
    /// Whether it runs, when known.
    pub running: Option<bool>,
    /// Whether it starts at boot, when known.
    pub enabled: Option<bool>,
}

/// A process that matched a process check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcMatch {
    /// Its id.
    pub pid: u32,
    /// The user it runs as (name, or uid when the name is unknown).
    pub user: String,
    /// Its command line.
    pub args: String,
}

/// A user with the names of its groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// The passwd entry.
    pub entry: PasswdEntry,
    /// The primary group's name.
    pub group: Option<String>,
    /// Every group's name (primary first).
    pub groups: Vec<String>,
}

/// What was seen of one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// A command ran.
    Command(CommandOutput),
    /// Sockets on a port.
    Port {
        /// Sockets that fit the check's protocol and address.
        matching: Vec<Socket>,
        /// Every socket on that port (for the failure message).
        on_port: Vec<Socket>,
    },
    /// A service.
    Service(ServiceInfo),
    /// The processes with the checked name.
    Process(Vec<ProcMatch>),
    /// A path (`None`: it does not exist).
    File(Option<FileInfo>),
    /// A user (`None`: no such user).
    User(Option<UserInfo>),
    /// A group (`None`: no such group).
    Group(Option<GroupEntry>),
    /// A package (`None`: dpkg does not know it), or why the database could not be read.
    Package(Result<Option<PackageInfo>, String>),
    /// An HTTP response, or why there was none.
    Http(Result<HttpResponse, String>),
    /// A container (`None`: no such container).
    Container(Option<ContainerInfo>),
    /// Whether a connection could be made, and why not.
    Addr(Result<(), String>),
}

/// A property's actual value.
enum Actual {
    /// One value.
    Value(Value),
    /// Several candidates (processes): the matcher must accept one of them.
    AnyOf(Vec<Value>),
    /// A yes/no state with a readable account of it.
    State(bool, String),
    /// The property cannot be read, and why (no such file).
    Missing(String),
}

/// Sockets of `port` that fit the check's protocol and address.
pub fn observe_port(resource: &Resource, sockets: &[Socket]) -> Observation {
    let Resource::Port {
        port,
        protocol,
        address,
    } = resource
    else {
        return Observation::Port {
            matching: Vec::new(),
            on_port: Vec::new(),
        };
    };
    let on_port: Vec<Socket> = sockets
        .iter()
        .filter(|s| s.port == *port)
        .cloned()
        .collect();
    let matching = on_port
        .iter()
        .filter(|s| match protocol {
            None => true,
            Some(Protocol::Tcp) => s.proto.starts_with("tcp"),
            Some(Protocol::Udp) => s.proto.starts_with("udp"),
            Some(Protocol::Tcp6) => s.proto == "tcp6",
            Some(Protocol::Udp6) => s.proto == "udp6",
        })
        .filter(|s| address.is_none_or(|a: IpAddr| s.addr == a))
        .cloned()
        .collect();
    Observation::Port { matching, on_port }
}

/// The processes called `name`, with user names from `accounts`.
pub fn observe_process(name: &str, procs: &[ProcInfo], accounts: &Accounts) -> Observation {
    Observation::Process(
        procs
            .iter()
            .filter(|p| p.is_named(name))
            .map(|p| ProcMatch {
                pid: p.pid,
                user: match p.uid {
                    Some(uid) => accounts
                        .user_name(uid)
                        .map(String::from)
                        .unwrap_or_else(|| uid.to_string()),
                    None => String::new(),
                },
                args: p.args.clone(),
            })
            .collect(),
    )
}

/// A user and its groups.
pub fn observe_user(name: &str, accounts: &Accounts) -> Observation {
    Observation::User(accounts.user(name).map(|u| UserInfo {
        group: accounts.group_name(u.gid).map(String::from),
        groups: accounts.groups_of(u),
        entry: u.clone(),
    }))
}

/// A group.
pub fn observe_group(name: &str, accounts: &Accounts) -> Observation {
    Observation::Group(accounts.group(name).cloned())
}

fn fmt_sockets(sockets: &[Socket]) -> String {
    sockets
        .iter()
        .map(|s| match s.addr {
            IpAddr::V6(a) => format!("{} [{a}]:{}", s.proto, s.port),
            IpAddr::V4(a) => format!("{} {a}:{}", s.proto, s.port),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Observation {
    fn actual(&self, property: &Property) -> Actual {
        use Actual::*;
        let unsupported = || {
            Missing(format!(
                "`{}` cannot be read from this resource",
                property.label()
            ))
        };
        match (self, property) {
            (Observation::Command(c), Property::ExitStatus) => match c.exit_status {
                Some(code) => match &c.note {
                    Some(note) => Missing(format!("{code} ({note})")),
                    None => Value(code.into()),
                },
                None => Missing(c.note.clone().unwrap_or_else(|| "no exit status".into())),
            },
            (Observation::Command(c), Property::Stdout) => Value(c.stdout.clone().into()),
            (Observation::Command(c), Property::Stderr) => Value(c.stderr.clone().into()),

            (Observation::Port { matching, on_port }, Property::Listening) => {
                let detail = if !matching.is_empty() {
                    format!("listening ({})", fmt_sockets(matching))
                } else if on_port.is_empty() {
                    "nothing listens on this port".to_string()
                } else {
                    format!("not as asked; listening: {}", fmt_sockets(on_port))
                };
                State(!matching.is_empty(), detail)
            }

            (Observation::Service(s), Property::Running) => {
                let how = if s.manager == "none" {
                    "no init system; judged by a process of that name"
                } else {
                    s.manager.as_str()
                };
                match s.running {
                    Some(r) => State(
                        r,
                        format!("{} ({how})", if r { "running" } else { "not running" }),
                    ),
                    None => Missing(format!("cannot tell whether it runs ({how})")),
                }
            }
            (Observation::Service(s), Property::Enabled) => match s.enabled {
                Some(e) => State(
                    e,
                    format!(
                        "{} ({})",
                        if e { "enabled" } else { "not enabled" },
                        s.manager
                    ),
                ),
                None => Missing(
                    "cannot tell whether it is enabled: no systemd and no /etc/init.d script"
                        .into(),
                ),
            },

            (Observation::Process(ps), Property::Running) => State(
                !ps.is_empty(),
                if ps.is_empty() {
                    "no such process".into()
                } else {
                    format!(
                        "running (pid {})",
                        ps.iter()
                            .map(|p| p.pid.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            ),
            (Observation::Process(ps), Property::Count) => Value(ps.len().into()),
            (Observation::Process(ps), Property::ProcessUser | Property::Args) if ps.is_empty() => {
                Missing("no such process".into())
            }
            (Observation::Process(ps), Property::ProcessUser) => {
                AnyOf(ps.iter().map(|p| p.user.clone().into()).collect())
            }
            (Observation::Process(ps), Property::Args) => {
                AnyOf(ps.iter().map(|p| p.args.clone().into()).collect())
            }

            (Observation::File(f), Property::Exists) => State(
                f.is_some(),
                match f {
                    Some(f) => format!("exists ({})", f.kind),
                    None => "no such file".into(),
                },
            ),
            (Observation::File(None), _) => Missing("no such file".into()),
            (Observation::File(Some(f)), p) => match p {
                Property::Type => Value(f.kind.into()),
                Property::Mode => Value(format!("{:04o}", f.mode).into()),
                Property::Owner => {
                    Value(f.owner.clone().unwrap_or_else(|| f.uid.to_string()).into())
                }
                Property::Group => {
                    Value(f.group.clone().unwrap_or_else(|| f.gid.to_string()).into())
                }
                Property::Size => Value(f.size.into()),
                Property::Content => match &f.content {
                    Some(Ok(text)) => Value(text.clone().into()),
                    Some(Err(why)) => Missing(why.clone()),
                    None => Missing("content was not read".into()),
                },
                Property::LinkTarget => match &f.link_target {
                    Some(t) => Value(t.clone().into()),
                    None => Missing(format!("not a symlink (a {})", f.kind)),
                },
                _ => unsupported(),
            },

            (Observation::User(u), Property::Exists) => State(
                u.is_some(),
                if u.is_some() {
                    "exists"
                } else {
                    "no such user"
                }
                .into(),
            ),
            (Observation::User(None), _) => Missing("no such user".into()),
            (Observation::User(Some(u)), p) => match p {
                Property::Uid => Value(u.entry.uid.into()),
                Property::Gid => Value(u.entry.gid.into()),
                Property::Group => Value(
                    u.group
                        .clone()
                        .unwrap_or_else(|| u.entry.gid.to_string())
                        .into(),
                ),
                Property::Home => Value(u.entry.home.clone().into()),
                Property::Shell => Value(u.entry.shell.clone().into()),
                Property::Groups => Value(u.groups.clone().into()),
                _ => unsupported(),
            },

            (Observation::Group(g), Property::Exists) => State(
                g.is_some(),
                if g.is_some() {
                    "exists"
                } else {
                    "no such group"
                }
                .into(),
            ),
            (Observation::Group(None), _) => Missing("no such group".into()),
            (Observation::Group(Some(g)), Property::Gid) => Value(g.gid.into()),

            (Observation::Package(Err(why)), _) => Missing(why.clone()),
            (Observation::Package(Ok(p)), Property::Installed) => match p {
                Some(p) if p.installed() => State(true, format!("installed ({})", p.version)),
                Some(p) => State(false, format!("not installed (dpkg status: {})", p.status)),
                None => State(false, "not installed (unknown to dpkg)".into()),
            },
            (Observation::Package(Ok(p)), Property::Version) => match p {
                Some(p) if p.installed() => Value(p.version.clone().into()),
                _ => Missing("not installed".into()),
            },

            (Observation::Http(Err(why)), _) => Missing(why.clone()),
            (Observation::Http(Ok(r)), Property::Status) => Value(r.status.into()),
            (Observation::Http(Ok(r)), Property::Header(name)) => match r.header(name) {
                Some(v) => Value(v.into()),
                None => Missing(format!("no `{name}` header")),
            },
            (Observation::Http(Ok(r)), Property::Body) => Value(r.body.clone().into()),

            (Observation::Container(c), Property::Running) => match c {
                Some(c) => State(c.running, format!("status {}", c.status)),
                None => State(false, "no such container".into()),
            },
            (Observation::Container(None), _) => Missing("no such container".into()),
            (Observation::Container(Some(c)), Property::Image) => Value(c.image.clone().into()),
            (Observation::Container(Some(c)), Property::Volume(path)) => {
                match c.mounts.iter().find(|(dest, _)| dest == path) {
                    Some((_, source)) => Value(source.clone().into()),
                    None => Missing(format!(
                        "nothing mounted at {path} (mounts: {})",
                        if c.mounts.is_empty() {
                            "none".to_string()
                        } else {
                            c.mounts
                                .iter()
                                .map(|(d, s)| format!("{s} → {d}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    )),
                }
            }

            (Observation::Addr(r), Property::Reachable) => match r {
                Ok(()) => State(true, "reachable".into()),
                Err(e) => State(false, format!("not reachable: {e}")),
            },
            _ => unsupported(),
        }
    }
}

/// Judges one assertion: `Err` holds the failure message (expected vs actual).
pub fn judge(
    check: &Check,
    assertion: &Assertion,
    observation: &Observation,
) -> Result<(), String> {
    // Yes/no properties read as phrases ("be listening"), others as matchers ("eq 200").
    let expected = || match (assertion.property.is_state(), assertion.matcher.as_bool()) {
        (true, Some(_)) => {
            let phrase = assertion.phrase(&check.resource);
            phrase
                .strip_prefix("should ")
                .unwrap_or(&phrase)
                .to_string()
        }
        _ => assertion.matcher.describe(),
    };
    match observation.actual(&assertion.property) {
        Actual::State(state, detail) => {
            let want = assertion.matcher.as_bool();
            match want {
                Some(w) if w == state => Ok(()),
                Some(_) => Err(format!("expected: {}\n  actual: {detail}", expected())),
                None => assertion
                    .matcher
                    .check(&Value::Bool(state))
                    .map_err(|m| m.to_string()),
            }
        }
        Actual::Value(v) => assertion.matcher.check(&v).map_err(|m| m.to_string()),
        Actual::AnyOf(values) => {
            if values.iter().any(|v| assertion.matcher.check(v).is_ok()) {
                Ok(())
            } else {
                Err(format!(
                    "expected: {} (for one of the matching processes)\n  actual: {}",
                    expected(),
                    cut(
                        &values
                            .iter()
                            .map(show_actual)
                            .collect::<Vec<_>>()
                            .join(", "),
                        400
                    )
                ))
            }
        }
        Actual::Missing(why) => {
            // `not` of something that is not there holds (`link_target: {not: …}` on a plain file).
            if matches!(assertion.matcher, Matcher::Not(_)) && why.starts_with("not a symlink") {
                return Ok(());
            }
            Err(format!("expected: {}\n  actual: {why}", expected()))
        }
    }
}

/// The results of every assertion of `check` against one observation (or
/// the reason there is none, which errors every assertion).
pub fn results(
    check: &Check,
    observation: &Result<Observation, String>,
    duration: Duration,
    group: &str,
) -> Vec<CheckResult> {
    check
        .assertions
        .iter()
        .map(|a| {
            let name = check.describe(a);
            let result = match observation {
                Ok(obs) => match judge(check, a, obs) {
                    Ok(()) => CheckResult::new(name, Status::Passed),
                    Err(msg) => CheckResult::new(name, Status::Failed).with_message(msg),
                },
                Err(why) => CheckResult::new(name, Status::Errored)
                    .with_message(format!("could not check: {why}")),
            };
            result.with_duration(duration).in_group(group)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Defaults, parse_spec};

    fn one(yaml: &str) -> Check {
        parse_spec("t.yml", yaml, &Defaults::default())
            .unwrap()
            .remove(0)
    }

    #[test]
    fn port_failures_say_what_listens_instead() {
        let c = one("- port: 8080\n  address: 127.0.0.1\n");
        let sockets = vec![Socket {
            proto: "tcp6",
            addr: "::".parse().unwrap(),
            port: 8080,
        }];
        let obs = observe_port(&c.resource, &sockets);
        let err = judge(&c, &c.assertions[0], &obs).unwrap_err();
        assert_eq!(
            err,
            "expected: be listening on 127.0.0.1\n  actual: not as asked; listening: tcp6 [::]:8080"
        );
        let c = one("- port: 8080\n");
        assert!(judge(&c, &c.assertions[0], &observe_port(&c.resource, &sockets)).is_ok());
    }

    #[test]
    fn file_assertions_show_expected_and_actual() {
        let c = one("- file: /x\n  mode: '0644'\n  owner: root\n");
        let f = FileInfo {
            kind: "file",
            mode: 0o600,
            uid: 0,
            gid: 0,
            owner: Some("root".into()),
            group: None,
            size: 1,
            content: None,
            link_target: None,
        };
        let obs = Observation::File(Some(f));
        assert_eq!(
            judge(&c, &c.assertions[0], &obs).unwrap_err(),
            "expected: eq \"0644\"\n  actual: \"0600\""
        );
        assert!(judge(&c, &c.assertions[1], &obs).is_ok());
        let gone = Observation::File(None);
        assert_eq!(
            judge(&c, &c.assertions[0], &gone).unwrap_err(),
            "expected: eq \"0644\"\n  actual: no such file"
        );
    }

    #[test]
    fn process_attributes_accept_any_matching_process() {
        let c = one("- process: sleep\n  user: root\n  args: {contain: '600'}\n");
        let procs = vec![
            ProcInfo {
                pid: 1,
                name: "sleep".into(),
                uid: Some(1000),
                args: "sleep 5".into(),
            },
            ProcInfo {
                pid: 2,
                name: "sleep".into(),
                uid: Some(0),
                args: "sleep 600".into(),
            },
        ];
        let acc = Accounts {
            users: crate::facts::parse_passwd("root:x:0:0::/root:/bin/sh\n"),
            groups: Vec::new(),
        };
        let obs = observe_process("sleep", &procs, &acc);
        let res = results(&c, &Ok(obs), Duration::ZERO, "g");
        assert!(res.iter().all(|r| r.status == Status::Passed), "{res:?}");
        let res = results(&c, &Err("ssh failed".into()), Duration::ZERO, "g");
        assert!(res.iter().all(|r| r.status == Status::Errored));
    }
}
