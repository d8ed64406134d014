//! The registry of step kinds: name and aliases → the [`StepKind`] that
//! builds the step, plus its description.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use step_core::{StepDescription, StepKind};

/// Properties every step accepts, handled by the runner itself.
pub const COMMON_PROPERTIES: &[(&str, &str, &str)] = &[
    (
        "id",
        "string",
        "The step's id; its outputs are published as `outputs.<id>.<name>`.",
    ),
    (
        "name",
        "string",
        "The name shown in output and reports (default: the kind).",
    ),
    (
        "cwd",
        "path",
        "Working directory, relative to the pipeline file's directory.",
    ),
    (
        "timeout",
        "duration",
        "Stop the step after this long (`90s`, `5m`, `1h`).",
    ),
    (
        "retries",
        "integer",
        "Run the step again up to this many times when it fails.",
    ),
    (
        "continue_on_error",
        "bool",
        "Report a failure as a warning and go on.",
    ),
    (
        "export_output",
        "bool",
        "In GitHub Actions, write the step's outputs to `$GITHUB_OUTPUT` (as `<id>_<name>`).",
    ),
    (
        "when",
        "string",
        "Run only when a condition holds: `NAME` (set, not false/0/empty), `NAME == value`, `NAME != \"\"`, `!`, `&&`, `||`, parentheses.",
    ),
    (
        "creates",
        "path or list",
        "Paths this step creates, so later steps may name them before they exist.",
    ),
];

/// Whether a property name is one of [`COMMON_PROPERTIES`].
pub fn is_common(name: &str) -> bool {
    COMMON_PROPERTIES.iter().any(|(n, _, _)| *n == name)
}

struct Entry {
    /// The kind's name.
    name: String,
    kind: Arc<dyn StepKind>,
    /// Built when first asked for (kinds that name themselves) or when
    /// registered (the others).
    description: OnceLock<StepDescription>,
}

impl Entry {
    fn description(&self) -> &StepDescription {
        self.description.get_or_init(|| self.kind.description())
    }
}

/// Step kinds by name and alias.
#[derive(Clone, Default)]
pub struct Registry {
    entries: Vec<Arc<Entry>>,
    index: HashMap<String, usize>,
    legacy_roots: Vec<std::path::PathBuf>,
    /// Step directories' ids → their manifest's (name, version), when readable.
    legacy: HashMap<String, Option<(String, String)>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("kinds", &self.entries.len())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// The built-in kinds: `script`, `install-packages`, `pip-install`.
    pub fn builtin() -> Self {
        let mut r = Registry::new();
        for kind in crate::builtin::kinds() {
            r.register(kind);
        }
        r
    }

    /// Every kind stepwise ships: the built-ins and each tool crate's kinds.
    pub fn standard() -> Self {
        let mut r = Registry::builtin();
        for kind in crate::tools::kinds() {
            r.register(kind);
        }
        r
    }

    /// Adds a kind under its name and aliases (a later registration of the
    /// same name replaces the earlier one).
    /// A kind that knows its names ([`StepKind::names`]) is described only
    /// when it is first looked up.
    pub fn register(&mut self, kind: Box<dyn StepKind>) {
        let description = OnceLock::new();
        let (name, aliases) = match kind.names() {
            Some((name, aliases)) => (
                name.to_string(),
                aliases.iter().map(|a| a.to_string()).collect(),
            ),
            None => {
                let d = kind.description();
                let names = (d.kind.clone(), d.aliases.clone());
                let _ = description.set(d);
                names
            }
        };
        let idx = self.entries.len();
        self.index.insert(name.clone(), idx);
        for alias in aliases {
            self.index.insert(alias, idx);
        }
        self.entries.push(Arc::new(Entry {
            name,
            kind: Arc::from(kind),
            description,
        }));
    }

    /// Registers the legacy wercker steps found under `roots`
    /// (`<root>/<owner>/<name>/wercker-step.yml` + `run.sh`); built-in
    /// names win over step directories.
    pub fn add_legacy_steps(&mut self, roots: &[std::path::PathBuf]) {
        self.legacy_roots.extend(roots.iter().cloned());
        for (id, dir) in crate::legacy::discover(roots) {
            if !self.index.contains_key(&id) {
                let kind = crate::legacy::LegacyKind::new(id.clone(), dir);
                self.legacy.insert(id, kind.name_version());
                self.register(Box::new(kind));
            }
        }
    }

    /// Whether `name` is a step directory (not a built-in kind).
    pub fn is_legacy(&self, name: &str) -> bool {
        self.legacy.contains_key(name)
    }

    /// The manifest version of the step directory `name`.
    pub fn legacy_version(&self, name: &str) -> Option<&str> {
        self.legacy.get(name)?.as_ref().map(|(_, v)| v.as_str())
    }

    /// The manifest `name` of the step directory `name` (its variables are
    /// `WERCKER_<NAME>_<PROPERTY>`).
    pub fn legacy_step_name(&self, name: &str) -> Option<&str> {
        self.legacy.get(name)?.as_ref().map(|(n, _)| n.as_str())
    }

    /// Where legacy step directories are looked for.
    pub fn legacy_roots(&self) -> &[std::path::PathBuf] {
        &self.legacy_roots
    }

    /// The kind registered under a name or alias.
    pub fn get(&self, name: &str) -> Option<(Arc<dyn StepKind>, &StepDescription)> {
        let e = self.entries.get(*self.index.get(name)?)?;
        Some((e.kind.clone(), e.description()))
    }

    /// The description of a kind.
    pub fn description(&self, name: &str) -> Option<&StepDescription> {
        self.get(name).map(|(_, d)| d)
    }

    /// Every name and alias.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    /// Every kind's description, once each, in registration order.
    pub fn descriptions(&self) -> Vec<&StepDescription> {
        let mut seen = std::collections::HashSet::new();
        self.entries
            .iter()
            .rev()
            .filter(|e| seen.insert(e.name.clone()))
            .map(|e| e.description())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_that_name_themselves_give_their_description_s_names() {
        let mut named = 0;
        for kind in crate::builtin::kinds()
            .into_iter()
            .chain(crate::tools::kinds())
        {
            let Some((name, aliases)) = kind.names() else {
                continue;
            };
            named += 1;
            let d = kind.description();
            assert_eq!(name, d.kind);
            assert_eq!(
                aliases,
                d.aliases.iter().map(String::as_str).collect::<Vec<_>>()
            );
        }
        assert!(named >= 17, "{named} kinds name themselves");
    }

    #[test]
    fn a_named_kind_is_described_only_when_looked_up() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static DESCRIBED: AtomicUsize = AtomicUsize::new(0);
        let mut r = Registry::new();
        r.register(Box::new(step_core::step::FnKind::named(
            "lazy",
            &["idle"],
            || {
                DESCRIBED.fetch_add(1, Ordering::SeqCst);
                step_core::StepDescription::new("lazy", "described late").alias("idle")
            },
            |_| Err(step_core::ConfigError::new("not built here")),
        )));
        assert_eq!(DESCRIBED.load(Ordering::SeqCst), 0);
        assert_eq!(r.description("idle").map(|d| d.kind.as_str()), Some("lazy"));
        assert_eq!(
            r.description("lazy").map(|d| d.summary.as_str()),
            Some("described late")
        );
        assert_eq!(DESCRIBED.load(Ordering::SeqCst), 1);
        assert_eq!(r.descriptions().len(), 1);
    }
}
