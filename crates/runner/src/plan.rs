//! `runner plan`: a dry run. It loads and checks the file exactly as `run`
//! does (so it fails with exit 2 wherever `run` would fail before
//! starting), then prints the resolved tree — targets, steps, the commands
//! each step would run, why a step would be skipped, the teardowns it
//! would register — and runs nothing.
//!
//! What is only known at run time stays as written: `${{ outputs… }}`,
//! and variables that an earlier script exports. A `when:` that reads such
//! a variable is "decided at run time".

use std::collections::HashMap;

use serde_json::{Map, Value};
use step_core::{Env, Masker};

use crate::expand::expand_vars;
use crate::model::{Entry, GroupKind, PipelineFile, StepEntry, Values, When};
use crate::registry::Registry;

/// What the plan needs besides the file: the run's variables and selectors.
pub struct PlanOptions<'a> {
    /// The run's environment (command line over the process environment).
    pub env: &'a Env,
    /// `--skip` names.
    pub skip: &'a [String],
    /// `--only` selections.
    pub only: &'a [(String, String)],
    /// `--partition K/N`.
    pub partition: Option<(usize, usize)>,
}

/// Renders the plan of pipeline `name` as text (secrets masked).
pub fn render(
    file: &PipelineFile,
    registry: &Registry,
    name: &str,
    opts: &PlanOptions<'_>,
) -> String {
    let Some(p) = file.pipelines.get(name) else {
        return String::new();
    };
    let lookup = |n: &str| opts.env.get(n).map(str::to_string);
    let mut vars: HashMap<String, String> =
        crate::load::static_checks::file_env(file, name, &lookup);
    for (k, v) in opts.env.iter() {
        vars.insert(k.to_string(), v.to_string());
    }
    let mut planner = Planner {
        registry,
        opts,
        out: String::new(),
    };
    planner.line(
        0,
        &format!("pipeline {name} ({}): nothing is run", file.path.display()),
    );
    let mut scope = PlanScope {
        vars,
        runtime: Vec::new(),
    };
    planner.entries(&p.steps, &mut scope, 1);
    if !p.finally.is_empty() {
        planner.line(1, "finally:");
        planner.entries(&p.finally, &mut scope.clone(), 2);
    }
    if !p.after_steps.is_empty() {
        planner.line(1, "after-steps (always, with RUNNER_RESULT):");
        scope
            .runtime
            .extend(["RUNNER_RESULT".to_string(), "WERCKER_RESULT".to_string()]);
        planner.entries(&p.after_steps, &mut scope, 2);
    }
    let mut secrets = opts.env.secret_values();
    secrets.extend(
        file.secrets
            .iter()
            .filter_map(|s| opts.env.get(s).map(str::to_string)),
    );
    Masker::new(secrets).mask(&planner.out).into_owned()
}

#[derive(Clone)]
struct PlanScope {
    /// Variables known now.
    vars: HashMap<String, String>,
    /// Variables only known at run time (exported by earlier scripts).
    runtime: Vec<String>,
}

impl PlanScope {
    fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

struct Planner<'a> {
    registry: &'a Registry,
    opts: &'a PlanOptions<'a>,
    out: String,
}

impl Planner<'_> {
    fn line(&mut self, depth: usize, text: &str) {
        for (i, l) in text.lines().enumerate() {
            let extra = if i == 0 { "" } else { "  " };
            self.out
                .push_str(&format!("{}{extra}{l}\n", "  ".repeat(depth)));
        }
    }

    fn entries(&mut self, entries: &[Entry], scope: &mut PlanScope, depth: usize) {
        for e in entries {
            match e {
                Entry::Step(s) => self.step(s, scope, depth),
                Entry::Group(g) => match &g.kind {
                    GroupKind::ForEach(fe) => {
                        let values = self.values(&fe.values, &fe.var, scope);
                        let shown = match &values {
                            Some(v) => format!("{} target(s): {}", v.len(), v.join(", ")),
                            None => "targets decided at run time".to_string(),
                        };
                        self.line(
                            depth,
                            &format!("- {} over {}: {shown}", g.display_name(), fe.var),
                        );
                        let targets = values.unwrap_or_else(|| vec![format!("${}", fe.var)]);
                        for t in targets {
                            let mut inner = scope.clone();
                            inner.vars.insert(fe.var.clone(), t.clone());
                            inner.vars.insert("RUNNER_TARGET".into(), t.clone());
                            self.line(depth + 1, &format!("target {t}:"));
                            self.entries(&g.steps, &mut inner, depth + 2);
                            if !g.finally.is_empty() {
                                self.line(depth + 2, "finally (always):");
                                self.entries(&g.finally, &mut inner, depth + 3);
                            }
                        }
                    }
                    _ => {
                        self.line(depth, &format!("- {}:", g.display_name()));
                        self.entries(&g.steps, scope, depth + 1);
                        if !g.finally.is_empty() {
                            self.line(depth + 1, "finally (always):");
                            self.entries(&g.finally, &mut scope.clone(), depth + 2);
                        }
                    }
                },
            }
        }
    }

    /// The targets a `for_each` would run, after `--only` and `--partition`.
    fn values(&self, values: &Values, var: &str, scope: &PlanScope) -> Option<Vec<String>> {
        let get = |n: &str| scope.get(n);
        let mut all: Vec<String> = match values {
            Values::List(items) => items
                .iter()
                .map(|v| expand_vars(v, &get).ok())
                .collect::<Option<_>>()?,
            Values::Expr(text) => expand_vars(text, &get)
                .ok()?
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        };
        let only: Vec<&str> = self
            .opts
            .only
            .iter()
            .filter(|(k, _)| k == var)
            .map(|(_, v)| v.as_str())
            .collect();
        if !only.is_empty() {
            all.retain(|v| only.contains(&v.as_str()));
        }
        if let Some((k, n)) = self.opts.partition {
            all = all
                .into_iter()
                .enumerate()
                .filter(|(i, _)| i % n == k - 1)
                .map(|(_, v)| v)
                .collect();
        }
        Some(all)
    }

    fn step(&mut self, step: &StepEntry, scope: &mut PlanScope, depth: usize) {
        let name = step.display_name();
        let title = if step.common.name.is_some() {
            format!("- {name} ({})", step.kind)
        } else {
            format!("- {name}")
        };
        if self.opts.skip.iter().any(|s| *s == name || *s == step.kind) {
            self.line(depth, &format!("{title}  [skipped: --skip]"));
            return;
        }
        let when = step.common.when.as_ref().map(|w| self.when(w, scope));
        match &when {
            Some((false, text)) => {
                self.line(depth, &format!("{title}  [skipped: {text}; it would run:]"));
            }
            Some((true, text)) => self.line(depth, &format!("{title}  [{text}]")),
            None => self.line(depth, &title),
        }
        self.commands(step, scope, depth + 1);
        if step.kind == "script"
            && let Some(Value::String(code)) = step.properties.get("code")
        {
            scope.runtime.extend(exported(code));
        }
    }

    /// Whether a `when:` lets the step run (true when it is only decided at
    /// run time) and how to say so.
    fn when(&self, when: &When, scope: &PlanScope) -> (bool, String) {
        let text = when.describe();
        if let When::Cond(c) = when
            && let Some(v) = c
                .variables()
                .into_iter()
                .find(|v| scope.runtime.iter().any(|r| r == v))
        {
            return (
                true,
                format!("when: {text} — decided at run time (`{v}` is set by an earlier step)"),
            );
        }
        if when.holds(|n| scope.get(n)) {
            (true, format!("when: {text} holds"))
        } else {
            (false, format!("`when: {text}` does not hold"))
        }
    }

    fn commands(&mut self, step: &StepEntry, scope: &PlanScope, depth: usize) {
        let Some((kind, _)) = self.registry.get(&step.kind) else {
            return;
        };
        let raw: &[&str] = if step.kind == "script" {
            &["code", "teardown"]
        } else {
            &[]
        };
        let mut props = Map::new();
        for (k, v) in &step.properties {
            props.insert(k.clone(), known(v, !raw.contains(&k.as_str()), scope));
        }
        if let Some(cwd) = &step.common.cwd {
            self.line(depth, &format!("in {cwd}"));
        }
        let built = match kind.build(Value::Object(props)) {
            Ok(b) => b,
            Err(e) => {
                self.line(
                    depth,
                    &format!("(the command is known only at run time: {e})"),
                );
                return;
            }
        };
        let lines = built.commands();
        if lines.is_empty() {
            self.line(depth, "(runs no external command)");
        }
        for l in lines {
            self.line(depth, &format!("$ {l}"));
        }
        if let Some(t) = built.teardown() {
            let undo = t.step().commands();
            let t = t.record();
            self.line(
                depth,
                &format!("registers teardown: {} (runs when its scope ends)", t.kind),
            );
            for l in undo {
                self.line(depth + 1, &format!("$ {l}"));
            }
        }
    }
}

/// A property with the variables known now substituted; values that are
/// only known at run time stay as written.
fn known(v: &Value, vars: bool, scope: &PlanScope) -> Value {
    match v {
        Value::String(s) if vars && s.contains('$') && !s.contains("${{") => {
            expand_vars(s, &|n| scope.get(n))
                .map(Value::String)
                .unwrap_or_else(|_| v.clone())
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| known(i, vars, scope)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, i)| (k.clone(), known(i, vars, scope)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Names a script's code exports (`export A B=1`), which later steps see.
fn exported(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|l| l.trim_start().strip_prefix("export "))
        .flat_map(|rest| rest.split_whitespace())
        .map(|w| w.split('=').next().unwrap_or_default().to_string())
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_runtime_variables() {
        assert_eq!(
            exported("a=1\n  export CLOUD_KIND TF_DIR=x\necho export\n"),
            vec!["CLOUD_KIND", "TF_DIR"]
        );
    }
}
