//! What `runner run` and `runner validate` check, and how seriously.
//!
//! `run P` checks the file's syntax and pipeline `P` only (its steps,
//! after-steps, `finally`, the variables they use); problems elsewhere are
//! counted in one line that points at `runner validate`. An unset variable
//! in a step of `P` is an error, in an after-step a warning (it expands to
//! empty). `validate` checks every pipeline; unset variables are warnings
//! there unless `--strict`. Deploy targets (`--target`) are chosen here.

use std::path::Path;

use step_core::Env;

use crate::diag::{DiagLevel, Diagnostic, Pos, sort_dedup};
use crate::load::{self, VarLevels};
use crate::model::PipelineFile;
use crate::registry::Registry;

/// A file ready to run, and what to show before it runs.
#[derive(Debug)]
pub struct Prepared {
    /// The file, with the chosen target's steps as each pipeline's steps.
    pub file: PipelineFile,
    /// Warnings and notices.
    pub shown: Vec<Diagnostic>,
    /// The pipelines to run, in order.
    pub pipelines: Vec<String>,
}

/// What to run.
#[derive(Clone, Debug)]
pub enum Selection {
    /// One pipeline.
    Pipeline(String),
    /// A workflow's pipelines, in order.
    Workflow(String),
}

/// The pipelines a selection names, or a usage error.
fn select(
    file: &PipelineFile,
    path: &Path,
    sel: &Selection,
) -> Result<Vec<String>, Box<Diagnostic>> {
    let names: Vec<&str> = file.pipelines.keys().map(String::as_str).collect();
    let missing = |what: &str, name: &str, have: Vec<&str>| {
        Box::new(
            Diagnostic::error(
                path,
                Pos::default(),
                format!(
                    "no {what} `{name}` in this file; it has: {}",
                    if have.is_empty() {
                        "none".to_string()
                    } else {
                        have.join(", ")
                    }
                ),
            )
            .suggest(crate::diag::closest(name, have.iter().copied())),
        )
    };
    match sel {
        Selection::Pipeline(p) if file.pipelines.contains_key(p) => Ok(vec![p.clone()]),
        Selection::Pipeline(p) => Err(missing("pipeline", p, names)),
        Selection::Workflow(w) => match file.workflows.get(w) {
            Some(list) => match list.iter().find(|p| !file.pipelines.contains_key(*p)) {
                Some(p) => Err(missing("pipeline", p, names)),
                None => Ok(list.clone()),
            },
            None => Err(missing(
                "workflow",
                w,
                file.workflows.keys().map(String::as_str).collect(),
            )),
        },
    }
}

/// Loads `path` for running a pipeline or a workflow's pipelines, with the
/// deploy target `target` when given.
pub fn for_run(
    path: &Path,
    registry: &Registry,
    env: &Env,
    selection: &Selection,
    target: Option<&str>,
) -> Result<Prepared, Vec<Diagnostic>> {
    let (mut file, diags) = load::load_file_all(path, registry)?;
    let pipelines = match select(&file, path, selection) {
        Ok(p) => p,
        Err(d) => {
            let mut all: Vec<Diagnostic> =
                diags.into_iter().filter(|d| d.pipeline.is_none()).collect();
            all.push(*d);
            return Err(all);
        }
    };
    let pipelines = pipelines.as_slice();
    let in_scope = |d: &Diagnostic| {
        d.pipeline
            .as_deref()
            .is_none_or(|p| pipelines.iter().any(|n| n == p))
    };
    let (mut mine, others): (Vec<Diagnostic>, Vec<Diagnostic>) =
        diags.into_iter().partition(in_scope);
    let elsewhere = others.iter().filter(|d| d.is_error()).count();
    if elsewhere > 0 {
        let mut names: Vec<&str> = others
            .iter()
            .filter(|d| d.is_error())
            .filter_map(|d| d.pipeline.as_deref())
            .collect();
        names.dedup();
        mine.push(Diagnostic::notice(
            path,
            Pos::default(),
            format!(
                "{elsewhere} problem(s) in other pipelines ({}) do not affect this run; `runner validate` lists them",
                names.join(", ")
            ),
        ));
    }
    // Not staged: a structural error does not hide the variable and
    // property errors of the steps that did load.
    for name in pipelines {
        if let Err(d) = choose_target(&mut file, path, name, target) {
            mine.push(*d);
        }
    }
    let is_set = |n: &str| env.get(n).is_some();
    for name in pipelines {
        mine.extend(load::check_variables(&file, name, &is_set));
    }
    let lookup = |n: &str| env.get(n).map(str::to_string);
    mine.extend(load::check_steps_in(&file, registry, &lookup, pipelines));
    for name in pipelines {
        mine.extend(load::static_checks::check_pipeline(
            &file, registry, name, &lookup,
        ));
    }
    sort_dedup(&mut mine);
    if mine.iter().any(Diagnostic::is_error) {
        return Err(mine);
    }
    Ok(Prepared {
        file,
        shown: mine,
        pipelines: pipelines.to_vec(),
    })
}

/// Makes `target`'s step list the pipeline's steps (wercker ran
/// `deploy.production` for the target `production`, else `deploy.steps`).
fn choose_target(
    file: &mut PipelineFile,
    path: &Path,
    name: &str,
    target: Option<&str>,
) -> Result<(), Box<Diagnostic>> {
    let Some(p) = file.pipelines.get_mut(name) else {
        return Ok(());
    };
    let targets = std::mem::take(&mut p.targets);
    let listed = || targets.keys().cloned().collect::<Vec<_>>().join(", ");
    match target {
        Some(t) => {
            if let Some(list) = targets.get(t) {
                p.steps = list.clone();
            } else if p.steps.is_empty() && !targets.is_empty() {
                return Err(Box::new(
                    Diagnostic::error(
                        path,
                        p.pos,
                        format!(
                            "pipeline `{name}` has no deploy target `{t}` and no `steps:`; its targets: {}",
                            listed()
                        ),
                    )
                    .suggest(crate::diag::closest(t, targets.keys().map(String::as_str))),
                ));
            }
            p.env
                .insert("WERCKER_DEPLOYTARGET_NAME".to_string(), t.to_string());
        }
        None if p.steps.is_empty() && !targets.is_empty() => {
            return Err(Box::new(Diagnostic::error(
                path,
                p.pos,
                format!(
                    "pipeline `{name}` has only deploy targets ({}); choose one with --target NAME",
                    listed()
                ),
            )));
        }
        None => {}
    }
    Ok(())
}

/// Loads and checks every pipeline of `path`. Unset variables are warnings
/// unless `strict`. Returns the file (when it could be read) and every
/// diagnostic, sorted.
pub fn for_validate(
    path: &Path,
    registry: &Registry,
    env: &Env,
    strict: bool,
) -> (Option<PipelineFile>, Vec<Diagnostic>) {
    let (file, mut diags) = match load::load_file_all(path, registry) {
        Ok(loaded) => loaded,
        Err(d) => return (None, d),
    };
    let level = if strict {
        DiagLevel::Error
    } else {
        DiagLevel::Warning
    };
    let levels = VarLevels {
        steps: level,
        after_steps: level,
    };
    let is_set = |n: &str| env.get(n).is_some();
    for name in file.pipelines.keys() {
        diags.extend(load::check_variables_at(&file, name, &is_set, levels));
    }
    let lookup = |n: &str| env.get(n).map(str::to_string);
    diags.extend(load::check_steps(&file, registry, &lookup));
    for name in file.pipelines.keys() {
        diags.extend(load::static_checks::check_pipeline(
            &file, registry, name, &lookup,
        ));
    }
    for (workflow, names) in &file.workflows {
        for n in names.iter().filter(|n| !file.pipelines.contains_key(*n)) {
            diags.push(
                Diagnostic::error(
                    path,
                    Pos::default(),
                    format!("workflow `{workflow}` names pipeline `{n}`, which this file does not define"),
                )
                .suggest(crate::diag::closest(n, file.pipelines.keys().map(String::as_str))),
            );
        }
    }
    sort_dedup(&mut diags);
    (Some(file), diags)
}
