//! Real components for the tests: a marathon-like HTTP service (axum on
//! 127.0.0.1), a `sleep` process with a unique argument, an sshd on a free
//! high port with keys in a temp dir, a docker engine with a busybox
//! container — each cleaned up by a guard when the test ends.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use step_core::{Outcome, Step, StepContext, StepError};
use step_serverspec::{HostChecks, HostChecksConfig};

/// The crate's fixtures directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The ZooKeeper peers the "deployment" has.
pub const PEERS: [&str; 2] = ["zk1:2181", "zk2:2181"];

/// A body like marathon's `/v2/info`.
pub fn marathon_info() -> Value {
    json!({
        "name": "marathon",
        "version": "1.1.1",
        "leader": "10.0.0.5:8080",
        "marathon_config": {
            "master": format!("zk://{}/mesos", PEERS.join(",")),
            "hostname": "10.0.0.5",
            "http_port": 8080
        },
        "zookeeper_config": {"zk": format!("zk://{}/marathon", PEERS.join(","))}
    })
}

/// Serves `/v2/info` on 127.0.0.1; returns the port. The server lives as
/// long as the test's runtime.
pub async fn start_marathon_api() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    serve_on(listener);
    port
}

/// Serves `/v2/info` on an already bound listener.
pub fn serve_on(listener: tokio::net::TcpListener) {
    let app = axum::Router::new().route(
        "/v2/info",
        axum::routing::get(|| async { axum::Json(marathon_info()) }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A data directory like marathon's store: `state.json`, mode 0640.
pub fn make_store(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let store = dir.join("store");
    std::fs::create_dir_all(&store).expect("mkdir");
    let state = store.join("state.json");
    std::fs::write(&state, marathon_info().to_string()).expect("write");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    store
}

/// The name of the user running the tests.
pub fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A child process killed when the guard drops.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `sleep` with a unique argument, so a process check can find exactly it.
pub fn start_sleeper() -> (ChildGuard, String) {
    let arg = format!("3600.{}{}", std::process::id(), rand_suffix());
    let child = Command::new("sleep")
        .arg(&arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn sleep");
    (ChildGuard(child), arg)
}

fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    (h.finish() % 100_000) as u32
}

/// Vars for the seed-like spec on this machine.
pub fn local_seed_vars(
    api_port: u16,
    store: &Path,
    process_arg: &str,
) -> serde_json::Map<String, Value> {
    let v = json!({
        "api_host": "127.0.0.1",
        "api_port": api_port,
        "marathon_peers": PEERS,
        "store_dir": store.display().to_string(),
        "state_mode": "0640",
        "owner": current_user(),
        "process_name": "sleep",
        "process_arg": process_arg,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// Runs a host-checks step in a context for `dir`.
pub async fn run(config: HostChecksConfig, cx: &StepContext) -> Result<Outcome, StepError> {
    let step = HostChecks::new(config).map_err(StepError::from)?;
    step.run(cx).await
}

/// A context for `dir` with the process's environment.
pub fn cx(dir: &Path) -> StepContext {
    StepContext::for_dir(dir)
}

/// Every failed check, as "name: message", for assertion messages.
pub fn failures(outcome: &Outcome) -> String {
    outcome
        .checks
        .iter()
        .filter(|c| c.status != step_core::Status::Passed)
        .map(|c| format!("{}: {}", c.name, c.message.clone().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The check with this exact name.
pub fn check<'a>(outcome: &'a Outcome, name: &str) -> &'a step_core::CheckResult {
    outcome
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| {
            let names: Vec<&str> = outcome.checks.iter().map(|c| c.name.as_str()).collect();
            panic!("no check named {name:?}; checks: {names:#?}")
        })
}

// ---------------------------------------------------------------- docker

/// Starts the test docker engine and builds the busybox image once per test
/// binary; false (after skip_or_fail) when that is not possible.
pub fn docker_ready() -> bool {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    if !stepwise_tests::tool_available("docker") {
        return false;
    }
    let ready = READY.get_or_init(|| {
        let root = stepwise_tests::workspace_root();
        for script in ["scripts/start-dockerd.sh", "scripts/build-test-image.sh"] {
            let out = Command::new("bash")
                .arg(root.join(script))
                .current_dir(&root)
                .output()
                .map_err(|e| format!("{script}: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "{script} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        let info = Command::new("docker")
            .arg("info")
            .output()
            .map_err(|e| e.to_string())?;
        if !info.status.success() {
            return Err("`docker info` fails after scripts/start-dockerd.sh".into());
        }
        Ok(())
    });
    match ready {
        Ok(()) => true,
        Err(why) => stepwise_tests::skip_or_fail(&format!("no docker engine: {why}")),
    }
}

/// A container removed when the guard drops.
pub struct Container(pub String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

/// Starts a busybox container (`--network none`) with `store` mounted at
/// `/store`, running `script`; waits until it runs.
pub fn start_container(store: &Path, script: &str) -> Container {
    let name = format!("stepwise-hc-{}-{}", std::process::id(), rand_suffix());
    let out = Command::new("docker")
        .args(["run", "-d", "--network", "none", "--name", &name, "-v"])
        .arg(format!("{}:/store", store.display()))
        .args(["stepwise/busybox:latest", "sh", "-c", script])
        .output()
        .expect("docker run");
    let guard = Container(name);
    assert!(
        out.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = Command::new("docker")
            .args(["inspect", "-f", "{{.State.Running}}", &guard.0])
            .output()
            .expect("inspect");
        if String::from_utf8_lossy(&state.stdout).trim() == "true" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "container {} did not start",
            guard.0
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    guard
}

// ---------------------------------------------------------------- sshd

/// An sshd on 127.0.0.1 with its own host key, a user key for the current
/// user, and a known_hosts file for the client; stopped on drop.
pub struct Sshd {
    _child: ChildGuard,
    /// The temp dir holding keys, config and logs.
    pub dir: tempfile::TempDir,
    /// Its port.
    pub port: u16,
}

impl Sshd {
    /// The client's private key.
    pub fn identity_file(&self) -> PathBuf {
        self.dir.path().join("user_key")
    }

    /// A known_hosts file that trusts this sshd's host key.
    pub fn known_hosts_file(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// sshd's log (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

const SSHD: &str = "/usr/sbin/sshd";

/// Starts an sshd, or returns `None` after skip_or_fail when sshd or ssh is missing.
pub fn start_sshd() -> Option<Sshd> {
    if !Path::new(SSHD).is_file() {
        stepwise_tests::skip_or_fail(&format!(
            "{SSHD} is missing (Debian package openssh-server)"
        ));
        return None;
    }
    if !stepwise_tests::tool_available("ssh") || !stepwise_tests::tool_available("ssh-keygen") {
        return None;
    }
    // sshd refuses to start without its privilege separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for key in ["host_key", "user_key"] {
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(d.join(key))
            .status()
            .expect("ssh-keygen");
        assert!(st.success(), "ssh-keygen failed");
    }
    std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).expect("authorized_keys");
    let port = free_port();
    let host_pub = std::fs::read_to_string(d.join("host_key.pub")).expect("host key");
    std::fs::write(
        d.join("known_hosts"),
        format!("[127.0.0.1]:{port} {host_pub}"),
    )
    .expect("known_hosts");
    let config = format!(
        "HostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\nUsePAM no\nStrictModes no\n\
         PermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nListenAddress 127.0.0.1\n",
        d = d.display()
    );
    std::fs::write(d.join("sshd_config"), config).expect("sshd_config");
    let log = std::fs::File::create(d.join("sshd.log")).expect("log");
    let child = Command::new(SSHD)
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .arg("-p")
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn sshd");
    let guard = ChildGuard(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "sshd did not come up on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Sshd {
        _child: guard,
        dir,
        port,
    })
}
