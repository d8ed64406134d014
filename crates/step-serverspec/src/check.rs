//! The typed model of a host check: a [`Resource`] (a port, a file, an HTTP
//! endpoint…) and the [`Assertion`]s made about it, each a [`Property`] of
//! the resource and a [`Matcher`] — plus how patiently to check it
//! (`timeout`, `retries`, `wait_for`). Each assertion becomes one reported
//! result with a readable description ("Port 8080 should be listening").

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;

use crate::matcher::{Matcher, show_expected};

/// Where a check was written: spec file, line and column (1-based, in the
/// rendered spec).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The spec file, as given.
    pub file: String,
    /// Line of the check's first key.
    pub line: u64,
    /// Column of the check's first key.
    pub column: u64,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Re-run a check until it passes or `timeout` has passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitFor {
    /// How long to keep trying.
    pub timeout: Duration,
    /// Pause between attempts.
    pub interval: Duration,
}

/// One check: a resource, what must hold about it, and how patiently.
#[derive(Clone, Debug)]
pub struct Check {
    /// What is checked.
    pub resource: Resource,
    /// What must hold; each is reported on its own.
    pub assertions: Vec<Assertion>,
    /// How the resource reads in descriptions ("Port 8080", or the check's `name`).
    pub subject: String,
    /// Limit for one attempt.
    pub timeout: Duration,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// Keep trying until it passes or this runs out.
    pub wait_for: Option<WaitFor>,
    /// Where it was written.
    pub origin: Origin,
}

impl Check {
    /// Whether a failed attempt may be tried again.
    pub fn may_retry(&self) -> bool {
        self.retries > 0 || self.wait_for.is_some()
    }

    /// The description of one assertion ("Port 8080 should be listening").
    pub fn describe(&self, assertion: &Assertion) -> String {
        format!("{} {}", self.subject, assertion.phrase(&self.resource))
    }
}

/// How a command is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandLine {
    /// A line for `sh -c`, as serverspec's `command(...)`.
    Shell(String),
    /// A program and its arguments, run without a shell.
    Argv(Vec<String>),
}

/// Shell builtins and reserved words: a line starting with one needs the shell.
const SHELL_WORDS: &[&str] = &[
    ".", ":", "[", "[[", "!", "{", "}", "alias", "bg", "break", "case", "cd", "command",
    "continue", "do", "done", "elif", "else", "esac", "eval", "exec", "exit", "export", "fc", "fg",
    "fi", "for", "getopts", "hash", "if", "jobs", "let", "local", "read", "readonly", "return",
    "set", "shift", "source", "then", "times", "trap", "type", "ulimit", "umask", "unalias",
    "unset", "until", "wait", "while",
];

impl CommandLine {
    /// The argv that runs it. A shell line of plain words (no quotes,
    /// variables, redirections, globs or builtins) runs without the shell:
    /// the same result, one process less.
    pub fn argv(&self) -> Vec<String> {
        match self {
            CommandLine::Shell(line) => {
                let plain = line
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b" \t-_./=:,@%+".contains(&b));
                let words: Vec<&str> = line.split_whitespace().collect();
                match words.first() {
                    Some(first)
                        if plain && !SHELL_WORDS.contains(first) && !first.contains('=') =>
                    {
                        words.iter().map(|w| w.to_string()).collect()
                    }
                    _ => vec!["sh".into(), "-c".into(), line.clone()],
                }
            }
            CommandLine::Argv(argv) => argv.clone(),
        }
    }
}

impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandLine::Shell(line) => f.write_str(line),
            CommandLine::Argv(argv) => f.write_str(&argv.join(" ")),
        }
    }
}

/// Socket protocols a port check can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// TCP over IPv4 or IPv6.
    Tcp,
    /// TCP over IPv6 only.
    Tcp6,
    /// UDP over IPv4 or IPv6.
    Udp,
    /// UDP over IPv6 only.
    Udp6,
}

impl Protocol {
    /// Parses `tcp`, `tcp6`, `udp`, `udp6`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "tcp6" => Some(Protocol::Tcp6),
            "udp" => Some(Protocol::Udp),
            "udp6" => Some(Protocol::Udp6),
            _ => None,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Tcp6 => "tcp6",
            Protocol::Udp => "udp",
            Protocol::Udp6 => "udp6",
        }
    }
}

/// An HTTP request to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// The URL.
    pub url: String,
    /// The method (GET).
    pub method: String,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// A request body.
    pub body: Option<String>,
    /// Accept any TLS certificate.
    pub insecure: bool,
}

/// What a check looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    /// A command's exit status and output.
    Command(CommandLine),
    /// A port some socket listens on.
    Port {
        /// The port number.
        port: u16,
        /// Only sockets of this protocol (any when unset).
        protocol: Option<Protocol>,
        /// Only sockets bound to this address (any when unset).
        address: Option<IpAddr>,
    },
    /// An init-system service.
    Service(String),
    /// Processes with this name (the kernel's short name or the program's base name).
    Process(String),
    /// A path in the file system.
    File {
        /// The path.
        path: String,
        /// Whether an assertion reads the content (so it is fetched).
        content: bool,
        /// Whether an assertion reads a symlink's target.
        link: bool,
    },
    /// A user account (`/etc/passwd`).
    User(String),
    /// A group (`/etc/group`).
    Group(String),
    /// A Debian package (dpkg status).
    Package(String),
    /// An HTTP endpoint.
    Http(HttpRequest),
    /// A docker container, by name or id (`docker inspect`).
    DockerContainer(String),
    /// A TCP address to connect to.
    Addr {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
}

impl Resource {
    /// The subject of descriptions ("Port 8080", "File /etc/hosts").
    pub fn subject(&self) -> String {
        match self {
            Resource::Command(c) => format!("Command `{c}`"),
            Resource::Port { port, .. } => format!("Port {port}"),
            Resource::Service(n) => format!("Service {n}"),
            Resource::Process(n) => format!("Process {n}"),
            Resource::File { path, .. } => format!("File {path}"),
            Resource::User(n) => format!("User {n}"),
            Resource::Group(n) => format!("Group {n}"),
            Resource::Package(n) => format!("Package {n}"),
            Resource::Http(r) => format!("HTTP {} {}", r.method, r.url),
            Resource::DockerContainer(n) => format!("Docker container {n}"),
            Resource::Addr { host, port } => format!("Address {host}:{port}"),
        }
    }

    /// The assertion made when a check names none ("Port 8080" alone means
    /// it should be listening).
    pub fn default_assertion(&self) -> Assertion {
        let property = match self {
            Resource::Command(_) => {
                return Assertion::new(Property::ExitStatus, Matcher::eq(0));
            }
            Resource::Http(_) => return Assertion::new(Property::Status, Matcher::eq(200)),
            Resource::Port { .. } => Property::Listening,
            Resource::Service(_) | Resource::Process(_) | Resource::DockerContainer(_) => {
                Property::Running
            }
            Resource::File { .. } | Resource::User(_) | Resource::Group(_) => Property::Exists,
            Resource::Package(_) => Property::Installed,
            Resource::Addr { .. } => Property::Reachable,
        };
        Assertion::new(property, Matcher::eq(true))
    }
}

/// What an assertion reads from a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Property {
    /// A command's exit status.
    ExitStatus,
    /// A command's standard output.
    Stdout,
    /// A command's standard error.
    Stderr,
    /// Whether a port is listening.
    Listening,
    /// Whether a service, process or container is running.
    Running,
    /// Whether a service starts at boot.
    Enabled,
    /// The user a process runs as.
    ProcessUser,
    /// A process's command line.
    Args,
    /// How many processes match.
    Count,
    /// Whether a file, user or group exists.
    Exists,
    /// A file's type (file, directory, symlink, socket, pipe, block_device, character_device).
    Type,
    /// A file's permission bits, as four octal digits ("0644").
    Mode,
    /// A file's owner (user name).
    Owner,
    /// A file's group, or a user's primary group (group name).
    Group,
    /// A file's size in bytes.
    Size,
    /// A file's content.
    Content,
    /// A symlink's target.
    LinkTarget,
    /// A user's id.
    Uid,
    /// A user's primary group id, or a group's id.
    Gid,
    /// A user's home directory.
    Home,
    /// A user's login shell.
    Shell,
    /// The names of all groups a user belongs to.
    Groups,
    /// Whether a package is installed.
    Installed,
    /// A package's version.
    Version,
    /// An HTTP response's status code.
    Status,
    /// An HTTP response header (lower-case name).
    Header(String),
    /// An HTTP response body.
    Body,
    /// A container's image (as it was started: `Config.Image`).
    Image,
    /// The host path mounted at this container path.
    Volume(String),
    /// Whether a TCP connection can be made.
    Reachable,
}

impl Property {
    /// The property's name in descriptions.
    pub fn label(&self) -> String {
        match self {
            Property::ExitStatus => "exit status".into(),
            Property::Stdout => "stdout".into(),
            Property::Stderr => "stderr".into(),
            Property::Listening => "listening".into(),
            Property::Running => "running".into(),
            Property::Enabled => "enabled".into(),
            Property::ProcessUser => "user".into(),
            Property::Args => "args".into(),
            Property::Count => "count".into(),
            Property::Exists => "exists".into(),
            Property::Type => "type".into(),
            Property::Mode => "mode".into(),
            Property::Owner => "owner".into(),
            Property::Group => "group".into(),
            Property::Size => "size".into(),
            Property::Content => "content".into(),
            Property::LinkTarget => "link target".into(),
            Property::Uid => "uid".into(),
            Property::Gid => "gid".into(),
            Property::Home => "home".into(),
            Property::Shell => "shell".into(),
            Property::Groups => "groups".into(),
            Property::Installed => "installed".into(),
            Property::Version => "version".into(),
            Property::Status => "status".into(),
            Property::Header(h) => format!("header {h}"),
            Property::Body => "body".into(),
            Property::Image => "image".into(),
            Property::Volume(p) => format!("volume {p}"),
            Property::Reachable => "reachable".into(),
        }
    }

    /// Whether this is a yes/no property (listening, running, exists, …).
    pub fn is_state(&self) -> bool {
        self.state_phrase().is_some()
    }

    /// For yes/no properties: the verb phrase ("be listening", "exist").
    fn state_phrase(&self) -> Option<&'static str> {
        Some(match self {
            Property::Listening => "be listening",
            Property::Running => "be running",
            Property::Enabled => "be enabled",
            Property::Exists => "exist",
            Property::Installed => "be installed",
            Property::Reachable => "be reachable",
            _ => return None,
        })
    }
}

/// One thing that must hold about a resource.
#[derive(Clone, Debug)]
pub struct Assertion {
    /// What is read.
    pub property: Property,
    /// What it must be.
    pub matcher: Matcher,
}

impl Assertion {
    /// An assertion.
    pub fn new(property: Property, matcher: Matcher) -> Self {
        Assertion { property, matcher }
    }

    /// The words after the subject: "should be listening", "mode should eq \"0644\"".
    pub fn phrase(&self, resource: &Resource) -> String {
        if let (Some(state), Some(expected)) =
            (self.property.state_phrase(), self.matcher.as_bool())
        {
            let mut phrase = format!("should {}{state}", if expected { "" } else { "not " });
            if let (
                Property::Listening,
                Resource::Port {
                    protocol, address, ..
                },
            ) = (&self.property, resource)
            {
                if let Some(p) = protocol {
                    phrase.push_str(&format!(" with {}", p.as_str()));
                }
                if let Some(a) = address {
                    phrase.push_str(&format!(" on {a}"));
                }
            }
            return phrase;
        }
        match (&self.property, &self.matcher) {
            (Property::Type, Matcher::Eq(Value::String(t))) => {
                let article = if t.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                format!("should be {article} {}", t.replace('_', " "))
            }
            (Property::Volume(container_path), Matcher::Eq(host_path)) => format!(
                "should have volume {container_path} mounted from {}",
                crate::matcher::as_text(host_path)
            ),
            (Property::Groups, Matcher::Contain(g)) => {
                format!("should belong to group {}", crate::matcher::as_text(g))
            }
            (p, Matcher::Path(path, Some(inner))) => {
                format!("{} {path} should {}", p.label(), inner.describe())
            }
            (p, m) => format!("{} should {}", p.label(), m.describe()),
        }
    }
}

/// The text a description shows for an expected value (exposed for the spec module).
pub(crate) fn expected_text(v: &Value) -> String {
    show_expected(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(resource: Resource, assertions: Vec<Assertion>) -> Check {
        Check {
            subject: resource.subject(),
            resource,
            assertions,
            timeout: Duration::from_secs(1),
            retries: 0,
            wait_for: None,
            origin: Origin {
                file: "s.yml".into(),
                line: 1,
                column: 3,
            },
        }
    }

    #[test]
    fn plain_command_lines_skip_the_shell() {
        let argv = |l: &str| CommandLine::Shell(l.into()).argv();
        assert_eq!(argv("echo hello-1"), vec!["echo", "hello-1"]);
        assert_eq!(
            argv("systemctl is-active docker"),
            vec!["systemctl", "is-active", "docker"]
        );
        for shell in [
            "echo $HOME",
            "a | b",
            "exit 3",
            "cd /tmp",
            "X=1 env",
            "ls *.log",
            "echo 'a b'",
            "a; b",
        ] {
            assert_eq!(argv(shell), vec!["sh", "-c", shell], "{shell}");
        }
    }

    #[test]
    fn descriptions_read_like_serverspec() {
        let port = Resource::Port {
            port: 8080,
            protocol: None,
            address: None,
        };
        let c = check(port.clone(), vec![port.default_assertion()]);
        assert_eq!(
            c.describe(&c.assertions[0]),
            "Port 8080 should be listening"
        );
        let port = Resource::Port {
            port: 53,
            protocol: Some(Protocol::Udp),
            address: Some("127.0.0.1".parse().unwrap()),
        };
        let c = check(
            port,
            vec![Assertion::new(Property::Listening, Matcher::eq(false))],
        );
        assert_eq!(
            c.describe(&c.assertions[0]),
            "Port 53 should not be listening with udp on 127.0.0.1"
        );
        let file = Resource::File {
            path: "/etc".into(),
            content: false,
            link: false,
        };
        let c = check(
            file,
            vec![
                Assertion::new(Property::Type, Matcher::eq("directory")),
                Assertion::new(Property::Mode, Matcher::eq("0755")),
            ],
        );
        assert_eq!(
            c.describe(&c.assertions[0]),
            "File /etc should be a directory"
        );
        assert_eq!(
            c.describe(&c.assertions[1]),
            "File /etc mode should eq \"0755\""
        );
        let docker = Resource::DockerContainer("marathon".into());
        let c = check(
            docker,
            vec![Assertion::new(
                Property::Volume("/store".into()),
                Matcher::eq("/etc/marathon/store"),
            )],
        );
        assert_eq!(
            c.describe(&c.assertions[0]),
            "Docker container marathon should have volume /store mounted from /etc/marathon/store"
        );
    }
}
