//! Command-line selectors checked against the pipeline before it runs:
//! `--skip NAME` must match a step, `--only NAME=VALUE` a `for_each`
//! variable and one of its values. A selector that matches nothing is an
//! error (exit 2): a deploy tool must never do something other than what
//! was typed, and "deploy every target" is not what `--only ENVNAME=prod`
//! meant.

use crate::diag::closest;
use crate::expand::expand_vars;
use crate::model::{Entry, GroupKind, PipelineFile, Values};

/// What a pipeline offers to select: step names and kinds, and each
/// `for_each` variable with its values (`None` when only known at run time).
#[derive(Debug, Default)]
struct Selectable {
    steps: Vec<String>,
    vars: Vec<(String, Option<Vec<String>>)>,
}

fn collect(entries: &[Entry], lookup: &dyn Fn(&str) -> Option<String>, out: &mut Selectable) {
    for e in entries {
        match e {
            Entry::Step(s) => {
                out.steps.push(s.display_name());
                out.steps.push(s.kind.clone());
            }
            Entry::Group(g) => {
                if let GroupKind::ForEach(fe) = &g.kind {
                    let values = match &fe.values {
                        Values::List(items) => items
                            .iter()
                            .map(|v| expand_vars(v, lookup).ok())
                            .collect::<Option<Vec<_>>>(),
                        Values::Expr(text) => expand_vars(text, lookup).ok().map(|s| {
                            s.split(|c: char| c == ',' || c.is_whitespace())
                                .filter(|v| !v.is_empty())
                                .map(str::to_string)
                                .collect()
                        }),
                    };
                    out.vars.push((fe.var.clone(), values));
                }
                collect(&g.steps, lookup, out);
                collect(&g.finally, lookup, out);
            }
        }
    }
}

/// Checks `--skip` and `--only` for a run of pipeline `name`; `lookup`
/// reads the command line and the process environment, the file's `env:`
/// is layered under them.
pub fn check_for_run(
    file: &PipelineFile,
    name: &str,
    skip: &[String],
    only: &[(String, String)],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    let env = super::static_checks::file_env(file, name, lookup);
    let layered = |n: &str| lookup(n).or_else(|| env.get(n).cloned());
    check_selectors(file, name, skip, only, &layered)
}

/// Checks `--skip` and `--only` against pipeline `name`; each returned
/// string is one error. `lookup` reads variables with the run's precedence
/// (the file's `env:` included).
pub fn check_selectors(
    file: &PipelineFile,
    name: &str,
    skip: &[String],
    only: &[(String, String)],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    let Some(p) = file.pipelines.get(name) else {
        return Vec::new();
    };
    let mut found = Selectable::default();
    for list in [&p.steps, &p.finally, &p.after_steps] {
        collect(list, lookup, &mut found);
    }
    let hint = |s: Option<String>| {
        s.map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default()
    };
    let mut errors = Vec::new();
    for s in skip {
        if !found.steps.iter().any(|n| n == s) {
            let mut names = found.steps.clone();
            names.sort();
            names.dedup();
            errors.push(format!(
                "--skip `{s}` matches no step name or kind in pipeline `{name}`{}; it has: {}",
                hint(closest(s, names.iter().map(String::as_str))),
                names.join(", ")
            ));
        }
    }
    for (var, value) in only {
        let of_var: Vec<&Option<Vec<String>>> = found
            .vars
            .iter()
            .filter(|(v, _)| v == var)
            .map(|(_, values)| values)
            .collect();
        if of_var.is_empty() {
            let vars: Vec<&str> = found.vars.iter().map(|(v, _)| v.as_str()).collect();
            errors.push(format!(
                "--only {var}={value}: `{var}` is not a for_each variable of pipeline `{name}`{}; its for_each variables: {}",
                hint(closest(var, vars.iter().copied())),
                if vars.is_empty() { "none".to_string() } else { vars.join(", ") }
            ));
            continue;
        }
        if of_var.iter().any(|v| v.is_none()) {
            continue;
        }
        let values: Vec<&str> = of_var
            .iter()
            .filter_map(|v| v.as_ref())
            .flatten()
            .map(String::as_str)
            .collect();
        if !values.contains(&value.as_str()) {
            errors.push(format!(
                "--only {var}={value}: `{value}` is not among the values of `{var}` ({}){}",
                values.join(", "),
                hint(closest(value, values.iter().copied()))
            ));
        }
    }
    errors
}
