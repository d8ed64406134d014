//! `serverspec` with `engine: auto|native`: the suite's spec files run in
//! the native engine ([`crate::ruby`]); with `auto`, a file that uses a
//! construct outside the supported subset runs through real rspec instead,
//! and the step's log says which construct, at which file:line.
//!
//! The suite layout is serverspec's own: `spec/spec_helper.rb` (or
//! `lib/`) sets the backend, `spec/**/*_spec.rb` are the examples. With a
//! `properties` file (hosts mapped to their `roles`), each host runs the
//! files of its roles' directories (`spec/<role>/`) with `TARGET_HOST` set
//! and `property` bound to its entry, as serverspec's Rakefile pattern does.
//! `*_spec.rb.j2` files are rendered with minijinja first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde_json::{Map, Value as Json};
use step_core::backend::{Backend, SshOptions};
use step_core::process::Cmd;
use step_core::{CheckResult, ConfigError, Outcome, Status, StepContext, StepError, ToolSpec};

use crate::ruby::host::Host;
use crate::ruby::value::Value;
use crate::ruby::{self, FileOutcome, Helper, Verdict};
use crate::serverspec::{RspecReport, ServerspecConfig, parse_rspec_json};

/// Which engine runs the spec files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// Native, falling back to rspec per file for unsupported constructs.
    #[default]
    Auto,
    /// Native only; unsupported constructs fail their examples.
    Native,
    /// Real rspec (today's behaviour).
    Rspec,
}

/// One host of the run and its spec files.
struct Target {
    name: Option<String>,
    files: Vec<PathBuf>,
    property: Json,
}

/// A file that fell back to rspec.
struct Fallback {
    target: Option<String>,
    file: PathBuf,
}

/// Spec files under `root` (recursively, sorted): `*_spec.rb` and `*_spec.rb.j2`.
pub fn spec_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with("_spec.rb")
                || p.to_string_lossy().ends_with("_spec.rb.j2")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn load_properties(path: &Path) -> Result<Json, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::property("properties", format!("cannot read {}: {e}", path.display()))
    })?;
    serde_saphyr::from_str::<Json>(&text)
        .map_err(|e| ConfigError::property("properties", format!("{}: {e}", path.display())))
}

fn targets(cfg: &ServerspecConfig, dir: &Path, cx: &StepContext) -> Result<Vec<Target>, StepError> {
    let Some(props) = &cfg.properties else {
        let files = match &cfg.pattern {
            Some(p) => glob_files(dir, p)?,
            None => spec_files(&dir.join("spec")),
        };
        return Ok(vec![Target {
            name: None,
            files,
            property: Json::Null,
        }]);
    };
    let props = load_properties(&cx.resolve(props))?;
    let Json::Object(hosts) = props else {
        return Err(
            ConfigError::property("properties", "must map host names to their properties").into(),
        );
    };
    let mut out = Vec::new();
    for (host, entry) in hosts {
        let roles = entry
            .get("roles")
            .or_else(|| entry.get(":roles"))
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let mut files = Vec::new();
        for r in roles {
            files.extend(spec_files(&dir.join("spec").join(r.as_str().unwrap_or(""))));
        }
        out.push(Target {
            name: Some(host),
            files,
            property: entry,
        });
    }
    Ok(out)
}

fn glob_files(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, StepError> {
    let full = dir.join(pattern).display().to_string();
    let paths = glob::glob(&full).map_err(|e| ConfigError::property("pattern", e.to_string()))?;
    let mut out: Vec<PathBuf> = paths.flatten().collect();
    let j2 = glob::glob(&format!("{full}.j2"))
        .map_err(|e| ConfigError::property("pattern", e.to_string()))?;
    out.extend(j2.flatten());
    out.sort();
    Ok(out)
}

/// Ruby values from YAML/JSON; keys written `:name` become symbols, as Psych loads them.
fn property_value(json: &Json) -> Value {
    match json {
        Json::Object(map) => Value::Hash(
            map.iter()
                .map(|(k, v)| {
                    let key = match k.strip_prefix(':') {
                        Some(sym) => Value::Sym(sym.to_string()),
                        None => Value::Str(k.clone()),
                    };
                    (key, property_value(v))
                })
                .collect(),
        ),
        Json::Array(items) => Value::Array(items.iter().map(property_value).collect()),
        other => Value::from_json(other, false),
    }
}

/// The file name as rspec prints it (`./spec/x_spec.rb`), without `.j2`.
fn shown(dir: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(dir).unwrap_or(file).display().to_string();
    format!("./{}", rel.strip_suffix(".j2").unwrap_or(&rel))
}

fn render(
    cfg: &ServerspecConfig,
    cx: &StepContext,
    dir: &Path,
    file: &Path,
    host: Option<&str>,
) -> Result<String, StepError> {
    let source = std::fs::read_to_string(file)
        .map_err(|e| StepError::io(format!("reading {}", file.display()), e))?;
    if !file.to_string_lossy().ends_with(".j2") {
        return Ok(source);
    }
    let mut ctx = cx.template_context();
    if let Json::Object(map) = &mut ctx {
        for (k, v) in &cfg.vars {
            map.insert(k.clone(), v.clone());
        }
        map.insert(
            "host".into(),
            host.map_or(Json::Null, |h| Json::String(h.into())),
        );
    }
    let name = file.strip_prefix(dir).unwrap_or(file).display().to_string();
    Ok(step_core::template::render(&name, &source, &ctx)?)
}

/// Spec files run on this many threads: their time is mostly waiting for
/// the commands they run, so more threads than cores pays.
const FILE_THREADS: usize = 8;

/// What every target of a run shares.
struct Suite<'a> {
    dir: &'a Path,
    cx: &'a StepContext,
    handle: &'a tokio::runtime::Handle,
    /// `spec_helper.rb` (path and text), read once per run.
    helper: Option<&'a (PathBuf, String)>,
}

/// Runs a target's files on [`FILE_THREADS`] threads sharing one host
/// (and its command cache); outcomes come back in file order. The helper
/// (read once per run) is evaluated once per thread: its values are not
/// shared between threads.
fn run_files_parallel(
    host: &Host,
    suite: &Suite<'_>,
    env: &HashMap<String, String>,
    property: &Json,
    files: &[(PathBuf, String)],
) -> Vec<FileOutcome> {
    let Suite {
        dir,
        cx,
        handle,
        helper: helper_file,
    } = *suite;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<FileOutcome>>> =
        files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..FILE_THREADS.min(files.len()) {
            scope.spawn(|| {
                let settings = ruby::eval::Settings {
                    property: property_value(property),
                    ..Default::default()
                };
                let helper = helper_file.map(|(path, src)| {
                    let local = Host::new(
                        Backend::Local,
                        "localhost".into(),
                        cx.clone(),
                        handle.clone(),
                    );
                    Rc::new(ruby::eval_helper(
                        &local,
                        &shown(dir, path),
                        src,
                        env,
                        settings.clone(),
                    ))
                });
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((file, source)) = files.get(i) else {
                        break;
                    };
                    let outcome = ruby::run_file(
                        host,
                        helper.clone(),
                        &shown(dir, file),
                        source,
                        env,
                        settings.clone(),
                    );
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(outcome);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| FileOutcome::Unsupported {
                    construct: "a crash of the native engine".into(),
                    at: String::new(),
                    examples: Vec::new(),
                })
        })
        .collect()
}

/// Runs the suite natively (falling back per file under `auto`).
pub async fn run(
    cfg: &ServerspecConfig,
    cx: &StepContext,
    dir: PathBuf,
) -> Result<Outcome, StepError> {
    let targets = targets(cfg, &dir, cx)?;
    if targets.iter().all(|t| t.files.is_empty()) {
        return Ok(Outcome::failed(
            "no spec files found (check `dir`, `pattern` and `properties`)",
        ));
    }
    // Render everything first: template errors stop the step before anything runs.
    let mut rendered = Vec::new();
    for t in &targets {
        let mut files = Vec::new();
        for f in &t.files {
            files.push((f.clone(), render(cfg, cx, &dir, f, t.name.as_deref())?));
        }
        rendered.push(files);
    }
    let handle = tokio::runtime::Handle::current();
    let (cfg2, cx2, dir2) = (cfg.clone(), cx.clone(), dir.clone());
    let job = tokio::task::spawn_blocking(move || {
        run_blocking(&cfg2, &cx2, &dir2, &targets, rendered, handle)
    });
    let (checks, fallbacks) = job
        .await
        .map_err(|e| StepError::other(format!("the native engine stopped: {e}")))??;
    if cx.cancel().is_cancelled() {
        return Err(StepError::Cancelled);
    }
    let mut report = RspecReport {
        examples: checks,
        errors_outside: 0,
        messages: Vec::new(),
    };
    if !fallbacks.is_empty() {
        let fell_back = run_fallbacks(cfg, cx, &dir, &fallbacks).await?;
        report.examples.extend(fell_back.examples);
        report.errors_outside += fell_back.errors_outside;
        report.messages.extend(fell_back.messages);
    }
    Ok(report.into_outcome(Some(0)))
}

type Blocking = Result<(Vec<CheckResult>, Vec<Fallback>), StepError>;

fn run_blocking(
    cfg: &ServerspecConfig,
    cx: &StepContext,
    dir: &Path,
    targets: &[Target],
    rendered: Vec<Vec<(PathBuf, String)>>,
    handle: tokio::runtime::Handle,
) -> Blocking {
    let mut checks = Vec::new();
    let mut fallbacks = Vec::new();
    let control = tempfile::Builder::new()
        .prefix("stepwise-ssh-")
        .tempdir()
        .map_err(|e| StepError::io("creating a directory for ssh control sockets", e))?;
    let helper_file = find_helper(dir);
    for (t, files) in targets.iter().zip(rendered) {
        let mut env: HashMap<String, String> = cx
            .env()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(h) = &t.name {
            env.insert("TARGET_HOST".into(), h.clone());
        }
        let settings = ruby::eval::Settings {
            property: property_value(&t.property),
            ..Default::default()
        };
        let helper = helper_file.as_ref().map(|(path, src)| {
            let local = Host::new(
                Backend::Local,
                "localhost".into(),
                cx.clone(),
                handle.clone(),
            );
            Rc::new(ruby::eval_helper(
                &local,
                &shown(dir, path),
                src,
                &env,
                settings.clone(),
            ))
        });
        let (backend, name) = backend_of(helper.as_deref(), control.path());
        let ssh = match &backend {
            Backend::Ssh(opts) => Some((opts.clone(), name.clone())),
            _ => None,
        };
        let host = Host::new(backend, name, cx.clone(), handle.clone());
        // The helper's `set :path` (a local run gets it as the PATH of
        // each command, as specinfra's `env PATH=…` gives it).
        if let Some(path) = helper.as_ref().and_then(|h| h.settings.set.get("path"))
            && host.is_local()
        {
            host.set_path(path.to_s());
        }
        // Started once, before the threads would each ask at the same time.
        host.start_os_detection();
        let suite = Suite {
            dir,
            cx,
            handle: &handle,
            helper: helper_file.as_ref(),
        };
        let outcomes = run_files_parallel(&host, &suite, &env, &t.property, &files);
        if let Some((opts, name)) = ssh {
            handle.block_on(close_master(cx, &opts, &name));
        }
        for ((file, _), outcome) in files.iter().zip(outcomes) {
            let shown_name = shown(dir, file);
            let file = file.clone();
            match outcome {
                FileOutcome::Ran(results) => checks.extend(results.into_iter().map(to_check)),
                FileOutcome::Unsupported {
                    construct,
                    at,
                    examples,
                } => {
                    if cfg.engine == EngineChoice::Native {
                        cx.warn(format!("{shown_name}: unsupported: {construct} at {at}"));
                        checks.extend(examples.into_iter().map(to_check));
                    } else {
                        cx.warn(format!(
                            "{shown_name}: runs through rspec: unsupported {construct} at {at}"
                        ));
                        fallbacks.push(Fallback {
                            target: t.name.clone(),
                            file,
                        });
                    }
                }
            }
        }
    }
    Ok((checks, fallbacks))
}

/// Ends the ssh master connection of a host (it would linger for
/// ControlPersist otherwise).
async fn close_master(cx: &StepContext, opts: &SshOptions, host: &str) {
    let Some(dir) = &opts.control_dir else { return };
    let mut cmd = Cmd::new("ssh")
        .arg("-o")
        .arg(format!("ControlPath={}/%C", dir.display()))
        .args(["-O", "exit"]);
    if let Some(port) = opts.port {
        cmd = cmd.arg("-p").arg(port.to_string());
    }
    let dest = match &opts.user {
        Some(u) => format!("{u}@{host}"),
        None => host.to_string(),
    };
    let _ = cmd
        .arg(dest)
        .quiet()
        .capture(4096)
        .timeout(std::time::Duration::from_secs(10))
        .run(cx)
        .await;
}

fn find_helper(dir: &Path) -> Option<(PathBuf, String)> {
    ["spec/spec_helper.rb", "lib/spec_helper.rb"]
        .iter()
        .find_map(|p| {
            let path = dir.join(p);
            std::fs::read_to_string(&path).ok().map(|s| (path, s))
        })
}

fn backend_of(helper: Option<&Helper>, control: &Path) -> (Backend, String) {
    let Some(h) = helper else {
        return (Backend::Local, "localhost".into());
    };
    let get = |k: &str| h.settings.set.get(k).map(Value::to_s);
    match get("backend").as_deref() {
        Some("ssh") => {
            let opts = h
                .settings
                .set
                .get("ssh_options")
                .cloned()
                .unwrap_or_default();
            let field = |k: &str| opts.hash_get(&Value::Sym(k.into())).cloned();
            let user = field("user").map(|v| v.to_s());
            let port = field("port").and_then(|v| match v {
                Value::Int(p) => u16::try_from(p).ok(),
                v => v.to_s().parse().ok(),
            });
            let identity = match field("keys") {
                Some(Value::Array(k)) => k.first().map(|v| PathBuf::from(v.to_s())),
                Some(v) => Some(PathBuf::from(v.to_s())),
                None => None,
            };
            let ssh = SshOptions {
                user,
                port,
                identity_file: identity,
                known_hosts_file: None,
                options: vec![format!(
                    "UserKnownHostsFile={}/known_hosts",
                    control.display()
                )],
                control_dir: Some(control.to_path_buf()),
            };
            (
                Backend::Ssh(ssh),
                get("host").unwrap_or_else(|| "localhost".into()),
            )
        }
        Some("docker") => (Backend::Docker, get("docker_container").unwrap_or_default()),
        _ => (Backend::Local, "localhost".into()),
    }
}

fn to_check(r: ruby::ExampleResult) -> CheckResult {
    let status = match r.verdict {
        Verdict::Passed => Status::Passed,
        Verdict::Failed => Status::Failed,
        Verdict::Pending => Status::Skipped,
    };
    let mut c = CheckResult::new(r.full_description, status).in_group(r.file.clone());
    let at = format!("{}:{}", r.file, r.line);
    c = match (r.verdict, r.message) {
        (Verdict::Failed, Some(m)) => c.with_message(format!("{m}\n  at {at}")),
        (Verdict::Pending, Some(m)) => c.with_message(format!("pending: {m}")),
        (_, _) => c,
    };
    c
}

/// Copies the suite to a temporary directory with every `.j2` rendered, and
/// runs rspec on the fallback files there (once per target host).
async fn run_fallbacks(
    cfg: &ServerspecConfig,
    cx: &StepContext,
    dir: &Path,
    fallbacks: &[Fallback],
) -> Result<RspecReport, StepError> {
    let rspec = ToolSpec::new(
        "rspec",
        "install it with scripts/install-tools.sh (Debian package ruby-serverspec)",
    )
    .find(cx.env(), cx.workdir())?;
    let mut by_target: Vec<(Option<String>, Vec<PathBuf>)> = Vec::new();
    for f in fallbacks {
        match by_target.iter_mut().find(|(t, _)| *t == f.target) {
            Some((_, files)) => files.push(f.file.clone()),
            None => by_target.push((f.target.clone(), vec![f.file.clone()])),
        }
    }
    let mut out = RspecReport {
        examples: Vec::new(),
        errors_outside: 0,
        messages: Vec::new(),
    };
    for (target, files) in by_target {
        let copy = tempfile::Builder::new()
            .prefix("stepwise-rspec-")
            .tempdir()
            .map_err(|e| StepError::io("creating a copy of the suite", e))?;
        copy_rendered(cfg, cx, dir, dir, copy.path(), target.as_deref())?;
        let report = copy.path().join(".stepwise-rspec.json");
        let mut cmd = Cmd::new(&rspec.path)
            .args(["--no-color", "--format", "json", "--out"])
            .arg(&report)
            .cwd(copy.path())
            .capture(64 * 1024)
            .quiet();
        if let Some(t) = &target {
            cmd = cmd.env("TARGET_HOST", t.clone());
        }
        for f in &files {
            cmd = cmd.arg(shown(dir, f));
        }
        let ran = cmd.run(cx).await?;
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        if text.trim().is_empty() {
            return Err(StepError::other(format!(
                "rspec ended ({}) without writing its JSON report: {}",
                ran.describe_status(),
                crate::matcher::cut(ran.stderr.trim(), 1500)
            )));
        }
        let parsed =
            parse_rspec_json(&text).map_err(|e| StepError::tool_output("rspec", e.to_string()))?;
        out.examples.extend(parsed.examples);
        out.errors_outside += parsed.errors_outside;
        out.messages.extend(parsed.messages);
    }
    Ok(out)
}

fn copy_rendered(
    cfg: &ServerspecConfig,
    cx: &StepContext,
    root: &Path,
    from: &Path,
    to: &Path,
    host: Option<&str>,
) -> Result<(), StepError> {
    std::fs::create_dir_all(to).map_err(|e| StepError::io("copying the suite", e))?;
    let entries = std::fs::read_dir(from)
        .map_err(|e| StepError::io(format!("reading {}", from.display()), e))?;
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            copy_rendered(cfg, cx, root, &p, &to.join(&name), host)?;
        } else if let Some(stem) = name.strip_suffix(".j2") {
            let text = render(cfg, cx, root, &p, host)?;
            std::fs::write(to.join(stem), text)
                .map_err(|e| StepError::io("writing a rendered spec", e))?;
        } else {
            std::fs::copy(&p, to.join(&name)).map_err(|e| StepError::io("copying the suite", e))?;
        }
    }
    Ok(())
}

/// The properties a config may carry for the native engine, as a JSON map.
pub type Vars = Map<String, Json>;
