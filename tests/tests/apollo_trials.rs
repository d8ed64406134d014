//! The interrupt and crash trial suites on the Apollo example's two-target
//! deploy (issue #14): signals at uniformly random moments of a real run,
//! then a check that nothing of the run is left.
//!
//! * `interrupt_trials`: SIGINT, SIGTERM and double SIGINT (30/15/5 of 50
//!   with `STEPWISE_LONG_TESTS=1`; 6/3/1 otherwise). The second SIGINT
//!   kills everything at once, teardowns and after-steps included (they
//!   may not even start): a double-SIGINT trial is checked after
//!   `runner cleanup`, which finishes the teardowns, for its exit code and
//!   leftovers only.
//! * `sigkill_and_cleanup_trials`: SIGKILL, then `runner cleanup
//!   --state-dir DIR` from another directory (20 with
//!   `STEPWISE_LONG_TESTS=1`; 10 otherwise).
//!
//! Each trial checks: no process of the run survives (by the run's
//! directory in its command line or `WERCKER_ROOT` in its environment), no
//! container of the run survives, every terraform state is empty, the
//! after-steps ran with the result (`cancelled` after a single interrupt), and
//! `runner state` lists nothing. The first trial of a suite runs without a
//! signal and measures how long a deploy takes; the moments are drawn from
//! that span. `STEPWISE_TRIAL_SEED` replays a suite.

// Set-up that cannot work (no temp dir, no binary) should panic loudly.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use stepwise_tests::{runner_bin, tool_available, workspace_root};

const TOOLS: &[&str] = &["terraform", "ansible-playbook", "python3", "curl"];
const RUN_LIMIT: Duration = Duration::from_secs(300);

fn long() -> bool {
    std::env::var("STEPWISE_LONG_TESTS").is_ok_and(|v| v == "1" || v == "true")
}

/// A small reproducible generator.
struct Rng(u64);

impl Rng {
    fn seeded(salt: u64) -> Rng {
        let seed = std::env::var("STEPWISE_TRIAL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(7)
            });
        eprintln!("trial seed {seed} (STEPWISE_TRIAL_SEED={seed} replays it)");
        Rng((seed ^ salt) | 1)
    }

    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A copy of the example with its own ports, state dir and webhook.
struct Trial {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    state_dir: PathBuf,
    base: u16,
    hook: Hook,
}

impl Trial {
    fn new() -> Trial {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("apollo");
        stepwise_tests::copy_tree(&workspace_root().join("examples/apollo"), &dir);
        let state_dir = tmp.path().join("state");
        Trial {
            _tmp: tmp,
            dir,
            state_dir,
            base: free_port_base(),
            hook: Hook::start(),
        }
    }

    fn command(&self, args: &[&str], cwd: &Path) -> Command {
        let mut cmd = Command::new(runner_bin());
        cmd.args(args)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .current_dir(cwd)
            .env("CI", "1")
            .env("CLOUDS", "local-a local-b")
            .env("APOLLO_PORT_BASE", self.base.to_string())
            .env("SLACK_WEBHOOK_URL", self.hook.url())
            .env_remove("STEPWISE_STATE_DIR")
            .stdin(Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("APOLLO_") && k != "APOLLO_PORT_BASE" {
                cmd.env_remove(&k);
            }
        }
        cmd
    }

    fn spawn_deploy(&self) -> Child {
        let log = std::fs::File::create(self.dir.join("deploy.out")).unwrap();
        self.command(&["run", "deploy"], &self.dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("deploy.out")).unwrap_or_default();
        let start = text.len().saturating_sub(3000);
        text.get(start..).unwrap_or(&text).to_string()
    }
}

/// A block of 200 ports (two targets) no other trial of this process has
/// and nobody listens on: the suites run in parallel threads.
fn free_port_base() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        % 30) as u16;
    let _ = NEXT.compare_exchange(0, start + 1, Ordering::SeqCst, Ordering::SeqCst);
    loop {
        let slot = NEXT.fetch_add(1, Ordering::SeqCst) % 30;
        let base = 26_000 + slot * 200;
        if (80..=83)
            .flat_map(|o| [base + o, base + 100 + o])
            .all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        {
            return base;
        }
    }
}

/// Records the bodies POSTed to it (the Slack after-step's payloads).
struct Hook {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Hook {
    fn start() -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let store = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(body) = read_post(stream) {
                    store.lock().unwrap_or_else(|p| p.into_inner()).push(body);
                }
            }
        });
        Hook { port, bodies }
    }

    fn url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/services/T0TRIAL/B0TRIAL/dHJpYWwtdG9rZW4",
            self.port
        )
    }

    fn colors(&self) -> Vec<String> {
        self.bodies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).ok())
            .filter_map(|v| v["attachments"][0]["color"].as_str().map(str::to_string))
            .collect()
    }
}

fn read_post(stream: TcpStream) -> Option<String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut length = 0usize;
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    let mut stream = stream;
    let _ =
        stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    Some(String::from_utf8_lossy(&body).into_owned())
}

fn wait_exit(child: &mut Child) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return s.code();
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// Processes that belong to the trial's run: its directory on their
/// command line or as `WERCKER_ROOT` in their environment.
fn processes_of(dir: &Path) -> Vec<(u32, String)> {
    let needle = dir.to_string_lossy().into_owned();
    let root = format!("WERCKER_ROOT={needle}\0");
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me || !stepwise_tests::alive(pid as i32) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmd.contains(&needle) || environ.windows(root.len()).any(|w| w == root.as_bytes()) {
            found.push((pid, cmd));
        }
    }
    found
}

/// Everything a trial must not leave; an empty list is a clean trial.
fn leftovers(t: &Trial) -> Vec<String> {
    let mut problems = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut procs = processes_of(&t.dir);
    while !procs.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        procs = processes_of(&t.dir);
    }
    for (pid, cmd) in &procs {
        problems.push(format!("process {pid} survived: {cmd}"));
        signal(*pid, "KILL");
    }
    for target_base in [("local-a", t.base), ("local-b", t.base + 100)] {
        let name = format!("apollo-{}-{}-haproxy", target_base.0, target_base.1);
        if let Ok(out) = Command::new("docker")
            .args(["ps", "-a", "-q", "--filter", &format!("name=^{name}$")])
            .output()
            && !String::from_utf8_lossy(&out.stdout).trim().is_empty()
        {
            let _ = Command::new("docker").args(["rm", "-f", &name]).output();
            problems.push(format!("container {name} survived"));
        }
    }
    problems.extend(non_empty_states(&t.dir));
    let out = t
        .command(&["state"], &t.dir)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !out.contains("no pending teardowns") {
        problems.push(format!("runner state is not empty: {out}"));
    }
    // Journals and private temp dirs (var files that may hold secrets).
    let left: Vec<String> = std::fs::read_dir(&t.state_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if !left.is_empty() {
        problems.push(format!("the state dir still holds {left:?}"));
    }
    problems
}

/// terraform states that still hold resources (a 0-byte state whose
/// backup holds resources counts as not empty).
fn non_empty_states(dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.file_name().is_none_or(|n| n != "terraform.tfstate") {
                continue;
            }
            let mut text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.trim().is_empty() {
                text = std::fs::read_to_string(path.with_extension("tfstate.backup"))
                    .unwrap_or_default();
            }
            let resources = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["resources"].as_array().map(Vec::len))
                .unwrap_or(0);
            if resources > 0 {
                problems.push(format!("{} holds {resources} resource(s)", path.display()));
            }
        }
    }
    problems
}

fn tools_present() -> bool {
    assert!(runner_bin().is_file(), "build the runner first");
    TOOLS.iter().all(|t| tool_available(t))
}

/// The first trial: a whole deploy, no signal. Returns how long it took.
fn calibrate() -> Duration {
    let t = Trial::new();
    let started = Instant::now();
    let mut child = t.spawn_deploy();
    let code = wait_exit(&mut child);
    let took = started.elapsed();
    assert_eq!(code, Some(0), "the unsignalled deploy failed:\n{}", t.log());
    let problems = leftovers(&t);
    assert!(
        problems.is_empty(),
        "unsignalled deploy left: {problems:#?}"
    );
    assert_eq!(t.hook.colors(), ["good"], "after-steps of a passed deploy");
    eprintln!("trial 0 (no signal): deploy took {took:?}");
    took
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Int,
    Term,
    DoubleInt,
}

#[test]
fn interrupt_trials() {
    if !tools_present() {
        return;
    }
    let span = calibrate();
    let (ints, terms, doubles) = if long() { (30, 15, 5) } else { (6, 3, 1) };
    let mut kinds = vec![Kind::Int; ints];
    kinds.extend(vec![Kind::Term; terms]);
    kinds.extend(vec![Kind::DoubleInt; doubles]);
    let mut rng = Rng::seeded(1);
    let (mut cancelled, mut finished, mut dirty) = (0, 0, Vec::new());
    for (i, kind) in kinds.iter().enumerate() {
        let t = Trial::new();
        let at = span.mul_f64(rng.unit());
        let mut child = t.spawn_deploy();
        std::thread::sleep(at);
        match kind {
            Kind::Int => signal(child.id(), "INT"),
            Kind::Term => signal(child.id(), "TERM"),
            Kind::DoubleInt => {
                signal(child.id(), "INT");
                std::thread::sleep(span.mul_f64(rng.unit() * 0.1));
                signal(child.id(), "INT");
            }
        }
        let code = wait_exit(&mut child);
        let label = format!("trial {} ({kind:?} at {at:.1?}): exit {code:?}", i + 1);
        let double = matches!(kind, Kind::DoubleInt);
        if double {
            // The second signal kills everything now, teardowns included
            // (DESIGN.md); what is left is `runner cleanup`'s to finish.
            let elsewhere = tempfile::tempdir().unwrap();
            let _ = t.command(&["cleanup"], elsewhere.path()).output();
        }
        let mut problems = leftovers(&t);
        let colors = t.hook.colors();
        match code {
            Some(130) if double => {
                // The second signal kills everything now (DESIGN.md), the
                // after-steps too: whether they started depends on where
                // it lands, so only the exit code and the leftovers (after
                // `runner cleanup`) are checked.
                cancelled += 1;
            }
            Some(130) => {
                cancelled += 1;
                if colors != ["warning"] {
                    problems.push(format!(
                        "after-steps: payload colors {colors:?}, want a cancelled one"
                    ));
                }
            }
            Some(0) => finished += 1,
            other => problems.push(format!(
                "exit {other:?}, want 130 (or 0 if it had finished)"
            )),
        }
        eprintln!(
            "{label}: {}",
            if problems.is_empty() {
                "clean"
            } else {
                "LEFTOVERS"
            }
        );
        if !problems.is_empty() {
            dirty.push(format!("{label}: {problems:#?}\n{}", t.log()));
        }
    }
    eprintln!(
        "interrupt trials: {} ({ints} SIGINT, {terms} SIGTERM, {doubles} double SIGINT); exit 130: {cancelled}, finished first: {finished}; with leftovers: {}",
        kinds.len(),
        dirty.len()
    );
    assert!(dirty.is_empty(), "{}", dirty.join("\n\n"));
}

#[test]
fn sigkill_and_cleanup_trials() {
    if !tools_present() {
        return;
    }
    let span = calibrate();
    let n = if long() { 20 } else { 10 };
    let mut rng = Rng::seeded(2);
    let mut dirty = Vec::new();
    for i in 0..n {
        let t = Trial::new();
        let at = span.mul_f64(rng.unit());
        let mut child = t.spawn_deploy();
        std::thread::sleep(at);
        signal(child.id(), "KILL");
        let _ = child.wait();
        let elsewhere = tempfile::tempdir().unwrap();
        let out = t.command(&["cleanup"], elsewhere.path()).output().unwrap();
        let cleanup = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let label = format!("trial {} (SIGKILL at {at:.1?})", i + 1);
        let mut problems = leftovers(&t);
        if out.status.code() != Some(0) {
            problems.push(format!("cleanup exit {:?}", out.status.code()));
        }
        eprintln!(
            "{label}: {}",
            if problems.is_empty() {
                "clean"
            } else {
                "LEFTOVERS"
            }
        );
        if !problems.is_empty() {
            dirty.push(format!(
                "{label}: {problems:#?}\ncleanup:\n{cleanup}\nrun:\n{}",
                t.log()
            ));
        }
    }
    eprintln!(
        "SIGKILL + cleanup trials: {n}; with leftovers: {}",
        dirty.len()
    );
    assert!(dirty.is_empty(), "{}", dirty.join("\n\n"));
}
