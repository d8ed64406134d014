//! Checks that need more than the file's structure: variables that nothing
//! sets, and each step's own config checks (its `build`), run before
//! anything starts so a typo costs seconds, not a deploy.

use serde_json::{Map, Value};

use crate::diag::{DiagLevel, Diagnostic};
use crate::model::{Entry, GroupKind, PipelineFile, Values};
use crate::registry::Registry;

/// Variables the runner sets for every step (so they count as set).
fn runner_provided(name: &str) -> bool {
    name.starts_with("RUNNER_") || name.starts_with("WERCKER_") || name == "WERCKER"
}

/// Names a script's code exports (`export NAME=…`, `export NAME`), so later
/// steps may use them.
fn exported_names(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in code.lines() {
        let mut words = line.split_whitespace().peekable();
        while let Some(w) = words.next() {
            if w == "export" || w == "declare" && words.peek().is_some_and(|n| n.starts_with("-x"))
            {
                for arg in words.by_ref() {
                    if arg.starts_with('-') {
                        continue;
                    }
                    let name = arg.split('=').next().unwrap_or_default();
                    if !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        names.push(name.to_string());
                    }
                    if arg.contains(';') || arg.contains('&') {
                        break;
                    }
                }
            }
        }
    }
    names
}

/// Finds `$VAR` references in step properties that nothing sets: not the
/// environment (`is_set`), not the file's or pipeline's `env`, not a
/// `for_each` variable in scope, not the runner's own variables, and not
/// exported by an earlier `script` step. Each is an error with the
/// property's position.
///
/// Unset variables in steps are errors and in after-steps warnings (they
/// expand to empty there), as `runner run` treats them; see
/// [`check_variables_at`] for other levels.
pub fn check_variables(
    file: &PipelineFile,
    pipeline: &str,
    is_set: &dyn Fn(&str) -> bool,
) -> Vec<Diagnostic> {
    let levels = VarLevels {
        steps: DiagLevel::Error,
        after_steps: DiagLevel::Warning,
    };
    check_variables_at(file, pipeline, is_set, levels)
}

/// How serious an unset variable is, by where it is used.
#[derive(Clone, Copy, Debug)]
pub struct VarLevels {
    /// In steps, `finally` steps and deploy-target lists.
    pub steps: DiagLevel,
    /// In after-steps.
    pub after_steps: DiagLevel,
}

/// [`check_variables`] with the levels given (`validate` makes them
/// warnings, `validate --strict` errors). Each diagnostic names its pipeline.
pub fn check_variables_at(
    file: &PipelineFile,
    pipeline: &str,
    is_set: &dyn Fn(&str) -> bool,
    levels: VarLevels,
) -> Vec<Diagnostic> {
    let Some(p) = file.pipelines.get(pipeline) else {
        return Vec::new();
    };
    let known: Vec<String> = file.env.keys().chain(p.env.keys()).cloned().collect();
    let mut diags = Vec::new();
    let mut lists: Vec<&Vec<Entry>> = vec![&p.steps];
    lists.extend(p.targets.values());
    for list in lists {
        // Each target starts from what the pipeline's env sets.
        let mut known = known.clone();
        let in_steps = if levels.steps == DiagLevel::Error {
            (levels.steps, "")
        } else {
            (levels.steps, "; `runner run` stops on it")
        };
        let after = (levels.after_steps, "; in after-steps it expands to empty");
        check_entries(file, list, &mut known, is_set, in_steps, &mut diags);
        check_entries(file, &p.finally, &mut known, is_set, in_steps, &mut diags);
        check_entries(file, &p.after_steps, &mut known, is_set, after, &mut diags);
    }
    for d in &mut diags {
        d.pipeline = Some(pipeline.to_string());
    }
    crate::diag::sort_dedup(&mut diags);
    diags
}

/// What the variable checks of one list of entries share: the file, which
/// variables the environment sets, and how serious an unset one is there
/// (with the note that says why).
struct VarScope<'a> {
    file: &'a PipelineFile,
    is_set: &'a dyn Fn(&str) -> bool,
    level: DiagLevel,
    after: &'a str,
}

fn check_entries(
    file: &PipelineFile,
    entries: &[Entry],
    known: &mut Vec<String>,
    is_set: &dyn Fn(&str) -> bool,
    (level, after): (DiagLevel, &str),
    diags: &mut Vec<Diagnostic>,
) {
    let scope = VarScope {
        file,
        is_set,
        level,
        after,
    };
    scope.entries(entries, known, diags);
}

impl VarScope<'_> {
    fn entries(&self, entries: &[Entry], known: &mut Vec<String>, diags: &mut Vec<Diagnostic>) {
        for entry in entries {
            match entry {
                // A step with `when:` may refer to variables that are only
                // set when it runs (`webhook_url: $SLACK_WEBHOOK_URL` with
                // `when: SLACK_WEBHOOK_URL`): it is checked when it runs.
                Entry::Step(step) if step.common.when.is_some() => {}
                Entry::Step(step) => self.step(step, known, diags),
                Entry::Group(group) => self.group(group, known, diags),
            }
        }
    }

    /// A step's properties and `cwd`; a script's exports are known after it.
    fn step(
        &self,
        step: &crate::model::StepEntry,
        known: &mut Vec<String>,
        diags: &mut Vec<Diagnostic>,
    ) {
        for (prop, value) in &step.properties {
            if step.kind == "script" && (prop == "code" || prop == "teardown") {
                continue;
            }
            self.property(step, prop, value, known, diags);
        }
        if let Some(cwd) = &step.common.cwd {
            for name in unset_vars(cwd, known, self.is_set) {
                diags.push(
                    Diagnostic::error(
                        &self.file.path,
                        step.property_pos.get("cwd").copied().unwrap_or(step.pos),
                        format!(
                            "variable `{name}` is not set (used in `cwd` of step `{}`)",
                            step.display_name()
                        ),
                    )
                    .with_level(self.level),
                );
            }
        }
        if step.kind == "script"
            && let Some(Value::String(code)) = step.properties.get("code")
        {
            known.extend(exported_names(code));
        }
    }

    /// Every string in one property: malformed `${…}` and unset variables.
    fn property(
        &self,
        step: &crate::model::StepEntry,
        prop: &str,
        value: &Value,
        known: &[String],
        diags: &mut Vec<Diagnostic>,
    ) {
        let file = self.file;
        let mut strings = Vec::new();
        collect_strings(value, &mut strings);
        for s in strings {
            if let Err(e @ crate::expand::ExpandError::Malformed { .. }) =
                crate::expand::expand_vars(&s, &|_| Some(String::new()))
            {
                let pos = step.property_pos.get(prop).copied().unwrap_or(step.pos);
                diags.push(Diagnostic::error(
                    &file.path,
                    pos,
                    format!("property `{prop}` of step `{}`: {e}", step.display_name()),
                ));
                continue;
            }
            for name in unset_vars(&s, known, self.is_set) {
                let mut pos = step.property_pos.get(prop).copied().unwrap_or(step.pos);
                if value.as_str() == Some(s.as_str()) {
                    pos = super::positions::var_pos(&file.path, pos, &s, &name);
                }
                diags.push(Diagnostic::error(
                    &file.path,
                    pos,
                    format!(
                        "variable `{name}` is not set (used in property `{prop}` of step `{}`){}; set it, pass --var {name}=…, or write ${{{name}:-default}}",
                        step.display_name(),
                        self.after
                    ),
                ).with_level(self.level));
            }
        }
    }

    /// A group's steps and `finally` see what was known before it (and a
    /// `for_each`'s variable); what a plain group's steps set is known after.
    fn group(
        &self,
        group: &crate::model::Group,
        known: &mut Vec<String>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let mut inner = known.clone();
        if let GroupKind::ForEach(fe) = &group.kind {
            if let Values::Expr(text) = &fe.values {
                for name in unset_vars(text, known, self.is_set) {
                    diags.push(Diagnostic::error(
                        &self.file.path,
                        group.pos,
                        format!("variable `{name}` is not set (used in `values` of `for_each`); set it or pass --var {name}=…"),
                    ).with_level(self.level));
                }
            }
            inner.push(fe.var.clone());
        }
        self.entries(&group.steps, &mut inner, diags);
        self.entries(&group.finally, &mut inner, diags);
        if !matches!(group.kind, GroupKind::ForEach(_)) {
            *known = inner;
        }
    }
}

/// The variables `text` uses that nothing sets (and that have no default).
fn unset_vars(text: &str, known: &[String], is_set: &dyn Fn(&str) -> bool) -> Vec<String> {
    crate::expand::referenced_vars(text)
        .into_iter()
        .filter(|(name, has_default)| {
            !(*has_default
                || is_set(name)
                || runner_provided(name)
                || known.iter().any(|k| k == name))
        })
        .map(|(name, _)| name)
        .collect()
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(m) => m.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

/// Builds every step once with its properties as written (variables that
/// are set substituted, the rest left as they are) to catch what only the
/// step knows is wrong (an enum value, a bad combination) before anything
/// runs. Errors on properties that still hold `$` or `${{` are not
/// reported: their values are only known at run time.
pub fn check_steps(
    file: &PipelineFile,
    registry: &Registry,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<Diagnostic> {
    let names: Vec<String> = file.pipelines.keys().cloned().collect();
    check_steps_in(file, registry, lookup, &names)
}

/// [`check_steps`] for the named pipelines only; each diagnostic names its pipeline.
pub fn check_steps_in(
    file: &PipelineFile,
    registry: &Registry,
    lookup: &dyn Fn(&str) -> Option<String>,
    pipelines: &[String],
) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for name in pipelines {
        let Some(p) = file.pipelines.get(name) else {
            continue;
        };
        let start = diags.len();
        let lists = [&p.steps, &p.finally, &p.after_steps]
            .into_iter()
            .chain(p.targets.values());
        for list in lists {
            check_build(file, registry, list, lookup, &mut diags);
        }
        for d in &mut diags[start..] {
            d.pipeline = Some(name.clone());
        }
    }
    diags
}

fn check_build(
    file: &PipelineFile,
    registry: &Registry,
    entries: &[Entry],
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Vec<Diagnostic>,
) {
    for entry in entries {
        match entry {
            Entry::Step(step) => {
                let Some((kind, _)) = registry.get(&step.kind) else {
                    continue;
                };
                let raw: &[&str] = if step.kind == "script" {
                    &["code", "teardown"]
                } else {
                    &[]
                };
                let mut props = Map::new();
                for (k, v) in &step.properties {
                    props.insert(k.clone(), lenient(v, !raw.contains(&k.as_str()), lookup));
                }
                if let Err(e) = kind.build(Value::Object(props)) {
                    let top = e
                        .property
                        .as_deref()
                        .map(|p| p.split(['.', '[']).next().unwrap_or(p).to_string());
                    let dynamic = top
                        .as_ref()
                        .and_then(|t| step.properties.get(t))
                        .is_some_and(|v| v.to_string().contains('$'));
                    if dynamic {
                        continue;
                    }
                    let pos = top
                        .as_ref()
                        .and_then(|t| step.property_pos.get(t).copied())
                        .unwrap_or(step.pos);
                    diags.push(Diagnostic::error(
                        &file.path,
                        pos,
                        format!("step `{}`: {e}", step.display_name()),
                    ));
                }
            }
            Entry::Group(g) => {
                check_build(file, registry, &g.steps, lookup, diags);
                check_build(file, registry, &g.finally, lookup, diags);
            }
        }
    }
}

fn lenient(v: &Value, vars: bool, lookup: &dyn Fn(&str) -> Option<String>) -> Value {
    match v {
        Value::String(s) if vars && s.contains('$') && !s.contains("${{") => {
            crate::expand::expand_vars(s, lookup)
                .map(Value::String)
                .unwrap_or_else(|_| v.clone())
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| lenient(i, vars, lookup)).collect())
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, i)| (k.clone(), lenient(i, vars, lookup)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_found() {
        assert_eq!(
            exported_names("export A=1\nfoo; export B\ndeclare -x C=2\necho export"),
            vec!["A", "B", "C"]
        );
    }
}
