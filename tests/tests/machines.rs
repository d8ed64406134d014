//! End to end on the Apollo example's **machines** cloud
//! (`examples/apollo/terraform/machines`): real machines — containers from
//! an image built by debootstrap and packer, each with its own hostname,
//! address and sshd on a private network — reached over ssh.
//!
//! * `machines_cloud_end_to_end`: the base image
//!   (`scripts/build-machine-image.sh`, cached by content), the build
//!   pipeline's `packer-build` of `apollo/node` (its artifact id recorded for
//!   the deploy), a deploy of two targets × 5 machines in parallel, the
//!   converge over ssh (idempotence checked by the second run), the host
//!   checks over ssh and the rendered serverspec suite over ssh, docker-bench
//!   (step-dockerbench's stand-in) against the engine that runs the
//!   machines, and destroy.
//!   Afterwards no container, network or key of the run is left, checked by
//!   the run's label.
//! * `interrupt_and_crash_trials_against_the_machines_cloud`: 10 SIGINT and
//!   5 SIGKILL (+ `runner cleanup`) trials at different moments of one
//!   target's deploy, each followed by the same label check
//!   (`STEPWISE_LONG_TESTS=1`: 30 and 15).
//!
//! Both need the Docker engine (`scripts/start-dockerd.sh`) and the tools of
//! `scripts/install-tools.sh`; without them they skip loudly, or fail when
//! `STEPWISE_REQUIRE_TOOLS=1`. They run one after the other (a lock), on
//! networks derived from the process id, so two test runs do not collide.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use stepwise_tests::{runner_bin, skip_or_fail, tool_available, workspace_root};

/// The tools the pipelines and the image build run.
const TOOLS: &[&str] = &[
    "packer",
    "terraform",
    "ansible-playbook",
    "ansible-lint",
    "rspec",
    "python3",
    "docker",
    "ssh",
    "ssh-keygen",
];

/// A run's limit: this only stops a hang.
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// One test at a time: each deploys machines and the machine is shared.
static SERIAL: Mutex<()> = Mutex::new(());

/// The apollo/node image built once by the build pipeline, for every test.
static NODE: OnceLock<Result<Built, String>> = OnceLock::new();

/// What the build pipeline produced.
#[derive(Clone)]
struct Built {
    /// The artifact id recorded by the build (`.run/apollo-node.image`).
    image: String,
    /// The build's events.
    events: Vec<Value>,
    output: String,
}

fn ready() -> bool {
    let runner = runner_bin();
    assert!(
        runner.is_file(),
        "the runner binary {} is missing: build it first (cargo build -p runner)",
        runner.display()
    );
    if !TOOLS.iter().all(|t| tool_available(t)) {
        return false;
    }
    let engine = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    engine || skip_or_fail("no Docker engine answers (start one with scripts/start-dockerd.sh)")
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

    /// Starts `runner ARGS` in the example with only the given APOLLO_*/CLOUDS.
    fn spawn(&self, args: &[&str], env: &[(&str, String)], log: &Path) -> Child {
        let out = std::fs::File::create(log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut cmd = Command::new(runner_bin());
        cmd.current_dir(&self.dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .env("CI", "1");
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().to_string();
            if k.starts_with("APOLLO_") || k.starts_with("SLACK_") || k == "CLOUDS" {
                cmd.env_remove(&k);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", runner_bin().display()))
    }

    /// Runs `runner run PIPELINE` to the end.
    fn run(&self, pipeline: &str, env: &[(&str, String)]) -> Run {
        let events = self.reports.join(format!("{pipeline}.jsonl"));
        let log = self.reports.join(format!("{pipeline}.out"));
        let _ = std::fs::remove_file(&events);
        let started = Instant::now();
        let args = ["run", pipeline, "--events", path_str(&events)];
        let mut child = self.spawn(&args, env, &log);
        let code = wait_limited(&mut child, RUN_LIMIT, &log);
        eprintln!("runner run {pipeline}: {code:?} in {:?}", started.elapsed());
        Run {
            code,
            output: std::fs::read_to_string(&log).unwrap_or_default(),
            events: read_events(&events),
        }
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

fn read_events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// Waits for the child; past `limit` it is interrupted, then killed.
fn wait_limited(child: &mut Child, limit: Duration, log: &Path) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait for the runner") {
            return s.code();
        }
        if started.elapsed() > limit {
            signal(child.id(), "-INT");
            std::thread::sleep(Duration::from_secs(90));
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the runner did not finish within {limit:?}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

// ------------------------------------------------------------------ a run's results

struct Run {
    code: Option<i32>,
    output: String,
    events: Vec<Value>,
}

/// The step_finished event of `step` on `target`.
fn finished<'a>(events: &'a [Value], step: &str, target: Option<&str>) -> Option<&'a Value> {
    events.iter().find(|e| {
        e["event"] == "step_finished"
            && e["step"] == step
            && target.is_none_or(|t| e["target"] == t)
    })
}

fn assert_passed(events: &[Value], output: &str, step: &str, target: Option<&str>) {
    let status = finished(events, step, target)
        .map(|e| e["status"].as_str().unwrap_or_default().to_string())
        .unwrap_or_else(|| "not run".into());
    assert_eq!(
        status, "passed",
        "step `{step}` ({target:?}) is {status}:\n{output}"
    );
}

/// (name, status) of every check a step reported on `target`.
fn checks(events: &[Value], step: &str, target: &str) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e["event"] == "check" && e["step"] == step && e["target"] == target)
        .map(|e| {
            (
                e["check"]["name"].as_str().unwrap_or_default().to_string(),
                e["check"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// When a step started and finished on a target (RFC 3339, orders as text).
fn span(events: &[Value], step: &str, target: &str) -> (String, String) {
    let time = |kind: &str| {
        events
            .iter()
            .find(|e| e["event"] == kind && e["step"] == step && e["target"] == target)
            .and_then(|e| e["time"].as_str())
            .unwrap_or_else(|| panic!("no {kind} for `{step}` on {target}"))
            .to_string()
    };
    (time("step_started"), time("step_finished"))
}

// ------------------------------------------------------------------ images

/// Builds the base image (cached by content) and runs the example's build
/// pipeline once; its packer-build makes apollo/node.
fn node_image() -> Built {
    NODE.get_or_init(|| {
        let started = Instant::now();
        let out = Command::new("bash")
            .arg(workspace_root().join("scripts/build-machine-image.sh"))
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run scripts/build-machine-image.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/build-machine-image.sh failed: {}",
                out.status
            ));
        }
        let base = String::from_utf8_lossy(&out.stdout).trim().to_string();
        eprintln!("base image {base} in {:?}", started.elapsed());
        let example = Example::new();
        let build = example.run("build", &[("APOLLO_MACHINE_BASE_IMAGE", base.clone())]);
        if build.code != Some(0) {
            return Err(format!("the build failed:\n{}", build.output));
        }
        let image = std::fs::read_to_string(example.dir.join(".run/apollo-node.image"))
            .map_err(|e| format!("no recorded apollo/node image: {e}\n{}", build.output))?
            .trim()
            .to_string();
        Ok(Built {
            image,
            events: build.events,
            output: build.output,
        })
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// An example whose build already ran: the recorded image is copied in.
fn example_with(node: &Built) -> Example {
    let example = Example::new();
    let run = example.dir.join(".run");
    std::fs::create_dir_all(&run).expect(".run");
    std::fs::write(run.join("apollo-node.image"), format!("{}\n", node.image)).expect("record");
    example
}

fn docker_lines(args: &[&str]) -> Vec<String> {
    let out = Command::new("docker")
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("docker runs");
    assert!(out.status.success(), "docker {args:?} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// A subnet base (two octets) no other test process uses at the same time.
fn subnet_base() -> String {
    format!("10.{}", 100 + std::process::id() % 120)
}

// ------------------------------------------------------------------ leftovers

/// The run ids a target's run directory names (`machines-<run id>`).
fn run_ids(example: &Example, target: &str) -> Vec<String> {
    std::fs::read_dir(example.dir.join(".run").join(target))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter_map(|n| n.strip_prefix("machines-").map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// What is left of a run, found by its label (and its key on disk).
fn leftovers(example: &Example, target: &str, run_id: &str) -> Vec<String> {
    let label = format!("label=stepwise.run={run_id}");
    let mut left = Vec::new();
    for c in docker_lines(&["ps", "-a", "--filter", &label, "--format", "{{.Names}}"]) {
        left.push(format!("container {c}"));
    }
    for n in docker_lines(&["network", "ls", "--filter", &label, "--format", "{{.Name}}"]) {
        left.push(format!("network {n}"));
    }
    let ssh = example
        .dir
        .join(".run")
        .join(target)
        .join(format!("machines-{run_id}/ssh"));
    if ssh.exists() {
        left.push(format!("key directory {}", ssh.display()));
    }
    left
}

/// What the run recorded before creating it (`created.list`).
fn created(example: &Example, target: &str, run_id: &str) -> Vec<String> {
    let path = example
        .dir
        .join(".run")
        .join(target)
        .join(format!("machines-{run_id}/created.list"));
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

// ------------------------------------------------------------------ the tests

#[test]
fn machines_cloud_end_to_end() {
    if !ready() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let node = node_image();

    // The build: packer built apollo/node from the base image and its
    // artifact id (a docker image id) reached the file the deploy reads.
    assert_passed(
        &node.events,
        &node.output,
        "build the apollo/node image",
        None,
    );
    assert!(
        node.image.starts_with("sha256:") && node.image.len() == 71,
        "not a docker image id: {:?}",
        node.image
    );
    let labels = docker_lines(&[
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"stepwise.image\"}} {{json .Config.Entrypoint}}",
        &node.image,
    ]);
    assert_eq!(
        labels,
        vec![r#"apollo-node ["/usr/local/sbin/machine-init"]"#.to_string()]
    );

    // The deploy: two targets of 5 machines each, in parallel.
    let example = example_with(&node);
    let targets = ["machines-a", "machines-b"];
    let deploy = example.run(
        "deploy",
        &[
            ("CLOUDS", targets.join(" ")),
            ("APOLLO_SUBNET_BASE", subnet_base()),
            ("APOLLO_serverspec_run_tests", "true".into()),
            // docker-bench against the engine that runs the machines, with
            // step-dockerbench's stand-in (the real script is in no registry).
            ("APOLLO_dockerbench_run_test", "true".into()),
            (
                "DOCKER_BENCH_SECURITY",
                workspace_root()
                    .join("crates/step-dockerbench/tests/fixtures/docker-bench-standin")
                    .display()
                    .to_string(),
            ),
        ],
    );
    // Nothing may be left, whatever else happened (checked first).
    let mut left = Vec::new();
    let mut seen = Vec::new();
    for t in targets {
        let ids = run_ids(&example, t);
        assert_eq!(ids.len(), 1, "{t}: one run directory expected: {ids:?}");
        left.extend(leftovers(&example, t, &ids[0]));
        seen.push(created(&example, t, &ids[0]));
    }
    assert!(left.is_empty(), "left behind: {left:?}\n{}", deploy.output);
    assert_eq!(deploy.code, Some(0), "deploy failed:\n{}", deploy.output);

    for (t, made) in targets.iter().zip(&seen) {
        let kinds = |k: &str| made.iter().filter(|l| l.starts_with(k)).count();
        assert_eq!(
            (kinds("network "), kinds("key "), kinds("container ")),
            (1, 1, 5),
            "{t}: created {made:?}"
        );
        for step in [
            "terraform apply",
            "converge the machines",
            "machine checks over ssh",
            "render the machines' serverspec suite",
            "serverspec over ssh",
            "docker bench security",
            "terraform destroy",
        ] {
            assert_passed(&deploy.events, &deploy.output, step, Some(t));
        }
        // Checks reached every machine: 5 hostnames answered over ssh.
        let host_checks = checks(&deploy.events, "machine checks over ssh", t);
        let hostnames = host_checks
            .iter()
            .filter(|(n, s)| n.contains("hostname of") && s == "passed")
            .count();
        assert_eq!(hostnames, 5, "{t}: {host_checks:?}");
        assert!(host_checks.iter().all(|(_, s)| s == "passed"));
        // The masters' Marathon (elected by the ensemble) and the edge answer
        // this host over the target's network.
        let apis = checks(&deploy.events, "machine APIs over the network", t);
        let marathons = apis
            .iter()
            .filter(|(n, s)| n.contains("Marathon /v2/info on master-") && s == "passed")
            .map(|(n, _)| n.split(" (").next().unwrap_or_default().to_string())
            .collect::<std::collections::BTreeSet<_>>();
        assert_eq!(marathons.len(), 3, "{t}: {apis:?}");
        assert!(
            apis.iter().any(|(n, _)| n.contains("edge health on lb-1")),
            "{t}: {apis:?}"
        );
        assert!(apis.iter().all(|(_, s)| s == "passed"), "{t}: {apis:?}");
        // rspec ran examples on the machines over ssh.
        let specs = checks(&deploy.events, "serverspec over ssh", t);
        assert!(
            specs.len() >= 20,
            "{t}: too few serverspec examples: {specs:?}"
        );
        assert!(specs.iter().all(|(_, s)| s == "passed"), "{t}: {specs:?}");
    }
    // The converge checked idempotence: its second run changed nothing.
    assert!(
        deploy.output.contains("idempoten"),
        "no idempotence verdict:\n{}",
        deploy.output
    );
    // Both targets were applied at the same time.
    let (a_start, a_end) = span(&deploy.events, "terraform apply", "machines-a");
    let (b_start, b_end) = span(&deploy.events, "terraform apply", "machines-b");
    assert!(
        a_start < b_end && b_start < a_end,
        "the applies did not overlap: a {a_start}..{a_end}, b {b_start}..{b_end}"
    );
}

/// How a trial ends the runner.
#[derive(Clone, Copy, Debug)]
enum Stop {
    /// SIGINT: the runner cancels and destroys.
    Interrupt,
    /// SIGKILL of the runner and of everything it started (a crash), then
    /// `runner cleanup`.
    Crash,
}

#[test]
fn interrupt_and_crash_trials_against_the_machines_cloud() {
    if !ready() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let node = node_image();
    let long = std::env::var("STEPWISE_LONG_TESTS").is_ok_and(|v| v == "1");
    let (interrupts, crashes) = if long { (30, 15) } else { (10, 5) };
    let example = example_with(&node);
    let started = Instant::now();
    let mut trial = 0;
    for (stop, count) in [(Stop::Interrupt, interrupts), (Stop::Crash, crashes)] {
        for i in 0..count {
            // Stop after 0..=5 machines exist, or during the converge (6).
            run_trial(&example, trial, stop, i % 7);
            trial += 1;
        }
    }
    eprintln!("{trial} trials in {:?}", started.elapsed());
}

fn run_trial(example: &Example, trial: usize, stop: Stop, moment: usize) {
    let target = format!("machines-{}", trial % 200);
    let log = example.reports.join(format!("trial-{trial}.out"));
    let mut child = example.spawn(
        &["run", "deploy"],
        &[
            ("CLOUDS", target.clone()),
            ("APOLLO_SUBNET_BASE", subnet_base()),
        ],
        &log,
    );
    let run_id = wait_for_moment(example, &mut child, &target, moment, &log);
    let label = format!("{trial} ({stop:?} at moment {moment})");
    // The stop must hit a running deploy that has created something.
    let running = child.try_wait().ok().flatten().is_none();
    assert!(
        running && run_id.is_some(),
        "trial {label}: the deploy ended before the moment:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let id = run_id.unwrap_or_default();
    let live = docker_lines(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("label=stepwise.run={id}"),
    ])
    .len();
    match stop {
        Stop::Interrupt => {
            signal(child.id(), "-INT");
            let code = wait_limited(&mut child, Duration::from_secs(300), &log);
            let output = std::fs::read_to_string(&log).unwrap_or_default();
            // 130 when the interrupt came first; 0 when the deploy had
            // already finished (the moment came too late).
            assert!(
                matches!(code, Some(130) | Some(0)),
                "trial {label}: exit {code:?}\n{output}"
            );
        }
        Stop::Crash => {
            crash(&mut child, &example.dir);
            let out = Command::new(runner_bin())
                .arg("cleanup")
                .current_dir(&example.dir)
                .output()
                .expect("runner cleanup");
            assert!(
                out.status.success(),
                "trial {label}: runner cleanup failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let left = leftovers(example, &target, &id);
    assert!(
        left.is_empty(),
        "trial {label}: left behind {left:?}\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    eprintln!(
        "trial {label}: {live} machine(s) up when stopped; created {}, nothing left",
        created(example, &target, &id).len()
    );
}

/// Waits until the run recorded something (moment 0), `moment` of its
/// machines exist (1-5; terraform creates them in parallel) or the converge
/// started (6), or the runner ended; returns the run id once known.
fn wait_for_moment(
    example: &Example,
    child: &mut Child,
    target: &str,
    moment: usize,
    log: &Path,
) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut run_id = None;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return run_id.or_else(|| run_ids(example, target).pop());
        }
        if run_id.is_none() {
            run_id = run_ids(example, target).pop();
        }
        if let Some(id) = &run_id {
            let made = created(example, target, id);
            // Machines that exist (not only recorded: the record comes first).
            let machines = || {
                docker_lines(&[
                    "ps",
                    "-a",
                    "-q",
                    "--filter",
                    &format!("label=stepwise.run={id}"),
                ])
                .len()
            };
            let reached = match moment {
                0 => !made.is_empty(),
                6 => example
                    .dir
                    .join(".run")
                    .join(target)
                    .join(format!("machines-{id}/inventory"))
                    .exists(),
                n => machines() >= n,
            };
            if reached {
                return run_id;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "the deploy never reached moment {moment}:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A crash: SIGKILL to the runner and to every process it started (found
/// by their working directory inside the example), until none is left.
fn crash(child: &mut Child, dir: &Path) {
    let _ = child.kill();
    let _ = child.wait();
    for _ in 0..50 {
        let pids = processes_in(dir);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            signal(pid, "-KILL");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("processes in {} survive SIGKILL", dir.display());
}

/// Processes whose working directory is inside `dir`.
fn processes_in(dir: &Path) -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| *pid != me)
                .filter(|pid| {
                    std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|c| c.starts_with(dir))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn without_an_engine_the_machines_cloud_fails_before_creating_anything() {
    if !tool_available("terraform") {
        return;
    }
    let example = Example::new();
    let run = example.dir.join(".run");
    std::fs::create_dir_all(&run).expect(".run");
    std::fs::write(
        run.join("apollo-node.image"),
        format!("sha256:{}\n", "0".repeat(64)),
    )
    .expect("record");
    let gone = example.dir.join("no-engine.sock");
    let deploy = example.run(
        "deploy",
        &[
            ("CLOUDS", "machines-a".into()),
            ("DOCKER_HOST", format!("unix://{}", gone.display())),
        ],
    );
    assert_eq!(deploy.code, Some(1), "{}", deploy.output);
    let select = finished(&deploy.events, "select cloud", Some("machines-a"))
        .unwrap_or_else(|| panic!("select cloud did not run:\n{}", deploy.output));
    assert_eq!(select["status"], "failed", "{}", deploy.output);
    assert!(
        deploy.output.contains(
            "needs a Docker engine and none answers: start one with scripts/start-dockerd.sh"
        ),
        "{}",
        deploy.output
    );
    // Nothing was started: terraform never ran, no run directory exists.
    assert!(
        finished(&deploy.events, "terraform apply", Some("machines-a"))
            .is_none_or(|e| e["status"] == "skipped"),
        "{}",
        deploy.output
    );
    assert!(run_ids(&example, "machines-a").is_empty());
}
