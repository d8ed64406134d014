//! What `packer-validate` and `packer-build` share: variables, variable
//! files, `only`/`except`, the version requirement, finding packer, and a
//! command line that is safe to log.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use semver::VersionReq;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use step_core::config::OneOrMany;
use step_core::paths::{PathKind, require_path};
use step_core::process::Cmd;
use step_core::scratch::PrivateDir;
use step_core::{ConfigError, FoundTool, StepContext, StepError, ToolSpec};

/// How to get packer, for "not found" and "wrong version" errors.
pub const INSTALL_HINT: &str =
    "install it with scripts/install-tools.sh (Debian package packer, 1.6.6)";

/// serde `deserialize_with`: one string or a list of strings.
pub fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(OneOrMany::<String>::deserialize(d)?.into_vec())
}

/// serde `deserialize_with`: a map whose values are strings, numbers or
/// booleans (YAML `count: 2` is as good as `count: "2"`), kept as text.
pub fn scalar_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    struct ScalarMap;

    impl<'de> Visitor<'de> for ScalarMap {
        type Value = BTreeMap<String, String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of variable names to strings, numbers or booleans")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((name, value)) = map.next_entry::<String, serde_json::Value>()? {
                let text = match value {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    other => {
                        return Err(de::Error::custom(format!(
                            "variable `{name}` must be a string, number or boolean, not {}",
                            kind_of(&other)
                        )));
                    }
                };
                out.insert(name, text);
            }
            Ok(out)
        }
    }

    d.deserialize_any(ScalarMap)
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a map",
        _ => "a scalar",
    }
}

/// Parses the `version` property.
pub fn parse_version(version: Option<&str>) -> Result<Option<VersionReq>, ConfigError> {
    version
        .map(|v| {
            step_core::tool::parse_requirement(v)
                .map_err(|e| ConfigError::property("version", e.to_string()))
        })
        .transpose()
}

/// Checks `only`/`except` and the variable names.
pub fn check_selection(
    only: &[String],
    except: &[String],
    vars: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    if !only.is_empty() && !except.is_empty() {
        return Err(ConfigError::new(
            "`only` and `except` cannot both be set (packer accepts one of them)",
        ));
    }
    for (prop, list) in [("only", only), ("except", except)] {
        if let Some(bad) = list.iter().find(|b| b.is_empty() || b.contains(',')) {
            return Err(ConfigError::property(
                prop,
                format!("`{bad}` is not a build name (give one name per list entry)"),
            ));
        }
    }
    if let Some(bad) = vars.keys().find(|k| k.is_empty() || k.contains('=')) {
        return Err(ConfigError::property(
            "vars",
            format!("`{bad}` is not a variable name"),
        ));
    }
    Ok(())
}

/// Finds packer on the context's `PATH`, checking the version when required
/// (without blocking: the version command runs through `Cmd`).
pub async fn find_packer(
    cx: &StepContext,
    requirement: Option<&VersionReq>,
) -> Result<FoundTool, StepError> {
    ToolSpec::new("packer", INSTALL_HINT)
        .require(requirement.cloned())
        .locate(cx)
        .await
}

/// Checks that every variable file exists.
pub fn check_var_files(var_files: &[String], cx: &StepContext) -> Result<(), ConfigError> {
    for (i, f) in var_files.iter().enumerate() {
        require_path(format!("var_files[{i}]"), f, &cx.resolve(f), PathKind::File)?;
    }
    Ok(())
}

/// The options common to validate and build, as packer's argv:
/// `-only=…`/`-except=…`, `-var-file=GENERATED` (the step's `vars`, see
/// [`VarFile`]), then the user's `-var-file=…`…. Values never go on the
/// command line, where any local user could read them with `ps`.
pub fn selection_and_var_args(
    only: &[String],
    except: &[String],
    generated: Option<&Path>,
    var_files: &[String],
) -> Vec<String> {
    let mut args = Vec::new();
    if !only.is_empty() {
        args.push(format!("-only={}", only.join(",")));
    }
    if !except.is_empty() {
        args.push(format!("-except={}", except.join(",")));
    }
    if let Some(path) = generated {
        args.push(format!("-var-file={}", path.display()));
    }
    for f in var_files {
        args.push(format!("-var-file={f}"));
    }
    args
}

/// The step's `vars` written to a JSON var file (mode 0600) in a private
/// directory (mode 0700) under the context's temp base; both are removed
/// when this is dropped.
#[derive(Debug)]
pub struct VarFile {
    /// Kept for its drop, which removes the file.
    _dir: PrivateDir,
    path: PathBuf,
}

impl VarFile {
    /// Writes `vars`; `None` when there are none.
    pub fn write(
        vars: &BTreeMap<String, String>,
        cx: &StepContext,
    ) -> Result<Option<VarFile>, StepError> {
        if vars.is_empty() {
            return Ok(None);
        }
        let dir = PrivateDir::new(cx, "stepwise-packer-")?;
        let path = dir.write_var_file("stepwise.pkrvars.json", vars)?;
        Ok(Some(VarFile { _dir: dir, path }))
    }

    /// The var file (`.pkrvars.json`: packer reads it as JSON for both
    /// JSON and HCL2 templates).
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }
}

/// Environment packer runs with: no update check over the network
/// (`CHECKPOINT_DISABLE`) unless the pipeline decides otherwise.
pub fn with_packer_env(cmd: Cmd, cx: &StepContext) -> Cmd {
    if cx.env().get("CHECKPOINT_DISABLE").is_none() {
        cmd.env("CHECKPOINT_DISABLE", "1")
    } else {
        cmd
    }
}

/// A command line for the log with the values of secret-looking variables
/// (by name, or equal to a secret of the environment) replaced by `***`.
/// Built here rather than trusting the sink's masking, which only knows
/// values registered as secrets.
pub fn loggable_command(args: &[String], cx: &StepContext) -> String {
    let secrets = cx.env().secret_values();
    let mut out = vec!["packer".to_string()];
    let mut after_var = false;
    for arg in args {
        if after_var {
            let (name, value) = arg.split_once('=').unwrap_or((arg.as_str(), ""));
            let hide = step_core::env::looks_secret(name)
                || secrets
                    .iter()
                    .any(|s| !s.is_empty() && value.contains(s.as_str()));
            out.push(if hide {
                format!("{name}=***")
            } else {
                arg.clone()
            });
        } else {
            out.push(arg.clone());
        }
        after_var = arg == "-var";
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "scalar_map")]
        vars: BTreeMap<String, String>,
        #[serde(default, deserialize_with = "one_or_many")]
        files: Vec<String>,
    }

    #[test]
    fn vars_accept_scalars_and_reject_structures() {
        let p: Probe =
            serde_json::from_value(json!({"vars": {"a": "x", "n": 2, "b": true}, "files": "one"}))
                .unwrap();
        assert_eq!(p.vars["n"], "2");
        assert_eq!(p.vars["b"], "true");
        assert_eq!(p.files, ["one"]);
        let err = step_core::parse_config::<Probe>(json!({"vars": {"a": [1]}}))
            .err()
            .unwrap();
        assert!(
            err.message.contains("variable `a` must be a string"),
            "{err}"
        );
        assert_eq!(err.property.as_deref(), Some("vars"));
    }

    #[test]
    fn vars_go_through_a_private_var_file_not_argv() {
        let mut vars = BTreeMap::new();
        vars.insert("region".to_string(), "us-east-1; rm -rf /".to_string());
        let cx = StepContext::for_dir("/");
        let file = VarFile::write(&vars, &cx).unwrap().unwrap();
        let args = selection_and_var_args(
            &["a".into(), "b".into()],
            &[],
            Some(&file.path()),
            &["v.json".into()],
        );
        let generated = format!("-var-file={}", file.path().display());
        assert_eq!(args, ["-only=a,b", generated.as_str(), "-var-file=v.json"]);
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(text.contains("us-east-1; rm -rf /"), "{text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file.path()), 0o600);
        assert_eq!(mode(file.path().parent().unwrap()), 0o700);
        let path = file.path();
        drop(file);
        assert!(!path.exists() && !path.parent().unwrap().exists());
    }

    #[test]
    fn logged_command_hides_secret_variables() {
        let mut env = step_core::Env::new();
        env.set_secret("DO_TOKEN", "tok-12345");
        let cx = StepContext::for_dir("/").with_env(env);
        let args: Vec<String> = [
            "build",
            "-var",
            "aws_secret_key=abc",
            "-var",
            "token_copy=x-tok-12345",
            "-var",
            "region=eu",
            "t.json",
        ]
        .map(String::from)
        .to_vec();
        let line = loggable_command(&args, &cx);
        assert_eq!(
            line,
            "packer build -var aws_secret_key=*** -var token_copy=*** -var region=eu t.json"
        );
    }

    #[test]
    fn selection_rules() {
        let none = BTreeMap::new();
        assert!(check_selection(&["a".into()], &["b".into()], &none).is_err());
        assert!(check_selection(&["a,b".into()], &[], &none).is_err());
        assert!(check_selection(&["a".into()], &[], &none).is_ok());
        let mut bad = BTreeMap::new();
        bad.insert("a=b".to_string(), "c".to_string());
        assert_eq!(
            check_selection(&[], &[], &bad)
                .unwrap_err()
                .property
                .as_deref(),
            Some("vars")
        );
        assert_eq!(
            parse_version(Some("banana"))
                .unwrap_err()
                .property
                .as_deref(),
            Some("version")
        );
        assert!(
            parse_version(Some("~> 1.6"))
                .unwrap()
                .unwrap()
                .matches(&semver::Version::new(1, 6, 6))
        );
    }
}
