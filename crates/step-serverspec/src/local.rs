//! Observing resources of this machine, in-process where the kernel or a
//! file already has the answer: files through `lstat`, listening TCP ports
//! through sock_diag netlink ([`crate::netdiag`]; `/proc/net/tcp` as the
//! fallback), UDP ports from `/proc/net/udp`, processes from `/proc`, users and groups from `/etc/passwd`
//! and `/etc/group`, packages from dpkg's status file, HTTP with reqwest,
//! TCP reachability with a socket. Only commands, services (systemctl or an
//! init script) start a child process; containers (`docker inspect`) are
//! asked of the engine's API socket when the CLI would use it (see
//! [`crate::docker_api`]), else of the CLI.
//!
//! The host-wide tables (sockets, processes, accounts, packages) are read
//! once per [`LocalRound`] and shared by all checks of the round, which is
//! what makes a thousand checks cost milliseconds.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use step_core::StepContext;
use step_core::process::{Cmd, ProcessError};

use crate::check::{Check, CommandLine, HttpRequest, Property, Resource};
use crate::facts::{
    Accounts, ContainerInfo, FileInfo, PackageInfo, ProcInfo, Socket, cmdline_text, kind_of_mode,
    parse_dpkg_status, parse_group, parse_passwd, parse_proc_net, parse_status,
};
use crate::observe::{
    CommandOutput, Observation, ServiceInfo, observe_group, observe_port, observe_process,
    observe_user,
};

/// The most of a file's content or a command's output that is read.
pub const MAX_CONTENT: usize = 4 * 1024 * 1024;

/// dpkg's database.
const DPKG_STATUS: &str = "/var/lib/dpkg/status";

/// Host-wide tables, each read at most once per round.
#[derive(Default)]
pub struct LocalRound {
    sockets: OnceLock<Vec<Socket>>,
    processes: OnceLock<Vec<ProcInfo>>,
    accounts: OnceLock<Accounts>,
    packages: OnceLock<Result<HashMap<String, PackageInfo>, String>>,
}

impl LocalRound {
    /// A fresh round (nothing read yet).
    pub fn new() -> Self {
        LocalRound::default()
    }

    fn sockets(&self) -> &[Socket] {
        self.sockets.get_or_init(|| {
            let mut all = Vec::new();
            let tcp_from_proc = match crate::netdiag::listening_tcp() {
                Ok(tcp) => {
                    all.extend(tcp);
                    false
                }
                Err(_) => true,
            };
            let tables: &[&'static str] = if tcp_from_proc {
                &["tcp", "tcp6", "udp", "udp6"]
            } else {
                &["udp", "udp6"]
            };
            for &proto in tables {
                if let Ok(text) = std::fs::read_to_string(format!("/proc/net/{proto}")) {
                    all.extend(parse_proc_net(proto, &text));
                }
            }
            all
        })
    }

    fn processes(&self) -> &[ProcInfo] {
        self.processes.get_or_init(read_processes)
    }

    fn accounts(&self) -> &Accounts {
        self.accounts.get_or_init(|| Accounts {
            users: std::fs::read_to_string("/etc/passwd")
                .map(|t| parse_passwd(&t))
                .unwrap_or_default(),
            groups: std::fs::read_to_string("/etc/group")
                .map(|t| parse_group(&t))
                .unwrap_or_default(),
        })
    }

    fn packages(&self) -> &Result<HashMap<String, PackageInfo>, String> {
        self.packages
            .get_or_init(|| match std::fs::read_to_string(DPKG_STATUS) {
                Ok(text) => Ok(parse_dpkg_status(&text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
                Err(e) => Err(format!("cannot read {DPKG_STATUS}: {e}")),
            })
    }
}

fn read_processes() -> Vec<ProcInfo> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut procs: Vec<ProcInfo> = dir
        .filter_map(Result::ok)
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            // A process may exit between listing and reading: skip it.
            let status = std::fs::read_to_string(e.path().join("status")).ok()?;
            let (name, uid) = parse_status(&status);
            let args = std::fs::read(e.path().join("cmdline"))
                .map(|raw| cmdline_text(&raw))
                .unwrap_or_default();
            Some(ProcInfo {
                pid,
                name: name?,
                uid,
                args,
            })
        })
        .collect();
    procs.sort_by_key(|p| p.pid);
    procs
}

/// Whether a check of this resource is answered in-process without waiting
/// on anything (so it need not get its own task).
pub fn is_instant(resource: &Resource) -> bool {
    matches!(
        resource,
        Resource::Port { .. }
            | Resource::Process(_)
            | Resource::File { .. }
            | Resource::User(_)
            | Resource::Group(_)
            | Resource::Package(_)
    )
}

/// HTTP clients for local checks (one that verifies certificates, one that does not).
#[derive(Clone)]
pub struct HttpClients {
    strict: reqwest::Client,
    insecure: reqwest::Client,
}

impl HttpClients {
    /// Builds both clients.
    pub fn new() -> Result<Self, String> {
        let build = |insecure: bool| {
            reqwest::Client::builder()
                .danger_accept_invalid_certs(insecure)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| format!("cannot set up an HTTP client: {e}"))
        };
        Ok(HttpClients {
            strict: build(false)?,
            insecure: build(true)?,
        })
    }
}

/// Observes one resource of this machine.
pub async fn observe(
    check: &Check,
    round: &LocalRound,
    cx: &StepContext,
    http: &HttpClients,
) -> Result<Observation, String> {
    match &check.resource {
        Resource::Port { .. } => Ok(observe_port(&check.resource, round.sockets())),
        Resource::Process(name) => Ok(observe_process(name, round.processes(), round.accounts())),
        Resource::User(name) => Ok(observe_user(name, round.accounts())),
        Resource::Group(name) => Ok(observe_group(name, round.accounts())),
        Resource::Package(name) => Ok(Observation::Package(match round.packages() {
            Ok(all) => Ok(all.get(name).cloned()),
            Err(why) => Err(why.clone()),
        })),
        Resource::File {
            path,
            content,
            link,
        } => Ok(Observation::File(observe_file(
            Path::new(path),
            *content,
            *link,
            round,
        ))),
        Resource::Command(line) => run_command(line, check.timeout, cx)
            .await
            .map(Observation::Command),
        Resource::Service(name) => observe_service(check, name, round, cx)
            .await
            .map(Observation::Service),
        Resource::Http(req) => Ok(Observation::Http(
            http_request(req, check.timeout, http).await,
        )),
        Resource::DockerContainer(name) => docker_inspect(name, check.timeout, cx)
            .await
            .map(Observation::Container),
        Resource::Addr { host, port } => {
            Ok(Observation::Addr(connect(host, *port, check.timeout).await))
        }
    }
}

fn observe_file(
    path: &Path,
    want_content: bool,
    want_link: bool,
    round: &LocalRound,
) -> Option<FileInfo> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let accounts = round.accounts();
    let content = want_content.then(|| read_capped(path));
    let link_target = if want_link && meta.file_type().is_symlink() {
        std::fs::read_link(path)
            .ok()
            .map(|t| t.to_string_lossy().into_owned())
    } else {
        None
    };
    Some(FileInfo {
        kind: kind_of_mode(meta.mode()),
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        owner: accounts.user_name(meta.uid()).map(String::from),
        group: accounts.group_name(meta.gid()).map(String::from),
        size: meta.size(),
        content,
        link_target,
    })
}

fn read_capped(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut buf = Vec::new();
    file.take(MAX_CONTENT as u64)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read it: {e}"))?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

async fn run_command(
    line: &CommandLine,
    timeout: Duration,
    cx: &StepContext,
) -> Result<CommandOutput, String> {
    let argv = line.argv();
    let Some((program, args)) = argv.split_first() else {
        return Err("empty command".into());
    };
    let cmd = Cmd::new(program)
        .args(args)
        .capture(MAX_CONTENT)
        .quiet()
        .grace(Duration::from_secs(2))
        .timeout(timeout);
    match cmd.run(cx).await {
        Ok(out) => Ok(CommandOutput {
            exit_status: out.code(),
            note: out.code().is_none().then(|| out.describe_status()),
            stdout: out.stdout,
            stderr: out.stderr,
        }),
        Err(ProcessError::TimedOut { after, .. }) => Ok(CommandOutput {
            exit_status: None,
            stdout: String::new(),
            stderr: String::new(),
            note: Some(format!("timed out after {}s", after.as_secs_f64())),
        }),
        // As a shell would: a program that cannot start exits 127.
        Err(ProcessError::Spawn { source, .. }) => Ok(CommandOutput {
            exit_status: Some(127),
            stdout: String::new(),
            stderr: format!("{program}: {source}"),
            note: None,
        }),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs a command quietly and returns its exit code (`None`: could not run).
async fn exit_code(argv: &[&str], timeout: Duration, cx: &StepContext) -> Option<i32> {
    let (program, args) = argv.split_first()?;
    Cmd::new(program)
        .args(args)
        .quiet()
        .timeout(timeout)
        .run(cx)
        .await
        .ok()
        .and_then(|o| o.code())
}

async fn observe_service(
    check: &Check,
    name: &str,
    round: &LocalRound,
    cx: &StepContext,
) -> Result<ServiceInfo, String> {
    let wants_enabled = check
        .assertions
        .iter()
        .any(|a| a.property == Property::Enabled);
    let wants_running = check
        .assertions
        .iter()
        .any(|a| a.property == Property::Running);
    let t = check.timeout;
    if Path::new("/run/systemd/system").is_dir() {
        let running = if wants_running {
            exit_code(&["systemctl", "is-active", "--quiet", "--", name], t, cx)
                .await
                .map(|c| c == 0)
        } else {
            None
        };
        let enabled = if wants_enabled {
            exit_code(&["systemctl", "is-enabled", "--quiet", "--", name], t, cx)
                .await
                .map(|c| c == 0)
        } else {
            None
        };
        return Ok(ServiceInfo {
            manager: "systemd".into(),
            running,
            enabled,
        });
    }
    let script = format!("/etc/init.d/{name}");
    if !name.contains('/') && Path::new(&script).is_file() {
        let running = if wants_running {
            exit_code(&[script.as_str(), "status"], t, cx)
                .await
                .map(|c| c == 0)
        } else {
            None
        };
        let enabled = ["2", "3", "4", "5"].iter().any(|level| {
            std::fs::read_dir(format!("/etc/rc{level}.d"))
                .map(|d| {
                    d.filter_map(Result::ok).any(|e| {
                        let f = e.file_name();
                        let f = f.to_string_lossy();
                        f.starts_with('S') && f.get(3..) == Some(name)
                    })
                })
                .unwrap_or(false)
        });
        return Ok(ServiceInfo {
            manager: "sysv".into(),
            running,
            enabled: Some(enabled),
        });
    }
    let running = round.processes().iter().any(|p| p.is_named(name));
    Ok(ServiceInfo {
        manager: "none".into(),
        running: Some(running),
        enabled: None,
    })
}

async fn http_request(
    req: &HttpRequest,
    timeout: Duration,
    http: &HttpClients,
) -> Result<crate::facts::HttpResponse, String> {
    let client = if req.insecure {
        &http.insecure
    } else {
        &http.strict
    };
    let method = reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|_| format!("`{}` is not an HTTP method", req.method))?;
    let mut builder = client.request(method, &req.url).timeout(timeout);
    for (k, v) in &req.headers {
        builder = builder.header(k, v);
    }
    if let Some(body) = &req.body {
        builder = builder.body(body.clone());
    }
    let resp = builder.send().await.map_err(|e| describe_reqwest(&e))?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let bytes = resp.bytes().await.map_err(|e| describe_reqwest(&e))?;
    let body = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_CONTENT)]).into_owned();
    Ok(crate::facts::HttpResponse {
        status,
        headers,
        body,
    })
}

/// reqwest's message plus its causes ("connection refused"), without the URL
/// (which may carry credentials).
fn describe_reqwest(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut parts = Vec::new();
    if e.is_timeout() {
        parts.push("timed out".to_string());
    } else if e.is_connect() {
        parts.push("connection failed".to_string());
    } else {
        parts.push("request failed".to_string());
    }
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) && !text.contains("://") {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

async fn docker_inspect(
    name: &str,
    timeout: Duration,
    cx: &StepContext,
) -> Result<Option<ContainerInfo>, String> {
    use crate::docker_api::{Answer, DockerApi, Kind};
    let env = |k: &str| cx.env().get(k).map(str::to_string);
    if let Some(api) = DockerApi::from_env(env)
        && docker_cli_installed(cx)
    {
        match api.inspect(Kind::Container, name, timeout).await {
            Answer::Found(json) => {
                return crate::facts::parse_docker_inspect(&json)
                    .map(Some)
                    .map_err(|e| e.to_string());
            }
            Answer::Missing => return Ok(None),
            Answer::AskCli => {}
        }
    }
    let out = Cmd::new("docker")
        .args(["inspect", "--type", "container", "--", name])
        .capture(MAX_CONTENT)
        .quiet()
        .timeout(timeout)
        .run(cx)
        .await
        .map_err(|e| match e {
            ProcessError::Spawn { .. } => "`docker` is not installed on this machine".to_string(),
            other => other.to_string(),
        })?;
    container_from_inspect(out.code(), &out.stdout, &out.stderr)
}

/// Whether `docker` is on the context's PATH (without it the CLI's "not
/// installed" is the answer, whatever the engine would say).
fn docker_cli_installed(cx: &StepContext) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let path = cx.env().get("PATH").unwrap_or_default();
    path.split(':').any(|dir| {
        let dir = if dir.is_empty() { "." } else { dir };
        std::fs::metadata(cx.resolve(Path::new(dir)).join("docker"))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Reads `docker inspect`'s result: a container, "no such container", or an error.
pub fn container_from_inspect(
    code: Option<i32>,
    stdout: &str,
    stderr: &str,
) -> Result<Option<ContainerInfo>, String> {
    match code {
        Some(0) => crate::facts::parse_docker_inspect(stdout)
            .map(Some)
            .map_err(|e| e.to_string()),
        Some(127) => Err("`docker` is not installed on the target".into()),
        _ if stderr.contains("No such") => Ok(None),
        _ => Err(format!("docker inspect failed: {}", stderr.trim())),
    }
}

async fn connect(host: &str, port: u16, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port))).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no connection within {}s", timeout.as_secs_f64())),
    }
}
