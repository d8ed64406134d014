//! End to end: the Apollo example (`examples/apollo`) run by the `runner`
//! binary, as the README's main job runs it — the seed's whole cycle with
//! real packer, ansible-lint, ansible-playbook, terraform and rspec.
//!
//! Each test copies the example into its own temp dir (nothing is written
//! into the repository), deploys two local targets in parallel on ports no
//! one else uses, points `SLACK_WEBHOOK_URL` at a small HTTP server on
//! 127.0.0.1 that records what it receives, and reads the runner's JSON
//! event log to see what happened.
//!
//! * `build_and_deploy_the_example_end_to_end`: templates validated, lint
//!   findings reported, test.sh ran, both targets applied concurrently, the
//!   live stand-in services passed the host checks (with addresses templated
//!   from terraform's outputs) and the serverspec suite — and, when a Docker
//!   engine with the test image is there, the container checks —, both
//!   destroyed, a "passed" Slack payload arrived, no service process and no
//!   container is left.
//! * `a_failing_host_check_fails_the_deploy_but_everything_is_destroyed`:
//!   the converge configures Marathon with the wrong `mesos_user`, the host
//!   check that reads it from the live service fails, the deploy exits 1,
//!   both targets are still destroyed, and the Slack payload says "failed"
//!   and names the failed step.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use stepwise_tests::{runner_bin, tool_available, workspace_root};

/// The tools the example's pipelines run.
const TOOLS: &[&str] = &[
    "packer",
    "terraform",
    "ansible-playbook",
    "ansible-lint",
    "rspec",
    "python3",
    "curl",
];

/// A run's limit: the deploy takes ~10-30 s here; this only stops a hang.
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// The targets both tests deploy.
const TARGETS: [&str; 2] = ["local-a", "local-b"];

/// The webhook path: it looks like a Slack token, so the runner must mask it.
const WEBHOOK_PATH: &str = "/services/T0APOLLO/B0STEPWISE/c2VjcmV0LXdlYmhvb2stdG9rZW4";

fn tools_present() -> bool {
    let runner = runner_bin();
    assert!(
        runner.is_file(),
        "the runner binary {} is missing: build it first (cargo build -p runner; scripts/test.sh does)",
        runner.display()
    );
    TOOLS.iter().all(|t| tool_available(t))
}

// ------------------------------------------------------------------ the example

/// A copy of examples/apollo in a temp dir.
struct Example {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    reports: PathBuf,
}

impl Example {
    fn new() -> Example {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("apollo");
        stepwise_tests::copy_tree(&workspace_root().join("examples/apollo"), &dir);
        let reports = tmp.path().join("reports");
        std::fs::create_dir_all(&reports).expect("reports dir");
        Example {
            _tmp: tmp,
            dir,
            reports,
        }
    }

    /// Runs `runner run PIPELINE` with the given environment, writing events
    /// and JUnit into the reports dir.
    fn run(&self, pipeline: &str, env: &[(&str, String)]) -> Run {
        let events = self.reports.join(format!("{pipeline}.jsonl"));
        let junit = self.reports.join(format!("{pipeline}.xml"));
        let log = self.reports.join(format!("{pipeline}.out"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut cmd = Command::new(runner_bin());
        cmd.current_dir(&self.dir)
            .arg("run")
            .arg(pipeline)
            .arg("--events")
            .arg(&events)
            .arg("--junit")
            .arg(&junit)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .env("CI", "1");
        // Only what the test sets: no APOLLO_* toggles or webhook from outside.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().to_string();
            if k.starts_with("APOLLO_") || k.starts_with("SLACK_") || k == "CLOUDS" {
                cmd.env_remove(&k);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", runner_bin().display()));
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait for the runner") {
                break s;
            }
            if started.elapsed() > RUN_LIMIT {
                // SIGINT: the runner cancels and still destroys what it created.
                let _ = Command::new("kill")
                    .arg("-INT")
                    .arg(child.id().to_string())
                    .status();
                std::thread::sleep(Duration::from_secs(60));
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "runner run {pipeline} did not finish within {RUN_LIMIT:?}:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        let events = std::fs::read_to_string(&events)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect();
        eprintln!("runner run {pipeline}: {status} in {:?}", started.elapsed());
        Run {
            code: status.code(),
            output,
            events,
            junit: std::fs::read_to_string(&junit).unwrap_or_default(),
        }
    }

    /// A target's run directory (pid files, logs, configuration).
    fn run_dir(&self, target: &str) -> PathBuf {
        self.dir.join(".run").join(target)
    }
}

// ------------------------------------------------------------------ a run's results

struct Run {
    code: Option<i32>,
    output: String,
    events: Vec<Value>,
    junit: String,
}

impl Run {
    /// Events of `kind` for the step named `step` (and target, when given).
    fn events_of(&self, kind: &str, step: &str, target: Option<&str>) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| {
                e["event"] == kind && e["step"] == step && target.is_none_or(|t| e["target"] == t)
            })
            .collect()
    }

    /// The step_finished event of a step (per target).
    fn finished(&self, step: &str, target: Option<&str>) -> &Value {
        self.events_of("step_finished", step, target)
            .into_iter()
            .next()
            .unwrap_or_else(|| {
                panic!(
                    "no step_finished for `{step}` ({target:?}):\n{}",
                    self.output
                )
            })
    }

    fn status(&self, step: &str, target: Option<&str>) -> String {
        self.finished(step, target)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn message(&self, step: &str, target: Option<&str>) -> String {
        self.finished(step, target)["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn assert_status(&self, step: &str, target: Option<&str>, want: &str) {
        let got = self.status(step, target);
        assert_eq!(
            got,
            want,
            "step `{step}` ({target:?}) is {got}: {}\n{}",
            self.message(step, target),
            self.output
        );
    }

    /// Lines the step printed.
    fn lines(&self, step: &str, target: Option<&str>) -> Vec<String> {
        self.events_of("output", step, target)
            .into_iter()
            .filter_map(|e| e["line"].as_str().map(str::to_string))
            .collect()
    }

    /// (name, status, message) of every check of a step.
    fn checks(&self, step: &str, target: Option<&str>) -> Vec<(String, String, String)> {
        self.events_of("check", step, target)
            .into_iter()
            .map(|e| {
                let c = &e["check"];
                (
                    c["name"].as_str().unwrap_or_default().to_string(),
                    c["status"].as_str().unwrap_or_default().to_string(),
                    c["message"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// When a step started and finished (RFC 3339 texts of one format, so
    /// they order as text).
    fn span(&self, step: &str, target: &str) -> (String, String) {
        let time = |kind: &str| {
            self.events_of(kind, step, Some(target))
                .into_iter()
                .next()
                .and_then(|e| e["time"].as_str())
                .unwrap_or_else(|| panic!("no {kind} for `{step}` on {target}"))
                .to_string()
        };
        (time("step_started"), time("step_finished"))
    }
}

// ------------------------------------------------------------------ a Slack stand-in

/// An HTTP server on 127.0.0.1 that answers every request 200 and records
/// (path, body) of each POST — Slack's incoming webhook, as far as the
/// runner can tell.
struct Webhook {
    port: u16,
    received: Arc<Mutex<Vec<(String, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Webhook {
    fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the webhook server");
        let port = listener.local_addr().expect("local addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (rec, st) = (received.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream
                    && let Some(req) = serve_one(stream)
                {
                    rec.lock().unwrap_or_else(|p| p.into_inner()).push(req);
                }
            }
        });
        Webhook {
            port,
            received,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}{WEBHOOK_PATH}", self.port)
    }

    /// The JSON payloads received so far.
    fn payloads(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(path, body)| {
                assert_eq!(path, WEBHOOK_PATH, "the payload went to another path");
                serde_json::from_str(body)
                    .unwrap_or_else(|e| panic!("payload is not JSON ({e}): {body}"))
            })
            .collect()
    }

    /// The payload about `pipeline` (its "Pipeline" field).
    fn payload_for(&self, pipeline: &str) -> Value {
        self.payloads()
            .into_iter()
            .find(|p| field(p, "Pipeline").as_deref() == Some(pipeline))
            .unwrap_or_else(|| panic!("no Slack payload for {pipeline}: {:?}", self.payloads()))
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one HTTP/1.1 request (Content-Length body), answers 200, returns
/// (path, body) for a POST.
fn serve_one(stream: TcpStream) -> Option<(String, String)> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    let mut stream = stream;
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    let _ = stream.flush();
    (method == "POST").then(|| (path, String::from_utf8_lossy(&body).to_string()))
}

/// A field of the payload's first attachment, by title.
fn field(payload: &Value, title: &str) -> Option<String> {
    payload["attachments"][0]["fields"]
        .as_array()?
        .iter()
        .find(|f| f["title"] == title)
        .and_then(|f| f["value"].as_str())
        .map(str::to_string)
}

// ------------------------------------------------------------------ ports and processes

/// The ports terraform/local uses for a target whose port base is `base`.
fn target_ports(base: u16) -> Vec<u16> {
    (80..=83).map(|o| base + o).collect()
}

/// A port base (local-a: base, local-b: base + 100) whose ports are all
/// free now, in `range` (a different range per test: tests run in
/// parallel), below Linux's ephemeral ports.
fn free_port_base(range: std::ops::Range<u16>) -> u16 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let slots = (range.end - range.start) / 100 - 1;
    let mut slot = (nanos ^ std::process::id()) as u16 % slots;
    for _ in 0..slots {
        let base = range.start + slot * 100;
        if [base, base + 100]
            .iter()
            .flat_map(|b| target_ports(*b))
            .all(port_free)
        {
            return base;
        }
        slot = (slot + 1) % slots;
    }
    panic!("no free block of ports in {range:?}");
}

fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// What the deploy left behind for `target`, as problems (none: nothing).
/// Every stand-in service it started must be gone: its pid files were all
/// renamed to *.pid.stopped by the destroy, those processes are dead, the
/// target's ports are free again and its container is removed. Kills and
/// removes whatever survived, so a failing test leaves nothing behind
/// either.
fn leftovers(example: &Example, target: &str, base: u16) -> Vec<String> {
    let mut problems = Vec::new();
    let mut stopped = Vec::new();
    let mut running = Vec::new();
    let dir = example.run_dir(target);
    match std::fs::read_dir(&dir) {
        Err(e) => problems.push(format!("{target}: no run directory {}: {e}", dir.display())),
        Ok(entries) => {
            for path in entries.filter_map(Result::ok).map(|e| e.path()) {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string();
                if !name.ends_with(".pid") && !name.ends_with(".pid.stopped") {
                    continue;
                }
                let Some(pid) = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| t.trim().parse::<i32>().ok())
                else {
                    problems.push(format!("{target}: {} holds no pid", path.display()));
                    continue;
                };
                if name.ends_with(".pid") {
                    running.push((name, pid));
                } else {
                    stopped.push((name, pid));
                }
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let survivors = loop {
        let s: Vec<_> = stopped
            .iter()
            .chain(&running)
            .filter(|(_, p)| stepwise_tests::alive(*p))
            .cloned()
            .collect();
        if s.is_empty() || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for (_, pid) in &survivors {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(pid.to_string())
            .status();
    }
    if !survivors.is_empty() {
        problems.push(format!("{target}: processes left behind: {survivors:?}"));
    }
    if !running.is_empty() {
        problems.push(format!(
            "{target}: pid files not cleaned up by the destroy: {running:?}"
        ));
    }
    let names: BTreeSet<&str> = stopped.iter().map(|(n, _)| n.as_str()).collect();
    let want = BTreeSet::from([
        "marathon.pid.stopped",
        "zookeeper-1.pid.stopped",
        "zookeeper-2.pid.stopped",
        "zookeeper-3.pid.stopped",
    ]);
    if names != want {
        problems.push(format!(
            "{target}: services started and stopped: {names:?}, expected {want:?}"
        ));
    }
    for port in target_ports(base) {
        if !port_free(port) {
            problems.push(format!("{target}: port {port} is still taken"));
        }
    }
    let container = format!("apollo-{target}-{base}-haproxy");
    if let Ok(out) = Command::new("docker")
        .args(["ps", "-a", "-q", "--filter", &format!("name=^{container}$")])
        .output()
        && !String::from_utf8_lossy(&out.stdout).trim().is_empty()
    {
        let _ = Command::new("docker")
            .args(["rm", "-f", &container])
            .output();
        problems.push(format!("{target}: container {container} left behind"));
    }
    problems
}

/// Nothing of either target is left (see [`leftovers`]); cleans up first,
/// asserts afterwards.
fn assert_nothing_left(example: &Example, base: u16) {
    let problems: Vec<String> = TARGETS
        .iter()
        .zip([base, base + 100])
        .flat_map(|(t, b)| leftovers(example, t, b))
        .collect();
    assert!(problems.is_empty(), "left behind:\n{}", problems.join("\n"));
}

fn deploy_env(base: u16, webhook: &Webhook) -> Vec<(&'static str, String)> {
    vec![
        ("CLOUDS", TARGETS.join(" ")),
        ("APOLLO_PORT_BASE", base.to_string()),
        ("SLACK_WEBHOOK_URL", webhook.url()),
    ]
}

/// Both targets were destroyed: the `finally` destroy removed every
/// resource (5, plus the container when there is a Docker engine), the
/// teardown terraform-apply registered found nothing left.
fn assert_destroyed(deploy: &Run, docker: bool) {
    let resources = if docker { 6 } else { 5 };
    for t in TARGETS {
        deploy.assert_status("terraform destroy", Some(t), "passed");
        let msg = deploy.message("terraform destroy", Some(t));
        assert!(
            msg.contains(&format!("destroyed {resources} resources")),
            "{t}: {msg}"
        );
        deploy.assert_status("teardown: terraform apply", Some(t), "passed");
        let msg = deploy.message("teardown: terraform apply", Some(t));
        assert!(msg.contains("nothing to destroy"), "{t}: {msg}");
    }
}

/// Whether the deploy will run the local cloud's container: a Docker engine
/// answers and has the image (scripts/start-dockerd.sh,
/// scripts/build-test-image.sh). Without, the example runs without it.
fn docker_ready() -> bool {
    let ok = |args: &[&str]| {
        Command::new("docker")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ready = ok(&["info"]) && ok(&["image", "inspect", "stepwise/busybox:latest"]);
    if !ready {
        eprintln!(
            "note: no Docker engine with stepwise/busybox:latest; the deploy runs without its container"
        );
    }
    ready
}

fn assert_secret_masked(run: &Run) {
    let token = WEBHOOK_PATH.rsplit('/').next().unwrap_or(WEBHOOK_PATH);
    assert!(
        !run.output.contains(token),
        "the webhook token leaked into the output"
    );
    assert!(
        !run.junit.contains(token),
        "the webhook token leaked into the JUnit report"
    );
    assert!(
        !run.events.iter().any(|e| e.to_string().contains(token)),
        "the webhook token leaked into the event log"
    );
}

// ------------------------------------------------------------------ the tests

#[test]
fn build_and_deploy_the_example_end_to_end() {
    if !tools_present() {
        return;
    }
    let example = Example::new();
    let webhook = Webhook::start();

    // ---- build
    // The process-based local cloud needs no apollo/node image (the machines
    // cloud's packer-build is tested in machines.rs).
    let build = example.run(
        "build",
        &[
            ("SLACK_WEBHOOK_URL", webhook.url()),
            ("APOLLO_MACHINES", "false".into()),
        ],
    );
    assert_eq!(build.code, Some(0), "build failed:\n{}", build.output);
    for (step, template) in [
        (
            "validate packer template for AMI",
            "ubuntu-14.04_amd64-amis.json",
        ),
        (
            "validate packer template for droplet",
            "ubuntu-14.04_amd64-droplet.json",
        ),
    ] {
        build.assert_status(step, None, "passed");
        let checks = build.checks(step, None);
        assert!(
            checks
                .iter()
                .any(|(name, status, _)| name.contains(template) && status == "passed"),
            "{step}: no passed packer validate check for {template}: {checks:?}"
        );
    }
    // Lint findings are reported (as warnings, so the build passes).
    let lint = "run ansible-lint against the site.yml playbook";
    build.assert_status(lint, None, "passed");
    let findings = build.events_of("finding", lint, None);
    assert!(
        findings.iter().any(|f| {
            f["finding"]["id"] == "var-naming[no-role-prefix]"
                && f["finding"]["location"]["file"] == "roles/common/defaults/main.yml"
                && f["finding"]["location"]["line"].as_u64().is_some()
        }),
        "no var-naming finding with its location: {findings:?}"
    );
    assert!(
        build.message(lint, None).contains("warning"),
        "{}",
        build.message(lint, None)
    );
    build.assert_status("syntax check site.yml", None, "passed");
    // test.sh ran its tests and all passed.
    build.assert_status("scripts testing", None, "passed");
    let lines = build.lines("scripts testing", None);
    let summary = lines
        .iter()
        .find(|l| l.contains("tests passed"))
        .unwrap_or_else(|| panic!("test.sh printed no summary: {lines:?}"));
    let counts: Vec<u32> = summary
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        counts.len() == 2 && counts[0] == counts[1] && counts[0] >= 5,
        "{summary}"
    );
    assert!(lines.iter().filter(|l| l.starts_with("ok   test_")).count() as u32 == counts[0]);
    build.assert_status("notify slack", None, "passed");
    assert!(
        build.junit.contains("validate packer template for AMI"),
        "{}",
        build.junit
    );

    // ---- deploy: two local targets in parallel, serverspec on.
    let base = free_port_base(20_000..26_000);
    let mut env = deploy_env(base, &webhook);
    env.push(("APOLLO_serverspec_run_tests", "true".into()));
    let docker = docker_ready();
    let deploy = example.run("deploy", &env);
    // The run is over: everything it started must be gone (checked first,
    // so that a failing assertion below leaves nothing behind either).
    assert_nothing_left(&example, base);
    assert_eq!(deploy.code, Some(0), "deploy failed:\n{}", deploy.output);
    let left = TARGETS.iter().zip([base, base + 100]);
    deploy.assert_status("install terraform", None, "skipped");
    assert!(deploy.message("install terraform", None).contains("1.11.4"));
    for (t, b) in left {
        deploy.assert_status("terraform apply", Some(t), "passed");
        let msg = deploy.message("terraform apply", Some(t));
        assert!(
            msg.contains(&format!("{} added", if docker { 6 } else { 5 }))
                && msg.contains(&format!("workspace {t}")),
            "{t}: {msg}"
        );
        deploy.assert_status("converge", Some(t), "passed");
        // The host checks ran against the live services at the addresses
        // terraform reported for this target.
        deploy.assert_status("host checks", Some(t), "passed");
        let checks = deploy.checks("host checks", Some(t));
        assert!(checks.len() >= 20, "{t}: only {} checks", checks.len());
        assert!(
            checks.iter().all(|(_, s, _)| s == "passed"),
            "{t}: {checks:?}"
        );
        let peers = format!(
            "127.0.0.1:{},127.0.0.1:{},127.0.0.1:{}",
            b + 81,
            b + 82,
            b + 83
        );
        for want in [
            format!("Port {} should be listening", b + 80),
            format!("$.marathon_config.master should eq \"zk://{peers}/mesos\""),
            format!("$.leader should eq \"127.0.0.1:{}\"", b + 80),
            "$.marathon_config.mesos_user should eq \"root\"".to_string(),
            format!(
                "ZooKeeper 127.0.0.1:{} ruok stdout should eq \"imok\"",
                b + 83
            ),
            format!(".run/{t}/etc/zookeeper/zoo.cfg content should contain"),
        ] {
            assert!(
                checks.iter().any(|(n, _, _)| n.contains(&want)),
                "{t}: no check `{want}` in {checks:?}"
            );
        }
        if docker {
            // The container ran, with the converge's directory mounted, and
            // served the page the converge wrote (checked with docker exec).
            assert!(
                checks
                    .iter()
                    .any(|(n, _, _)| n.contains(&format!("apollo-{t}-{b}-haproxy"))),
                "{t}: no container check in {checks:?}"
            );
            deploy.assert_status("container checks", Some(t), "passed");
            let inside = deploy.checks("container checks", Some(t));
            assert!(
                inside
                    .iter()
                    .any(|(n, s, _)| n.contains("HAProxy health page") && s == "passed"),
                "{t}: {inside:?}"
            );
        } else {
            deploy.assert_status("container checks", Some(t), "skipped");
        }
        deploy.assert_status("host checks over ssh", Some(t), "skipped");
        deploy.assert_status("serverspec", Some(t), "passed");
        let examples = deploy.checks("serverspec", Some(t));
        assert!(
            examples.len() >= 10 && examples.iter().all(|(_, s, _)| s == "passed"),
            "{t}: {examples:?}"
        );
        deploy.assert_status("docker bench security", Some(t), "skipped");
        assert!(
            deploy
                .message("docker bench security", Some(t))
                .contains("APOLLO_dockerbench_run_test")
        );
    }
    // The two targets' converges overlapped: they ran in parallel.
    let (a_start, a_end) = deploy.span("converge", "local-a");
    let (b_start, b_end) = deploy.span("converge", "local-b");
    assert!(
        a_start < b_end && b_start < a_end,
        "converges did not overlap: a {a_start}..{a_end}, b {b_start}..{b_end}"
    );
    assert_destroyed(&deploy, docker);

    // ---- Slack: one payload per pipeline, both "passed".
    deploy.assert_status("notify slack", None, "passed");
    let payloads = webhook.payloads();
    assert_eq!(payloads.len(), 2, "{payloads:?}");
    for pipeline in ["build", "deploy"] {
        let p = webhook.payload_for(pipeline);
        assert_eq!(p["attachments"][0]["color"], "good", "{p}");
        assert_eq!(p["username"], "wercker-bot Passed", "{p}");
        assert_eq!(p["channel"], "#apollo", "{p}");
        assert!(
            p["text"].as_str().unwrap_or_default().contains("passed"),
            "{p}"
        );
        assert_eq!(field(&p, "Failed step"), None, "{p}");
    }
    assert_secret_masked(&build);
    assert_secret_masked(&deploy);
}

#[test]
fn a_failing_host_check_fails_the_deploy_but_everything_is_destroyed() {
    if !tools_present() {
        return;
    }
    let example = Example::new();
    let webhook = Webhook::start();
    let base = free_port_base(26_000..32_000);
    let mut env = deploy_env(base, &webhook);
    // The converge configures Marathon with another user; the spec expects
    // root, and the live service now reports nobody.
    env.push(("APOLLO_marathon_mesos_user", "nobody".into()));
    let docker = docker_ready();
    let deploy = example.run("deploy", &env);
    assert_nothing_left(&example, base);
    assert_eq!(
        deploy.code,
        Some(1),
        "the deploy should fail:\n{}",
        deploy.output
    );
    for t in TARGETS {
        deploy.assert_status("terraform apply", Some(t), "passed");
        deploy.assert_status("converge", Some(t), "passed");
        deploy.assert_status("host checks", Some(t), "failed");
        let failed: Vec<_> = deploy
            .checks("host checks", Some(t))
            .into_iter()
            .filter(|(_, s, _)| s != "passed")
            .collect();
        assert_eq!(failed.len(), 1, "{t}: {failed:?}");
        let (name, _, message) = &failed[0];
        assert!(
            name.contains("$.marathon_config.mesos_user should eq \"root\""),
            "{t}: {name}"
        );
        assert!(
            message.contains("nobody"),
            "{t}: the actual value is reported: {message}"
        );
        // The rest of the target's steps did not run...
        deploy.assert_status("export test environment", Some(t), "skipped");
    }
    // ...but both targets were destroyed.
    assert_destroyed(&deploy, docker);

    // Slack heard that the deploy failed, and in which step.
    deploy.assert_status("notify slack", None, "passed");
    let p = webhook.payload_for("deploy");
    assert_eq!(p["attachments"][0]["color"], "danger", "{p}");
    assert_eq!(p["username"], "wercker-bot Failed", "{p}");
    assert!(
        p["text"].as_str().unwrap_or_default().contains("failed"),
        "{p}"
    );
    // Named with its target: `[local-a] host checks` (or local-b, whichever failed first).
    let failed = field(&p, "Failed step").unwrap_or_default();
    assert!(
        failed.starts_with("[local-") && failed.ends_with("] host checks"),
        "{p}"
    );
    let message = field(&p, "Message").unwrap_or_default();
    assert!(message.contains("mesos_user"), "{p}");
    assert_secret_masked(&deploy);
}
