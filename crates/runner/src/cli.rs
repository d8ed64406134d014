//! The `runner` command line: `run`, `validate`, `steps`, `explain`,
//! `state`, `cleanup`. Exit codes: 0 passed, 1 failed, 2 usage or
//! configuration error, 130 interrupted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use step_core::{Env, EventSink, Level};

use crate::diag::{Diagnostic, closest};
use crate::exec::{Executor, RunOptions};
use crate::load;
use crate::model::PipelineFile;
use crate::registry::{COMMON_PROPERTIES, Registry};

/// Prints a line to stdout; a closed pipe (`runner explain x | head`) is
/// not an error worth a panic.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// Exit code: passed.
pub const EXIT_PASSED: i32 = 0;
/// Exit code: a step failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: usage or configuration error.
pub const EXIT_CONFIG: i32 = 2;
/// Exit code: interrupted.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Composable CI/CD steps for infrastructure projects.
#[derive(Debug, Parser)]
#[command(name = "runner", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options that pick the pipeline file.
#[derive(Debug, clap::Args, Clone)]
pub struct FileArg {
    /// The pipeline file (default: stepwise.yml, then wercker.yml).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Where legacy wercker steps (`owner/name`) are looked for (default:
    /// `.wercker/steps` next to the file, then `~/.stepwise/steps`).
    #[arg(long = "steps-dir", value_name = "DIR")]
    pub steps_dir: Option<PathBuf>,
}

/// Where run journals live.
#[derive(Debug, clap::Args, Clone, Default)]
pub struct StateDirArg {
    /// Where run journals (teardowns, process groups) live; keep it across
    /// CI jobs to clean up after a killed job (default: STEPWISE_STATE_DIR,
    /// else `.stepwise/state` next to the pipeline file).
    #[arg(long = "state-dir", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline.
    Run(RunArgs),
    /// Check a pipeline file and list its pipelines and steps.
    Validate {
        /// The file.
        #[command(flatten)]
        file: FileArg,
        /// Set a variable (NAME=VALUE), as for `run`.
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
    },
    /// List the step kinds.
    Steps,
    /// Describe a step kind: its properties, outputs and an example.
    Explain {
        /// The step kind (or alias).
        kind: String,
    },
    /// List runs with teardowns still pending.
    State {
        /// The file whose directory holds `.stepwise/state`.
        #[command(flatten)]
        file: FileArg,
        /// Where run journals live.
        #[command(flatten)]
        state_dir: StateDirArg,
    },
    /// Check a legacy wercker step directory (manifest name, semver version,
    /// property types, run.sh), as wercker's validate-wercker-step did.
    ValidateStep {
        /// The step directory.
        dir: PathBuf,
    },
    /// Run the pending teardowns of runs that are no longer alive.
    Cleanup {
        /// Only this run.
        #[arg(long = "run", value_name = "ID")]
        run: Option<String>,
        /// The file whose directory holds `.stepwise/state`.
        #[command(flatten)]
        file: FileArg,
        /// Where run journals live.
        #[command(flatten)]
        state_dir: StateDirArg,
    },
}

/// `runner run` options.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The pipeline to run (default: build).
    pub pipeline: Option<String>,
    /// The file.
    #[command(flatten)]
    pub file: FileArg,
    /// Where run journals live.
    #[command(flatten)]
    pub state_dir: StateDirArg,
    /// Write every event as JSON lines to FILE.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Treat this variable's value as a secret (masked everywhere).
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,
    /// Skip a step by name (or by kind when it has no name).
    #[arg(long = "skip", value_name = "NAME")]
    pub skip: Vec<String>,
    /// Set a variable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Keep environments up: record teardowns but do not run them.
    #[arg(long)]
    pub keep: bool,
    /// Run only partition K of N of every for_each's values (e.g. 1/2).
    #[arg(long, value_name = "K/N")]
    pub partition: Option<String>,
    /// Run only this for_each value (NAME=VALUE; repeatable).
    #[arg(long = "only", value_name = "NAME=VALUE")]
    pub only: Vec<String>,
}

/// How long process groups a dead run left get between SIGTERM and SIGKILL.
const GROUP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
/// How long `runner cleanup` waits for a dead run's terraform to finish
/// and save its state before ending it.
const SURVIVOR_WAIT: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Runs the command line; returns the exit code.
pub async fn main(cli: Cli) -> i32 {
    let mut registry = Registry::standard();
    match cli.command {
        Command::Run(args) => {
            add_legacy(&mut registry, &args.file);
            run(args, registry).await
        }
        Command::Validate { file, vars } => {
            add_legacy(&mut registry, &file);
            validate(&file, &vars, &registry)
        }
        Command::ValidateStep { dir } => validate_step(&dir),
        Command::Steps => {
            steps(&registry);
            EXIT_PASSED
        }
        Command::Explain { kind } => explain(&registry, &kind),
        Command::State { file, state_dir } => state(&file, &state_dir),
        Command::Cleanup {
            run,
            file,
            state_dir,
        } => cleanup(&file, &state_dir, run.as_deref(), registry).await,
    }
}

/// Registers the legacy step directories for a pipeline file.
fn add_legacy(registry: &mut Registry, arg: &FileArg) {
    let mut roots = Vec::new();
    match &arg.steps_dir {
        Some(d) => roots.push(d.clone()),
        None => {
            if let Ok(file) = find_file(arg) {
                roots.push(root_of(&file).join(".wercker").join("steps"));
            }
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        roots.push(PathBuf::from(home).join(".stepwise").join("steps"));
    }
    registry.add_legacy_steps(&roots);
}

fn validate_step(dir: &Path) -> i32 {
    match crate::legacy::read_manifest(dir) {
        Ok(m) => {
            out!(
                "{}: valid step `{}` version {}",
                dir.display(),
                m.name,
                m.version
            );
            for (name, p) in &m.properties {
                let req = if p.required { ", required" } else { "" };
                let def = p
                    .default
                    .as_deref()
                    .map(|d| format!(", default {d}"))
                    .unwrap_or_default();
                out!("  {name} ({}{req}{def})", p.ty);
            }
            EXIT_PASSED
        }
        Err(diags) => {
            print_diags(&diags);
            EXIT_CONFIG
        }
    }
}

fn find_file(arg: &FileArg) -> Result<PathBuf, String> {
    if let Some(f) = &arg.file {
        return Ok(f.clone());
    }
    for name in ["stepwise.yml", "wercker.yml"] {
        if Path::new(name).is_file() {
            return Ok(PathBuf::from(name));
        }
    }
    Err("no pipeline file: neither stepwise.yml nor wercker.yml is here; pass -f FILE".into())
}

fn root_of(file: &Path) -> PathBuf {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

fn print_diags(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

fn parse_vars(vars: &[String]) -> Result<Vec<(String, String)>, String> {
    vars.iter()
        .map(|v| match v.split_once('=') {
            Some((k, val))
                if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                Ok((k.to_string(), val.to_string()))
            }
            _ => Err(format!("`{v}` is not NAME=VALUE")),
        })
        .collect()
}

/// Loads and checks a file: structure, variables of `pipeline` (or of
/// every pipeline), and each step's own config checks.
fn load_checked(
    path: &Path,
    registry: &Registry,
    env: &Env,
    pipeline: Option<&str>,
) -> Result<PipelineFile, Vec<Diagnostic>> {
    let file = load::load_file(path, registry)?;
    let mut diags = Vec::new();
    let is_set = |n: &str| env.get(n).is_some();
    let names: Vec<String> = match pipeline {
        Some(p) => vec![p.to_string()],
        None => file.pipelines.keys().cloned().collect(),
    };
    for name in &names {
        diags.extend(load::check_variables(&file, name, &is_set));
    }
    diags.extend(load::check_steps(&file, registry, &|n| {
        env.get(n).map(str::to_string)
    }));
    if diags.is_empty() {
        Ok(file)
    } else {
        Err(diags)
    }
}

fn base_env(vars: &[(String, String)], secrets: &[String]) -> Env {
    let mut env = Env::from_process();
    for (k, v) in vars {
        let secret = step_core::env::looks_secret(k) || env.is_secret(k);
        env.insert(k.clone(), v.clone(), secret);
    }
    for s in secrets {
        env.mark_secret(s.clone());
    }
    env
}

fn parse_partition(text: &str) -> Result<(usize, usize), String> {
    let err = || format!("--partition `{text}`: expected K/N with 1 ≤ K ≤ N, like 1/2");
    let (k, n) = text.split_once('/').ok_or_else(err)?;
    let k: usize = k.trim().parse().map_err(|_| err())?;
    let n: usize = n.trim().parse().map_err(|_| err())?;
    if k == 0 || n == 0 || k > n {
        return Err(err());
    }
    Ok((k, n))
}

async fn run(args: RunArgs, registry: Registry) -> i32 {
    let path = match find_file(&args.file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    let vars = match parse_vars(&args.vars) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: --var {e}");
            return EXIT_CONFIG;
        }
    };
    let only = match parse_vars(&args.only) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: --only {e}");
            return EXIT_CONFIG;
        }
    };
    let partition = match args.partition.as_deref().map(parse_partition).transpose() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    let mut env = base_env(&vars, &args.secrets);
    let pipeline = args.pipeline.clone().unwrap_or_else(|| "build".into());
    let file = match load::load_file(&path, &registry) {
        Ok(f) => f,
        Err(diags) => {
            print_diags(&diags);
            return EXIT_CONFIG;
        }
    };
    if !file.pipelines.contains_key(&pipeline) {
        let names: Vec<&str> = file.pipelines.keys().map(String::as_str).collect();
        let hint = closest(&pipeline, names.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        eprintln!(
            "{}: error: no pipeline `{pipeline}` in this file; it has: {}{hint}",
            path.display(),
            names.join(", ")
        );
        return EXIT_CONFIG;
    }
    for name in &file.secrets {
        env.mark_secret(name.clone());
    }
    if let Err(diags) = load_checked(&path, &registry, &env, Some(&pipeline)) {
        print_diags(&diags);
        return EXIT_CONFIG;
    }
    for n in &file.notices {
        eprintln!("{n}");
    }
    let root = root_of(&path);
    let mut opts = RunOptions::new(root);
    if args.state_dir.state_dir.is_some() || std::env::var_os("STEPWISE_STATE_DIR").is_some() {
        opts.state_dir = state_dir_for(&args.file, &args.state_dir);
    }
    opts.env = env;
    opts.skip = args.skip.clone();
    opts.keep = args.keep;
    opts.partition = partition;
    opts.only = only;
    let events = EventSink::new();
    let reports =
        crate::report_setup::attach(&events, args.events.as_deref(), args.junit.as_deref());
    let reports = match reports {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    let short: Vec<&str> = opts
        .env
        .secret_names()
        .filter(|n| {
            opts.env.get(n).is_some_and(|v| {
                !v.is_empty() && v.chars().count() < step_core::mask::MIN_SECRET_LEN
            })
        })
        .collect();
    if !short.is_empty() {
        events.log(
            Level::Warn,
            format!(
                "refused as secret(s): the value of {} is shorter than {} characters and is not masked; use a longer value",
                short.join(", "),
                step_core::mask::MIN_SECRET_LEN
            ),
        );
    }
    let executor = Executor::new(Arc::new(registry), Arc::new(file), opts, events.clone());
    let interrupter = executor.interrupter();
    let signals = tokio::spawn(async move {
        // Installed by `main` before anything ran; signals since count.
        let Ok(mut handlers) = crate::signals::take() else {
            return;
        };
        loop {
            let name = handlers.recv().await;
            let n = interrupter.interrupt();
            if n == 1 {
                eprintln!(
                    "\nrunner: {name}: cancelling running steps; finally steps, teardowns and after-steps still run (send it again to kill everything now)"
                );
            } else {
                eprintln!("\nrunner: {name} again: killing everything now");
            }
        }
    });
    let report = executor.run(&pipeline).await;
    signals.abort();
    events.finish();
    reports.print_locations();
    if report.config_error && report.result == step_core::RunResult::Failed {
        return EXIT_CONFIG;
    }
    report.exit_code()
}

fn validate(arg: &FileArg, vars: &[String], registry: &Registry) -> i32 {
    let path = match find_file(arg) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    let vars = match parse_vars(vars) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: --var {e}");
            return EXIT_CONFIG;
        }
    };
    let env = base_env(&vars, &[]);
    match load_checked(&path, registry, &env, None) {
        Ok(file) => {
            for n in &file.notices {
                eprintln!("{n}");
            }
            out!("{}: valid", path.display());
            for p in file.pipelines.values() {
                out!("pipeline {}:", p.name);
                print_entries(&p.steps, "  ");
                if !p.finally.is_empty() {
                    out!("  finally:");
                    print_entries(&p.finally, "    ");
                }
                if !p.after_steps.is_empty() {
                    out!("  after-steps:");
                    print_entries(&p.after_steps, "    ");
                }
            }
            EXIT_PASSED
        }
        Err(diags) => {
            print_diags(&diags);
            let n = diags.iter().filter(|d| d.is_error()).count();
            eprintln!("{}: {n} error(s)", path.display());
            EXIT_CONFIG
        }
    }
}

fn print_entries(entries: &[crate::model::Entry], indent: &str) {
    use crate::model::{Entry, GroupKind};
    for e in entries {
        match e {
            Entry::Step(s) => {
                if s.common.name.is_some() {
                    out!("{indent}- {} ({})", s.display_name(), s.kind);
                } else {
                    out!("{indent}- {}", s.kind);
                }
            }
            Entry::Group(g) => {
                let what = match &g.kind {
                    GroupKind::Sequence => "group".to_string(),
                    GroupKind::Parallel => "parallel".to_string(),
                    GroupKind::ForEach(f) => format!("for_each {}", f.var),
                };
                out!("{indent}- {what}:");
                print_entries(&g.steps, &format!("{indent}    "));
                if !g.finally.is_empty() {
                    out!("{indent}  finally:");
                    print_entries(&g.finally, &format!("{indent}    "));
                }
            }
        }
    }
}

fn steps(registry: &Registry) {
    let descs = registry.descriptions();
    let width = descs.iter().map(|d| d.kind.len()).max().unwrap_or(0);
    for d in descs {
        let aliases = if d.aliases.is_empty() {
            String::new()
        } else {
            format!(" (alias: {})", d.aliases.join(", "))
        };
        out!("{:width$}  {}{aliases}", d.kind, d.summary);
    }
}

fn explain(registry: &Registry, kind: &str) -> i32 {
    let Some(d) = registry.description(kind) else {
        let hint = closest(kind, registry.names())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        eprintln!("error: unknown step kind `{kind}`{hint}; `runner steps` lists them");
        return EXIT_CONFIG;
    };
    out!("{} — {}", d.kind, d.summary);
    if !d.aliases.is_empty() {
        out!("aliases: {}", d.aliases.join(", "));
    }
    if !d.doc.is_empty() {
        out!("\n{}", d.doc);
    }
    out!("\nproperties:");
    for p in &d.properties {
        let req = if p.required {
            "required".to_string()
        } else {
            match &p.default {
                Some(def) => format!("default {def}"),
                None => "optional".into(),
            }
        };
        out!("  {} ({}, {req})\n      {}", p.name, p.ty.as_str(), p.doc);
    }
    out!("\ncommon properties (every step):");
    for (n, t, doc) in COMMON_PROPERTIES {
        out!("  {n} ({t})\n      {doc}");
    }
    if !d.outputs.is_empty() {
        out!("\noutputs (with `id`, as ${{{{ outputs.<id>.<name> }}}}):");
        for o in &d.outputs {
            out!("  {}: {}", o.name, o.doc);
        }
    }
    if !d.example.is_empty() {
        out!("\nexample:\n{}", d.example);
    }
    EXIT_PASSED
}

/// The state directory: `--state-dir`, else `STEPWISE_STATE_DIR`, else
/// `.stepwise/state` in the pipeline file's directory. Made absolute, so a
/// journal names it the same from any working directory.
fn state_dir_for(arg: &FileArg, dir: &StateDirArg) -> PathBuf {
    let chosen = dir.state_dir.clone().or_else(|| {
        std::env::var_os("STEPWISE_STATE_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    match chosen {
        Some(d) if d.is_absolute() => d,
        Some(d) => std::env::current_dir().map(|c| c.join(&d)).unwrap_or(d),
        None => {
            let base = match &arg.file {
                Some(f) => root_of(f),
                None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            };
            base.join(".stepwise").join("state")
        }
    }
}

fn state(arg: &FileArg, state_dir: &StateDirArg) -> i32 {
    let dir = state_dir_for(arg, state_dir);
    let runs = crate::state::list_runs(&dir);
    let mut code = EXIT_PASSED;
    let mut shown = 0;
    for (path, run) in runs {
        match run {
            Err(e) => {
                eprintln!("error: {e}");
                code = EXIT_FAILED;
            }
            Ok(run) => {
                let outstanding: Vec<_> = run.outstanding().collect();
                let live_groups = run
                    .groups
                    .iter()
                    .filter(|g| !g.members().is_empty())
                    .count();
                if outstanding.is_empty() && live_groups == 0 {
                    continue;
                }
                let masker = run_masker(&run, &Env::from_process());
                // Every line passes the masker, as every event of a run does.
                macro_rules! out {
                    ($($t:tt)*) => {{
                        use std::io::Write as _;
                        let line = format!($($t)*);
                        let _ = writeln!(std::io::stdout(), "{}", masker.mask(&line));
                    }};
                }
                shown += 1;
                let alive = crate::state::is_alive(&dir, &run.run_id).unwrap_or(false);
                out!(
                    "run {} ({}, pipeline {}, started {}, pid {}{})",
                    run.run_id,
                    path.display(),
                    run.pipeline,
                    run.started,
                    run.pid,
                    if alive {
                        ", still running"
                    } else {
                        ", not running"
                    }
                );
                if live_groups > 0 {
                    out!("  {live_groups} process group(s) of it still running");
                }
                for t in outstanding {
                    let target = t
                        .target
                        .as_deref()
                        .map(|t| format!("[{t}] "))
                        .unwrap_or_default();
                    out!(
                        "  {target}{} → {} ({:?}{})",
                        t.step,
                        t.spec.kind,
                        t.status,
                        t.message
                            .as_deref()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    );
                }
            }
        }
    }
    if shown == 0 && code == EXIT_PASSED {
        out!("no pending teardowns in {}", dir.display());
    }
    code
}

/// Waits for a dead run's tools that must not be killed (terraform saving
/// its state), then ends every process group it left running.
async fn end_leftover_processes(run: &crate::state::RunState) {
    let waited = crate::reap::wait_for_survivors(&run.groups, SURVIVOR_WAIT).await;
    if waited > 0 {
        out!(
            "run {}: waited for {waited} tool(s) that must not be killed (terraform saving its state)",
            run.run_id
        );
    }
    let ended = crate::reap::end_groups(&run.groups, GROUP_GRACE).await;
    if ended > 0 {
        out!(
            "run {}: ended {ended} process group(s) it left running",
            run.run_id
        );
    }
}

/// What `runner cleanup` runs a dead run's teardowns with.
struct Teardowns<'a> {
    registry: &'a Registry,
    env: &'a Env,
    events: &'a EventSink,
    masker: &'a step_core::Masker,
}

impl Teardowns<'_> {
    /// Runs the outstanding teardowns of `run`, newest first, saving the
    /// state at `path` after each; false when one failed.
    async fn run_pending(&self, run: &mut crate::state::RunState, path: &Path) -> bool {
        let mut ok = true;
        let mut seqs: Vec<u64> = run.outstanding().map(|t| t.seq).collect();
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        if !seqs.is_empty() {
            out!("run {}: {} pending teardown(s)", run.run_id, seqs.len());
        }
        for seq in seqs {
            let Some(entry) = run.teardowns.iter().find(|t| t.seq == seq).cloned() else {
                continue;
            };
            let (status, message) = crate::exec::run_teardown(
                self.registry,
                &entry,
                self.env,
                self.events,
                step_core::Cancel::new(),
                std::time::Duration::from_secs(30 * 60),
                None,
            )
            .await;
            if let Some(t) = run.teardowns.iter_mut().find(|t| t.seq == seq) {
                t.status = if status.is_failure() {
                    ok = false;
                    crate::state::TeardownStatus::Failed
                } else {
                    crate::state::TeardownStatus::Done
                };
                t.message = message.map(|m| self.masker.mask(&m).into_owned());
            }
            if let Err(e) = crate::state::save_state(path, run) {
                eprintln!("error: {e}");
                ok = false;
            }
        }
        ok
    }
}

/// The masker of a recorded run, rebuilt from the secret names its state
/// lists and the values they have in `env`, plus `env`'s own secrets.
fn run_masker(run: &crate::state::RunState, env: &Env) -> step_core::Masker {
    let mut values = env.secret_values();
    values.extend(
        run.secret_names
            .iter()
            .filter_map(|n| env.get(n).map(str::to_string)),
    );
    step_core::Masker::new(values)
}

async fn cleanup(
    arg: &FileArg,
    state_dir: &StateDirArg,
    only: Option<&str>,
    registry: Registry,
) -> i32 {
    let dir = state_dir_for(arg, state_dir);
    let events = EventSink::new();
    let reports = match crate::report_setup::attach(&events, None, None) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    let mut env = Env::from_process();
    events.add_secrets(env.secret_values());
    let mut code = EXIT_PASSED;
    let mut found = false;
    for (path, run) in crate::state::list_runs(&dir) {
        let mut run = match run {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                code = EXIT_FAILED;
                continue;
            }
        };
        if only.is_some_and(|id| id != run.run_id) {
            continue;
        }
        found = true;
        let masker = run_masker(&run, &env);
        for name in &run.secret_names {
            env.mark_secret(name.clone());
        }
        events.add_secrets(
            run.secret_names
                .iter()
                .filter_map(|n| env.get(n).map(str::to_string)),
        );
        let lock_path = crate::state::lock_path(&dir, &run.run_id);
        let lock = match crate::state::try_lock(&lock_path) {
            Ok(Some(l)) => l,
            Ok(None) => {
                out!(
                    "run {} is still running (pid {}); not touched",
                    run.run_id,
                    run.pid
                );
                continue;
            }
            Err(e) => {
                eprintln!("error: {e}");
                code = EXIT_FAILED;
                continue;
            }
        };
        end_leftover_processes(&run).await;
        let teardowns = Teardowns {
            registry: &registry,
            env: &env,
            events: &events,
            masker: &masker,
        };
        if !teardowns.run_pending(&mut run, &path).await {
            code = EXIT_FAILED;
        }
        if let Some(tmp) = &run.tmp_dir
            && tmp.exists()
        {
            let _ = std::fs::remove_dir_all(tmp);
        }
        if run.outstanding().count() == 0 {
            crate::state::remove_stray_temps(&path);
            let _ = std::fs::remove_file(&path);
            drop(lock);
            let _ = std::fs::remove_file(&lock_path);
            out!("run {}: cleaned up", run.run_id);
        }
    }
    events.finish();
    drop(reports);
    if !found {
        match only {
            Some(id) => {
                eprintln!("error: no run `{id}` in {}", dir.display());
                return EXIT_CONFIG;
            }
            None => out!("nothing to clean up in {}", dir.display()),
        }
    }
    code
}
