//! The environment a step sees: ordered variables, some of them secret.

use std::collections::BTreeSet;

use serde::Serialize;

/// Name fragments that make a variable secret by default.
pub const SECRET_NAME_PATTERNS: &[&str] = &["TOKEN", "SECRET", "PASSWORD", "KEY", "WEBHOOK"];

/// Whole words of a name (split on `_`) that make a variable secret by
/// default: `DB_PASS`, `GIT_AUTH`, but not `PASSAGE` or `AUTHOR`.
pub const SECRET_NAME_WORDS: &[&str] = &[
    "PASS",
    "PASSWD",
    "CREDENTIAL",
    "CREDENTIALS",
    "AUTH",
    "PRIVATE",
];

/// The shell's and the session's own variables: never secret, whatever
/// their names contain (masking `PWD` would blank every path).
pub const NEVER_SECRET: &[&str] = &[
    "PWD",
    "OLDPWD",
    "PATH",
    "HOME",
    "SHELL",
    "USER",
    "LOGNAME",
    "TERM",
    "LANG",
    "HOSTNAME",
    "TMPDIR",
    "SSH_AUTH_SOCK",
    "XAUTHORITY",
];

/// Whether a variable name looks like it holds a secret (`*TOKEN*`,
/// `*SECRET*`, `*PASSWORD*`, `*KEY*`, `*WEBHOOK*`, case-insensitive, or one
/// of [`SECRET_NAME_WORDS`] as a whole `_`-separated word); never one of
/// [`NEVER_SECRET`].
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if NEVER_SECRET.contains(&upper.as_str()) {
        return false;
    }
    SECRET_NAME_PATTERNS.iter().any(|p| upper.contains(p))
        || upper.split('_').any(|w| SECRET_NAME_WORDS.contains(&w))
}

#[cfg(test)]
mod secret_name_tests {
    use super::looks_secret;

    #[test]
    fn whole_words_and_fragments_are_secret_shell_names_never() {
        for name in [
            "DB_PASS",
            "PASS",
            "SMTP_PASSWD",
            "AWS_CREDENTIALS",
            "GCP_CREDENTIAL_FILE",
            "GIT_AUTH",
            "auth_header",
            "PRIVATE_KEY",
            "SSH_PRIVATE",
            "DEPLOY_TOKEN",
            "MY_PASSWORD",
            "SLACK_WEBHOOK_URL",
            "api_key",
        ] {
            assert!(looks_secret(name), "{name} should be secret");
        }
        for name in [
            "PWD",
            "OLDPWD",
            "PATH",
            "HOME",
            "SSH_AUTH_SOCK",
            "PASSAGE",
            "AUTHOR",
            "COMPASS_DIR",
            "PRIVATEER",
            "REGION",
            "CLOUD",
            "USER",
        ] {
            assert!(!looks_secret(name), "{name} should not be secret");
        }
    }
}

/// Ordered environment variables plus the set of names whose values are secret.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Env {
    vars: indexmap_lite::OrderedMap,
    #[serde(skip)]
    secrets: BTreeSet<String>,
}

impl Env {
    /// An empty environment.
    pub fn new() -> Self {
        Env::default()
    }

    /// The current process's environment. Variables whose names look secret
    /// are marked secret.
    pub fn from_process() -> Self {
        let mut env = Env::new();
        for (k, v) in std::env::vars_os() {
            if let (Ok(k), Ok(v)) = (k.into_string(), v.into_string()) {
                let secret = looks_secret(&k);
                env.insert(k, v, secret);
            }
        }
        env
    }

    /// Sets a variable (keeps its secret mark if it had one).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.vars.insert(name, value.into());
    }

    /// Sets a variable and marks it secret.
    pub fn set_secret(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.secrets.insert(name.clone());
        self.vars.insert(name, value.into());
    }

    /// Sets a variable, secret or not.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>, secret: bool) {
        if secret {
            self.set_secret(name, value);
        } else {
            self.set(name, value);
        }
    }

    /// Marks an existing (or future) variable secret.
    pub fn mark_secret(&mut self, name: impl Into<String>) {
        self.secrets.insert(name.into());
    }

    /// Removes a variable.
    pub fn remove(&mut self, name: &str) {
        self.vars.remove(name);
    }

    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name)
    }

    /// Whether a variable is secret.
    pub fn is_secret(&self, name: &str) -> bool {
        self.secrets.contains(name)
    }

    /// Names of the secret variables.
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.secrets.iter().map(String::as_str)
    }

    /// Values of the secret variables that are set.
    pub fn secret_values(&self) -> Vec<String> {
        self.secrets
            .iter()
            .filter_map(|n| self.vars.get(n).map(str::to_string))
            .collect()
    }

    /// All variables in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter()
    }

    /// Number of variables.
    pub fn len(&self) -> usize {
        self.vars.len()
    }

    /// Whether there are no variables.
    pub fn is_empty(&self) -> bool {
        self.vars.len() == 0
    }

    /// Puts a directory first on `PATH`.
    pub fn prepend_path(&mut self, dir: &str) {
        let new = match self.get("PATH") {
            Some(old) if !old.is_empty() => format!("{dir}:{old}"),
            _ => dir.to_string(),
        };
        self.set("PATH", new);
    }

    /// Applies a step's environment change.
    pub fn apply(&mut self, change: &crate::EnvChange) {
        match change {
            crate::EnvChange::Set {
                name,
                value,
                secret,
            } => self.insert(name.clone(), value.clone(), *secret || self.is_secret(name)),
            crate::EnvChange::Unset { name } => self.remove(name),
            crate::EnvChange::PrependPath { dir } => self.prepend_path(dir),
        }
    }
}

/// A tiny insertion-ordered map; the environment is small and step-core
/// keeps its dependencies few.
mod indexmap_lite {
    use std::collections::HashMap;
    use std::sync::Arc;

    use serde::Serialize;

    /// Names and values are shared strings: an environment is copied for
    /// every step (and again for its context), and a copy then costs two
    /// allocations in all (the name list and the table), where owned
    /// strings cost three per variable.
    #[derive(Clone, Debug, Default)]
    pub struct OrderedMap {
        keys: Vec<Arc<str>>,
        values: HashMap<Arc<str>, Arc<str>>,
    }

    impl OrderedMap {
        pub fn insert(&mut self, k: String, v: String) {
            let v: Arc<str> = v.into();
            if let Some(old) = self.values.get_mut(k.as_str()) {
                *old = v;
                return;
            }
            let k: Arc<str> = k.into();
            self.values.insert(Arc::clone(&k), v);
            self.keys.push(k);
        }
        pub fn remove(&mut self, k: &str) {
            if self.values.remove(k).is_some() {
                self.keys.retain(|x| &**x != k);
            }
        }
        pub fn get(&self, k: &str) -> Option<&str> {
            self.values.get(k).map(|v| &**v)
        }
        pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
            self.keys
                .iter()
                .filter_map(|k| self.values.get(k).map(|v| (&**k, &**v)))
        }
        pub fn len(&self) -> usize {
            self.keys.len()
        }
    }

    impl Serialize for OrderedMap {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.iter())
        }
    }
}
