//! The command line's variables: `--var NAME=VALUE`, `--var-file FILE`
//! (dotenv) and `--secret-file NAME=PATH`, layered over the process
//! environment.
//!
//! Precedence, highest first: `--var`, `--secret-file`, `--var-file` (a
//! later file wins over an earlier one), the process environment, the
//! pipeline's `env:`, the file's top-level `env:`. The last two are applied
//! by the executor, which lets a variable that is already set win.

use std::path::{Path, PathBuf};

use step_core::Env;

/// Options that add variables (shared by `run`, `validate` and `plan`).
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct VarArgs {
    /// Read variables from a dotenv file (`NAME=value` lines, `#` comments,
    /// quotes); repeatable, a later file wins. `--var` wins over these.
    #[cfg_attr(feature = "cli", arg(long = "var-file", value_name = "FILE"))]
    pub var_files: Vec<PathBuf>,
    /// Set NAME to the contents of PATH (one trailing newline dropped),
    /// masked in every output like any secret.
    #[cfg_attr(feature = "cli", arg(long = "secret-file", value_name = "NAME=PATH"))]
    pub secret_files: Vec<String>,
}

/// Why the command line's variables could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VarError {
    /// A `--var-file` could not be opened.
    #[error("--var-file {}: cannot read it: {source}", path.display())]
    VarFileUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: dotenvy::Error,
    },
    /// A line of a `--var-file` is not `NAME=value`.
    #[error("--var-file {}: cannot parse `{line}` (at character {column}); expected NAME=value", path.display())]
    VarFileSyntax {
        /// The file.
        path: PathBuf,
        /// The line.
        line: String,
        /// 1-based character of the problem.
        column: usize,
    },
    /// Reading a `--var-file` failed otherwise.
    #[error("--var-file {}: {source}", path.display())]
    VarFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: dotenvy::Error,
    },
    /// A `--secret-file` argument is not `NAME=PATH`.
    #[error("--secret-file `{spec}` is not NAME=PATH")]
    SecretFileSpec {
        /// The argument as given.
        spec: String,
    },
    /// A `--secret-file` could not be read.
    #[error("--secret-file {name}={path}: cannot read it: {source}")]
    SecretFileUnreadable {
        /// The variable.
        name: String,
        /// The file, as given.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Reads a dotenv file's variables in order.
pub fn read_var_file(path: &Path) -> Result<Vec<(String, String)>, VarError> {
    let iter = dotenvy::from_path_iter(path).map_err(|source| VarError::VarFileUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    iter.map(|item| {
        item.map_err(|e| match e {
            dotenvy::Error::LineParse(line, index) => VarError::VarFileSyntax {
                path: path.to_path_buf(),
                line,
                column: index + 1,
            },
            source => VarError::VarFile {
                path: path.to_path_buf(),
                source,
            },
        })
    })
    .collect()
}

/// Reads `NAME=PATH` into NAME and the file's contents.
pub fn read_secret_file(spec: &str) -> Result<(String, String), VarError> {
    let (name, path) = spec
        .split_once('=')
        .filter(|(n, p)| valid_name(n) && !p.is_empty())
        .ok_or_else(|| VarError::SecretFileSpec {
            spec: spec.to_string(),
        })?;
    let mut value =
        std::fs::read_to_string(path).map_err(|source| VarError::SecretFileUnreadable {
            name: name.to_string(),
            path: path.to_string(),
            source,
        })?;
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    Ok((name.to_string(), value))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The environment a run starts from: the process environment, then the
/// `--var-file`s, the `--secret-file`s and the `--var`s, with `--secret`
/// names marked secret.
pub fn cli_env(
    vars: &[(String, String)],
    args: &VarArgs,
    secrets: &[String],
) -> Result<Env, VarError> {
    let mut env = Env::from_process();
    let set = |env: &mut Env, k: &str, v: String, secret: bool| {
        let secret = secret || step_core::env::looks_secret(k) || env.is_secret(k);
        env.insert(k.to_string(), v, secret);
    };
    for file in &args.var_files {
        for (k, v) in read_var_file(file)? {
            set(&mut env, &k, v, false);
        }
    }
    for spec in &args.secret_files {
        let (k, v) = read_secret_file(spec)?;
        set(&mut env, &k, v, true);
    }
    for (k, v) in vars {
        set(&mut env, k, v.clone(), false);
    }
    for s in secrets {
        env.mark_secret(s.clone());
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_files_and_secret_files_are_read() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let f = dir.path().join("vars.env");
        std::fs::write(&f, "# comment\nA=1\nexport B=\"two words\"\nC='x'\n").unwrap_or_default();
        let vars = read_var_file(&f).unwrap_or_default();
        assert_eq!(
            vars,
            vec![
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "two words".to_string()),
                ("C".to_string(), "x".to_string())
            ]
        );
        let s = dir.path().join("pw");
        std::fs::write(&s, "hunter22\n").unwrap_or_default();
        let (k, v) = read_secret_file(&format!("DB={}", s.display())).unwrap_or_default();
        assert_eq!((k.as_str(), v.as_str()), ("DB", "hunter22"));
        assert!(matches!(
            read_secret_file("DB"),
            Err(VarError::SecretFileSpec { .. })
        ));
        let e = read_secret_file("DB=/nonexistent/file").unwrap_err();
        assert!(
            matches!(&e, VarError::SecretFileUnreadable { name, .. } if name == "DB"),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("--secret-file DB=/nonexistent/file: cannot read it: "),
            "{e}"
        );
        let bad = dir.path().join("bad.env");
        std::fs::write(&bad, "NOT A LINE\n").unwrap_or_default();
        let e = read_var_file(&bad).expect_err("bad line");
        assert!(e.to_string().contains("bad.env"), "{e}");
        assert!(matches!(e, VarError::VarFileSyntax { .. }), "{e:?}");
    }

    #[test]
    fn the_command_line_layers_in_order() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (a, b) = (dir.path().join("a.env"), dir.path().join("b.env"));
        std::fs::write(&a, "X=from-a\nY=from-a\nZ=from-a\n").unwrap_or_default();
        std::fs::write(&b, "Y=from-b\nZ=from-b\n").unwrap_or_default();
        let s = dir.path().join("secret");
        std::fs::write(&s, "s3cr3t-value").unwrap_or_default();
        let args = VarArgs {
            var_files: vec![a, b],
            secret_files: vec![format!("STORE_VALUE={}", s.display())],
        };
        let env = cli_env(&[("Z".into(), "from-var".into())], &args, &[]).unwrap_or_default();
        assert_eq!(env.get("X"), Some("from-a"));
        assert_eq!(env.get("Y"), Some("from-b"));
        assert_eq!(env.get("Z"), Some("from-var"));
        assert_eq!(env.get("STORE_VALUE"), Some("s3cr3t-value"));
        assert!(env.is_secret("STORE_VALUE"));
        assert!(!env.is_secret("X"));
    }
}
