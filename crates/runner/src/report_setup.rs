//! Wires the reporters a `runner` command asked for onto the event sink.

use std::path::{Path, PathBuf};

use step_core::EventSink;

use crate::report::ci::{CiDialect, CiReporter};
use crate::report::files::{FileFormat, FileReporter};
use crate::report::{JsonLinesReporter, JunitReporter, Shared, TerminalReporter};

/// `runner run` options for CI logs and report files (flattened into
/// [`crate::cli::RunArgs`]).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CiArgs {
    /// Log dialect: github, gitlab, plain, or none (live terminal output).
    /// Default: github when GITHUB_ACTIONS=true, gitlab when GITLAB_CI=true,
    /// plain when CI is set, none otherwise.
    #[arg(long = "ci", value_name = "DIALECT")]
    pub ci: Option<CiChoice>,
    /// In CI logs, print every line as it happens instead of each step's
    /// lines together.
    #[arg(long)]
    pub stream: bool,
    /// Colors: auto (FORCE_COLOR, NO_COLOR, then whether stdout is a
    /// terminal), always, never.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
    /// Write the findings as SARIF 2.1.0 to FILE.
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
    /// Write a GitLab Code Quality report to FILE.
    #[arg(long, value_name = "FILE")]
    pub codequality: Option<PathBuf>,
    /// Write the self-contained HTML run report to FILE.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// The repository root that findings' paths are relative to (default:
    /// the pipeline file's directory).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// `--ci`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CiChoice {
    /// GitHub Actions workflow commands.
    Github,
    /// GitLab CI sections.
    Gitlab,
    /// Plain lines, each step's together.
    Plain,
    /// The terminal reporter (live lines; spinner on a TTY).
    None,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// FORCE_COLOR, NO_COLOR, then whether stdout is a terminal.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to color, with `var` reading the environment.
    pub fn resolve(self, var: impl Fn(&str) -> Option<String>, tty: bool) -> bool {
        let set = |n: &str| var(n).is_some_and(|v| !v.is_empty());
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto if set("FORCE_COLOR") => var("FORCE_COLOR").as_deref() != Some("0"),
            ColorChoice::Auto if set("NO_COLOR") => false,
            ColorChoice::Auto => tty,
        }
    }
}

impl CiArgs {
    /// The file steps with `export_output: true` write to: GitHub's
    /// `$GITHUB_OUTPUT`, in the GitHub dialect.
    pub fn output_file(&self, var: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
        if self.dialect(&var) != Some(CiDialect::Github) {
            return None;
        }
        var("GITHUB_OUTPUT")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    }

    /// The dialect to print in, `None` for the terminal reporter.
    pub fn dialect(&self, var: impl Fn(&str) -> Option<String>) -> Option<CiDialect> {
        match self.ci {
            Some(CiChoice::Github) => Some(CiDialect::Github),
            Some(CiChoice::Gitlab) => Some(CiDialect::Gitlab),
            Some(CiChoice::Plain) => Some(CiDialect::Plain),
            Some(CiChoice::None) => None,
            None => CiDialect::detect(&var).or_else(|| {
                var("CI")
                    .is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
                    .then_some(CiDialect::Plain)
            }),
        }
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The reporters of one command, kept so their files and errors can be
/// reported at the end.
#[derive(Debug)]
pub struct Reports {
    events_file: Option<(PathBuf, Shared<JsonLinesReporter>)>,
    junit_file: Option<(PathBuf, Shared<JunitReporter>)>,
    files: Vec<Shared<FileReporter>>,
}

impl Reports {
    /// Prints where the report files are (and any error writing them).
    pub fn print_locations(&self) {
        for r in &self.files {
            let r = r.lock();
            let what = r.format().name();
            match r.error() {
                Some(e) => eprintln!("error: writing the {what} to {}: {e}", r.path().display()),
                None => eprintln!("{}: {}", what.to_lowercase(), r.path().display()),
            }
        }
        if let Some((path, r)) = &self.events_file {
            match r.lock().error() {
                Some(e) => eprintln!("error: writing events to {}: {e}", path.display()),
                None => eprintln!("events: {}", path.display()),
            }
        }
        if let Some((path, r)) = &self.junit_file {
            match r.lock().error() {
                Some(e) => eprintln!("error: writing JUnit to {}: {e}", path.display()),
                None => eprintln!("junit: {}", path.display()),
            }
        }
    }
}

/// Adds the terminal reporter (fancy on a TTY, plain in CI), and the JSON
/// lines and JUnit reporters when files are given.
pub fn attach(
    events: &EventSink,
    events_file: Option<&Path>,
    junit: Option<&Path>,
) -> Result<Reports, String> {
    events.add_listener(Box::new(TerminalReporter::auto()));
    attach_files(events, events_file, junit)
}

/// Adds the JSON lines and JUnit reporters when files are given.
fn attach_files(
    events: &EventSink,
    events_file: Option<&Path>,
    junit: Option<&Path>,
) -> Result<Reports, String> {
    let events_file = match events_file {
        Some(p) => {
            let r = JsonLinesReporter::create(p)
                .map_err(|e| format!("cannot write the events file {}: {e}", p.display()))?;
            let shared = Shared::new(r);
            events.add_listener(Box::new(shared.clone()));
            Some((p.to_path_buf(), shared))
        }
        None => None,
    };
    let junit_file = junit.map(|p| {
        let shared = Shared::new(JunitReporter::new(p));
        events.add_listener(Box::new(shared.clone()));
        (p.to_path_buf(), shared)
    });
    Ok(Reports {
        events_file,
        junit_file,
        files: Vec::new(),
    })
}

/// Adds the reporters of `runner run`: the CI log (or the terminal
/// reporter), events, JUnit, SARIF, Code Quality and HTML. In the GitHub
/// dialect, every line of every secret value is sent as `::add-mask::`
/// first.
pub fn attach_run(
    events: &EventSink,
    events_file: Option<&Path>,
    junit: Option<&Path>,
    args: &CiArgs,
    secrets: &[String],
) -> Result<Reports, String> {
    let dialect = args.dialect(env_var);
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let color = args.color.resolve(env_var, tty);
    match dialect {
        None => {
            let mut terminal = TerminalReporter::auto();
            if args.color != ColorChoice::Auto || env_var("FORCE_COLOR").is_some() {
                terminal = terminal.with_color(color);
            }
            events.add_listener(Box::new(terminal));
        }
        Some(dialect) => {
            let mut stdout = std::io::stdout();
            if dialect == CiDialect::Github {
                let _ = crate::report::github::add_masks(
                    &mut stdout,
                    secrets.iter().map(String::as_str),
                );
            }
            let summary_file = (dialect == CiDialect::Github)
                .then(|| env_var("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()))
                .flatten()
                .map(PathBuf::from);
            let reporter = CiReporter::new(Box::new(stdout), dialect)
                .with_stream(args.stream)
                .with_color(color)
                .with_step_summary(summary_file);
            events.add_listener(Box::new(reporter));
        }
    }
    let mut reports = attach_files(events, events_file, junit)?;
    for (path, format) in [
        (&args.sarif, FileFormat::Sarif),
        (&args.codequality, FileFormat::CodeQuality),
        (&args.report, FileFormat::Html),
    ] {
        if let Some(path) = path {
            let shared = Shared::new(FileReporter::new(path, format));
            events.add_listener(Box::new(shared.clone()));
            reports.files.push(shared);
        }
    }
    Ok(reports)
}
