//! Legacy wercker steps: a step id `owner/name` that is not built in
//! resolves to a step directory holding `wercker-step.yml` (or `step.yml`)
//! and `run.sh`, run the way wercker ran it: each property becomes
//! `WERCKER_<STEP>_<PROPERTY>` (with the manifest's defaults), the helpers
//! `fail`, `warn`, `info`, `success`, `debug` and `setMessage` are defined,
//! and the message a step leaves in `$WERCKER_REPORT_MESSAGE_FILE` becomes
//! the failure message.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::Value;
use step_core::process::Cmd;
use step_core::{
    ConfigError, Outcome, PropertyDoc, PropertyType, Step, StepContext, StepDescription, StepError,
    StepKind, async_trait,
};

use crate::diag::{Diagnostic, Pos};
use crate::yaml::{Node, NodeValue};

/// The manifest file names, in the order they are looked for.
pub const MANIFEST_NAMES: &[&str] = &["wercker-step.yml", "step.yml"];

/// One property of a legacy step.
#[derive(Clone, Debug, PartialEq)]
pub struct LegacyProperty {
    /// `string`, `bool` or `int`.
    pub ty: String,
    /// Whether it must be given.
    pub required: bool,
    /// Its default.
    pub default: Option<String>,
    /// Its description.
    pub description: String,
}

/// A legacy step's manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The step's name (`owner-check`).
    pub name: String,
    /// Its version (semver).
    pub version: String,
    /// What it does.
    pub description: String,
    /// Its properties, in file order.
    pub properties: IndexMap<String, LegacyProperty>,
}

/// The manifest file in a step directory.
pub fn manifest_path(dir: &Path) -> Option<PathBuf> {
    MANIFEST_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

fn type_ok(ty: &str) -> Option<&'static str> {
    match ty {
        "string" | "str" | "text" => Some("string"),
        "bool" | "boolean" => Some("bool"),
        "int" | "integer" | "number" => Some("int"),
        _ => None,
    }
}

/// Reads and checks a step directory's manifest (name, semver version,
/// property types, defaults, `run.sh`), collecting every problem.
pub fn read_manifest(dir: &Path) -> Result<Manifest, Vec<Diagnostic>> {
    let Some(path) = manifest_path(dir) else {
        return Err(vec![Diagnostic::error(
            dir,
            Pos::default(),
            format!("no {} in this step directory", MANIFEST_NAMES.join(" or ")),
        )]);
    };
    let root = parse_manifest(&path)?;
    let Some(entries) = root.as_map() else {
        return Err(vec![Diagnostic::error(
            &path,
            root.pos,
            "expected a mapping with `name`, `version` and `properties`",
        )]);
    };
    let mut diags = Vec::new();
    let mut m = Manifest {
        name: String::new(),
        version: String::new(),
        description: String::new(),
        properties: IndexMap::new(),
    };
    let mut name_pos = root.pos;
    let mut version_pos = root.pos;
    for (k, v) in entries {
        match k.as_str() {
            Some("name") => {
                name_pos = v.pos;
                m.name = v.scalar_text().unwrap_or_default();
            }
            Some("version") => {
                version_pos = v.pos;
                m.version = v.scalar_text().unwrap_or_default();
            }
            Some("description") => m.description = v.scalar_text().unwrap_or_default(),
            Some("properties") => properties(&path, v, &mut m, &mut diags),
            _ => {}
        }
    }
    check_identity(&path, &m, name_pos, version_pos, &mut diags);
    if !dir.join("run.sh").is_file() {
        diags.push(Diagnostic::error(
            dir,
            Pos::default(),
            "the step directory has no run.sh",
        ));
    }
    if diags.is_empty() { Ok(m) } else { Err(diags) }
}

/// The manifest file's YAML tree.
fn parse_manifest(path: &Path) -> Result<Node, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::error(
            path,
            Pos::default(),
            format!("cannot read: {e}"),
        )]
    })?;
    crate::yaml::parse(&text).map_err(|e| {
        vec![Diagnostic::error(
            path,
            e.pos,
            format!("invalid YAML: {}", e.message),
        )]
    })
}

/// Checks the manifest's `name` (present, letters, digits, `-`, `_`) and
/// `version` (semver).
fn check_identity(
    path: &Path,
    m: &Manifest,
    name_pos: Pos,
    version_pos: Pos,
    diags: &mut Vec<Diagnostic>,
) {
    if m.name.is_empty() {
        diags.push(Diagnostic::error(
            path,
            name_pos,
            "the manifest needs a `name`",
        ));
    } else if !m
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        diags.push(Diagnostic::error(
            path,
            name_pos,
            format!(
                "`name: {}` may hold only letters, digits, `-` and `_`",
                m.name
            ),
        ));
    }
    if semver::Version::parse(&m.version).is_err() {
        diags.push(Diagnostic::error(
            path,
            version_pos,
            format!(
                "`version: {}` is not a semantic version like 1.2.3",
                m.version
            ),
        ));
    }
}

fn properties(path: &Path, node: &Node, m: &mut Manifest, diags: &mut Vec<Diagnostic>) {
    let Some(entries) = node.as_map() else {
        if !node.is_null() {
            diags.push(Diagnostic::error(
                path,
                node.pos,
                "`properties` must be a mapping",
            ));
        }
        return;
    };
    for (k, v) in entries {
        let Some(name) = k.scalar_text() else {
            continue;
        };
        let mut prop = LegacyProperty {
            ty: "string".into(),
            required: false,
            default: None,
            description: String::new(),
        };
        for (pk, pv) in v.as_map().unwrap_or_default() {
            match pk.as_str() {
                Some("type") => match pv.as_str().and_then(type_ok) {
                    Some(t) => prop.ty = t.into(),
                    None => diags.push(Diagnostic::error(
                        path,
                        pv.pos,
                        format!(
                            "property `{name}`: type `{}` is not one of string, bool, int",
                            pv.scalar_text().unwrap_or_default()
                        ),
                    )),
                },
                Some("required") => match pv.value {
                    NodeValue::Bool(b) => prop.required = b,
                    _ => diags.push(Diagnostic::error(
                        path,
                        pv.pos,
                        format!("property `{name}`: `required` must be true or false"),
                    )),
                },
                Some("default") => prop.default = pv.scalar_text(),
                Some("description") => prop.description = pv.scalar_text().unwrap_or_default(),
                _ => {}
            }
        }
        if let Some(d) = &prop.default {
            let ok = match prop.ty.as_str() {
                "bool" => d == "true" || d == "false",
                "int" => d.parse::<i64>().is_ok(),
                _ => true,
            };
            if !ok {
                diags.push(Diagnostic::error(
                    path,
                    v.pos,
                    format!("property `{name}`: default `{d}` is not a {}", prop.ty),
                ));
            }
        }
        m.properties.insert(name, prop);
    }
}

/// The step directories under `roots` (`<root>/<owner>/<name>` with a manifest).
pub fn discover(roots: &[PathBuf]) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for root in roots {
        let Ok(owners) = std::fs::read_dir(root) else {
            continue;
        };
        for owner in owners.filter_map(Result::ok) {
            let Ok(names) = std::fs::read_dir(owner.path()) else {
                continue;
            };
            for name in names.filter_map(Result::ok) {
                let dir = name.path();
                if manifest_path(&dir).is_some() {
                    let id = format!(
                        "{}/{}",
                        owner.file_name().to_string_lossy(),
                        name.file_name().to_string_lossy()
                    );
                    if !found.iter().any(|(i, _)| *i == id) {
                        found.push((id, dir));
                    }
                }
            }
        }
    }
    found
}

/// A legacy step kind (one step directory).
#[derive(Clone, Debug)]
pub struct LegacyKind {
    id: String,
    dir: PathBuf,
    manifest: Option<Manifest>,
    problems: Vec<String>,
}

impl LegacyKind {
    /// The kind for the step directory `dir`, known as `id`.
    pub fn new(id: String, dir: PathBuf) -> Self {
        match read_manifest(&dir) {
            Ok(m) => LegacyKind {
                id,
                dir,
                manifest: Some(m),
                problems: Vec::new(),
            },
            Err(d) => LegacyKind {
                id,
                dir,
                manifest: None,
                problems: d.iter().map(ToString::to_string).collect(),
            },
        }
    }
}

impl LegacyKind {
    /// The manifest's name and version, when the manifest is valid.
    pub fn name_version(&self) -> Option<(String, String)> {
        self.manifest
            .as_ref()
            .map(|m| (m.name.clone(), m.version.clone()))
    }
}

impl StepKind for LegacyKind {
    fn description(&self) -> StepDescription {
        let mut d =
            StepDescription::new(&self.id, "A wercker step from a step directory (run.sh).")
                .open_outputs()
                .doc(&format!("Step directory: {}", self.dir.display()));
        if let Some(m) = &self.manifest {
            if !m.description.is_empty() {
                d.summary = m.description.clone();
            }
            for (name, p) in &m.properties {
                let ty = match p.ty.as_str() {
                    "bool" => PropertyType::Bool,
                    "int" => PropertyType::Integer,
                    _ => PropertyType::String,
                };
                d.properties.push(PropertyDoc {
                    name: name.clone(),
                    ty,
                    required: p.required && p.default.is_none(),
                    default: p.default.clone(),
                    doc: p.description.clone(),
                });
            }
        }
        d
    }

    fn build(&self, properties: Value) -> Result<Box<dyn Step>, ConfigError> {
        let Some(m) = &self.manifest else {
            return Err(ConfigError::new(format!(
                "the step directory {} is not valid: {}",
                self.dir.display(),
                self.problems.join("; ")
            )));
        };
        let given = match properties {
            Value::Object(o) => o,
            Value::Null => Default::default(),
            _ => return Err(ConfigError::new("properties must be a mapping")),
        };
        let mut env = Vec::new();
        let prefix = format!("WERCKER_{}_", env_name(&m.name));
        for (name, p) in &m.properties {
            let value = match given.get(name) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Null) | None => p.default.clone(),
                Some(other) => Some(other.to_string()),
            };
            match value {
                Some(v) => env.push((format!("{prefix}{}", env_name(name)), v)),
                None if p.required => {
                    return Err(ConfigError::property(
                        name.clone(),
                        "is required by the step's manifest",
                    ));
                }
                None => {}
            }
        }
        // As wercker did: a property the manifest does not declare still
        // reaches the step (the loader warns about it).
        for (name, value) in given.iter().filter(|(k, _)| !m.properties.contains_key(*k)) {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            env.push((format!("{prefix}{}", env_name(name)), value));
        }
        Ok(Box::new(LegacyStep {
            name: m.name.clone(),
            dir: self.dir.clone(),
            env,
        }))
    }
}

/// A name as wercker put it in a variable: upper case, `-` and other
/// non-alphanumerics as `_`.
pub fn env_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// A legacy step ready to run.
#[derive(Clone, Debug)]
pub struct LegacyStep {
    name: String,
    dir: PathBuf,
    env: Vec<(String, String)>,
}

/// wercker's step helpers.
const HELPERS: &str = r#"fail() { printf '%s\n' "$*" > "$WERCKER_REPORT_MESSAGE_FILE"; printf 'failed: %s\n' "$*" >&2; exit 1; }
warn() { printf 'warning: %s\n' "$*" >&2; }
info() { printf 'info: %s\n' "$*"; }
success() { printf 'success: %s\n' "$*"; }
debug() { printf 'debug: %s\n' "$*"; }
setMessage() { printf '%s\n' "$*" > "$WERCKER_REPORT_MESSAGE_FILE"; }
"#;

#[async_trait]
impl Step for LegacyStep {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let tmp = tempfile::Builder::new()
            .prefix("stepwise-legacy-")
            .tempdir()
            .map_err(|e| StepError::io("creating a temp dir for a legacy step", e))?;
        let helpers = tmp.path().join("helpers.sh");
        std::fs::write(&helpers, HELPERS)
            .map_err(|e| StepError::io(format!("writing {}", helpers.display()), e))?;
        let message_file = tmp.path().join("message");
        let mut cmd = Cmd::new("bash")
            .arg("-e")
            .arg("-c")
            .arg(r#". "$1"; . "$2""#)
            .arg("wercker-step")
            .arg(&helpers)
            .arg(self.dir.join("run.sh"))
            .env("WERCKER_STEP_ROOT", self.dir.display().to_string())
            .env("WERCKER_STEP_NAME", self.name.clone())
            .env(
                "WERCKER_REPORT_MESSAGE_FILE",
                message_file.display().to_string(),
            );
        for (k, v) in &self.env {
            cmd = cmd.env(k.clone(), v.clone());
        }
        let out = cmd.run(cx).await?;
        let message = std::fs::read_to_string(&message_file)
            .ok()
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty());
        if out.success() {
            let outcome = Outcome::passed();
            Ok(match message {
                Some(m) => outcome.with_message(m),
                None => outcome,
            })
        } else {
            Ok(Outcome::failed(message.unwrap_or_else(|| {
                format!("{} failed with {}", self.name, out.describe_status())
            })))
        }
    }

    fn commands(&self) -> Vec<String> {
        vec![format!("bash {}", self.dir.join("run.sh").display())]
    }
}
