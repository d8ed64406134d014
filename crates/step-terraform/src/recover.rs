//! Recovering a local state that an interrupted write left empty or
//! truncated. Killing terraform while it writes `terraform.tfstate` can
//! leave a 0-byte file; terraform then reads it as "no state" and a destroy
//! says there is nothing to destroy, although the previous state survives
//! in `terraform.tfstate.backup`. Before a destroy, such a state is put
//! aside (`terraform.tfstate.broken`) and the backup restored — and the
//! step says so.

use std::path::{Path, PathBuf};

/// Where the local backend keeps a workspace's state, by default.
pub fn local_state_path(config_dir: &Path, workspace: Option<&str>) -> PathBuf {
    match workspace {
        None | Some("default") => config_dir.join("terraform.tfstate"),
        Some(ws) => config_dir
            .join("terraform.tfstate.d")
            .join(ws)
            .join("terraform.tfstate"),
    }
}

fn is_state(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.is_object())
}

/// Restores `state` from its backup when it is empty or not JSON. Returns
/// what was done (for a warning), or `None` when the state is fine or
/// missing.
pub fn recover_truncated_state(state: &Path) -> std::io::Result<Option<String>> {
    let Ok(text) = std::fs::read_to_string(state) else {
        return Ok(None);
    };
    if is_state(&text) {
        return Ok(None);
    }
    let mut backup = state.as_os_str().to_owned();
    backup.push(".backup");
    let backup = PathBuf::from(backup);
    let saved = std::fs::read_to_string(&backup).unwrap_or_default();
    if !is_state(&saved) {
        return Ok(Some(format!(
            "{} is empty or truncated (an interrupted write) and there is no usable {}; terraform sees no state",
            state.display(),
            backup.display()
        )));
    }
    let mut broken = state.as_os_str().to_owned();
    broken.push(".broken");
    std::fs::rename(state, PathBuf::from(&broken))?;
    let mut tmp = state.as_os_str().to_owned();
    tmp.push(".recovering");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, saved.as_bytes())?;
    std::fs::rename(&tmp, state)?;
    Ok(Some(format!(
        "{} was {} (an interrupted write); restored it from {} (the damaged file is kept as {})",
        state.display(),
        if text.is_empty() {
            "empty"
        } else {
            "truncated"
        },
        backup.display(),
        PathBuf::from(broken).display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_state_is_restored_from_its_backup() {
        let dir = tempfile::tempdir().unwrap();
        let state = local_state_path(dir.path(), Some("local-a"));
        std::fs::create_dir_all(state.parent().unwrap()).unwrap();
        std::fs::write(&state, "").unwrap();
        std::fs::write(
            state.with_extension("tfstate.backup"),
            r#"{"resources": [1]}"#,
        )
        .unwrap();
        let msg = recover_truncated_state(&state).unwrap().unwrap();
        assert!(
            msg.contains("was empty") && msg.contains("restored"),
            "{msg}"
        );
        assert_eq!(
            std::fs::read_to_string(&state).unwrap(),
            r#"{"resources": [1]}"#
        );
        assert_eq!(recover_truncated_state(&state).unwrap(), None);
        std::fs::write(&state, "{\"vers").unwrap();
        std::fs::remove_file(state.with_extension("tfstate.backup")).unwrap();
        let msg = recover_truncated_state(&state).unwrap().unwrap();
        assert!(msg.contains("no usable"), "{msg}");
    }
}
