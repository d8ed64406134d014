//! The native spec format: YAML files, rendered as minijinja templates
//! first, that list checks. This module turns a spec file's text into typed
//! [`Check`]s; every error names the file, line and column.
//!
//! A spec file is either a list of checks or a mapping with `checks:` and
//! optional `defaults:` (`timeout`, `retries`, `wait_for` for every check of
//! the file). Each check is a mapping with exactly one resource key
//! (`port: 8080`, `file: /etc/hosts`, …) and attributes of that resource.
//! The README documents the format in full.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;

use crate::check::{
    Assertion, Check, CommandLine, HttpRequest, Origin, Property, Protocol, Resource, WaitFor,
};
use crate::jsonpath::JsonPath;
use crate::matcher::{Matcher, Pattern};

/// A spec file that could not be understood: where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    /// The spec file.
    pub file: String,
    /// 1-based line (in the rendered spec), when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Settings every check of a spec starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Defaults {
    /// Limit for one attempt of a check.
    pub timeout: Duration,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// Keep trying until a check passes or this runs out.
    pub wait_for: Option<WaitFor>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            timeout: Duration::from_secs(30),
            retries: 0,
            wait_for: None,
        }
    }
}

/// The spec files at `path`: the file itself, or every `*.yml` / `*.yaml`
/// below the directory (recursively, sorted by path).
pub fn spec_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let p = entry.path();
            if entry.file_type()?.is_dir() {
                dirs.push(p);
            } else if p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e == "yml" || e == "yaml")
            {
                found.push(p);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Parses a rendered spec named `file` into checks.
pub fn parse_spec(file: &str, yaml: &str, defaults: &Defaults) -> Result<Vec<Check>, SpecError> {
    if yaml
        .lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#') || l == "---")
    {
        return Ok(Vec::new());
    }
    let doc: SpecDoc = serde_saphyr::from_str(yaml).map_err(|e| yaml_error(file, yaml, &e))?;
    let defaults = doc.defaults.apply(defaults);
    doc.checks
        .into_iter()
        .map(|spanned| {
            let origin = Origin {
                file: file.to_string(),
                line: spanned.referenced.line(),
                column: spanned.referenced.column(),
            };
            spanned
                .value
                .into_check(origin.clone(), &defaults)
                .map_err(|message| SpecError {
                    file: file.to_string(),
                    line: Some(origin.line),
                    column: Some(origin.column),
                    message,
                })
        })
        .collect()
}

fn yaml_error(file: &str, yaml: &str, e: &serde_saphyr::Error) -> SpecError {
    let loc = e.location().filter(|l| l.line() > 0);
    let mut message = e.without_snippet().to_string();
    if let Some(l) = &loc {
        // The plain message ends with "at line L, column C"; the location is
        // printed in front instead.
        let suffix = format!(" at line {}, column {}", l.line(), l.column());
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_string();
        }
    }
    let found = loc.and_then(|l| scalar_at(yaml, l.line(), l.column()));
    SpecError {
        file: file.to_string(),
        line: loc.map(|l| l.line()),
        column: loc.map(|l| l.column()),
        message: as_expectation(&message, found.as_deref()),
    }
}

/// Rephrases the YAML reader's terse messages as what was expected:
/// "invalid floating point" says nothing to someone who wrote `ge: one`.
/// Unknown keys get the nearest known key as a suggestion.
fn as_expectation(message: &str, found: Option<&str>) -> String {
    let found = found.map(|f| format!(", found `{f}`")).unwrap_or_default();
    let expected = match message {
        "invalid floating point" => Some("expected a number".to_string()),
        "invalid u16" => Some("expected a whole number from 0 to 65535".to_string()),
        m if m.starts_with("invalid u") || m.starts_with("invalid i") => {
            Some("expected a whole number ≥ 0".to_string())
        }
        m if m.starts_with("invalid bool") => Some("expected true or false".to_string()),
        _ => None,
    };
    if let Some(e) = expected {
        return format!("{e}{found}");
    }
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((key, list)) = rest.split_once("`, expected one of ")
    {
        let known = list.split(", ").map(|k| k.trim_matches('`'));
        let hint = nearest(key, known)
            .map(|k| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default();
        return format!("unknown key `{key}`{hint}; expected one of {list}");
    }
    message.to_string()
}

/// The known name closest to `word` when it is a likely typo (at most a
/// third of its letters differ).
fn nearest<'a>(word: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    known
        .map(|k| (edit_distance(word, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The plain scalar that starts at 1-based `line`:`column`, for messages.
fn scalar_at(yaml: &str, line: u64, column: u64) -> Option<String> {
    let text = yaml
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let start = usize::try_from(column).ok()?.checked_sub(1)?;
    let word: String = text
        .chars()
        .skip(start)
        .take_while(|c| !matches!(c, ',' | '}' | ']' | '#') && !c.is_whitespace())
        .collect();
    (!word.is_empty()).then_some(word)
}

/// A whole spec file.
struct SpecDoc {
    checks: Vec<Spanned<CheckSpec>>,
    defaults: DefaultsSpec,
}

impl<'de> Deserialize<'de> for SpecDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DocVisitor;
        impl<'de> Visitor<'de> for DocVisitor {
            type Value = SpecDoc;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a list of checks, or a mapping with `checks` (and optional `defaults`)",
                )
            }
            fn visit_unit<E: de::Error>(self) -> Result<SpecDoc, E> {
                Ok(SpecDoc {
                    checks: Vec::new(),
                    defaults: DefaultsSpec::default(),
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SpecDoc, A::Error> {
                let mut checks = Vec::new();
                while let Some(c) = seq.next_element::<Spanned<CheckSpec>>()? {
                    checks.push(c);
                }
                Ok(SpecDoc {
                    checks,
                    defaults: DefaultsSpec::default(),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SpecDoc, A::Error> {
                let mut checks = None;
                let mut defaults = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "checks" => checks = Some(map.next_value::<Vec<Spanned<CheckSpec>>>()?),
                        "defaults" => defaults = Some(map.next_value::<DefaultsSpec>()?),
                        other => {
                            return Err(de::Error::unknown_field(other, &["checks", "defaults"]));
                        }
                    }
                }
                Ok(SpecDoc {
                    checks: checks.ok_or_else(|| de::Error::missing_field("checks"))?,
                    defaults: defaults.unwrap_or_default(),
                })
            }
        }
        d.deserialize_any(DocVisitor)
    }
}

/// `defaults:` of a spec file.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsSpec {
    #[serde(default)]
    timeout: Option<Secs>,
    #[serde(default)]
    retries: Option<u32>,
    #[serde(default)]
    wait_for: Option<WaitForSpec>,
}

impl DefaultsSpec {
    fn apply(&self, base: &Defaults) -> Defaults {
        Defaults {
            timeout: self.timeout.map(|s| s.0).unwrap_or(base.timeout),
            retries: self.retries.unwrap_or(base.retries),
            wait_for: self
                .wait_for
                .as_ref()
                .map(WaitForSpec::to_wait_for)
                .or(base.wait_for),
        }
    }
}

/// `wait_for: {timeout, interval}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitForSpec {
    timeout: Secs,
    #[serde(default)]
    interval: Option<Secs>,
}

impl WaitForSpec {
    fn to_wait_for(&self) -> WaitFor {
        WaitFor {
            timeout: self.timeout.0,
            interval: self.interval.map(|s| s.0).unwrap_or(Duration::from_secs(1)),
        }
    }
}

/// A duration written as `90s`, `500ms`, `5m` or a number of seconds.
#[derive(Clone, Copy, Debug)]
struct Secs(Duration);

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Secs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 30s, 500ms or 2m, or a number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secs, E> {
                Ok(Secs(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secs, E> {
                u64::try_from(v)
                    .map(|v| Secs(Duration::from_secs(v)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Secs, E> {
                Duration::try_from_secs_f64(v)
                    .map(Secs)
                    .map_err(|_| E::custom(format!("`{v}` is not a duration")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secs, E> {
                step_core::config::duration::parse(v)
                    .map(Secs)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// One string or a list of strings.
struct Strings(Vec<String>);

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strings;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Strings, E> {
                Ok(Strings(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
                let mut all = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    all.push(s);
                }
                Ok(Strings(all))
            }
        }
        d.deserialize_any(V)
    }
}

/// A mapping kept in file order.
struct Ordered<V>(Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Vis<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<V>, A::Error> {
                let mut all = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    all.push((k, map.next_value::<V>()?));
                }
                Ok(Ordered(all))
            }
        }
        d.deserialize_map(Vis(std::marker::PhantomData))
    }
}

/// `command:` as a shell line or an argv list.
struct CommandSpec(CommandLine);

impl<'de> Deserialize<'de> for CommandSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CommandSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a shell command line, or a list: program and arguments")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CommandSpec, E> {
                if v.trim().is_empty() {
                    return Err(E::custom("the command is empty"));
                }
                Ok(CommandSpec(CommandLine::Shell(v.to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CommandSpec, A::Error> {
                let mut argv = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    argv.push(s);
                }
                if argv.is_empty() {
                    return Err(de::Error::custom("the command list is empty"));
                }
                Ok(CommandSpec(CommandLine::Argv(argv)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `volumes:` entries of a docker_container check.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VolumeSpec {
    container_path: String,
    host_path: String,
}

/// One check as written: every key any resource accepts. Which resource it
/// is, and whether the other keys fit it, is decided in [`CheckSpec::into_check`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckSpec {
    // Common.
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    timeout: Option<Secs>,
    #[serde(default)]
    retries: Option<u32>,
    #[serde(default)]
    wait_for: Option<WaitForSpec>,

    // Resources.
    #[serde(default)]
    command: Option<CommandSpec>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    process: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    http: Option<String>,
    #[serde(default)]
    docker_container: Option<String>,
    #[serde(default)]
    addr: Option<String>,
    /// The user resource, or the user a process runs as.
    #[serde(default)]
    user: Option<Matcher>,
    /// The group resource, a file's group or a user's primary group.
    #[serde(default)]
    group: Option<Matcher>,

    // command
    #[serde(default)]
    exit_status: Option<Matcher>,
    #[serde(default)]
    stdout: Option<Matcher>,
    #[serde(default)]
    stderr: Option<Matcher>,
    // port
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    listening: Option<bool>,
    // service, process, docker_container
    #[serde(default)]
    running: Option<bool>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    args: Option<Matcher>,
    #[serde(default)]
    count: Option<Matcher>,
    // file, user, group
    #[serde(default)]
    exists: Option<bool>,
    #[serde(default, rename = "type")]
    file_type: Option<Matcher>,
    #[serde(default)]
    mode: Option<Matcher>,
    #[serde(default)]
    owner: Option<Matcher>,
    #[serde(default)]
    size: Option<Matcher>,
    #[serde(default)]
    content: Option<Matcher>,
    #[serde(default)]
    contains: Option<Strings>,
    #[serde(default)]
    matches: Option<Strings>,
    #[serde(default)]
    link_target: Option<Matcher>,
    #[serde(default)]
    uid: Option<Matcher>,
    #[serde(default)]
    gid: Option<Matcher>,
    #[serde(default)]
    home: Option<Matcher>,
    #[serde(default)]
    shell: Option<Matcher>,
    #[serde(default)]
    groups: Option<Matcher>,
    // package
    #[serde(default)]
    installed: Option<bool>,
    #[serde(default)]
    version: Option<Matcher>,
    // http
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    request_headers: Option<Ordered<String>>,
    #[serde(default)]
    request_body: Option<String>,
    #[serde(default)]
    insecure: Option<bool>,
    #[serde(default)]
    status: Option<Matcher>,
    #[serde(default)]
    headers: Option<Ordered<Matcher>>,
    #[serde(default)]
    body: Option<Matcher>,
    #[serde(default)]
    json: Option<Ordered<Matcher>>,
    // docker_container
    #[serde(default)]
    image: Option<Matcher>,
    #[serde(default)]
    volumes: Option<Vec<VolumeSpec>>,
    // addr
    #[serde(default)]
    reachable: Option<bool>,
}

/// The kinds of resource, for checking which attributes fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Command,
    Port,
    Service,
    Process,
    File,
    Package,
    Http,
    DockerContainer,
    Addr,
    User,
    Group,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::Command => "command",
            Kind::Port => "port",
            Kind::Service => "service",
            Kind::Process => "process",
            Kind::File => "file",
            Kind::Package => "package",
            Kind::Http => "http",
            Kind::DockerContainer => "docker_container",
            Kind::Addr => "addr",
            Kind::User => "user",
            Kind::Group => "group",
        }
    }
}

/// Every resource key, for messages.
const RESOURCE_KEYS: &str =
    "command, port, service, process, file, user, group, package, http, docker_container, addr";

impl CheckSpec {
    fn kind(&self) -> Result<Kind, String> {
        let primary: Vec<Kind> = [
            (self.command.is_some(), Kind::Command),
            (self.port.is_some(), Kind::Port),
            (self.service.is_some(), Kind::Service),
            (self.process.is_some(), Kind::Process),
            (self.file.is_some(), Kind::File),
            (self.package.is_some(), Kind::Package),
            (self.http.is_some(), Kind::Http),
            (self.docker_container.is_some(), Kind::DockerContainer),
            (self.addr.is_some(), Kind::Addr),
        ]
        .into_iter()
        .filter_map(|(present, kind)| present.then_some(kind))
        .collect();
        match primary.as_slice() {
            [one] => Ok(*one),
            [] if self.user.is_some() => Ok(Kind::User),
            [] if self.group.is_some() => Ok(Kind::Group),
            [] => Err(format!(
                "the check names no resource; give one of {RESOURCE_KEYS}"
            )),
            [a, b, ..] => Err(format!(
                "the check names two resources, `{}` and `{}`; write one check per resource",
                a.key(),
                b.key()
            )),
        }
    }

    /// Rejects attributes that do not belong to `kind`.
    fn reject_foreign(&self, kind: Kind) -> Result<(), String> {
        use Kind::*;
        let attributes: &[(&str, bool, &[Kind])] = &[
            ("exit_status", self.exit_status.is_some(), &[Command]),
            ("stdout", self.stdout.is_some(), &[Command]),
            ("stderr", self.stderr.is_some(), &[Command]),
            ("protocol", self.protocol.is_some(), &[Port]),
            ("address", self.address.is_some(), &[Port]),
            ("listening", self.listening.is_some(), &[Port]),
            (
                "running",
                self.running.is_some(),
                &[Service, Process, DockerContainer],
            ),
            ("enabled", self.enabled.is_some(), &[Service]),
            ("user", self.user.is_some(), &[Process, User]),
            ("group", self.group.is_some(), &[File, User, Group]),
            ("args", self.args.is_some(), &[Process]),
            ("count", self.count.is_some(), &[Process]),
            ("exists", self.exists.is_some(), &[File, User, Group]),
            ("type", self.file_type.is_some(), &[File]),
            ("mode", self.mode.is_some(), &[File]),
            ("owner", self.owner.is_some(), &[File]),
            ("size", self.size.is_some(), &[File]),
            ("content", self.content.is_some(), &[File]),
            ("contains", self.contains.is_some(), &[File]),
            ("matches", self.matches.is_some(), &[File]),
            ("link_target", self.link_target.is_some(), &[File]),
            ("uid", self.uid.is_some(), &[User]),
            ("gid", self.gid.is_some(), &[User, Group]),
            ("home", self.home.is_some(), &[User]),
            ("shell", self.shell.is_some(), &[User]),
            ("groups", self.groups.is_some(), &[User]),
            ("installed", self.installed.is_some(), &[Package]),
            ("version", self.version.is_some(), &[Package]),
            ("method", self.method.is_some(), &[Http]),
            ("request_headers", self.request_headers.is_some(), &[Http]),
            ("request_body", self.request_body.is_some(), &[Http]),
            ("insecure", self.insecure.is_some(), &[Http]),
            ("status", self.status.is_some(), &[Http]),
            ("headers", self.headers.is_some(), &[Http]),
            ("body", self.body.is_some(), &[Http]),
            ("json", self.json.is_some(), &[Http]),
            ("image", self.image.is_some(), &[DockerContainer]),
            ("volumes", self.volumes.is_some(), &[DockerContainer]),
            ("reachable", self.reachable.is_some(), &[Addr]),
        ];
        for (name, present, kinds) in attributes {
            if *present && !kinds.contains(&kind) {
                let fits: Vec<&str> = kinds.iter().map(|k| k.key()).collect();
                return Err(format!(
                    "`{name}` does not apply to a {} check (it applies to: {})",
                    kind.key(),
                    fits.join(", ")
                ));
            }
        }
        Ok(())
    }

    fn into_check(self, origin: Origin, defaults: &Defaults) -> Result<Check, String> {
        let kind = self.kind()?;
        self.reject_foreign(kind)?;
        let mut a: Vec<Assertion> = Vec::new();
        let state = |a: &mut Vec<Assertion>, p: Property, v: Option<bool>| {
            if let Some(v) = v {
                a.push(Assertion::new(p, Matcher::eq(v)));
            }
        };
        let attr = |a: &mut Vec<Assertion>, p: Property, m: Option<Matcher>| {
            if let Some(m) = m {
                a.push(Assertion::new(p, m));
            }
        };
        let resource = match kind {
            Kind::Command => {
                attr(&mut a, Property::ExitStatus, self.exit_status);
                attr(&mut a, Property::Stdout, self.stdout);
                attr(&mut a, Property::Stderr, self.stderr);
                Resource::Command(self.command.map(|c| c.0).ok_or("missing command")?)
            }
            Kind::Port => {
                let protocol = match &self.protocol {
                    Some(p) => Some(Protocol::parse(p).ok_or_else(|| {
                        format!("protocol `{p}` is not one of tcp, tcp6, udp, udp6")
                    })?),
                    None => None,
                };
                let address = match &self.address {
                    Some(text) => Some(
                        text.trim_matches(['[', ']'])
                            .parse::<IpAddr>()
                            .map_err(|_| format!("address `{text}` is not an IP address"))?,
                    ),
                    None => None,
                };
                state(&mut a, Property::Listening, self.listening);
                Resource::Port {
                    port: self.port.ok_or("missing port")?,
                    protocol,
                    address,
                }
            }
            Kind::Service => {
                state(&mut a, Property::Running, self.running);
                state(&mut a, Property::Enabled, self.enabled);
                Resource::Service(non_empty("service", self.service)?)
            }
            Kind::Process => {
                state(&mut a, Property::Running, self.running);
                attr(&mut a, Property::ProcessUser, self.user);
                attr(&mut a, Property::Args, self.args);
                attr(&mut a, Property::Count, self.count);
                Resource::Process(non_empty("process", self.process)?)
            }
            Kind::File => {
                state(&mut a, Property::Exists, self.exists);
                if let Some(m) = self.file_type {
                    a.push(Assertion::new(Property::Type, normalize_type(m)?));
                }
                if let Some(m) = self.mode {
                    a.push(Assertion::new(Property::Mode, normalize_mode(m)?));
                }
                attr(&mut a, Property::Owner, self.owner);
                attr(&mut a, Property::Group, self.group);
                attr(&mut a, Property::Size, self.size);
                attr(&mut a, Property::Content, self.content);
                for s in self.contains.map(|s| s.0).unwrap_or_default() {
                    a.push(Assertion::new(
                        Property::Content,
                        Matcher::Contain(Value::String(s)),
                    ));
                }
                for s in self.matches.map(|s| s.0).unwrap_or_default() {
                    a.push(Assertion::new(
                        Property::Content,
                        Matcher::Match(Pattern::new(&s).map_err(|e| e.to_string())?),
                    ));
                }
                attr(&mut a, Property::LinkTarget, self.link_target);
                let content = a.iter().any(|x| x.property == Property::Content);
                let link = a.iter().any(|x| x.property == Property::LinkTarget);
                Resource::File {
                    path: non_empty("file", self.file)?,
                    content,
                    link,
                }
            }
            Kind::User => {
                state(&mut a, Property::Exists, self.exists);
                attr(&mut a, Property::Uid, self.uid);
                attr(&mut a, Property::Gid, self.gid);
                attr(&mut a, Property::Group, self.group);
                attr(&mut a, Property::Home, self.home);
                attr(&mut a, Property::Shell, self.shell);
                if let Some(m) = self.groups {
                    a.extend(group_membership(m));
                }
                Resource::User(name_of("user", self.user)?)
            }
            Kind::Group => {
                state(&mut a, Property::Exists, self.exists);
                attr(&mut a, Property::Gid, self.gid);
                Resource::Group(name_of("group", self.group)?)
            }
            Kind::Package => {
                state(&mut a, Property::Installed, self.installed);
                attr(&mut a, Property::Version, self.version);
                Resource::Package(non_empty("package", self.package)?)
            }
            Kind::Http => {
                attr(&mut a, Property::Status, self.status);
                for (name, m) in self.headers.map(|h| h.0).unwrap_or_default() {
                    a.push(Assertion::new(
                        Property::Header(name.to_ascii_lowercase()),
                        m,
                    ));
                }
                attr(&mut a, Property::Body, self.body);
                for (path, m) in self.json.map(|j| j.0).unwrap_or_default() {
                    let path = JsonPath::parse(&path).map_err(|e| e.to_string())?;
                    a.push(Assertion::new(
                        Property::Body,
                        Matcher::Path(path, Some(Box::new(m))),
                    ));
                }
                let url = non_empty("http", self.http)?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(format!("`{url}` is not an http:// or https:// URL"));
                }
                Resource::Http(HttpRequest {
                    url,
                    method: self
                        .method
                        .unwrap_or_else(|| "GET".into())
                        .to_ascii_uppercase(),
                    headers: self.request_headers.map(|h| h.0).unwrap_or_default(),
                    body: self.request_body,
                    insecure: self.insecure.unwrap_or(false),
                })
            }
            Kind::DockerContainer => {
                state(&mut a, Property::Running, self.running);
                attr(&mut a, Property::Image, self.image);
                for v in self.volumes.unwrap_or_default() {
                    a.push(Assertion::new(
                        Property::Volume(v.container_path),
                        Matcher::Eq(Value::String(v.host_path)),
                    ));
                }
                Resource::DockerContainer(non_empty("docker_container", self.docker_container)?)
            }
            Kind::Addr => {
                state(&mut a, Property::Reachable, self.reachable);
                let (host, port) = parse_addr(&non_empty("addr", self.addr)?)?;
                Resource::Addr { host, port }
            }
        };
        if a.is_empty() {
            a.push(resource.default_assertion());
        }
        let subject = self.name.unwrap_or_else(|| resource.subject());
        Ok(Check {
            resource,
            assertions: a,
            subject,
            timeout: self.timeout.map(|s| s.0).unwrap_or(defaults.timeout),
            retries: self.retries.unwrap_or(defaults.retries),
            wait_for: self
                .wait_for
                .as_ref()
                .map(WaitForSpec::to_wait_for)
                .or(defaults.wait_for),
            origin,
        })
    }
}

fn non_empty(key: &str, value: Option<String>) -> Result<String, String> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(format!("`{key}` is empty")),
    }
}

/// The name of a user or group resource (written where a matcher may also stand).
fn name_of(key: &str, m: Option<Matcher>) -> Result<String, String> {
    match m {
        Some(Matcher::Eq(Value::String(s))) if !s.trim().is_empty() => Ok(s),
        Some(Matcher::Eq(Value::Number(n))) => Ok(n.to_string()),
        _ => Err(format!("`{key}` must be a {key} name")),
    }
}

/// `groups: [a, b]` means "belongs to a and to b", not "exactly these".
fn group_membership(m: Matcher) -> Vec<Assertion> {
    match m {
        Matcher::Eq(Value::Array(items)) => items
            .into_iter()
            .map(|g| Assertion::new(Property::Groups, Matcher::Contain(g)))
            .collect(),
        Matcher::Eq(v @ Value::String(_)) => {
            vec![Assertion::new(Property::Groups, Matcher::Contain(v))]
        }
        other => vec![Assertion::new(Property::Groups, other)],
    }
}

/// Applies `f` to every `eq` value inside a matcher.
fn map_eq(m: Matcher, f: &dyn Fn(Value) -> Result<Value, String>) -> Result<Matcher, String> {
    Ok(match m {
        Matcher::Eq(v) => Matcher::Eq(f(v)?),
        Matcher::Not(inner) => Matcher::Not(Box::new(map_eq(*inner, f)?)),
        Matcher::All(all) => Matcher::All(
            all.into_iter()
                .map(|m| map_eq(m, f))
                .collect::<Result<_, _>>()?,
        ),
        other => other,
    })
}

/// Modes compare as four octal digits: `644`, `0644` and `"0644"` are the same.
fn normalize_mode(m: Matcher) -> Result<Matcher, String> {
    map_eq(m, &|v| {
        let digits = match &v {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f >= 0.0 => format!("{}", f as u64),
                _ => String::new(),
            },
            _ => String::new(),
        };
        let digits = digits.trim_start_matches("0o");
        if digits.is_empty()
            || digits.len() > 4
            || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
        {
            return Err(format!(
                "mode {} is not an octal mode like \"0644\" (quote it, so YAML keeps the leading zero)",
                crate::check::expected_text(&v)
            ));
        }
        Ok(Value::String(format!("{digits:0>4}")))
    })
}

/// File types have one name each: `dir` is `directory`, `link` is `symlink`.
fn normalize_type(m: Matcher) -> Result<Matcher, String> {
    map_eq(m, &|v| {
        let text = crate::matcher::as_text(&v).to_ascii_lowercase();
        let name = match text.as_str() {
            "file" | "regular" => "file",
            "directory" | "dir" => "directory",
            "symlink" | "link" => "symlink",
            "socket" => "socket",
            "pipe" | "fifo" => "pipe",
            "block_device" => "block_device",
            "character_device" => "character_device",
            _ => {
                return Err(format!(
                    "file type `{text}` is not one of file, directory, symlink, socket, pipe, block_device, character_device"
                ));
            }
        };
        Ok(Value::String(name.into()))
    })
}

/// `host:port`, `[v6]:port` or `tcp://host:port`.
fn parse_addr(text: &str) -> Result<(String, u16), String> {
    let bad = || format!("addr `{text}` is not host:port");
    let rest = text.trim();
    let rest = rest.strip_prefix("tcp://").unwrap_or(rest);
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    let port = port.parse::<u16>().map_err(|_| bad())?;
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Vec<Check>, SpecError> {
        parse_spec("spec.yml", yaml, &Defaults::default())
    }

    #[test]
    fn a_list_of_checks_with_defaults_and_descriptions() {
        let checks = parse(
            "- port: 8080\n- file: /etc/hosts\n  mode: 644\n  contains: localhost\n- user: root\n  uid: 0\n  groups: [root]\n",
        )
        .unwrap();
        assert_eq!(checks.len(), 3);
        assert_eq!(
            checks[0].describe(&checks[0].assertions[0]),
            "Port 8080 should be listening"
        );
        assert_eq!(
            checks[1].describe(&checks[1].assertions[0]),
            "File /etc/hosts mode should eq \"0644\""
        );
        assert_eq!(
            checks[1].describe(&checks[1].assertions[1]),
            "File /etc/hosts content should contain \"localhost\""
        );
        assert_eq!(
            checks[2].describe(&checks[2].assertions[1]),
            "User root should belong to group root"
        );
        assert_eq!((checks[1].origin.line, checks[1].origin.column), (2, 3));
    }

    #[test]
    fn mapping_form_with_file_defaults() {
        let checks = parse(
            "defaults:\n  timeout: 5s\n  wait_for: {timeout: 1m}\nchecks:\n  - http: http://x/\n    json:\n      $.a: 1\n",
        )
        .unwrap();
        assert_eq!(checks[0].timeout, Duration::from_secs(5));
        assert_eq!(
            checks[0].wait_for.map(|w| w.timeout),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            checks[0].describe(&checks[0].assertions[0]),
            "HTTP GET http://x/ body $.a should eq 1"
        );
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let err = parse("- port: 80\n- file: /x\n  listenin: true\n").unwrap_err();
        assert_eq!((err.line, err.column), (Some(3), Some(3)), "{err}");
        assert!(
            err.to_string()
                .starts_with("spec.yml:3:3: unknown key `listenin` (did you mean `listening`?)"),
            "{err}"
        );
        let err = parse("- port: 80\n- file: /x\n  listening: true\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "spec.yml:2:3: `listening` does not apply to a file check (it applies to: port)"
        );
        let err = parse("- port: 80\n  file: /x\n").unwrap_err();
        assert!(err.message.contains("two resources"), "{err}");
        let err = parse("- exists: true\n").unwrap_err();
        assert!(err.message.contains("names no resource"), "{err}");
        let err = parse("- port: eighty\n").unwrap_err();
        assert_eq!((err.line, err.column), (Some(1), Some(9)), "{err}");
        let err = parse("- file: /x\n  mode: '0999'\n").unwrap_err();
        assert!(err.message.contains("octal"), "{err}");
        let err = parse("- file: /x\n  stdout: {match: '('}\n").unwrap_err();
        assert!(err.message.contains("invalid regular expression"), "{err}");
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn user_and_group_keys_double_as_attributes() {
        let checks = parse(
            "- process: sshd\n  user: root\n- file: /x\n  group: adm\n- group: adm\n  gid: 4\n",
        )
        .unwrap();
        assert_eq!(checks[0].assertions[0].property, Property::ProcessUser);
        assert_eq!(checks[1].assertions[0].property, Property::Group);
        assert_eq!(checks[2].resource, Resource::Group("adm".into()));
    }

    #[test]
    fn empty_specs_have_no_checks() {
        assert!(parse("# nothing yet\n").unwrap().is_empty());
        assert!(parse("checks: []\n").unwrap().is_empty());
    }
}

#[cfg(test)]
mod message_tests {
    use super::*;

    fn error(yaml: &str) -> SpecError {
        parse_spec("s.yml", yaml, &Defaults::default()).expect_err(yaml)
    }

    #[test]
    fn a_misspelled_key_gets_a_suggestion_and_its_position() {
        let e = error("- port: 80\n  listning: true\n");
        assert_eq!((e.line, e.column), (Some(2), Some(3)));
        assert!(
            e.message
                .starts_with("unknown key `listning` (did you mean `listening`?)"),
            "{e}"
        );
        let e = error("checks:\n  - port: 80\ndefault: {}\n");
        assert!(e.message.contains("did you mean `defaults`?"), "{e}");
        let e = error("- zzzzzz: 1\n");
        assert!(!e.message.contains("did you mean"), "{e}");
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        let e = error("- process: nginx\n  count: {ge: one}\n");
        assert_eq!(e.message, "expected a number, found `one`");
        assert_eq!((e.line, e.column), (Some(2), Some(15)));
        let e = error("- port: eighty\n");
        assert_eq!(
            e.message,
            "expected a whole number from 0 to 65535, found `eighty`"
        );
    }
}
