//! Loading a pipeline file: YAML → node tree → [`PipelineFile`], collecting
//! every error it can find (not just the first), each with file, line,
//! column and a "did you mean" where a name is close to a known one.
//!
//! The accepted format is a superset of wercker.yml: pipelines by name with
//! `steps` and `after-steps`, step entries as a bare kind name, `kind:
//! {properties}`, or a flat mapping (`- script:` followed by its properties
//! at the same level, or `kind: script` with sibling properties); plus
//! `finally`, `parallel`, `for_each` and `group` entries.

use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::{Map, Value};
use step_core::{PropertyType, StepDescription};

use crate::diag::{Diagnostic, Pos, closest};
use crate::model::{
    Common, Entry, ForEach, Group, GroupKind, Pipeline, PipelineFile, StepEntry, TeardownPolicy,
    Values, When,
};
use crate::registry::{COMMON_PROPERTIES, Registry, is_common};
use crate::yaml::{Node, NodeValue};

pub mod bounds;
mod checks;
pub mod positions;
pub mod selectors;
pub mod static_checks;
pub mod wercker;

pub use checks::{VarLevels, check_steps, check_steps_in, check_variables, check_variables_at};

/// Wercker keys that make no sense here: accepted with one notice.
const IGNORED_KEYS: &[&str] = wercker::NO_EFFECT_KEYS;

const PIPELINE_KEYS: &[&str] = &["steps", "after-steps", "finally", "env", "teardown"];
const GROUP_KEYWORDS: &[&str] = &["parallel", "for_each", "group"];
const TOP_KEYS: &[&str] = &["secrets", "env", "workflows"];

/// Reads and loads a pipeline file.
pub fn load_file(path: &Path, registry: &Registry) -> Result<PipelineFile, Vec<Diagnostic>> {
    let text = read_text(path)?;
    load_str(path, &text, registry)
}

/// A pipeline file's text, or why it cannot be read as text.
fn read_text(path: &Path) -> Result<String, Vec<Diagnostic>> {
    let bytes = bounds::read_pipeline_file(path)
        .map_err(|e| vec![Diagnostic::error(path, Pos::default(), e)])?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let valid = &e.as_bytes()[..offset];
            let line = valid.iter().filter(|b| **b == b'\n').count() as u64 + 1;
            let col = valid.iter().rev().take_while(|b| **b != b'\n').count() as u64 + 1;
            return Err(vec![Diagnostic::error(
                path,
                Pos::new(line, col),
                "the file is not UTF-8 text (is it a binary file?); expected a YAML pipeline file",
            )]);
        }
    };
    Ok(text)
}

/// Loads pipeline YAML text (`path` names it in messages).
pub fn load_str(
    path: &Path,
    text: &str,
    registry: &Registry,
) -> Result<PipelineFile, Vec<Diagnostic>> {
    let (file, diags) = load_str_all(path, text, registry)?;
    if diags.iter().any(Diagnostic::is_error) {
        Err(diags)
    } else {
        let mut file = file;
        file.notices = diags;
        Ok(file)
    }
}

/// Reads a pipeline file and loads it with [`load_str_all`].
pub fn load_file_all(
    path: &Path,
    registry: &Registry,
) -> Result<(PipelineFile, Vec<Diagnostic>), Vec<Diagnostic>> {
    let text = read_text(path)?;
    load_str_all(path, &text, registry)
}

/// Loads pipeline YAML text, keeping what loaded next to every diagnostic
/// (sorted by position, each tagged with its pipeline), so a caller can
/// run one pipeline while another has errors. `Err` only when nothing
/// could be read (not YAML, not text).
pub fn load_str_all(
    path: &Path,
    text: &str,
    registry: &Registry,
) -> Result<(PipelineFile, Vec<Diagnostic>), Vec<Diagnostic>> {
    if text.contains('\0') {
        let offset = text.find('\0').unwrap_or(0);
        let before = &text[..offset];
        let line = before.matches('\n').count() as u64 + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64 + 1;
        return Err(vec![Diagnostic::error(
            path,
            Pos::new(line, col),
            "the file contains NUL bytes (is it a binary file?); expected a YAML pipeline file",
        )]);
    }
    let root = crate::yaml::parse(text).map_err(|e| {
        vec![Diagnostic::error(
            path,
            e.pos,
            format!("invalid YAML: {}", e.message),
        )]
    })?;
    let mut loader = Loader {
        path,
        text,
        registry,
        diags: Vec::new(),
        pipeline: None,
        no_effect: wercker::NoEffect::default(),
    };
    let file = loader.file(&root);
    let mut diags = loader.diags;
    diags.extend(loader.no_effect.notice(path));
    crate::diag::sort_dedup(&mut diags);
    Ok((file, diags))
}

struct Loader<'a> {
    path: &'a Path,
    text: &'a str,
    registry: &'a Registry,
    diags: Vec<Diagnostic>,
    /// The pipeline being read (diagnostics are tagged with it).
    pipeline: Option<String>,
    /// wercker keys with no effect, reported in one notice.
    no_effect: wercker::NoEffect,
}

impl Loader<'_> {
    fn push(&mut self, d: Diagnostic) {
        let d = d.in_pipeline(self.pipeline.as_deref());
        self.diags.push(d);
    }

    fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(Diagnostic::error(self.path, pos, message));
    }

    fn error_suggest(&mut self, pos: Pos, message: impl Into<String>, suggestion: Option<String>) {
        self.push(Diagnostic::error(self.path, pos, message).suggest(suggestion));
    }

    fn file(&mut self, root: &Node) -> PipelineFile {
        let mut file = PipelineFile {
            path: self.path.to_path_buf(),
            ..PipelineFile::default()
        };
        let entries = match &root.value {
            NodeValue::Map(m) => m,
            NodeValue::Null => {
                self.error(
                    root.pos,
                    "the file is empty; expected pipelines such as `build:` with `steps:`",
                );
                return file;
            }
            _ => {
                self.error(
                    root.pos,
                    format!(
                        "expected a mapping of pipeline names to pipelines, found {}",
                        root.type_name()
                    ),
                );
                return file;
            }
        };
        for (key, value) in entries {
            let Some(name) = key.scalar_text() else {
                self.error(key.pos, "expected a pipeline name (text) as the key");
                continue;
            };
            match name.as_str() {
                k if IGNORED_KEYS.contains(&k) => self.no_effect.note(k, key.pos),
                "workflows" => {
                    file.workflows = wercker::workflows(value, self.path, &mut self.diags)
                }
                "secrets" => file.secrets = self.string_list(value, "secrets"),
                "env" => file.env = self.env_map(value),
                _ => match &value.value {
                    NodeValue::Map(_) => {
                        self.pipeline = Some(name.clone());
                        if let Some(p) = self.pipeline(&name, key.pos, value) {
                            file.pipelines.insert(name, p);
                        }
                        self.pipeline = None;
                    }
                    _ => {
                        let suggestion = closest(&name, TOP_KEYS.iter().copied());
                        self.error_suggest(
                            key.pos,
                            format!(
                                "`{name}` should be a pipeline (a mapping with `steps:`), found {}",
                                value.type_name()
                            ),
                            suggestion,
                        );
                    }
                },
            }
        }
        if file.pipelines.is_empty() && !self.diags.iter().any(Diagnostic::is_error) {
            self.error(
                root.pos,
                "the file defines no pipeline; expected e.g. `build:` with `steps:`",
            );
        }
        file
    }

    fn pipeline(&mut self, name: &str, pos: Pos, node: &Node) -> Option<Pipeline> {
        let mut p = Pipeline {
            name: name.to_string(),
            pos,
            ..Pipeline::default()
        };
        let mut has_steps = false;
        for (key, value) in node.as_map().unwrap_or_default() {
            let Some(k) = key.scalar_text() else {
                self.error(key.pos, "expected a key (text)");
                continue;
            };
            match k.as_str() {
                "steps" => {
                    has_steps = true;
                    p.steps = self.entries(value, "steps");
                }
                "after-steps" | "after_steps" => {
                    has_steps = true;
                    p.after_steps = self.entries(value, "after-steps");
                }
                "finally" => p.finally = self.entries(value, "finally"),
                "env" => p.env = self.env_map(value),
                "teardown" => p.teardown = self.teardown_policy(value),
                k if IGNORED_KEYS.contains(&k) => self.no_effect.note(k, key.pos),
                // wercker's deploy targets: any other list of steps (but
                // not a near-miss of a keyword: `stpes:` is a typo).
                other
                    if matches!(value.value, NodeValue::Seq(_))
                        && closest(other, PIPELINE_KEYS.iter().copied().chain(["after_steps"]))
                            .is_none() =>
                {
                    has_steps = true;
                    let list = self.entries(value, other);
                    p.targets.insert(other.to_string(), list);
                }
                other => {
                    let suggestion =
                        closest(other, PIPELINE_KEYS.iter().copied().chain(["after_steps"]));
                    self.error_suggest(
                        key.pos,
                        format!(
                            "unknown key `{other}` in pipeline `{name}`; expected one of: {}",
                            PIPELINE_KEYS.join(", ")
                        ),
                        suggestion,
                    );
                }
            }
        }
        if !has_steps {
            self.error(
                pos,
                format!(
                    "pipeline `{name}` has no `steps:` (nor after-steps or deploy target lists)"
                ),
            );
        }
        Some(p)
    }

    fn teardown_policy(&mut self, node: &Node) -> TeardownPolicy {
        match node.as_str().and_then(TeardownPolicy::parse) {
            Some(p) => p,
            None => {
                self.error(
                    node.pos,
                    format!(
                        "`teardown` must be always, on_success or never; found {}",
                        describe_value(node)
                    ),
                );
                TeardownPolicy::Always
            }
        }
    }

    fn string_list(&mut self, node: &Node, what: &str) -> Vec<String> {
        match &node.value {
            NodeValue::Seq(items) => items
                .iter()
                .filter_map(|i| match i.scalar_text() {
                    Some(s) => Some(s),
                    None => {
                        self.error(
                            i.pos,
                            format!("`{what}` entries must be text, found {}", i.type_name()),
                        );
                        None
                    }
                })
                .collect(),
            NodeValue::Str(s) => s
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            _ => {
                self.error(
                    node.pos,
                    format!("`{what}` must be a list, found {}", node.type_name()),
                );
                Vec::new()
            }
        }
    }

    fn env_map(&mut self, node: &Node) -> IndexMap<String, String> {
        let mut out = IndexMap::new();
        match &node.value {
            NodeValue::Map(entries) => {
                for (k, v) in entries {
                    match (k.scalar_text(), v.scalar_text()) {
                        (Some(k), Some(v)) => {
                            out.insert(k, v);
                        }
                        (Some(k), None) if v.is_null() => {
                            out.insert(k, String::new());
                        }
                        _ => self.error(
                            v.pos,
                            format!("`env` values must be text, found {}", v.type_name()),
                        ),
                    }
                }
            }
            _ => self.error(
                node.pos,
                format!(
                    "`env` must be a mapping of names to values, found {}",
                    node.type_name()
                ),
            ),
        }
        out
    }

    fn entries(&mut self, node: &Node, what: &str) -> Vec<Entry> {
        match &node.value {
            NodeValue::Seq(items) => items.iter().filter_map(|i| self.entry(i)).collect(),
            NodeValue::Null => Vec::new(),
            _ => {
                self.error(
                    node.pos,
                    format!(
                        "`{what}` must be a list of steps, found {}",
                        node.type_name()
                    ),
                );
                Vec::new()
            }
        }
    }

    fn entry(&mut self, node: &Node) -> Option<Entry> {
        match &node.value {
            NodeValue::Str(kind) => self.step(kind, node.pos, &[]).map(Entry::Step),
            NodeValue::Map(entries) => self.map_entry(node, entries),
            _ => {
                self.error(
                    node.pos,
                    format!(
                        "expected a step (a kind name or `kind: {{properties}}`), found {}",
                        describe_value(node)
                    ),
                );
                None
            }
        }
    }

    /// An entry written as a mapping: `- parallel: {...}` and the other
    /// groups, `- kind: {props}`, or a flat form.
    fn map_entry(&mut self, node: &Node, entries: &[(Node, Node)]) -> Option<Entry> {
        let [(k, v)] = entries else {
            if entries.is_empty() {
                self.error(node.pos, "empty step entry; expected a step kind");
                return None;
            }
            return self.flat_step(node, entries).map(Entry::Step);
        };
        if let Some(keyword) = k.as_str()
            && GROUP_KEYWORDS.contains(&keyword)
        {
            return self.group(keyword, k.pos, v).map(Entry::Group);
        }
        let Some(kind) = k.as_str() else {
            self.error(k.pos, "expected a step kind (text) as the key");
            return None;
        };
        match &v.value {
            NodeValue::Map(props) => self.step(kind, k.pos, props).map(Entry::Step),
            NodeValue::Null => self.step(kind, k.pos, &[]).map(Entry::Step),
            _ => {
                self.error(
                    v.pos,
                    format!(
                        "the properties of step `{kind}` must be a mapping, found {}",
                        describe_value(v)
                    ),
                );
                None
            }
        }
    }

    /// Flat forms: `kind: script` + siblings, or `- script:` (null) +
    /// siblings.
    fn flat_step(&mut self, node: &Node, entries: &[(Node, Node)]) -> Option<StepEntry> {
        if let Some(idx) = entries
            .iter()
            .position(|(k, _)| matches!(k.as_str(), Some("kind") | Some("step")))
            && let Some(kind) = entries[idx].1.as_str()
        {
            return self.step(kind, entries[idx].1.pos, &without(entries, idx));
        }
        let nulls: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, (k, v))| v.is_null() && k.as_str().is_some_and(|k| !is_common(k)))
            .map(|(i, _)| i)
            .collect();
        if let [idx] = nulls[..] {
            let kind = entries[idx].0.as_str().unwrap_or_default().to_string();
            return self.step(&kind, entries[idx].0.pos, &without(entries, idx));
        }
        let keys: Vec<String> = entries
            .iter()
            .filter_map(|(k, _)| k.scalar_text())
            .collect();
        self.error(
            node.pos,
            format!(
                "cannot tell which step this is (keys: {}); write `- KIND:` followed by its properties indented below it",
                keys.join(", ")
            ),
        );
        None
    }

    /// A step id as wercker resolved it, or an error (not installed,
    /// `internal/*`) with a hint.
    fn resolve(
        &mut self,
        written: &str,
        pos: Pos,
        props: &[(Node, Node)],
    ) -> Option<(String, Option<String>)> {
        match wercker::resolve(self.registry, written) {
            wercker::Resolution::Found { kind, version } => Some((kind, version)),
            wercker::Resolution::Internal(message) => {
                self.error(pos, message);
                None
            }
            wercker::Resolution::Missing(id) => {
                let names: Vec<String> =
                    props.iter().filter_map(|(k, _)| k.scalar_text()).collect();
                let mut d =
                    wercker::missing_step(self.registry, self.path, pos, written, &id, &names);
                if d.suggestion.is_none() && id.owner.is_none() {
                    d.suggestion = closest(written, GROUP_KEYWORDS.iter().copied());
                }
                self.push(d);
                None
            }
        }
    }

    fn step(&mut self, written: &str, pos: Pos, props: &[(Node, Node)]) -> Option<StepEntry> {
        let (kind, version) = self.resolve(written, pos, props)?;
        let kind = kind.as_str();
        let description = self.registry.description(kind).cloned()?;
        self.check_version(kind, version.as_deref(), pos);
        let mut entry = StepEntry::new(kind, Map::new());
        entry.pos = pos;
        entry.version = version;
        let legacy = self.registry.is_legacy(kind);
        let mut typos: Vec<String> = Vec::new();
        let mut ok = true;
        for (k, v) in props {
            let Some(name) = k.scalar_text() else {
                self.error(k.pos, "expected a property name (text)");
                ok = false;
                continue;
            };
            // A step that declares a property named like a common one
            // (slack-notify's own `retries` and `timeout`) gets it itself.
            if is_common(&name) && description.find_property(&name).is_none() {
                entry.property_pos.insert(name.clone(), v.pos);
                ok &= self.common(&mut entry.common, &name, v, kind);
                continue;
            }
            if name == "checkpoint" && description.find_property(&name).is_none() {
                self.no_effect.note("checkpoint", k.pos);
                continue;
            }
            if legacy && description.find_property(&name).is_none() {
                // wercker passed every property to the step's environment.
                self.undeclared(kind, &name, k.pos, &description);
                entry.property_pos.insert(name.clone(), v.pos);
                entry.properties.insert(name, v.to_json());
                continue;
            }
            let Some(doc) = description.find_property(&name) else {
                let candidates = description
                    .properties
                    .iter()
                    .map(|p| p.name.as_str())
                    .chain(COMMON_PROPERTIES.iter().map(|(n, _, _)| *n));
                let suggestion = closest(&name, candidates);
                typos.extend(suggestion.clone());
                self.error_suggest(
                    k.pos,
                    format!("unknown property `{name}` for step `{kind}`"),
                    suggestion,
                );
                ok = false;
                continue;
            };
            match check_type(&doc.ty, v) {
                Ok(value) => {
                    entry.property_pos.insert(name.clone(), v.pos);
                    entry.properties.insert(name, value);
                }
                Err(expected) => {
                    self.error(
                        v.pos,
                        format!(
                            "property `{name}` of step `{kind}` must be {expected}, found {}",
                            describe_value(v)
                        ),
                    );
                    ok = false;
                }
            }
        }
        for p in description.properties.iter().filter(|p| p.required) {
            // `cod:` for `code:` is one error (the typo), not two.
            if !entry.properties.contains_key(&p.name) && !typos.contains(&p.name) {
                self.error(
                    pos,
                    format!("step `{kind}` needs the property `{}` ({})", p.name, p.doc),
                );
                ok = false;
            }
        }
        ok.then_some(entry)
    }

    /// A step directory's manifest version that differs from `@version`.
    fn check_version(&mut self, kind: &str, written: Option<&str>, pos: Pos) {
        let (Some(written), Some(found)) = (written, self.registry.legacy_version(kind)) else {
            return;
        };
        if written != found {
            self.push(Diagnostic::warning(
                self.path,
                pos,
                format!(
                    "`{kind}@{written}`: the step directory holds version {found}; running that"
                ),
            ));
        }
    }

    /// A property a step directory's manifest does not declare: passed on
    /// as `WERCKER_<STEP>_<PROP>`, as wercker did, with a warning.
    fn undeclared(&mut self, kind: &str, name: &str, pos: Pos, d: &StepDescription) {
        let suggestion = closest(name, d.properties.iter().map(|p| p.name.as_str()));
        let step = self
            .registry
            .legacy_step_name(kind)
            .unwrap_or_else(|| kind.rsplit('/').next().unwrap_or(kind));
        self.push(
            Diagnostic::warning(
                self.path,
                pos,
                format!(
                    "property `{name}` is not declared by step `{kind}`; passed on as WERCKER_{}_{}",
                    crate::legacy::env_name(step),
                    crate::legacy::env_name(name)
                ),
            )
            .suggest(suggestion),
        );
    }

    fn common(&mut self, c: &mut Common, name: &str, v: &Node, kind: &str) -> bool {
        let bad = |this: &mut Self, expected: &str| this.bad_common(name, v, kind, expected);
        match name {
            "id" => match v.scalar_text() {
                Some(id)
                    if !id.is_empty()
                        && id
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
                {
                    c.id = Some(id);
                }
                _ => return bad(self, "an identifier (letters, digits, `_`, `-`)"),
            },
            "name" => match v.scalar_text() {
                Some(n) => c.name = Some(n),
                None => return bad(self, "text"),
            },
            "cwd" => match v.scalar_text() {
                Some(n) => c.cwd = Some(n),
                None => return bad(self, "a directory path"),
            },
            "timeout" => return self.common_timeout(c, v, kind),
            "retries" => match &v.value {
                NodeValue::Int(i) if *i >= 0 => c.retries = u32::try_from(*i).unwrap_or(u32::MAX),
                _ => return bad(self, "a whole number ≥ 0"),
            },
            "continue_on_error" => match &v.value {
                NodeValue::Bool(b) => c.continue_on_error = *b,
                _ => return bad(self, "true or false"),
            },
            "export_output" => match &v.value {
                NodeValue::Bool(b) => c.export_output = *b,
                _ => return bad(self, "true or false"),
            },
            "when" => return self.common_when(c, v, kind),
            "creates" => match &v.value {
                NodeValue::Seq(items) if items.iter().all(|i| i.as_str().is_some()) => {
                    c.creates = items.iter().filter_map(Node::scalar_text).collect();
                }
                NodeValue::Str(s) => c.creates = vec![s.clone()],
                _ => return bad(self, "a path or a list of paths"),
            },
            _ => {}
        }
        true
    }

    /// Reports a common property of the wrong type; always `false`.
    fn bad_common(&mut self, name: &str, v: &Node, kind: &str, expected: &str) -> bool {
        self.error(
            v.pos,
            format!(
                "property `{name}` of step `{kind}` must be {expected}, found {}",
                describe_value(v)
            ),
        );
        false
    }

    /// `timeout:`, a duration greater than zero.
    fn common_timeout(&mut self, c: &mut Common, v: &Node, kind: &str) -> bool {
        match v
            .scalar_text()
            .map(|t| step_core::config::duration::parse(&t))
        {
            Some(Ok(d)) if d > Duration::ZERO => {
                c.timeout = Some(d);
                true
            }
            Some(Ok(_)) => self.bad_common("timeout", v, kind, "a duration greater than zero"),
            Some(Err(e)) => {
                self.error(v.pos, format!("property `timeout` of step `{kind}`: {e}"));
                false
            }
            None => self.bad_common("timeout", v, kind, "a duration like 90s, 5m or 1h"),
        }
    }

    /// `when:`, `true`/`false` or a condition; a parse error points at the
    /// character inside the condition.
    fn common_when(&mut self, c: &mut Common, v: &Node, kind: &str) -> bool {
        match &v.value {
            NodeValue::Bool(b) => c.when = Some(When::Always(*b)),
            NodeValue::Str(s) => match When::parse_at(s) {
                Ok(w) => c.when = Some(w),
                Err(e) => {
                    let at = positions::pos_in_value(self.text, v.pos, s, e.offset);
                    self.error(
                        at,
                        format!(
                            "property `when` of step `{kind}`: `{s}` is not a condition: {}",
                            e.message
                        ),
                    );
                    return false;
                }
            },
            _ => return self.bad_common("when", v, kind, "a condition such as `APOLLO_run_tests`"),
        }
        true
    }

    fn group(&mut self, keyword: &str, pos: Pos, node: &Node) -> Option<Group> {
        let Some(entries) = node.as_map() else {
            self.error(
                node.pos,
                format!(
                    "`{keyword}` must be a mapping with `steps:`, found {}",
                    describe_value(node)
                ),
            );
            return None;
        };
        let mut group = Group {
            kind: GroupKind::Sequence,
            name: None,
            steps: Vec::new(),
            finally: Vec::new(),
            teardown: TeardownPolicy::Always,
            pos,
        };
        let mut fe = ForEachKeys::default();
        let mut has_steps = false;
        let allowed = group_keys(keyword);
        for (k, v) in entries {
            let Some(key) = k.scalar_text() else {
                self.error(k.pos, "expected a key (text)");
                continue;
            };
            if !allowed.contains(&key.as_str()) {
                let suggestion = closest(&key, allowed.iter().copied());
                self.error_suggest(
                    k.pos,
                    format!(
                        "unknown key `{key}` in `{keyword}`; expected one of: {}",
                        allowed.join(", ")
                    ),
                    suggestion,
                );
                continue;
            }
            match key.as_str() {
                "steps" => {
                    has_steps = true;
                    group.steps = self.entries(v, "steps");
                }
                "finally" => group.finally = self.entries(v, "finally"),
                "name" => group.name = v.scalar_text(),
                "teardown" => group.teardown = self.teardown_policy(v),
                other => self.for_each_key(&mut fe, other, v),
            }
        }
        if !has_steps {
            self.error(pos, format!("`{keyword}` has no `steps:`"));
        }
        group.kind = match keyword {
            "parallel" => GroupKind::Parallel,
            "for_each" => GroupKind::ForEach(self.for_each(fe, pos)?),
            _ => GroupKind::Sequence,
        };
        Some(group)
    }

    /// The `for_each` of a group's keys; `var:` and `values:` are required.
    fn for_each(&mut self, fe: ForEachKeys, pos: Pos) -> Option<ForEach> {
        let (Some(var), Some(values)) = (fe.var, fe.values) else {
            self.error(
                pos,
                "`for_each` needs `var:` (a variable name) and `values:` (a list or \"$VAR\")",
            );
            return None;
        };
        Some(ForEach {
            var,
            values,
            max_parallel: fe.max_parallel,
            fail_fast: fe.fail_fast,
            allow_empty: fe.allow_empty,
            values_pos: fe.values_pos.unwrap_or(pos),
        })
    }

    /// One of `for_each`'s own keys (`var`, `values`, `max_parallel`,
    /// `fail_fast`, `allow_empty`).
    fn for_each_key(&mut self, fe: &mut ForEachKeys, key: &str, v: &Node) {
        let expected = match (key, &v.value) {
            ("var", NodeValue::Str(s))
                if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                fe.var = Some(s.clone());
                return;
            }
            ("var", _) => "a variable name",
            ("allow_empty", NodeValue::Bool(b)) => {
                fe.allow_empty = *b;
                return;
            }
            ("values", NodeValue::Seq(_)) => {
                fe.values_pos = Some(v.pos);
                fe.values = Some(Values::List(self.string_list(v, "values")));
                return;
            }
            ("values", NodeValue::Str(s)) => {
                fe.values_pos = Some(v.pos);
                fe.values = Some(Values::Expr(s.clone()));
                return;
            }
            ("values", _) => {
                fe.values_pos = Some(v.pos);
                "a list or a string like \"$CLOUDS\""
            }
            ("max_parallel", NodeValue::Int(i)) if *i >= 0 => {
                fe.max_parallel = usize::try_from(*i).unwrap_or(0);
                return;
            }
            ("max_parallel", _) => "a whole number",
            ("fail_fast", NodeValue::Bool(b)) => {
                fe.fail_fast = *b;
                return;
            }
            ("allow_empty" | "fail_fast", _) => "true or false",
            _ => return,
        };
        self.error(
            v.pos,
            format!("`{key}` must be {expected}, found {}", describe_value(v)),
        );
    }
}

/// The keys a group of this kind may have.
fn group_keys(keyword: &str) -> &'static [&'static str] {
    match keyword {
        "for_each" => &[
            "steps",
            "finally",
            "name",
            "teardown",
            "var",
            "values",
            "max_parallel",
            "fail_fast",
            "allow_empty",
        ],
        _ => &["steps", "finally", "name", "teardown"],
    }
}

/// The `for_each` keys of a group, as read so far.
#[derive(Default)]
struct ForEachKeys {
    var: Option<String>,
    values: Option<Values>,
    max_parallel: usize,
    fail_fast: bool,
    allow_empty: bool,
    /// Where `values:` was written (errors about the values point there).
    values_pos: Option<Pos>,
}

/// The mapping's entries without the one at `idx` (the step kind's key in
/// the flat forms).
fn without(entries: &[(Node, Node)], idx: usize) -> Vec<(Node, Node)> {
    entries
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != idx)
        .map(|(_, e)| e.clone())
        .collect()
}

/// Checks a property's value against its documented type, converting it to
/// JSON. Scalars given for a text property become text (`version: 1.11`
/// stays "1.11"). Values with `$` may be anything: they are expanded later.
fn check_type(ty: &PropertyType, v: &Node) -> Result<Value, &'static str> {
    let has_var = v.as_str().is_some_and(|s| s.contains('$'));
    match ty {
        PropertyType::String | PropertyType::Path => match &v.value {
            NodeValue::Float(..) => Ok(Value::String(float_text(v))),
            _ => v.scalar_text().map(Value::String).ok_or("text"),
        },
        PropertyType::Bool => match &v.value {
            NodeValue::Bool(b) => Ok(Value::Bool(*b)),
            NodeValue::Str(_) if has_var => Ok(v.to_json()),
            _ => Err("true or false"),
        },
        PropertyType::Integer => match &v.value {
            NodeValue::Int(i) => Ok(Value::from(*i)),
            NodeValue::Str(_) if has_var => Ok(v.to_json()),
            _ => Err("a whole number"),
        },
        PropertyType::Duration => match &v.value {
            NodeValue::Int(_) | NodeValue::Str(_) => Ok(v.to_json()),
            _ => Err("a duration like 90s, 5m or 1h"),
        },
        PropertyType::List => match &v.value {
            NodeValue::Seq(_) => Ok(v.to_json()),
            NodeValue::Str(_) if has_var => Ok(v.to_json()),
            _ => Err("a list"),
        },
        PropertyType::Map => match &v.value {
            NodeValue::Map(_) => Ok(v.to_json()),
            NodeValue::Str(_) if has_var => Ok(v.to_json()),
            _ => Err("a mapping"),
        },
        PropertyType::StringOrList => match &v.value {
            NodeValue::Seq(items) if items.iter().all(|i| i.scalar_text().is_some()) => {
                Ok(Value::Array(
                    items
                        .iter()
                        .map(|i| Value::String(i.scalar_text().unwrap_or_default()))
                        .collect(),
                ))
            }
            NodeValue::Float(..) => Ok(Value::String(float_text(v))),
            _ => v
                .scalar_text()
                .map(Value::String)
                .ok_or("text or a list of text"),
        },
        PropertyType::Any => Ok(v.to_json()),
    }
}

/// A YAML float that was meant as text, as it was written (`1.10`).
fn float_text(v: &Node) -> String {
    v.scalar_text().unwrap_or_default()
}

/// A short description of a value for messages: its type, and the value
/// itself when it is a short scalar.
fn describe_value(v: &Node) -> String {
    match &v.value {
        NodeValue::Str(s) if s.chars().count() <= 40 => format!("the string \"{s}\""),
        NodeValue::Int(i) => format!("the number {i}"),
        NodeValue::Bool(b) => format!("`{b}`"),
        _ => v.type_name().to_string(),
    }
}

/// The description of a step kind, or of the common properties.
pub fn describe_kind<'r>(registry: &'r Registry, kind: &str) -> Option<&'r StepDescription> {
    registry.description(kind)
}
