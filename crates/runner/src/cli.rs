//! The `runner` command line: `run`, `validate`, `steps`, `explain`,
//! `state`, `cleanup`. Exit codes: 0 passed, 1 failed, 2 usage or
//! configuration error, 130 interrupted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use step_core::{Env, EventSink, Level};

use crate::diag::{Diagnostic, closest};
use crate::exec::{Executor, RunOptions};
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
#[command(
    name = "runner",
    version,
    about = crate::help::ABOUT,
    long_about = crate::help::LONG_ABOUT,
    after_help = crate::help::AFTER_HELP
)]
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
    /// Say more (where step directories were looked for).
    #[arg(short = 'v', long)]
    pub verbose: bool,
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
    #[command(after_help = crate::help::RUN)]
    Run(Box<RunArgs>),
    /// Check a pipeline file and list its pipelines and steps.
    #[command(after_help = crate::help::VALIDATE)]
    Validate {
        /// The file.
        #[command(flatten)]
        file: FileArg,
        /// Set a variable (NAME=VALUE), as for `run`.
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Unset variables are errors, not warnings (a CI pre-flight).
        #[arg(long)]
        strict: bool,
        /// Variables from files, as for `run`.
        #[command(flatten)]
        var_args: crate::vars::VarArgs,
    },
    /// Get and list wercker registry steps (step directories).
    #[command(subcommand)]
    Step(crate::stepadd::StepCommand),
    /// Show what `run` would do, and run nothing (a dry run).
    #[command(after_help = crate::help::PLAN)]
    Plan(PlanArgs),
    /// List the step kinds.
    Steps,
    /// Describe a step kind: its properties, outputs and an example.
    #[command(after_help = crate::help::EXPLAIN)]
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
    #[command(after_help = crate::help::CLEANUP)]
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
    /// Run the deploy target NAME (the pipeline's `NAME:` step list, else
    /// its `steps:`), with WERCKER_DEPLOYTARGET_NAME set.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Run a workflow's pipelines in order (from `workflows:`); a failed
    /// pipeline stops the chain.
    #[arg(long, value_name = "NAME", conflicts_with = "pipeline")]
    pub workflow: Option<String>,
    /// CI log dialect and report files (SARIF, Code Quality, HTML).
    #[command(flatten)]
    pub reports: crate::report_setup::CiArgs,
    /// Variables from files.
    #[command(flatten)]
    pub var_args: crate::vars::VarArgs,
}

/// `runner plan` options: those of `run` that change what would run.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The pipeline to show (default: build).
    pub pipeline: Option<String>,
    /// The file.
    #[command(flatten)]
    pub file: FileArg,
    /// Treat this variable's value as a secret (masked everywhere).
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,
    /// Skip a step by name (or by kind when it has no name).
    #[arg(long = "skip", value_name = "NAME")]
    pub skip: Vec<String>,
    /// Set a variable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Only partition K of N of every for_each's values (e.g. 1/2).
    #[arg(long, value_name = "K/N")]
    pub partition: Option<String>,
    /// Only this for_each value (NAME=VALUE; repeatable).
    #[arg(long = "only", value_name = "NAME=VALUE")]
    pub only: Vec<String>,
    /// Variables from files.
    #[command(flatten)]
    pub var_args: crate::vars::VarArgs,
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
            crate::diag::set_verbose(args.file.verbose);
            add_legacy(&mut registry, &args.file);
            run(*args, registry).await
        }
        Command::Validate {
            file,
            vars,
            strict,
            var_args,
        } => {
            crate::diag::set_verbose(file.verbose);
            add_legacy(&mut registry, &file);
            validate(&file, &vars, strict, &var_args, &registry)
        }
        Command::Step(cmd) => crate::stepadd::main(cmd, &mut registry),
        Command::ValidateStep { dir } => validate_step(&dir),
        Command::Plan(args) => {
            add_legacy(&mut registry, &args.file);
            plan(args, &registry)
        }
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
pub(crate) fn add_legacy(registry: &mut Registry, arg: &FileArg) {
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

pub(crate) fn find_file(arg: &FileArg) -> Result<PathBuf, String> {
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

pub(crate) fn root_of(file: &Path) -> PathBuf {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

pub(crate) fn print_diags(diags: &[Diagnostic]) {
    use std::fmt::Write as _;
    use std::io::Write as _;
    // One write: stderr is unbuffered, and a diagnostic has many parts.
    let mut text = String::new();
    for d in diags {
        let _ = writeln!(text, "{d}");
    }
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
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

fn base_env(
    vars: &[(String, String)],
    var_args: &crate::vars::VarArgs,
    secrets: &[String],
) -> Result<Env, i32> {
    crate::vars::cli_env(vars, var_args, secrets).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_CONFIG
    })
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
    match prepare_and_run(args, registry).await {
        Ok(code) | Err(code) => code,
    }
}

/// `runner run`: checks the arguments and the file, then runs the selected
/// pipeline(s); `Err` is the exit code of a mistake found before anything ran.
async fn prepare_and_run(args: RunArgs, registry: Registry) -> Result<i32, i32> {
    let path = find_file(&args.file).map_err(config_error)?;
    let vars = parse_vars(&args.vars).map_err(|e| config_error(format!("--var {e}")))?;
    let only = parse_vars(&args.only).map_err(|e| config_error(format!("--only {e}")))?;
    let partition = args
        .partition
        .as_deref()
        .map(parse_partition)
        .transpose()
        .map_err(config_error)?;
    let mut env = base_env(&vars, &args.var_args, &args.secrets)?;
    let (file, pipelines) = checked_pipelines(&args, &path, &registry, &only, &mut env)?;
    let mut opts = RunOptions::new(root_of(&path));
    if args.state_dir.state_dir.is_some() || std::env::var_os("STEPWISE_STATE_DIR").is_some() {
        opts.state_dir = state_dir_for(&args.file, &args.state_dir);
    }
    opts.env = env;
    opts.skip = args.skip.clone();
    opts.keep = args.keep;
    opts.partition = partition;
    opts.only = only;
    opts.paths_root = args.reports.root.clone();
    opts.output_file = args.reports.output_file(|n| std::env::var(n).ok());
    let events = EventSink::new();
    let reports = crate::report_setup::attach_run(
        &events,
        args.events.as_deref(),
        args.junit.as_deref(),
        &args.reports,
        &opts.env.secret_values(),
    )
    .map_err(config_error)?;
    warn_short_secrets(&events, &opts.env);
    let code = run_pipelines(
        Arc::new(registry),
        Arc::new(file),
        &pipelines,
        opts,
        &events,
    )
    .await;
    events.finish();
    reports.print_locations();
    Ok(code)
}

/// Prints a configuration mistake; its exit code.
fn config_error(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    EXIT_CONFIG
}

/// The checked file and the pipelines to run (one, or a workflow's), with
/// the file's secrets marked in `env` and the selectors (`--skip`,
/// `--only`) checked against each pipeline.
fn checked_pipelines(
    args: &RunArgs,
    path: &Path,
    registry: &Registry,
    only: &[(String, String)],
    env: &mut Env,
) -> Result<(PipelineFile, Vec<String>), i32> {
    let selection = match &args.workflow {
        Some(w) => crate::checked::Selection::Workflow(w.clone()),
        None => crate::checked::Selection::Pipeline(
            args.pipeline.clone().unwrap_or_else(|| "build".into()),
        ),
    };
    let prepared = crate::checked::for_run(path, registry, env, &selection, args.target.as_deref());
    let (file, pipelines) = match prepared {
        Ok(p) => {
            print_diags(&p.shown);
            (p.file, p.pipelines)
        }
        Err(diags) => {
            print_diags(&diags);
            return Err(EXIT_CONFIG);
        }
    };
    for name in &file.secrets {
        env.mark_secret(name.clone());
    }
    for pipeline in &pipelines {
        let selected =
            crate::load::selectors::check_for_run(&file, pipeline, &args.skip, only, &|n| {
                env.get(n).map(str::to_string)
            });
        if !selected.is_empty() {
            for e in &selected {
                eprintln!("error: {e}");
            }
            return Err(EXIT_CONFIG);
        }
    }
    Ok((file, pipelines))
}

/// Warns about secret values too short to be masked.
fn warn_short_secrets(events: &EventSink, env: &Env) {
    let short: Vec<&str> = env
        .secret_names()
        .filter(|n| {
            env.get(n).is_some_and(|v| {
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
}

/// Runs the pipelines one after the other (a workflow stops at the first
/// that does not pass); the exit code of the last one run.
async fn run_pipelines(
    registry: Arc<Registry>,
    file: Arc<PipelineFile>,
    pipelines: &[String],
    opts: RunOptions,
    events: &EventSink,
) -> i32 {
    let mut code = EXIT_PASSED;
    for (i, pipeline) in pipelines.iter().enumerate() {
        let mut opts = opts.clone();
        if i > 0 {
            opts.run_id = format!("{}-{i}", opts.run_id);
        }
        code = run_one(&registry, &file, opts, events, pipeline).await;
        if code != EXIT_PASSED {
            if i + 1 < pipelines.len() {
                eprintln!(
                    "runner: pipeline `{pipeline}` did not pass; the workflow stops here ({} pipeline(s) not run)",
                    pipelines.len() - i - 1
                );
            }
            break;
        }
    }
    code
}

/// Runs one pipeline with signal handling; returns its exit code.
async fn run_one(
    registry: &Arc<Registry>,
    file: &Arc<PipelineFile>,
    opts: RunOptions,
    events: &EventSink,
    pipeline: &str,
) -> i32 {
    let executor = Executor::new(registry.clone(), file.clone(), opts, events.clone());
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
    let report = executor.run(pipeline).await;
    signals.abort();
    if report.config_error && report.result == step_core::RunResult::Failed {
        return EXIT_CONFIG;
    }
    report.exit_code()
}

fn validate(
    arg: &FileArg,
    vars: &[String],
    strict: bool,
    var_args: &crate::vars::VarArgs,
    registry: &Registry,
) -> i32 {
    use std::fmt::Write as _;
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
    let env = match base_env(&vars, var_args, &[]) {
        Ok(env) => env,
        Err(code) => return code,
    };
    let (file, diags) = crate::checked::for_validate(&path, registry, &env, strict);
    print_diags(&diags);
    let n = diags.iter().filter(|d| d.is_error()).count();
    let Some(file) = file.filter(|_| n == 0) else {
        eprintln!("{}: {n} error(s)", path.display());
        return EXIT_CONFIG;
    };
    // The listing is written at once: a line per step, one write.
    let mut o = String::new();
    let _ = writeln!(o, "{}: valid", path.display());
    for p in file.pipelines.values() {
        let _ = writeln!(o, "pipeline {}:", p.name);
        print_entries(&mut o, &p.steps, "  ");
        for (target, list) in &p.targets {
            let _ = writeln!(o, "  target {target}:");
            print_entries(&mut o, list, "    ");
        }
        if !p.finally.is_empty() {
            let _ = writeln!(o, "  finally:");
            print_entries(&mut o, &p.finally, "    ");
        }
        if !p.after_steps.is_empty() {
            let _ = writeln!(o, "  after-steps:");
            print_entries(&mut o, &p.after_steps, "    ");
        }
    }
    for (w, names) in &file.workflows {
        let _ = writeln!(o, "workflow {w}: {}", names.join(" → "));
    }
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), o.as_bytes());
    EXIT_PASSED
}

/// Appends the listing of `entries` to `o`, one line per step or group.
fn print_entries(o: &mut String, entries: &[crate::model::Entry], indent: &str) {
    use crate::model::{Entry, GroupKind};
    use std::fmt::Write as _;
    macro_rules! out {
        ($($t:tt)*) => {{
            let _ = writeln!(o, $($t)*);
        }};
    }
    for e in entries {
        match e {
            Entry::Step(s) => {
                let kind = match &s.version {
                    Some(v) => format!("{}@{v}", s.kind),
                    None => s.kind.clone(),
                };
                if s.common.name.is_some() {
                    out!("{indent}- {} ({kind})", s.display_name());
                } else {
                    out!("{indent}- {kind}");
                }
            }
            Entry::Group(g) => {
                let what = match &g.kind {
                    GroupKind::Sequence => "group".to_string(),
                    GroupKind::Parallel => "parallel".to_string(),
                    GroupKind::ForEach(f) => format!("for_each {}", f.var),
                };
                out!("{indent}- {what}:");
                print_entries(o, &g.steps, &format!("{indent}    "));
                if !g.finally.is_empty() {
                    out!("{indent}  finally:");
                    print_entries(o, &g.finally, &format!("{indent}    "));
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
    out!("{}", crate::help::WHEN_GRAMMAR);
    if !d.reads.is_empty() {
        out!(
            "\npaths it reads (`runner validate` checks they exist): {}",
            d.reads.join(", ")
        );
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
        if !clean_one(&dir, &path, &mut run, &registry, &mut env, &events).await {
            code = EXIT_FAILED;
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

/// Cleans up one recorded run unless it is still running: ends its
/// leftover processes, runs its pending teardowns, and removes its state
/// once nothing is outstanding. `false` when something failed.
async fn clean_one(
    dir: &Path,
    path: &Path,
    run: &mut crate::state::RunState,
    registry: &Registry,
    env: &mut Env,
    events: &EventSink,
) -> bool {
    let masker = run_masker(run, env);
    for name in &run.secret_names {
        env.mark_secret(name.clone());
    }
    events.add_secrets(
        run.secret_names
            .iter()
            .filter_map(|n| env.get(n).map(str::to_string)),
    );
    let lock_path = crate::state::lock_path(dir, &run.run_id);
    let lock = match crate::state::try_lock(&lock_path) {
        Ok(Some(l)) => l,
        Ok(None) => {
            out!(
                "run {} is still running (pid {}); not touched",
                run.run_id,
                run.pid
            );
            return true;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return false;
        }
    };
    end_leftover_processes(run).await;
    let teardowns = Teardowns {
        registry,
        env,
        events,
        masker: &masker,
    };
    let ok = teardowns.run_pending(run, path).await;
    if let Some(tmp) = &run.tmp_dir
        && tmp.exists()
    {
        let _ = std::fs::remove_dir_all(tmp);
    }
    if run.outstanding().count() == 0 {
        crate::state::remove_stray_temps(path);
        let _ = crate::state::remove_state(path, run);
        drop(lock);
        let _ = std::fs::remove_file(&lock_path);
        out!("run {}: cleaned up", run.run_id);
    }
    ok
}

/// `runner plan`: every check `run` makes before it starts, then the
/// resolved tree; nothing runs.
fn plan(args: PlanArgs, registry: &Registry) -> i32 {
    let path = match find_file(&args.file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    let parsed = parse_vars(&args.vars).map_err(|e| format!("--var {e}"));
    let only = parse_vars(&args.only).map_err(|e| format!("--only {e}"));
    let partition = args.partition.as_deref().map(parse_partition).transpose();
    let (vars, only, partition) = match (parsed, only, partition) {
        (Ok(v), Ok(o), Ok(p)) => (v, o, p),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    let mut env = match base_env(&vars, &args.var_args, &args.secrets) {
        Ok(env) => env,
        Err(code) => return code,
    };
    let pipeline = args.pipeline.clone().unwrap_or_else(|| "build".into());
    let selection = crate::checked::Selection::Pipeline(pipeline.clone());
    let file = match crate::checked::for_run(&path, registry, &env, &selection, None) {
        Ok(p) => {
            print_diags(&p.shown);
            p.file
        }
        Err(diags) => {
            print_diags(&diags);
            return EXIT_CONFIG;
        }
    };
    for name in &file.secrets {
        env.mark_secret(name.clone());
    }
    let lookup = |n: &str| env.get(n).map(str::to_string);
    let selected =
        crate::load::selectors::check_for_run(&file, &pipeline, &args.skip, &only, &lookup);
    if !selected.is_empty() {
        for e in &selected {
            eprintln!("error: {e}");
        }
        return EXIT_CONFIG;
    }
    let opts = crate::plan::PlanOptions {
        env: &env,
        skip: &args.skip,
        only: &only,
        partition,
    };
    let text = crate::plan::render(&file, registry, &pipeline, &opts);
    out!("{}", text.trim_end());
    EXIT_PASSED
}
