//! `runner step add` and `runner step list`: getting wercker registry
//! steps as step directories. A step is cloned with git (argv, no shell)
//! into a temporary directory beside its destination, checked like
//! `runner validate-step`, and only then renamed into
//! `.wercker/steps/OWNER/NAME` — a failed add leaves nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cli::{EXIT_CONFIG, EXIT_FAILED, EXIT_PASSED, FileArg};
use crate::load::wercker::StepId;
use crate::registry::Registry;

/// `runner step …`.
#[derive(Debug, clap::Subcommand)]
pub enum StepCommand {
    /// Clone a wercker step repository into `.wercker/steps/OWNER/NAME`
    /// (next to the pipeline file) and check it.
    Add {
        /// The step: OWNER/NAME (a bare NAME means wercker/NAME; `@VERSION`
        /// is used as the git ref when --ref is not given).
        id: String,
        /// The git repository (default: https://github.com/OWNER/step-NAME).
        #[arg(long, value_name = "GIT_URL")]
        from: Option<String>,
        /// A branch, tag or commit to check out.
        #[arg(long = "ref", value_name = "REF")]
        git_ref: Option<String>,
        /// Where the pipeline file is (its directory gets `.wercker/steps`).
        #[command(flatten)]
        file: FileArg,
    },
    /// List the step directories found, where, and their versions.
    List {
        /// Where the pipeline file is.
        #[command(flatten)]
        file: FileArg,
    },
}

/// Runs a `runner step` command; returns the exit code.
pub fn main(cmd: StepCommand, registry: &mut Registry) -> i32 {
    match cmd {
        StepCommand::Add {
            id,
            from,
            git_ref,
            file,
        } => add(&id, from.as_deref(), git_ref.as_deref(), &file),
        StepCommand::List { file } => {
            crate::cli::add_legacy(registry, &file);
            list(registry)
        }
    }
}

/// The directory steps are added to: `--steps-dir`, else `.wercker/steps`
/// next to the pipeline file (or here when there is none).
fn steps_root(arg: &FileArg) -> PathBuf {
    if let Some(d) = &arg.steps_dir {
        return d.clone();
    }
    let base = match crate::cli::find_file(arg) {
        Ok(f) => crate::cli::root_of(&f),
        Err(_) => PathBuf::from("."),
    };
    base.join(".wercker").join("steps")
}

fn add(written: &str, from: Option<&str>, git_ref: Option<&str>, arg: &FileArg) -> i32 {
    let id = StepId::parse(written);
    let valid = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    let owner = id.owner.clone().unwrap_or_else(|| "wercker".into());
    if !valid(&owner) || !valid(&id.name) {
        eprintln!(
            "error: `{written}` is not a step id; expected OWNER/NAME (letters, digits, `-`, `_`, `.`)"
        );
        return EXIT_CONFIG;
    }
    let dest = steps_root(arg).join(&owner).join(&id.name);
    if crate::legacy::manifest_path(&dest).is_some() {
        let version = crate::legacy::read_manifest(&dest)
            .map(|m| format!(" (version {})", m.version))
            .unwrap_or_default();
        println!(
            "{owner}/{} is already there: {}{version}; remove that directory to fetch it again",
            id.name,
            dest.display()
        );
        return EXIT_PASSED;
    }
    if dest.exists() {
        eprintln!(
            "error: {} exists but holds no step manifest; move it away first",
            dest.display()
        );
        return EXIT_CONFIG;
    }
    let url = from.map_or_else(
        || format!("https://github.com/{owner}/step-{}", id.name),
        str::to_string,
    );
    let git_ref = git_ref.or(id.version.as_deref());
    match fetch(&url, git_ref, &dest) {
        Ok(version) => {
            println!(
                "added {owner}/{} {version} from {url} into {}",
                id.name,
                dest.display()
            );
            EXIT_PASSED
        }
        Err(Failure::Config(e)) => {
            eprintln!("error: {e}");
            EXIT_CONFIG
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e}");
            EXIT_FAILED
        }
    }
}

enum Failure {
    /// Bad input: the URL, the ref, the step's manifest.
    Config(String),
    /// The machine: git missing, the disk.
    Other(String),
}

/// Clones `url` into a temp dir beside `dest`, checks it, renames it into
/// place; returns the step's version. On failure every directory this
/// created is removed again.
fn fetch(url: &str, git_ref: Option<&str>, dest: &Path) -> Result<String, Failure> {
    let parent = dest
        .parent()
        .ok_or_else(|| Failure::Config(format!("{} has no parent", dest.display())))?;
    let created = missing_ancestors(parent);
    let result = fetch_into(url, git_ref, parent, dest);
    if result.is_err() {
        // Deepest first; only directories this add created, only when empty.
        for dir in &created {
            let _ = std::fs::remove_dir(dir);
        }
    }
    result
}

fn fetch_into(
    url: &str,
    git_ref: Option<&str>,
    parent: &Path,
    dest: &Path,
) -> Result<String, Failure> {
    std::fs::create_dir_all(parent)
        .map_err(|e| Failure::Other(format!("creating {}: {e}", parent.display())))?;
    let tmp = tempfile::Builder::new()
        .prefix(".step-add-")
        .tempdir_in(parent)
        .map_err(|e| Failure::Other(format!("creating a temp dir in {}: {e}", parent.display())))?;
    let work = tmp.path().join("step");
    git(&["clone", "--quiet", "--", url], Some(&work), None)
        .map_err(|e| Failure::Config(format!("cannot clone {url}: {e}")))?;
    if let Some(r) = git_ref {
        git(&["checkout", "--quiet", r, "--"], None, Some(&work))
            .map_err(|e| Failure::Config(format!("cannot check out `{r}` of {url}: {e}")))?;
    }
    let manifest = crate::legacy::read_manifest(&work).map_err(|diags| {
        let lines: Vec<String> = diags
            .iter()
            .map(|d| d.to_string().replace(&work.display().to_string(), url))
            .collect();
        Failure::Config(format!(
            "{url} is not a valid wercker step:\n  {}",
            lines.join("\n  ")
        ))
    })?;
    std::fs::rename(&work, dest)
        .map_err(|e| Failure::Other(format!("moving the step into {}: {e}", dest.display())))?;
    Ok(manifest.version)
}

/// The ancestors of `dir` that do not exist yet, deepest first.
fn missing_ancestors(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(Path::to_path_buf)
        .collect()
}

/// Runs git with `args` (plus `target` as the last argument, or in `cwd`).
fn git(args: &[&str], target: Option<&Path>, cwd: Option<&Path>) -> Result<(), String> {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(t) = target {
        cmd.arg(t);
    }
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run git ({e}); install git"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reason = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("git failed")
        .trim_start_matches("fatal: ")
        .to_string();
    Err(reason)
}

fn list(registry: &Registry) -> i32 {
    let roots = registry.legacy_roots();
    let found = crate::legacy::discover(roots);
    if found.is_empty() {
        let looked: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        println!(
            "no step directories found (looked in: {})",
            looked.join(", ")
        );
        return EXIT_PASSED;
    }
    let width = found.iter().map(|(id, _)| id.len()).max().unwrap_or(0);
    let mut code = EXIT_PASSED;
    for (id, dir) in found {
        match crate::legacy::read_manifest(&dir) {
            Ok(m) => println!("{id:width$}  {:<10}  {}", m.version, dir.display()),
            Err(diags) => {
                code = EXIT_FAILED;
                println!(
                    "{id:width$}  {:<10}  {} (invalid: {})",
                    "-",
                    dir.display(),
                    diags.len()
                );
                for d in diags {
                    println!("    {d}");
                }
            }
        }
    }
    code
}
