//! The durable teardown manifest: before a step that creates something
//! starts, what undoes it is written to `.stepwise/state/<run-id>.json`
//! (atomically: temp file, fsync, rename, fsync of the directory), so a run
//! that is interrupted, crashes or is killed can still be cleaned up by
//! `runner cleanup`. A lock file held (flock) for the run's lifetime tells
//! a live run from a dead one.
//!
//! The process groups the run's steps start go to a journal: one JSON line
//! appended per spawn (no rewrite of the state file on every step), merged
//! into the state when it is read. Process groups do not outlive the
//! machine, so the journal lives in memory (`/dev/shm`, where an append
//! costs no disk journaling) when it can, its path recorded in the state;
//! otherwise beside the state file, as `<run-id>.groups`.
//!
//! Secrets are never stored: a teardown's properties refer to them as
//! `${NAME}`, variables that carry a secret inside them are stored as
//! references ([`EnvPart`]), and `runner cleanup` takes the values from its
//! own environment. The state records the names (never the values) of the
//! run's secrets, so `runner state` and `runner cleanup` can rebuild the
//! masker from those names and their own environment. Names, targets and
//! messages are masked before they are written.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use step_core::StepSpec;

/// Version of the state file format.
pub const STATE_VERSION: u32 = 1;

/// Where a teardown stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeardownStatus {
    /// Recorded; not run yet.
    Pending,
    /// Ran successfully.
    Done,
    /// Ran and failed (still to be cleaned up).
    Failed,
    /// Left up on purpose (`--keep`, `teardown: never`, `on_success` after a failure).
    Kept,
}

impl TeardownStatus {
    /// Whether the teardown still has to run.
    pub fn is_outstanding(self) -> bool {
        !matches!(self, TeardownStatus::Done)
    }
}

/// One recorded teardown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeardownEntry {
    /// Order of registration within the run.
    pub seq: u64,
    /// The target (for_each value) it belongs to.
    #[serde(default)]
    pub target: Option<String>,
    /// The name of the step that registered it.
    pub step: String,
    /// The working directory to run it in.
    pub workdir: PathBuf,
    /// The step that undoes it.
    pub spec: StepSpec,
    /// Variables it needs (not secrets).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Names of secret variables it needs; their values come from the
    /// environment of whoever runs it.
    #[serde(default)]
    pub secret_vars: Vec<String>,
    /// Variables whose value holds a secret, as text and references to
    /// secret variables; rebuilt from the environment of whoever runs it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_env: BTreeMap<String, Vec<EnvPart>>,
    /// Where it stands.
    pub status: TeardownStatus,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// The last message of a run of it.
    #[serde(default)]
    pub message: Option<String>,
}

/// A piece of a stored variable: plain text, or the value of a secret
/// variable (by name) taken from the environment when it is used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvPart {
    /// Text stored as is (it holds no secret).
    Text(String),
    /// The value of this (secret) variable.
    Secret(String),
}

/// Splits `value` into text and references to the secret variables whose
/// values it contains (`secrets` are name/value pairs, longest value
/// first wins). `None` when it holds no secret value.
pub fn secret_refs(value: &str, secrets: &[(String, String)]) -> Option<Vec<EnvPart>> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = value;
    let mut found = false;
    'outer: while !rest.is_empty() {
        let mut best: Option<(&str, &str)> = None;
        for (name, secret) in secrets {
            if !secret.is_empty()
                && rest.starts_with(secret.as_str())
                && best.is_none_or(|(_, b)| secret.len() > b.len())
            {
                best = Some((name, secret));
            }
        }
        if let Some((name, secret)) = best {
            if !text.is_empty() {
                parts.push(EnvPart::Text(std::mem::take(&mut text)));
            }
            parts.push(EnvPart::Secret(name.to_string()));
            rest = &rest[secret.len()..];
            found = true;
            continue 'outer;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            text.push(c);
        }
        rest = chars.as_str();
    }
    if !text.is_empty() {
        parts.push(EnvPart::Text(text));
    }
    found.then_some(parts)
}

/// A secret variable a stored value refers to is not set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the secret variable `{name}` is not set")]
#[non_exhaustive]
pub struct MissingSecret {
    /// The variable.
    pub name: String,
}

/// Joins stored parts back into a value, taking secrets from `lookup`.
pub fn resolve_refs(
    parts: &[EnvPart],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, MissingSecret> {
    let mut out = String::new();
    for p in parts {
        match p {
            EnvPart::Text(t) => out.push_str(t),
            EnvPart::Secret(name) => {
                let value = lookup(name).ok_or_else(|| MissingSecret { name: name.clone() })?;
                out.push_str(&value);
            }
        }
    }
    Ok(out)
}

/// A run's state file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Format version.
    pub version: u32,
    /// The run's id.
    pub run_id: String,
    /// The runner's pid.
    pub pid: u32,
    /// When the run started (RFC 3339).
    pub started: String,
    /// The pipeline.
    pub pipeline: String,
    /// The pipeline file.
    pub file: PathBuf,
    /// The recorded teardowns.
    pub teardowns: Vec<TeardownEntry>,
    /// Names of the run's secret variables (never their values).
    #[serde(default)]
    pub secret_names: Vec<String>,
    /// The process groups its steps started (ended by `runner cleanup`
    /// when the run died).
    #[serde(default)]
    pub groups: Vec<crate::reap::ProcessGroup>,
    /// The process-group journal, when it is not beside the state file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_journal: Option<PathBuf>,
    /// The run's private temporary directory (var files that may hold
    /// secrets live there); removed when the run ends or by `runner cleanup`.
    #[serde(default)]
    pub tmp_dir: Option<PathBuf>,
}

impl RunState {
    /// Teardowns still to run.
    pub fn outstanding(&self) -> impl Iterator<Item = &TeardownEntry> {
        self.teardowns.iter().filter(|t| t.status.is_outstanding())
    }

    /// The process-group journal of the run whose state file this is.
    pub fn journal_path(&self, state_file: &Path) -> PathBuf {
        self.groups_journal
            .clone()
            .unwrap_or_else(|| groups_path(state_file))
    }

    /// Adds the groups of the journal; a group id recorded twice keeps its
    /// last record.
    fn merge_groups(&mut self, journal: &Path) {
        let Ok(text) = std::fs::read_to_string(journal) else {
            return;
        };
        // A line cut short by a crash mid-write is skipped.
        for group in text
            .lines()
            .filter_map(|l| serde_json::from_str::<crate::reap::ProcessGroup>(l).ok())
        {
            self.groups.retain(|g| g.pgid != group.pgid);
            self.groups.push(group);
        }
    }
}

/// The process-group journal beside a state file.
pub fn groups_path(state_file: &Path) -> PathBuf {
    state_file.with_extension("groups")
}

/// Where the journal of a run goes: a new file in `/dev/shm` (memory) when
/// there is one, else beside the state file.
fn open_journal(state_file: &Path, run_id: &str) -> Result<(File, PathBuf), StateError> {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(tmp) = tempfile::Builder::new()
            .prefix(&format!("stepwise-{run_id}-"))
            .suffix(".groups")
            .tempfile_in(shm)
        && let Ok((file, path)) = tmp.keep()
    {
        return Ok((file, path));
    }
    let path = groups_path(state_file);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io_err(&path))?;
    Ok((file, path))
}

/// Removes a run's state file and its process-group journal.
pub fn remove_state(state_file: &Path, state: &RunState) -> std::io::Result<()> {
    let _ = std::fs::remove_file(state.journal_path(state_file));
    std::fs::remove_file(state_file)
}

/// A state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid state file. It is left in place.
    #[error(
        "{path}: the state file is corrupted or truncated ({message}); it was left in place — inspect it, run its teardowns by hand, then delete it"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A temp file next to `path`, named `.<file name>.XXXXXX` so that the
/// one a killed writer leaves is recognised ([`remove_stray_temps`]).
fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile, StateError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(dir)
        .map_err(io_err(dir))
}

/// Removes the temp files a writer of `path` that was killed mid-write
/// left next to it.
pub fn remove_stray_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes a file atomically and durably: temp file in the same directory,
/// fsync, rename over the target, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut tmp = temp_beside(path)?;
    tmp.write_all(bytes).map_err(io_err(path))?;
    tmp.as_file().sync_all().map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| StateError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes a file atomically (temp file, rename) without syncing it: for
/// records that only matter while the machine is up (process groups), where
/// a process's death leaves the page cache intact anyway.
fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let mut tmp = temp_beside(path)?;
    tmp.write_all(bytes).map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| StateError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// Reads a state file; a corrupt one is an error naming it.
pub fn read_state(path: &Path) -> Result<RunState, StateError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let mut state: RunState = serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if state.version != STATE_VERSION {
        return Err(StateError::Corrupt {
            path: path.to_path_buf(),
            message: format!("unknown format version {}", state.version),
        });
    }
    let journal = state.journal_path(path);
    state.merge_groups(&journal);
    Ok(state)
}

/// The lock file of a run.
pub fn lock_path(state_dir: &Path, run_id: &str) -> PathBuf {
    state_dir.join(format!("{run_id}.lock"))
}

/// The state file of a run.
pub fn state_path(state_dir: &Path, run_id: &str) -> PathBuf {
    state_dir.join(format!("{run_id}.json"))
}

/// Tries to take a run's lock. `Ok(Some(file))` holds it (the run is not
/// alive); `Ok(None)` means another process holds it (the run is alive).
pub fn try_lock(path: &Path) -> Result<Option<File>, StateError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .read(true)
        .open(path)
        .map_err(io_err(path))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(file)),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::AGAIN => Ok(None),
        Err(e) => Err(StateError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        }),
    }
}

/// The live manifest of a running run: holds the lock and writes every
/// change through to disk before returning.
#[derive(Debug)]
pub struct RunManifest {
    dir: PathBuf,
    path: PathBuf,
    state: Mutex<RunState>,
    /// The process-group journal, opened (append-only) on the first spawn.
    groups: Mutex<Option<(File, PathBuf)>>,
    _lock: File,
}

impl RunManifest {
    /// Creates the state directory, takes the run's lock, and writes the
    /// initial state.
    pub fn create(
        state_dir: &Path,
        run_id: &str,
        pipeline: &str,
        file: &Path,
    ) -> Result<RunManifest, StateError> {
        std::fs::create_dir_all(state_dir).map_err(io_err(state_dir))?;
        let lock_file = lock_path(state_dir, run_id);
        let lock = try_lock(&lock_file)?.ok_or_else(|| StateError::Io {
            path: lock_file.clone(),
            source: std::io::Error::other("another process holds this run's lock"),
        })?;
        let mut l = &lock;
        let _ = l.write_all(format!("{}\n", std::process::id()).as_bytes());
        let state = RunState {
            version: STATE_VERSION,
            run_id: run_id.to_string(),
            pid: std::process::id(),
            started: now(),
            pipeline: pipeline.to_string(),
            file: file.to_path_buf(),
            teardowns: Vec::new(),
            secret_names: Vec::new(),
            groups: Vec::new(),
            groups_journal: None,
            tmp_dir: None,
        };
        let m = RunManifest {
            dir: state_dir.to_path_buf(),
            path: state_path(state_dir, run_id),
            state: Mutex::new(state),
            groups: Mutex::new(None),
            _lock: lock,
        };
        Ok(m)
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, RunState> {
        step_core::sync::lock(&self.state)
    }

    fn save(&self, state: &RunState) -> Result<(), StateError> {
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| StateError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(&self.path, &bytes)
    }

    /// Records a pending teardown durably; returns its sequence number.
    pub fn record(&self, mut entry: TeardownEntry) -> Result<u64, StateError> {
        let mut state = self.lock_state();
        entry.seq = state.teardowns.len() as u64 + 1;
        entry.recorded_at = now();
        let seq = entry.seq;
        state.teardowns.push(entry);
        self.save(&state)?;
        Ok(seq)
    }

    /// Adds names of the run's secret variables (names only) to the state.
    pub fn note_secret_names<I, S>(&self, names: I) -> Result<(), StateError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut state = self.lock_state();
        let mut changed = false;
        for name in names {
            let name = name.into();
            if !state.secret_names.contains(&name) {
                state.secret_names.push(name);
                changed = true;
            }
        }
        if changed { self.save(&state) } else { Ok(()) }
    }

    /// Records a process group a step started: one line appended to the
    /// journal, in the page cache before it returns (process groups do not
    /// outlive the machine, so it is not synced).
    pub fn note_group(&self, pgid: u32, outlives_runner: bool) -> Result<(), StateError> {
        let mut group = crate::reap::ProcessGroup::started_by_us(pgid);
        group.outlives_runner = outlives_runner;
        let mut line = serde_json::to_vec(&group).map_err(|e| StateError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        line.push(b'\n');
        let mut journal = step_core::sync::lock(&self.groups);
        if journal.is_none() {
            *journal = Some(self.open_journal()?);
        }
        if let Some((file, path)) = journal.as_mut() {
            // One write of one line: O_APPEND keeps lines whole.
            file.write_all(&line).map_err(io_err(path))?;
        }
        Ok(())
    }

    /// Opens the run's process-group journal; one outside the state
    /// directory is recorded in the state before its first line, so a
    /// cleanup finds it.
    fn open_journal(&self) -> Result<(File, PathBuf), StateError> {
        let mut state = self.lock_state();
        let (file, path) = open_journal(&self.path, &state.run_id)?;
        if path != groups_path(&self.path) {
            state.groups_journal = Some(path.clone());
            if let Err(e) = self.save_unsynced(&state) {
                // Not recorded, so no cleanup would find it: not kept.
                state.groups_journal = None;
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        }
        Ok((file, path))
    }

    fn save_unsynced(&self, state: &RunState) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(state).map_err(|e| StateError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_atomic_unsynced(&self.path, &bytes)
    }

    /// Creates the run's private temporary directory (mode 0700), records
    /// it, and returns it.
    pub fn make_tmp_dir(&self) -> Result<PathBuf, StateError> {
        let mut state = self.lock_state();
        let dir = self.dir.join(format!("{}.tmp", state.run_id));
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io_err(&dir))?;
        state.tmp_dir = Some(dir.clone());
        // Synced with the first teardown record; until then a machine crash
        // loses nothing a cleanup could act on.
        self.save_unsynced(&state)?;
        Ok(dir)
    }

    /// Updates a teardown's status.
    pub fn mark(
        &self,
        seq: u64,
        status: TeardownStatus,
        message: Option<String>,
    ) -> Result<(), StateError> {
        let mut state = self.lock_state();
        if let Some(t) = state.teardowns.iter_mut().find(|t| t.seq == seq) {
            t.status = status;
            t.message = message;
        }
        self.save(&state)
    }

    /// A teardown entry by sequence number.
    pub fn entry(&self, seq: u64) -> Option<TeardownEntry> {
        self.lock_state()
            .teardowns
            .iter()
            .find(|t| t.seq == seq)
            .cloned()
    }

    /// Ends the run: when nothing is outstanding, removes the state file
    /// (the lock file goes with the run); otherwise leaves it for `runner cleanup`.
    pub fn close(self) -> Result<bool, StateError> {
        let state = self.lock_state().clone();
        if let Some(tmp) = &state.tmp_dir {
            let _ = std::fs::remove_dir_all(tmp);
        }
        let outstanding = state.outstanding().count() > 0;
        if !outstanding && self.path.exists() {
            remove_state(&self.path, &state).map_err(io_err(&self.path))?;
        }
        if !outstanding {
            let _ = std::fs::remove_file(lock_path(&self.dir, &state.run_id));
        }
        Ok(outstanding)
    }
}

/// The state files in a directory (sorted by name), each read or with its error.
pub fn list_runs(state_dir: &Path) -> Vec<(PathBuf, Result<RunState, StateError>)> {
    let Ok(rd) = std::fs::read_dir(state_dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let r = read_state(&p);
            (p, r)
        })
        .collect()
}

/// Whether the run that owns a state file is still alive (someone holds its lock).
pub fn is_alive(state_dir: &Path, run_id: &str) -> Result<bool, StateError> {
    let path = lock_path(state_dir, run_id);
    if !path.exists() {
        return Ok(false);
    }
    Ok(try_lock(&path)?.is_none())
}

/// Rewrites a dead run's state file (used by `runner cleanup`).
pub fn save_state(path: &Path, state: &RunState) -> Result<(), StateError> {
    let bytes = serde_json::to_vec_pretty(state).map_err(|e| StateError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    write_atomic(path, &bytes)
}

/// The current time, RFC 3339.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> TeardownEntry {
        TeardownEntry {
            seq: 0,
            target: Some("aws".into()),
            step: "create".into(),
            workdir: PathBuf::from("/tmp"),
            spec: StepSpec {
                kind: "script".into(),
                properties: serde_json::json!({"code": "echo ${TOKEN}"}),
            },
            env: BTreeMap::new(),
            secret_vars: vec!["TOKEN".into()],
            secret_env: BTreeMap::new(),
            status: TeardownStatus::Pending,
            recorded_at: String::new(),
            message: None,
        }
    }

    #[test]
    fn manifest_is_durable_locked_and_closed_when_done() {
        let dir = tempfile::tempdir().unwrap();
        let m = RunManifest::create(dir.path(), "r1", "deploy", Path::new("x.yml")).unwrap();
        assert!(is_alive(dir.path(), "r1").unwrap());
        let seq = m.record(entry()).unwrap();
        let on_disk = read_state(&state_path(dir.path(), "r1")).unwrap();
        assert_eq!(on_disk.outstanding().count(), 1);
        m.mark(seq, TeardownStatus::Done, None).unwrap();
        assert!(!m.close().unwrap());
        assert!(!state_path(dir.path(), "r1").exists());
        assert!(!is_alive(dir.path(), "r1").unwrap());
    }

    #[test]
    fn process_groups_are_journalled_read_back_with_the_state_and_removed_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let m = RunManifest::create(dir.path(), "r2", "deploy", Path::new("x.yml")).unwrap();
        m.make_tmp_dir().unwrap();
        let before = crate::reap::ticks_since_boot();
        m.note_group(4_000_001, false).unwrap();
        m.note_group(4_000_002, true).unwrap();
        // Recorded again (a group id reused within the run): the last record wins.
        m.note_group(4_000_001, true).unwrap();
        let path = state_path(dir.path(), "r2");
        let state = read_state(&path).unwrap();
        let mut groups: Vec<(u32, bool)> = state
            .groups
            .iter()
            .map(|g| (g.pgid, g.outlives_runner))
            .collect();
        groups.sort_unstable();
        assert_eq!(groups, [(4_000_001, true), (4_000_002, true)]);
        for g in &state.groups {
            assert!(g.started <= before, "a lower bound of the start time");
        }
        let journal = state.journal_path(&path);
        assert!(journal.exists());
        // A line cut short by a crash is skipped, the others still count.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&journal)
            .unwrap()
            .write_all(b"{\"pgid\":4000")
            .unwrap();
        assert_eq!(read_state(&path).unwrap().groups.len(), 2);
        assert!(!m.close().unwrap());
        assert!(!journal.exists() && !path.exists());
    }

    #[test]
    fn a_journal_the_state_cannot_record_is_not_left_behind() {
        if !Path::new("/dev/shm").is_dir() {
            eprintln!("SKIPPED: no /dev/shm, the journal goes beside the state file");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let run_id = format!("orphan{}", std::process::id());
        let m = RunManifest::create(dir.path(), &run_id, "build", Path::new("x.yml")).unwrap();
        // The state file cannot be replaced any more: a directory holds
        // its name.
        let path = state_path(dir.path(), &run_id);
        let _ = std::fs::remove_file(&path);
        std::fs::create_dir(&path).unwrap();
        assert!(m.note_group(4_000_003, false).is_err());
        let prefix = format!("stepwise-{run_id}-");
        let left: Vec<_> = std::fs::read_dir("/dev/shm")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .collect();
        assert!(left.is_empty(), "journals left in /dev/shm: {left:?}");
    }

    #[test]
    fn temp_files_a_killed_writer_left_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r1.json");
        write_atomic(&path, b"{}").unwrap();
        std::fs::write(dir.path().join(".r1.json.Ab12cd"), "half").unwrap();
        std::fs::write(dir.path().join(".r2.json.Ab12cd"), "other run").unwrap();
        remove_stray_temps(&path);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".r2.json.Ab12cd", "r1.json"]);
    }

    #[test]
    fn values_holding_secrets_become_references() {
        let secrets = vec![
            ("OPS_CRED".to_string(), "s3cr3t".to_string()),
            ("LONG".to_string(), "s3cr3t-and-more".to_string()),
        ];
        let parts = secret_refs("postgres://app:s3cr3t@db/s3cr3t-and-more", &secrets).unwrap();
        assert_eq!(
            parts,
            vec![
                EnvPart::Text("postgres://app:".into()),
                EnvPart::Secret("OPS_CRED".into()),
                EnvPart::Text("@db/".into()),
                EnvPart::Secret("LONG".into()),
            ]
        );
        let back = resolve_refs(&parts, |n| {
            secrets.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
        });
        assert_eq!(back.unwrap(), "postgres://app:s3cr3t@db/s3cr3t-and-more");
        assert_eq!(secret_refs("plain", &secrets), None);
        assert_eq!(
            resolve_refs(&parts, |_| None),
            Err(MissingSecret {
                name: "OPS_CRED".into()
            })
        );
    }

    #[test]
    fn corrupt_state_is_an_error_naming_the_file_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r2.json");
        std::fs::write(&p, "{\"version\": 1, \"run_id\": \"r2\", \"pi").unwrap();
        let err = read_state(&p).unwrap_err().to_string();
        assert!(
            err.contains("r2.json") && err.contains("corrupted"),
            "{err}"
        );
        assert!(p.exists());
    }
}
