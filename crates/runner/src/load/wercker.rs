//! wercker's own rules for a wercker.yml, as its loader applied them:
//! step ids (`owner/name@version`, bare names meaning `wercker/<name>`,
//! `internal/*` built-ins), the keys that have no effect here (reported in
//! one notice), `workflows:`, and plain-language YAML errors.

use crate::diag::{Diagnostic, Pos, closest};
use crate::registry::Registry;
use crate::yaml::{Node, NodeValue};

/// wercker keys accepted anywhere wercker accepted them, with no effect here.
pub const NO_EFFECT_KEYS: &[&str] = &[
    "box",
    "services",
    "no-response-timeout",
    "command-timeout",
    "source-dir",
    "base-path",
    "docker",
    "ignore-file",
];

/// A wercker step id as written: `owner/name@version`, `name@version`, `name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepId {
    /// The owner (`capgemini`), when written.
    pub owner: Option<String>,
    /// The step's name (`apollo-deploy`).
    pub name: String,
    /// The version after `@`, when written.
    pub version: Option<String>,
}

impl StepId {
    /// Parses a step id the way wercker did: the version is what follows
    /// the last `@`, the owner what precedes the first `/`.
    pub fn parse(text: &str) -> StepId {
        let (base, version) = match text.rsplit_once('@') {
            Some((b, v)) if !b.is_empty() => (b, Some(v.trim().to_string())),
            _ => (text, None),
        };
        let (owner, name) = match base.split_once('/') {
            Some((o, n)) => (Some(o.trim().to_string()), n.trim().to_string()),
            None => (None, base.trim().to_string()),
        };
        StepId {
            owner,
            name,
            version: version.filter(|v| !v.is_empty()),
        }
    }

    /// `owner/name`, or the bare name.
    pub fn base(&self) -> String {
        match &self.owner {
            Some(o) => format!("{o}/{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The id wercker fetched: bare names are `wercker/<name>`.
    pub fn canonical(&self) -> String {
        format!(
            "{}/{}",
            self.owner.as_deref().unwrap_or("wercker"),
            self.name
        )
    }
}

/// What a step id resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// A registered kind (built-in, alias or step directory) under this name.
    Found {
        /// The registry name.
        kind: String,
        /// The version written after `@`.
        version: Option<String>,
    },
    /// One of wercker's `internal/*` steps.
    Internal(String),
    /// Not known: the canonical id (`owner/name`) to install.
    Missing(StepId),
}

/// Resolves a step id: as written, without `@version`, then a bare name as
/// `wercker/<name>`.
pub fn resolve(registry: &Registry, written: &str) -> Resolution {
    if registry.get(written).is_some() {
        return Resolution::Found {
            kind: written.to_string(),
            version: None,
        };
    }
    let id = StepId::parse(written);
    for candidate in [id.base(), id.canonical()] {
        if registry.get(&candidate).is_some() {
            return Resolution::Found {
                kind: candidate,
                version: id.version.clone(),
            };
        }
    }
    if id.owner.as_deref() == Some("internal") {
        return Resolution::Internal(internal_message(&id.name));
    }
    Resolution::Missing(id)
}

/// The error for one of wercker's `internal/*` steps.
fn internal_message(name: &str) -> String {
    let instead = match name {
        "docker-push" | "docker-scratch-push" => {
            "use a `script` step that runs `docker push` (docker login first)"
        }
        "docker-build" => "use a `script` step that runs `docker build`",
        "docker-run" | "docker-kill" => {
            "use a `script` step that runs `docker run` / `docker kill`"
        }
        "watch" => "run your dev server outside the runner; stepwise does not watch files",
        "store-container" => "use a `script` step that runs `docker commit` or `docker save`",
        "publish-step" => {
            "there is no step registry to publish to; share the step's git repository"
        }
        _ => "there is no equivalent; a `script` step can do what the step did",
    };
    format!("`internal/{name}` is a wercker built-in with no stepwise equivalent; {instead}")
}

/// The error for a step that is neither built in nor a step directory:
/// one line, a hint with `runner step add`, the search paths as detail.
pub fn missing_step(
    registry: &Registry,
    file: &std::path::Path,
    pos: Pos,
    written: &str,
    id: &StepId,
    props: &[String],
) -> Diagnostic {
    let canonical = id.canonical();
    let looked: Vec<String> = registry
        .legacy_roots()
        .iter()
        .map(|r| r.join(&canonical).display().to_string())
        .collect();
    let shown = if written == canonical {
        format!("`{written}`")
    } else {
        format!("`{written}` (`{canonical}`)")
    };
    let builtin_names = || registry.names().filter(|n| !n.contains('/'));
    let suggestion = if id.owner.is_none() {
        closest(&id.name, builtin_names())
    } else {
        // `capgemini/terraform-install` → the built-in `terraform-install`.
        registry
            .get(&id.name)
            .map(|_| id.name.clone())
            .or_else(|| closest(&id.base(), registry.names()))
    };
    let message = match (&id.owner, &suggestion) {
        (None, Some(_)) => format!("unknown step kind `{written}`"),
        _ => format!("step {shown} is not installed"),
    };
    let mut d = Diagnostic::error(file, pos, message);
    // A near-miss of a built-in name is a typo, not a registry step to fetch.
    if id.owner.is_some() || suggestion.is_none() {
        d = d.hint(format!("runner step add {canonical}"));
    }
    d = d.detail(if looked.is_empty() {
        "no step directories are configured".to_string()
    } else {
        format!("looked in: {}", looked.join(", "))
    });
    if let Some(s) = &suggestion {
        let differ = property_difference(registry, s, props);
        d = d.suggest(Some(s.clone()));
        if let Some(diff) = differ {
            d.message = format!("{}; `{s}` takes other properties ({diff})", d.message);
        }
    }
    d
}

/// How the written properties differ from a suggested kind's, if they do.
fn property_difference(registry: &Registry, kind: &str, props: &[String]) -> Option<String> {
    let d = registry.description(kind)?;
    let unknown: Vec<&str> = props
        .iter()
        .map(String::as_str)
        .filter(|p| d.find_property(p).is_none() && !crate::registry::is_common(p))
        .collect();
    let required: Vec<&str> = d
        .properties
        .iter()
        .filter(|p| p.required && !props.contains(&p.name))
        .map(|p| p.name.as_str())
        .collect();
    let mut parts = Vec::new();
    if !unknown.is_empty() {
        parts.push(format!("it has no {}", quoted(&unknown)));
    }
    if !required.is_empty() {
        parts.push(format!("it needs {}", quoted(&required)));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Collects the wercker keys that have no effect, to report them once.
#[derive(Debug, Default)]
pub struct NoEffect {
    keys: Vec<(String, Pos)>,
}

impl NoEffect {
    /// Notes a key at a position.
    pub fn note(&mut self, key: &str, pos: Pos) {
        self.keys.push((key.to_string(), pos));
    }

    /// One notice naming every key once (with where it first appears and
    /// how often), or nothing.
    pub fn notice(&self, file: &std::path::Path) -> Option<Diagnostic> {
        let first = self.keys.first()?;
        let mut names: Vec<(String, Pos, usize)> = Vec::new();
        for (k, pos) in &self.keys {
            match names.iter_mut().find(|(n, _, _)| n == k) {
                Some(entry) => entry.2 += 1,
                None => names.push((k.clone(), *pos, 1)),
            }
        }
        let listed: Vec<String> = names
            .iter()
            .map(|(k, pos, n)| {
                let times = if *n > 1 {
                    format!(", {n}×")
                } else {
                    String::new()
                };
                format!("`{k}` (line {}{times})", pos.line)
            })
            .collect();
        Some(Diagnostic::notice(
            file,
            first.1,
            format!(
                "wercker keys with no effect here, accepted and ignored: {}",
                listed.join(", ")
            ),
        ))
    }
}

/// Reads `workflows:`: either a mapping `NAME: [pipeline, …]` or wercker's
/// list form `- name: NAME` with `pipelines:` (entries as names or as
/// `{name: pipeline}` / `{pipeline: name}` mappings).
pub fn workflows(
    node: &Node,
    file: &std::path::Path,
    diags: &mut Vec<Diagnostic>,
) -> indexmap::IndexMap<String, Vec<String>> {
    let mut out = indexmap::IndexMap::new();
    let mut bad = |pos: Pos, what: &str| {
        diags.push(Diagnostic::error(
            file,
            pos,
            format!("`workflows`: {what}; expected `NAME: [pipeline, …]` or `- name: NAME` with `pipelines:`"),
        ));
    };
    match &node.value {
        NodeValue::Map(entries) => {
            for (k, v) in entries {
                match (k.scalar_text(), pipeline_names(v)) {
                    (Some(name), Some(list)) => {
                        out.insert(name, list);
                    }
                    _ => bad(v.pos, "a workflow must be a list of pipeline names"),
                }
            }
        }
        NodeValue::Seq(items) => {
            for item in items {
                let map = item.as_map().unwrap_or_default();
                let get = |key: &str| map.iter().find(|(k, _)| k.as_str() == Some(key));
                let name = get("name").and_then(|(_, v)| v.scalar_text());
                let list = get("pipelines").and_then(|(_, v)| pipeline_names(v));
                match (name, list) {
                    (Some(n), Some(l)) => {
                        out.insert(n, l);
                    }
                    _ => bad(item.pos, "each workflow needs `name:` and `pipelines:`"),
                }
            }
        }
        _ => bad(node.pos, "found neither a mapping nor a list"),
    }
    out
}

fn pipeline_names(node: &Node) -> Option<Vec<String>> {
    node.as_seq()?
        .iter()
        .map(|i| {
            i.scalar_text().or_else(|| {
                let map = i.as_map()?;
                map.iter()
                    .find(|(k, _)| matches!(k.as_str(), Some("name" | "pipeline")))
                    .and_then(|(_, v)| v.scalar_text())
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ids_parse_as_wercker_parsed_them() {
        let id = StepId::parse("capgemini/apollo-deploy@0.1.2");
        assert_eq!(id.owner.as_deref(), Some("capgemini"));
        assert_eq!(id.name, "apollo-deploy");
        assert_eq!(id.version.as_deref(), Some("0.1.2"));
        assert_eq!(id.canonical(), "capgemini/apollo-deploy");
        let bare = StepId::parse("npm-install");
        assert_eq!(bare.base(), "npm-install");
        assert_eq!(bare.canonical(), "wercker/npm-install");
        assert_eq!(
            StepId::parse("npm-test@1.0.5").version.as_deref(),
            Some("1.0.5")
        );
    }

    #[test]
    fn aliases_with_versions_resolve_to_the_builtin() {
        let r = Registry::standard();
        assert_eq!(
            resolve(&r, "wantedly/pretty-slack-notify@0.2.7"),
            Resolution::Found {
                kind: "wantedly/pretty-slack-notify".into(),
                version: Some("0.2.7".into())
            }
        );
        assert!(matches!(
            resolve(&r, "internal/docker-push"),
            Resolution::Internal(m) if m.contains("wercker built-in") && m.contains("docker push")
        ));
        assert!(
            matches!(resolve(&r, "npm-install"), Resolution::Missing(id) if id.canonical() == "wercker/npm-install")
        );
    }
}
