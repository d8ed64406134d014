//! The `stepwise_events` callback plugin this crate ships, and the
//! environment that enables it for one `ansible-playbook` run without
//! disturbing the user's own callback settings.
//!
//! Why a plugin of our own: ansible-core 2.19 has no built-in JSON callback
//! (`ansible.builtin` offers default, minimal, oneline, junit and tree;
//! `ansible.posix.json` lives in a collection that may be absent), and a
//! JSON *stdout* callback would replace the human output that should keep
//! streaming. An `aggregate` callback runs next to the stdout callback and
//! writes JSON lines to a file of ours ([`crate::events`] reads it).
//!
//! Enabling it means setting `ANSIBLE_CALLBACK_PLUGINS` and
//! `ANSIBLE_CALLBACKS_ENABLED`, and an environment variable replaces what
//! `ansible.cfg` says. So the values ansible would otherwise use — from the
//! environment, else from the `ansible.cfg` ansible would read, else
//! ansible's defaults — are kept after ours.

use std::io;
use std::path::{Path, PathBuf};

use step_core::Env;

/// The plugin's name (what `callbacks_enabled` lists).
pub const CALLBACK_NAME: &str = "stepwise_events";

/// The plugin's Python source.
pub const CALLBACK_SOURCE: &str = include_str!("stepwise_events.py");

/// The environment variable naming the file the plugin writes.
pub const EVENTS_FILE_VAR: &str = "STEPWISE_ANSIBLE_EVENTS";

/// Writes the plugin to `<dir>/callback_plugins/stepwise_events.py` and
/// returns that directory.
pub fn install(dir: &Path) -> io::Result<PathBuf> {
    let plugins = dir.join("callback_plugins");
    std::fs::create_dir_all(&plugins)?;
    std::fs::write(plugins.join(format!("{CALLBACK_NAME}.py")), CALLBACK_SOURCE)?;
    Ok(plugins)
}

/// The `ANSIBLE_CALLBACK_PLUGINS` and `ANSIBLE_CALLBACKS_ENABLED` values
/// that add our plugin to what ansible would use anyway (see the module doc).
pub fn callback_env(plugin_dir: &Path, env: &Env, cwd: &Path) -> [(String, String); 2] {
    let config = find_config_file(env, cwd).and_then(|path| {
        let text = std::fs::read_to_string(&path).ok()?;
        Some((path, text))
    });
    let from_config = |key: &str| {
        config
            .as_ref()
            .and_then(|(path, text)| ini_value(text, "defaults", key).map(|v| (path, v)))
    };

    let existing_paths = match env.get("ANSIBLE_CALLBACK_PLUGINS") {
        Some(v) if !v.trim().is_empty() => Some(v.to_string()),
        _ => from_config("callback_plugins").map(|(cfg, value)| {
            // Relative entries in ansible.cfg are relative to its directory.
            let base = cfg.parent().unwrap_or(Path::new("."));
            value
                .split(':')
                .filter(|p| !p.trim().is_empty())
                .map(|p| resolve_entry(p.trim(), base, env))
                .collect::<Vec<_>>()
                .join(":")
        }),
    };
    let existing_paths = existing_paths.unwrap_or_else(|| {
        let home = env
            .get("ANSIBLE_HOME")
            .map(|h| expand_home(h, env))
            .unwrap_or_else(|| expand_home("~/.ansible", env));
        format!("{home}/plugins/callback:/usr/share/ansible/plugins/callback")
    });
    let plugin_path = format!("{}:{existing_paths}", plugin_dir.display());

    let existing_enabled = match env.get("ANSIBLE_CALLBACKS_ENABLED") {
        Some(v) if !v.trim().is_empty() => Some(v.to_string()),
        _ => from_config("callbacks_enabled").map(|(_, v)| v),
    };
    let enabled = match existing_enabled {
        Some(list) => {
            let others: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty() && *c != CALLBACK_NAME)
                .collect();
            std::iter::once(CALLBACK_NAME)
                .chain(others)
                .collect::<Vec<_>>()
                .join(",")
        }
        None => CALLBACK_NAME.to_string(),
    };
    [
        ("ANSIBLE_CALLBACK_PLUGINS".to_string(), plugin_path),
        ("ANSIBLE_CALLBACKS_ENABLED".to_string(), enabled),
    ]
}

/// The `ansible.cfg` ansible would read, in its order: `ANSIBLE_CONFIG`,
/// `./ansible.cfg` (unless the directory is world-writable, which ansible
/// refuses), `~/.ansible.cfg`, `/etc/ansible/ansible.cfg`.
pub fn find_config_file(env: &Env, cwd: &Path) -> Option<PathBuf> {
    if let Some(path) = env.get("ANSIBLE_CONFIG").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(expand_home(path, env));
        let path = if path.is_dir() {
            path.join("ansible.cfg")
        } else {
            path
        };
        let path = if path.is_absolute() {
            path
        } else {
            cwd.join(path)
        };
        if path.is_file() {
            return Some(path);
        }
    }
    let local = cwd.join("ansible.cfg");
    if local.is_file() && !world_writable(cwd) {
        return Some(local);
    }
    if let Some(home) = env.get("HOME") {
        let user = Path::new(home).join(".ansible.cfg");
        if user.is_file() {
            return Some(user);
        }
    }
    let system = PathBuf::from("/etc/ansible/ansible.cfg");
    system.is_file().then_some(system)
}

fn world_writable(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o002 != 0)
}

/// A key's value in an INI section, the way Python's configparser reads
/// ansible.cfg: case-insensitive keys, `=` or `:`, `#`/`;` comment lines,
/// `;` inline comments after whitespace.
pub fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut in_section = false;
    let mut found = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            in_section = name.trim() == section;
            continue;
        }
        if !in_section {
            continue;
        }
        let Some(sep) = trimmed.find(['=', ':']) else {
            continue;
        };
        if trimmed[..sep].trim().eq_ignore_ascii_case(key) {
            let mut value = trimmed[sep + 1..].trim();
            if let Some(i) = value.find(" ;").or_else(|| value.find("\t;")) {
                value = value[..i].trim_end();
            }
            found = Some(value.to_string());
        }
    }
    found
}

fn resolve_entry(entry: &str, base: &Path, env: &Env) -> String {
    let expanded = expand_home(entry, env);
    if Path::new(&expanded).is_absolute() {
        expanded
    } else {
        base.join(expanded).display().to_string()
    }
}

fn expand_home(path: &str, env: &Env) -> String {
    match (path.strip_prefix('~'), env.get("HOME")) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(vars: &[(&str, &str)]) -> Env {
        let mut env = Env::new();
        for (k, v) in vars {
            env.set(*k, *v);
        }
        env
    }

    #[test]
    fn without_any_config_our_plugin_comes_before_ansibles_defaults() {
        let cwd = tempfile::tempdir().unwrap();
        let env = env_with(&[("HOME", "/nonexistent-home")]);
        let [(k1, paths), (k2, enabled)] = callback_env(Path::new("/t/cb"), &env, cwd.path());
        assert_eq!(k1, "ANSIBLE_CALLBACK_PLUGINS");
        assert_eq!(
            paths,
            "/t/cb:/nonexistent-home/.ansible/plugins/callback:/usr/share/ansible/plugins/callback"
        );
        assert_eq!(k2, "ANSIBLE_CALLBACKS_ENABLED");
        assert_eq!(enabled, "stepwise_events");
    }

    #[test]
    fn environment_settings_are_kept() {
        let cwd = tempfile::tempdir().unwrap();
        let env = env_with(&[
            ("ANSIBLE_CALLBACK_PLUGINS", "/mine"),
            (
                "ANSIBLE_CALLBACKS_ENABLED",
                "profile_tasks, stepwise_events",
            ),
        ]);
        let [(_, paths), (_, enabled)] = callback_env(Path::new("/t/cb"), &env, cwd.path());
        assert_eq!(paths, "/t/cb:/mine");
        assert_eq!(enabled, "stepwise_events,profile_tasks");
    }

    #[test]
    fn ansible_cfg_in_the_working_directory_is_kept() {
        let cwd = tempfile::tempdir().unwrap();
        std::fs::write(
            cwd.path().join("ansible.cfg"),
            "[ssh_connection]\ncallbacks_enabled = wrong\n\n[defaults]\n# comment\n\
             Callback_Plugins = plugins/cb:/abs ; inline\ncallbacks_enabled: timer\n",
        )
        .unwrap();
        let env = env_with(&[("HOME", "/h")]);
        let [(_, paths), (_, enabled)] = callback_env(Path::new("/t/cb"), &env, cwd.path());
        assert_eq!(
            paths,
            format!("/t/cb:{}/plugins/cb:/abs", cwd.path().display())
        );
        assert_eq!(enabled, "stepwise_events,timer");
    }

    #[test]
    fn ansible_config_variable_wins_over_the_working_directory() {
        let cwd = tempfile::tempdir().unwrap();
        std::fs::write(
            cwd.path().join("ansible.cfg"),
            "[defaults]\ncallbacks_enabled = a\n",
        )
        .unwrap();
        let other = cwd.path().join("other.cfg");
        std::fs::write(&other, "[defaults]\ncallbacks_enabled = b\n").unwrap();
        let env = env_with(&[("ANSIBLE_CONFIG", other.to_str().unwrap())]);
        assert_eq!(find_config_file(&env, cwd.path()), Some(other));
        let [_, (_, enabled)] = callback_env(Path::new("/t/cb"), &env, cwd.path());
        assert_eq!(enabled, "stepwise_events,b");
    }

    #[test]
    fn install_writes_the_plugin() {
        let dir = tempfile::tempdir().unwrap();
        let plugins = install(dir.path()).unwrap();
        let text = std::fs::read_to_string(plugins.join("stepwise_events.py")).unwrap();
        assert!(text.contains("class CallbackModule(CallbackBase)"));
        assert!(text.contains(EVENTS_FILE_VAR));
    }
}
