//! Static checks of one pipeline, run by `runner validate` and before
//! `runner run` starts anything: paths that steps read, step-output
//! references, duplicate ids, host-checks spec files and empty `for_each`
//! lists. A mistake found here costs seconds; found after `terraform
//! apply`, it costs a deploy.
//!
//! Scope follows the executor: ids and created paths flow from a step to
//! the ones after it; a `for_each` target's ids stay inside the target;
//! `finally` steps see their group's steps; after-steps see the pipeline's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use step_core::StepDescription;

use super::positions::{char_offset, pos_in_value};
use crate::diag::{Diagnostic, Pos, closest};
use crate::expand::expand_vars;
use crate::model::{Entry, GroupKind, PipelineFile, StepEntry, Values};
use crate::registry::Registry;

/// Checks pipeline `name` of `file`. `lookup` reads the variables known
/// before the run (command line and process environment); the file's own
/// `env:` is layered under them here. Errors stop a run; notices (a path an
/// earlier script may create) do not.
pub fn check_pipeline(
    file: &PipelineFile,
    registry: &Registry,
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<Diagnostic> {
    let Some(p) = file.pipelines.get(name) else {
        return Vec::new();
    };
    let env = file_env(file, name, lookup);
    let mut checker = Checker {
        file,
        registry,
        source: std::cell::OnceCell::new(),
        root: root_of(&file.path),
        lookup: &|n: &str| lookup(n).or_else(|| env.get(n).cloned()),
        diags: Vec::new(),
    };
    let mut scope = Scope::default();
    checker.entries(&p.steps, &mut scope);
    let mut after = scope.clone();
    checker.entries(&p.finally, &mut scope);
    after.may_create |= scope.may_create;
    after.created.extend(scope.created);
    checker.entries(&p.after_steps, &mut after);
    checker.diags
}

/// The values the file's `env:` gives pipeline `name` (top-level, then the
/// pipeline's), for the variables `lookup` does not already set: the
/// command line and the process environment win over the file.
pub fn file_env(
    file: &PipelineFile,
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> HashMap<String, String> {
    let mut env = HashMap::new();
    let pipeline_env = file.pipelines.get(name).map(|p| &p.env);
    for (k, v) in file.env.iter().chain(pipeline_env.into_iter().flatten()) {
        if lookup(k).is_none() {
            let layered = |n: &str| lookup(n).or_else(|| env.get(n).cloned());
            if let Ok(value) = expand_vars(v, &layered) {
                env.insert(k.clone(), value);
            }
        }
    }
    env
}

/// The directory a pipeline file's relative paths start from.
fn root_of(file: &Path) -> PathBuf {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// What the steps so far have defined.
#[derive(Clone, Default)]
struct Scope {
    /// Ids in scope: id → (kind as written, where the id is).
    ids: Vec<(String, String, Pos)>,
    /// An earlier step is a script (it may create any file).
    may_create: bool,
    /// Paths earlier steps declared with `creates:`.
    created: Vec<PathBuf>,
    /// `for_each` variables in scope and their values, when known.
    targets: Vec<(String, Option<Vec<String>>)>,
}

struct Checker<'a> {
    file: &'a PipelineFile,
    registry: &'a Registry,
    /// The file's text, read when a position inside a value is needed.
    source: std::cell::OnceCell<String>,
    root: PathBuf,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn source(&self) -> &str {
        self.source
            .get_or_init(|| std::fs::read_to_string(&self.file.path).unwrap_or_default())
    }

    fn error(&mut self, pos: Pos, message: String, suggestion: Option<String>) {
        self.diags
            .push(Diagnostic::error(&self.file.path, pos, message).suggest(suggestion));
    }

    fn entries(&mut self, entries: &[Entry], scope: &mut Scope) {
        for entry in entries {
            match entry {
                Entry::Step(step) => self.step(step, scope),
                Entry::Group(group) => {
                    let mut inner = scope.clone();
                    if let GroupKind::ForEach(fe) = &group.kind {
                        let values = self.for_each_values(&fe.values, scope);
                        if values.as_ref().is_some_and(Vec::is_empty) && !fe.allow_empty {
                            self.error(
                                fe.values_pos,
                                format!(
                                    "`for_each` over `{}` has no values, so its steps would never run; give values, or write `allow_empty: true`",
                                    fe.var
                                ),
                                None,
                            );
                        }
                        inner.targets.push((fe.var.clone(), values));
                    }
                    self.entries(&group.steps, &mut inner);
                    let mut fin = inner.clone();
                    self.entries(&group.finally, &mut fin);
                    scope.may_create |= fin.may_create;
                    scope.created = fin.created;
                    if !matches!(group.kind, GroupKind::ForEach(_)) {
                        scope.ids = inner.ids;
                    }
                }
            }
        }
    }

    /// The values of a `for_each`, when they can be known before the run.
    fn for_each_values(&self, values: &Values, scope: &Scope) -> Option<Vec<String>> {
        let split = |s: String| -> Vec<String> {
            s.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect()
        };
        match values {
            Values::List(items) => items
                .iter()
                .map(|v| self.expand(v, scope).map(|e| e.into_iter().next()))
                .collect::<Option<Option<Vec<String>>>>()
                .flatten(),
            Values::Expr(text) => self.expand(text, scope)?.into_iter().next().map(split),
        }
    }

    /// Expands `$VAR` forms in `text` once per value of the `for_each`
    /// variables it uses; `None` when a variable is only known at run time.
    fn expand(&self, text: &str, scope: &Scope) -> Option<Vec<String>> {
        if text.contains("${{") {
            return None;
        }
        let used = crate::expand::referenced_vars(text);
        let mut combos: Vec<HashMap<&str, &str>> = vec![HashMap::new()];
        for (var, values) in &scope.targets {
            if !used.iter().any(|(n, _)| n == var) {
                continue;
            }
            let values = values.as_ref()?;
            combos = combos
                .iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.insert(var.as_str(), v.as_str());
                        c
                    })
                })
                .collect();
        }
        combos
            .iter()
            .map(|c| {
                let get = |n: &str| c.get(n).map(|v| v.to_string()).or_else(|| (self.lookup)(n));
                expand_vars(text, &get).ok()
            })
            .collect()
    }

    fn step(&mut self, step: &StepEntry, scope: &mut Scope) {
        let registry = self.registry;
        let description = registry.description(&step.kind);
        self.output_refs(step, scope);
        if let Some(id) = &step.common.id {
            let pos = step.property_pos.get("id").copied().unwrap_or(step.pos);
            if let Some((_, kind, first)) = scope.ids.iter().find(|(i, _, _)| i == id) {
                let message = format!(
                    "duplicate id `{id}`: a `{kind}` step at line {}:{} already has it; ids must be unique in their scope",
                    first.line, first.column
                );
                self.error(pos, message, None);
            } else {
                scope.ids.push((id.clone(), step.kind.clone(), pos));
            }
        }
        if let Some(d) = description
            && self.may_run(step, scope)
        {
            self.paths(step, d, scope);
        }
        if step.kind == "script" {
            scope.may_create = true;
        }
        let base = self.workdir(step, scope);
        for c in &step.common.creates {
            if let (Some(base), Some(c)) = (&base, self.expand(c, scope)) {
                scope.created.extend(c.into_iter().map(|c| base.join(c)));
            }
        }
    }

    /// False when the step has a `when:` that certainly does not hold
    /// with the variables known now (it would be skipped).
    fn may_run(&self, step: &StepEntry, scope: &Scope) -> bool {
        let Some(when) = &step.common.when else {
            return true;
        };
        let in_targets = |n: &str| scope.targets.iter().any(|(v, _)| v == n);
        if let crate::model::When::Cond(c) = when
            && c.variables().iter().any(|v| in_targets(v))
        {
            return true;
        }
        when.holds(|n| (self.lookup)(n))
    }

    /// The step's working directory, when it can be known now.
    fn workdir(&self, step: &StepEntry, scope: &Scope) -> Option<PathBuf> {
        match &step.common.cwd {
            None => Some(self.root.clone()),
            Some(cwd) => {
                let dirs = self.expand(cwd, scope)?;
                (dirs.len() == 1).then(|| self.root.join(&dirs[0]))
            }
        }
    }

    fn paths(&mut self, step: &StepEntry, d: &StepDescription, scope: &Scope) {
        for prop in &d.reads {
            let Some(value) = step.properties.get(prop) else {
                continue;
            };
            let raws: Vec<&str> = match value {
                Value::String(s) => vec![s.as_str()],
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for raw in raws {
                self.path(step, d, prop, raw, scope);
            }
        }
    }

    fn path(
        &mut self,
        step: &StepEntry,
        d: &StepDescription,
        prop: &str,
        raw: &str,
        scope: &Scope,
    ) {
        let Some(base) = self.workdir(step, scope) else {
            return;
        };
        let Some(values) = self.expand(raw, scope) else {
            return;
        };
        for value in values {
            if value.is_empty()
                || value.contains(['*', '?', '['])
                || (prop == "inventory" && value.contains(','))
            {
                continue;
            }
            let path = match value.strip_prefix("~/") {
                Some(rest) => match (self.lookup)("HOME") {
                    Some(home) => PathBuf::from(home).join(rest),
                    None => continue,
                },
                None => base.join(&value),
            };
            if path.exists() {
                if d.kind == "host-checks" && prop == "spec" {
                    self.spec_files(&path);
                }
                continue;
            }
            if scope.created.iter().any(|c| path.starts_with(c)) {
                continue;
            }
            self.missing_path(step, prop, &value, &path, scope.may_create);
        }
    }

    fn missing_path(
        &mut self,
        step: &StepEntry,
        prop: &str,
        value: &str,
        path: &Path,
        later: bool,
    ) {
        let pos = step.property_pos.get(prop).copied().unwrap_or(step.pos);
        let suggestion = sibling_like(path);
        if later {
            let message = format!(
                "property `{prop}` of step `{}`: `{value}` does not exist yet ({}); an earlier script may create it (say so with `creates:` on that step)",
                step.display_name(),
                path.display()
            );
            self.diags
                .push(Diagnostic::notice(&self.file.path, pos, message).suggest(suggestion));
        } else {
            let message = format!(
                "property `{prop}` of step `{}`: `{value}` does not exist ({}); no earlier step creates it",
                step.display_name(),
                path.display()
            );
            self.error(pos, message, suggestion);
        }
    }

    /// Parses each host-checks spec file now, so a misspelled key is found
    /// before anything is deployed. Spec files are templates: expressions
    /// are replaced by a placeholder and problems on their lines are left
    /// for the run, when the values are known; files with `{% %}` blocks
    /// are left for the run entirely.
    fn spec_files(&mut self, path: &Path) {
        let Ok(files) = step_serverspec::spec::spec_files(path) else {
            return;
        };
        for f in files {
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            if text.contains("{%") {
                continue;
            }
            let (masked, templated) = mask_expressions(&text);
            let name = f.display().to_string();
            let defaults = step_serverspec::Defaults::default();
            if let Err(e) = step_serverspec::parse_spec(&name, &masked, &defaults) {
                let line = e.line.unwrap_or(0);
                if templated.contains(&line) {
                    continue;
                }
                let pos = Pos::new(line, e.column.unwrap_or(0));
                self.diags.push(Diagnostic::error(&f, pos, e.message));
            }
        }
    }

    /// Checks every `${{ outputs.<id>.<name> }}` in the step's properties.
    fn output_refs(&mut self, step: &StepEntry, scope: &Scope) {
        for (prop, value) in &step.properties {
            let pos = step.property_pos.get(prop).copied().unwrap_or(step.pos);
            let mut strings = Vec::new();
            collect_strings(value, &mut strings);
            let top = matches!(value, Value::String(_));
            for s in strings {
                for r in output_refs(s) {
                    let Some((message, suggestion)) = self.output_ref(step, prop, &r, scope) else {
                        continue;
                    };
                    // Found on the error path only: it scans the file.
                    let at = if top {
                        pos_in_value(self.source(), pos, s, char_offset(s, r.offset))
                    } else {
                        pos
                    };
                    self.error(at, message, suggestion);
                }
            }
        }
    }

    /// What is wrong with one output reference (the message and a
    /// did-you-mean), or `None` when it names a known id and output.
    fn output_ref(
        &self,
        step: &StepEntry,
        prop: &str,
        r: &OutputRef,
        scope: &Scope,
    ) -> Option<(String, Option<String>)> {
        let here = format!("property `{prop}` of step `{}`", step.display_name());
        let Some((_, kind, _)) = scope.ids.iter().find(|(i, _, _)| *i == r.id) else {
            let suggestion = closest(&r.id, scope.ids.iter().map(|(i, _, _)| i.as_str()));
            let known: Vec<&str> = scope.ids.iter().map(|(i, _, _)| i.as_str()).collect();
            let message = format!(
                "{here}: `outputs.{}` names no step id defined before it in this scope (ids so far: {})",
                r.id,
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            );
            return Some((message, suggestion));
        };
        let name = r.name.as_ref()?;
        let d = self.registry.description(kind)?;
        if d.open_outputs || d.outputs.iter().any(|o| o.name == *name) {
            return None;
        }
        let declared: Vec<&str> = d.outputs.iter().map(|o| o.name.as_str()).collect();
        let message = format!(
            "{here}: step `{}` ({}) has no output `{name}`; its outputs: {}",
            r.id,
            d.kind,
            if declared.is_empty() {
                "none".into()
            } else {
                declared.join(", ")
            }
        );
        let suggestion = closest(name, declared.iter().copied());
        Some((message, suggestion))
    }
}

/// A file or directory next to `path` whose name is close to its name.
fn sibling_like(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let parent = path.parent()?;
    let entries: Vec<String> = std::fs::read_dir(parent)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    closest(name, entries.iter().map(String::as_str))
}

/// Replaces each `{{ … }}` with a placeholder of the same line layout;
/// returns the masked text and the lines that had one.
fn mask_expressions(text: &str) -> (String, Vec<u64>) {
    let mut out = String::with_capacity(text.len());
    let mut lines = Vec::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if !line.contains("{{") {
            out.push_str(line);
            continue;
        }
        lines.push(i as u64 + 1);
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            match rest[start..].find("}}") {
                Some(end) => {
                    out.push('1');
                    rest = &rest[start + end + 2..];
                }
                None => {
                    rest = "";
                }
            }
        }
        out.push_str(rest);
    }
    (out, lines)
}

/// One `outputs.<id>[.<name>]` inside `${{ … }}`.
#[derive(Debug, PartialEq, Eq)]
struct OutputRef {
    id: String,
    name: Option<String>,
    /// Byte offset of `outputs` in the text.
    offset: usize,
}

/// The output references in the `${{ … }}` expressions of `text`.
fn output_refs(text: &str) -> Vec<OutputRef> {
    let mut refs = Vec::new();
    let mut from = 0;
    while let Some(start) = text[from..].find("${{").map(|i| i + from) {
        let end = text[start..].find("}}").map_or(text.len(), |e| start + e);
        let expr = &text[start..end];
        let mut at = 0;
        while let Some(i) = expr[at..].find("outputs").map(|i| i + at) {
            at = i + "outputs".len();
            let boundary = !expr[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            let Some((id, rest)) = boundary.then(|| member(&expr[at..], true)).flatten() else {
                continue;
            };
            refs.push(OutputRef {
                id: id.to_string(),
                name: member(rest, false).map(|(n, _)| n.to_string()),
                offset: start + i,
            });
        }
        from = end.max(start + 3);
    }
    refs
}

/// `.name` or `["name"]` at the start of `text` (after spaces): the name
/// and what follows. Ids may contain `-` (`dashes`).
fn member(text: &str, dashes: bool) -> Option<(&str, &str)> {
    let t = text.trim_start();
    if let Some(rest) = t.strip_prefix('.') {
        let rest = rest.trim_start();
        let len = rest
            .char_indices()
            .find(|(i, c)| {
                !(c.is_ascii_alphabetic()
                    || *c == '_'
                    || (*i > 0 && (c.is_ascii_digit() || (dashes && *c == '-'))))
            })
            .map_or(rest.len(), |(i, _)| i);
        return (len > 0).then(|| rest.split_at(len));
    }
    let rest = t.strip_prefix('[')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = &rest[1..];
    let close = inner.find(quote)?;
    let after = inner[close + 1..].trim_start().strip_prefix(']')?;
    (close > 0).then(|| (&inner[..close], after))
}

fn collect_strings<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(m) => m.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_references_are_found() {
        let refs = output_refs(
            "a ${{ outputs.tf.addresses }} b ${{ outputs[\"pk\"][\"amazon-ebs\"].id | x }} ${{ outputs.x }} $NOT outputs.y",
        );
        let got: Vec<(&str, Option<&str>)> = refs
            .iter()
            .map(|r| (r.id.as_str(), r.name.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("tf", Some("addresses")),
                ("pk", Some("amazon-ebs")),
                ("x", None)
            ]
        );
        assert_eq!(refs[0].offset, 6);
    }

    #[test]
    fn expressions_are_masked_line_by_line() {
        let (m, lines) =
            mask_expressions("- port: {{ p }}\n- file: '{{ a }}/{{ b }}'\n- user: x\n");
        assert_eq!(m, "- port: 1\n- file: '1/1'\n- user: x\n");
        assert_eq!(lines, vec![1, 2]);
    }
}
